"""Issue 14: the gateways and the database always agree, whatever the learner, the network or a crash does.

One test per case of the issue, through the real flows against the gateway simulators; each failed on the
code before the money records. The money invariant (tests/money_invariant.py) is checked after each one too.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from payments import PaymentStatus

from tests.money_invariant import express_holdings, money_disagreements, payflow_holdings
from tests.registration_helpers import (
    card_data,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import approve_at_paypal, pay_on_hosted_page, site_path
from wagtail_training_pay.models import MoneyMovement, Payment, Registration, RegistrationStatus
from wagtail_training_pay.reporting import revenue_by_session
from wagtail_training_pay.services import money
from wagtail_training_pay.services.registrations import RefundPending, refund_registration
from wagtail_training_pay.services.stale_payments import check_stale_payments
from wagtail_training_pay.views.admin.registrations import with_payment_summary
from wagtail_training_pay.views.payment_step import CHOOSE_METHOD

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


@pytest.fixture
def learner(learner_client):
    return learner_client


def switch_method(client, registration, variant):
    """The payment step's "choose another method" button, as a second tab would press it."""
    return client.post(pay_step(registration), {CHOOSE_METHOD: "1", "payment_method": variant})


def held_at_gateways(payflow_simulator, nvp_simulator):
    return sum(payflow_holdings(payflow_simulator).values()) + sum(express_holdings(nvp_simulator).values())


def pay_twice(learner, page, training_settings, payflow_simulator):
    """Two tabs: the hosted card page opened first, PayPal paid in the second, then the card page paid too."""
    offer_methods(training_settings, payflow="Card", express="PayPal")
    assert register(learner, page, payment_method="payflow").status_code == 302
    registration = registration_for()
    card_tab = learner.get(pay_step(registration))["Location"]
    assert card_tab.startswith(payflow_simulator.server.url)
    paypal_tab = switch_method(learner, registration, "express")["Location"]
    learner.get(site_path(approve_at_paypal(paypal_tab)))
    return registration, card_tab


def test_a_duplicate_payment_is_refunded_on_its_own_and_the_cancellation_still_refunds_the_fee(
    learner, paid_session, training_settings, payflow_simulator, nvp_simulator
):
    """Charged 90, refunded 45 before: the surplus refund was counted against the registration."""
    registration, card_tab = pay_twice(learner, paid_session, training_settings, payflow_simulator)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    learner.get(site_path(pay_on_hosted_page(card_tab).headers["Location"]))  # the first tab pays too
    assert held_at_gateways(payflow_simulator, nvp_simulator) == Decimal("45.00")  # the surplus went back

    response = learner.post(registration.get_manage_url(), {"confirm": "on"}, follow=True)  # 100 % policy

    assert "Your registration is cancelled." in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CANCELLED
    assert registration.refunded_amount == Decimal("90.00")
    assert held_at_gateways(payflow_simulator, nvp_simulator) == 0
    refunds = MoneyMovement.objects.filter(kind="refund", state="done").order_by("pk")
    assert [(r.payment.variant, r.amount) for r in refunds] == [("payflow", Decimal("45")), ("express", Decimal("45"))]


def test_the_admin_can_refund_the_fee_of_a_registration_whose_duplicate_was_refunded(
    learner, paid_session, training_settings, payflow_simulator, nvp_simulator, admin_user
):
    registration, card_tab = pay_twice(learner, paid_session, training_settings, payflow_simulator)
    learner.get(site_path(pay_on_hosted_page(card_tab).headers["Location"]))

    refund_registration(registration, user=admin_user)

    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.REFUNDED
    assert held_at_gateways(payflow_simulator, nvp_simulator) == 0


def test_a_voided_authorization_is_neither_revenue_nor_paid(learner, make_session, training_settings, nvp_simulator):
    """A late PayPal authorization for a session that filled up is voided: it collected nothing."""
    page = make_session(capacity=1)
    offer_methods(training_settings, **{"express-auth": "PayPal"})
    register(learner, page, payment_method="express-auth")
    ada = registration_for()
    at_paypal = learner.get(pay_step(ada))["Location"]
    Registration.objects.filter(pk=ada.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    register(learner, page, payment_method="express-auth", email="grace@example.com")
    grace = registration_for("grace@example.com")
    learner.get(site_path(approve_at_paypal(learner.get(pay_step(grace))["Location"])))
    learner.get(site_path(approve_at_paypal(at_paypal)))  # Ada approves, too late: authorized, then voided

    ada_payment = Payment.objects.get(registration=ada)
    assert ada_payment.status == PaymentStatus.REFUNDED  # django-payments' name for a released authorization
    assert list(ada_payment.movements.values_list("kind", "state")) == [("void", "done")]
    (row,) = revenue_by_session()
    assert (row["gross"], row["refunded"], row["net"], row["payment_count"]) == (Decimal("45"), 0, Decimal("45"), 1)
    paid = dict(with_payment_summary(Registration.objects.all()).values_list("email", "paid_total"))
    assert paid == {"ada@example.com": 0, "grace@example.com": Decimal("45")}


def test_a_cancelled_attempt_paid_on_its_still_open_hosted_page_is_found_and_refunded(
    learner, paid_session, training_settings, payflow_simulator, nvp_simulator, sweep
):
    """The learner switched to PayPal (the card attempt cancelled on the site) and paid both; the card page's
    answer never reached the site. Before: gateway 90, site 45."""
    registration, card_tab = pay_twice(learner, paid_session, training_settings, payflow_simulator)
    pay_on_hosted_page(card_tab)  # paid at PayPal; neither the return nor the silent post arrives
    card_payment = Payment.objects.get(registration=registration, variant="payflow")
    assert card_payment.status == PaymentStatus.CANCELLED

    counts = sweep()

    card_payment.refresh_from_db()
    assert counts["checked"] == 1
    assert (card_payment.captured_amount, card_payment.refunded_amount) == (0, Decimal("45.00"))
    assert held_at_gateways(payflow_simulator, nvp_simulator) == Decimal("45.00")
    registration.refresh_from_db()
    assert (registration.status, registration.paid_by.variant) == (RegistrationStatus.CONFIRMED, "express")
    assert sweep()["checked"] == 0
    assert len([e for e in payflow_simulator.entries("C") if not e["duplicate"]]) == 1  # refunded once


def test_a_card_attempt_rejected_by_result_133_after_an_unanswered_sale_is_found_paid(
    learner, paid_session, training_settings, payflow_simulator, sweep
):
    """The first sale went through but its answer was lost; the learner typed another card (same request id,
    other body: RESULT 133, payment rejected). Before: the sweeper never looked at it again."""
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    register(learner, paid_session, payment_method="payflow-direct")
    registration = registration_for()
    payflow_simulator.faults.inject("timeout", "timeout", "timeout")
    learner.post(pay_step(registration), card_data())
    learner.post(pay_step(registration), card_data(number="5555555555554444"))
    payment = Payment.objects.get(registration=registration)
    assert payment.status in (PaymentStatus.ERROR, PaymentStatus.REJECTED)
    assert len(payflow_simulator.charges()) == 1

    sweep()

    payment.refresh_from_db()
    registration.refresh_from_db()
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(mail.outbox) == 1


def lost_refund_answer(payflow_simulator, registration, admin_user):
    """The admin refunds 20; the gateway refunds, and every answer is lost (the three tries time out)."""
    payflow_simulator.faults.inject("timeout", "timeout", "timeout")
    with pytest.raises(RefundPending):
        refund_registration(registration, Decimal("20.00"), user=admin_user)


def test_a_refund_whose_answer_was_lost_is_recorded_and_the_cancellation_refunds_the_rest(
    learner, paid_by_card, payflow_simulator, admin_user, sweep
):
    """Before: gateway refunded 20, site 0; the learner's cancellation (45 asked, 25 left) was refused."""
    lost_refund_answer(payflow_simulator, paid_by_card, admin_user)
    payment = paid_by_card.paid_by
    (movement,) = payment.movements.filter(kind="refund")
    assert movement.state == "unknown"
    assert sum(payflow_holdings(payflow_simulator).values()) == Decimal("25.00")

    learner.post(paid_by_card.get_manage_url(), {"confirm": "on"})  # the cancellation refunds what is left

    assert sum(payflow_holdings(payflow_simulator).values()) == 0
    counts = sweep()  # the lost answer is learnt: the same request id, PayPal replays its first answer
    assert counts["movements_done"] == 1
    movement.refresh_from_db()
    payment.refresh_from_db()
    paid_by_card.refresh_from_db()
    assert movement.state == "done"
    assert (payment.captured_amount, payment.refunded_amount) == (0, Decimal("45.00"))
    assert (paid_by_card.status, paid_by_card.refunded_amount) == (RegistrationStatus.CANCELLED, Decimal("45.00"))
    assert len([e for e in payflow_simulator.entries("C") if not e["duplicate"]]) == 2
    assert payflow_simulator.request_ids.count(movement.idempotency_key) == 4  # 3 lost tries + the sweeper's


def test_after_a_lost_refund_answer_the_admins_full_refund_gives_back_exactly_the_rest(
    paid_by_card, payflow_simulator, admin_user, sweep
):
    lost_refund_answer(payflow_simulator, paid_by_card, admin_user)
    refund_registration(paid_by_card, user=admin_user)  # "everything left": 25, not 45
    sweep()
    paid_by_card.refresh_from_db()
    assert (paid_by_card.status, paid_by_card.refunded_amount) == (RegistrationStatus.REFUNDED, Decimal("45.00"))
    assert sum(payflow_holdings(payflow_simulator).values()) == 0


def test_a_confirmation_lost_to_an_smtp_outage_is_sent_by_the_sweeper_once(
    learner, paid_session, training_settings, payflow_simulator, settings, sweep
):
    settings.EMAIL_BACKEND = "tests.testapp.mail.OutageBackend"
    from tests.testapp.mail import OutageBackend, reset

    reset()
    OutageBackend.down = True
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    register(learner, paid_session, payment_method="payflow-direct")
    registration = registration_for()
    learner.post(pay_step(registration), card_data())
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert OutageBackend.sent == [] and OutageBackend.refused == 1

    assert sweep()["emails"] == 0  # still down: still owed
    registration.refresh_from_db()
    assert registration.confirmation_sent_at is None
    OutageBackend.down = False
    assert sweep()["emails"] == 1
    assert sweep()["emails"] == 0
    assert [message.to for message in OutageBackend.sent] == [["ada@example.com"]]
    registration.refresh_from_db()
    assert registration.confirmation_sent_at is not None


def test_the_money_invariant_sees_a_gateway_refund_the_site_never_recorded(paid_by_card, payflow_simulator):
    """The fixture can fail: money moved at the gateway behind the site's back is a disagreement."""
    from payments.core import provider_factory

    payment = paid_by_card.paid_by
    provider_factory(payment.variant, payment).refund(payment, Decimal("5.00"))  # not through the records
    problems = money_disagreements([payflow_simulator])
    assert problems == [
        f"payment {payment.pk} (payflow-direct, confirmed): the gateway holds 40.00, the database 45.00"
    ]
    money.flag_payment(payment, "Refunded in PayPal Manager by hand")  # what the invariant then accepts
    assert money_disagreements([payflow_simulator]) == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_the_gateway_refunded_is_finished_by_two_sweepers_at_once_once(
    paid_by_card, payflow_simulator, admin_user
):
    """The gateway refunded 20, the worker died before writing it: the movement stays "sent" (committed before
    the gateway was asked); two sweepers at once send it again with its key: recorded once, refunded once."""
    import threading

    from django.db import connection

    def killed(movement):
        raise money.WorkerCrash("killed")

    money.crash_points["after_gateway"] = [killed]
    try:
        with pytest.raises(money.WorkerCrash):
            refund_registration(paid_by_card, Decimal("20.00"), user=admin_user)
    finally:
        money.crash_points.pop("after_gateway")
    (movement,) = MoneyMovement.objects.filter(kind="refund")
    assert movement.state == "sent"
    assert sum(payflow_holdings(payflow_simulator).values()) == Decimal("25.00")  # the gateway did refund
    assert paid_by_card.paid_by.refunded_amount == 0

    later = timezone.now() + timedelta(minutes=5)
    barrier, errors = threading.Barrier(2), []

    def sweeper():
        try:
            barrier.wait()
            check_stale_payments(now=later)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    movement.refresh_from_db()
    payment = Payment.objects.get(pk=movement.payment_id)
    assert movement.state == "done"
    assert (payment.captured_amount, payment.refunded_amount) == (Decimal("25.00"), Decimal("20.00"))
    assert len([e for e in payflow_simulator.entries("C") if not e["duplicate"]]) == 1
    assert sum(payflow_holdings(payflow_simulator).values()) == Decimal("25.00")


def test_the_admin_shows_a_payments_movements_and_its_disagreement_with_the_gateways_answer(
    client, paid_by_card, payflow_simulator, admin_user, sweep
):
    from django.urls import reverse

    payflow_simulator.settle()  # the nightly batch ran: the card can still be credited
    payflow_simulator.faults.inject("result:105", "result:105", "result:105")
    learner_cancels = client.post(paid_by_card.get_manage_url(), {"confirm": "on"}, follow=True)
    assert "Your refund could not be completed yet" in learner_cancels.content.decode()
    payment = Payment.objects.get(pk=paid_by_card.paid_by_id)
    assert payment.needs_attention and "105" in payment.gateway_answer

    client.force_login(admin_user)
    listing = client.get(reverse("training_payments:index"), {"attention": "disagreement"})
    assert [p.pk for p in listing.context["object_list"]] == [payment.pk]
    page = client.get(reverse("training_payments:inspect", args=[payment.pk])).content.decode()
    assert "The gateway refused a refund of 45.00" in page
    assert "Credit error" in page  # the gateway's answer
    assert page.count("<td>Refund</td>") == 1 and "<td>Failed</td>" in page and "<td>Sale</td>" in page
    assert "1 payment needs attention" in client.get(reverse("wagtailadmin_home")).content.decode()
