"""Issue 13, points 1 and 4: a payment PayPal reports "Pending" is not a completed one.

Express Checkout answers ``PAYMENTINFO_0_PAYMENTSTATUS=Pending`` for an eCheck (days to clear) or a
payment PayPal reviews; the outcome is learnt with GetTransactionDetails from the stale-payment sweeper
(the provider's ``check_status``). Real provider classes, real flows, the loopback NVP simulator.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from payments import PaymentStatus

from tests.gateway_helpers import calls, make_payment, redirect_of, refreshed, sweep
from tests.registration_helpers import offer_methods, pay_step, register, registration_for
from tests.simulators.payer import approve_at_paypal, site_path
from tests.test_payment_methods_in_flows import draft_session, go_to_paypal  # noqa: F401, F811 (fixture)
from wagtail_training_pay.models import Payment, RegistrationStatus
from wagtail_training_pay.providers.base import pending_at_gateway
from wagtail_training_pay.services.registrations import seats_left

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


# -- the provider --------------------------------------------------------------------------------


@pytest.mark.parametrize("funding, reason", [("echeck", "echeck"), ("review", "paymentreview"), ("intl", "intl")])
def test_a_pending_sale_stays_waiting_whatever_the_reason(client, nvp_simulator, funding, reason):
    payment = make_payment()
    client.get(site_path(approve_at_paypal(redirect_of(payment), funding=funding)))
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.WAITING
    assert payment.captured_amount == 0
    assert payment.transaction_id in nvp_simulator.transactions
    assert pending_at_gateway(payment)["reason"] == reason


def test_reloading_or_replaying_the_return_of_a_pending_payment_confirms_nothing(client, nvp_simulator):
    payment = make_payment()
    back = approve_at_paypal(redirect_of(payment), funding="echeck")
    client.get(site_path(back))
    for _ in range(2):  # a reload, then the same return replayed
        client.get(site_path(back))
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.WAITING
    assert len(calls(nvp_simulator, "DoExpressCheckoutPayment")) == 1


def test_the_already_completed_recovery_asks_the_transactions_status(client, nvp_simulator):
    """DoExpressCheckoutPayment went through but every answer was lost; the next return finds the
    transaction with GetExpressCheckoutDetails, which carries no payment status."""
    payment = make_payment()
    back = approve_at_paypal(redirect_of(payment), funding="echeck")
    nvp_simulator.faults.inject("pass", "drop", "drop", "drop")  # GetExpressCheckoutDetails passes
    client.get(site_path(back))
    assert refreshed(payment).status != PaymentStatus.CONFIRMED
    client.get(site_path(back))
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.WAITING
    assert pending_at_gateway(payment)["reason"] == "echeck"
    assert calls(nvp_simulator, "GetTransactionDetails")


def test_the_sweeper_keeps_a_pending_payment_then_confirms_it_once_completed(client, nvp_simulator):
    payment = make_payment()
    client.get(site_path(approve_at_paypal(redirect_of(payment), funding="echeck")))
    counts = sweep()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.WAITING, counts
    assert counts["cancelled"] == 0

    nvp_simulator.set_status(payment.transaction_id, "In-Progress")  # not a rejection
    sweep()
    assert refreshed(payment).status == PaymentStatus.WAITING

    nvp_simulator.set_status(payment.transaction_id, "Completed")
    sweep()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.CONFIRMED
    assert payment.captured_amount == Decimal("45.00")
    assert pending_at_gateway(payment) is None


@pytest.mark.parametrize("outcome", ["Denied", "Reversed", "Failed"])
def test_the_sweeper_fails_a_pending_payment_paypal_did_not_settle(client, nvp_simulator, outcome):
    payment = make_payment()
    client.get(site_path(approve_at_paypal(redirect_of(payment), funding="echeck")))
    nvp_simulator.set_status(refreshed(payment).transaction_id, outcome)
    sweep()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.REJECTED
    assert payment.captured_amount == 0


def test_paypal_unreachable_leaves_a_pending_payment_pending(client, nvp_simulator):
    payment = make_payment()
    client.get(site_path(approve_at_paypal(redirect_of(payment), funding="echeck")))
    nvp_simulator.faults.inject("5xx", "5xx", "5xx")
    counts = sweep()
    assert counts["unreachable"] == 1
    assert refreshed(payment).status == PaymentStatus.WAITING


def test_a_pending_payment_is_never_sent_to_paypal_again(client, nvp_simulator):
    payment = make_payment()
    client.get(site_path(approve_at_paypal(redirect_of(payment), funding="echeck")))
    transaction_id = refreshed(payment).transaction_id
    assert redirect_of(refreshed(payment)) == payment.get_success_url()
    payment = refreshed(payment)
    assert len(calls(nvp_simulator, "SetExpressCheckout")) == 1
    assert (payment.status, payment.transaction_id) == (PaymentStatus.WAITING, transaction_id)


# -- a learner's registration ----------------------------------------------------------------------


def pay_by_echeck(learner_client, page, training_settings):
    offer_methods(training_settings, express="PayPal")
    register(learner_client, page, payment_method="express")
    registration = registration_for()
    to_paypal = learner_client.get(pay_step(registration))
    back = learner_client.get(site_path(approve_at_paypal(to_paypal["Location"], funding="echeck")))
    done = learner_client.get(back["Location"], follow=True)
    registration.refresh_from_db()
    return registration, done


def test_a_learner_paying_by_echeck_is_told_it_is_pending_and_keeps_the_seat(
    learner_client, make_session, training_settings, nvp_simulator, django_capture_on_commit_callbacks
):
    page = make_session(fee=Decimal("45.00"), capacity=1)
    registration, done = pay_by_echeck(learner_client, page, training_settings)
    assert registration.status == RegistrationStatus.PENDING
    text = done.content.decode()
    assert "payment is pending at PayPal" in text
    assert mail.outbox == []
    manage = learner_client.get(f"/training/registration/{registration.token}/").content.decode()
    assert "payment is pending at PayPal" in manage

    # The seat stays held while PayPal clears the eCheck, past the usual hold.
    assert registration.hold_expires_at > timezone.now() + timedelta(days=1)
    assert seats_left(page, now=timezone.now() + timedelta(hours=20)) == 0

    # Visiting the payment step again starts no second checkout.
    again = learner_client.get(pay_step(registration))
    assert again["Location"].endswith(f"/training/registration/{registration.token}/done/")
    assert len(calls(nvp_simulator, "SetExpressCheckout")) == 1
    # Choosing another method neither: the pending payment is not abandoned.
    learner_client.post(pay_step(registration), {"choose_payment_method": "1", "payment_method": "express"})
    assert Payment.objects.filter(registration=registration).count() == 1

    sweep()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    nvp_simulator.set_status(Payment.objects.get(registration=registration).transaction_id, "Completed")
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(mail.outbox) == 1


def test_a_learner_whose_echeck_bounces_loses_the_hold_and_sees_it_failed(
    learner_client, make_session, training_settings, nvp_simulator
):
    page = make_session(fee=Decimal("45.00"), capacity=1)
    registration, _ = pay_by_echeck(learner_client, page, training_settings)
    nvp_simulator.set_status(Payment.objects.get(registration=registration).transaction_id, "Denied")
    sweep()
    registration.refresh_from_db()
    assert registration.status != RegistrationStatus.CONFIRMED
    assert seats_left(page) == 1
    manage = learner_client.get(f"/training/registration/{registration.token}/").content.decode()
    assert "PayPal did not accept the payment" in manage


# -- a host's pay-per-use charge -----------------------------------------------------------------


def test_a_host_paying_by_echeck_goes_live_only_once_paypal_completes_it(
    draft_session,  # noqa: F811 (the fixture imported above)
    admin_client,
    nvp_simulator,
    django_capture_on_commit_callbacks,
):
    from wagtail_training_pay.models import TrainingSessionPage, UsageCharge, UsageChargeStatus

    redirect = go_to_paypal(admin_client, draft_session)
    back = admin_client.get(site_path(approve_at_paypal(redirect, funding="echeck")))
    result = admin_client.get(back["Location"], follow=True)
    assert "Your payment is pending at PayPal" in result.content.decode()
    # Paying again while PayPal holds the first payment starts no second checkout.
    again = go_to_paypal(admin_client, draft_session)
    assert "/webscr" not in again
    assert len(calls(nvp_simulator, "SetExpressCheckout")) == 1
    charge = UsageCharge.objects.get(page=draft_session)
    payment = Payment.objects.get(usage_charge=charge)
    assert (charge.status, payment.status) == (UsageChargeStatus.PENDING, PaymentStatus.WAITING)
    assert not TrainingSessionPage.objects.get(pk=draft_session.pk).live

    sweep()
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.WAITING
    nvp_simulator.set_status(payment.transaction_id, "Completed")
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    charge.refresh_from_db()
    assert charge.status == UsageChargeStatus.PAID
    assert TrainingSessionPage.objects.get(pk=draft_session.pk).live


@pytest.mark.money_disagreement("the other learner's confirmed registration is planted in the database, unpaid")
def test_a_lapsed_hold_is_not_renewed_over_a_seat_someone_else_took(
    learner_client, make_session, training_settings, nvp_simulator
):
    """The sweeper stopped for days: the hold lapsed and the last seat went to another learner."""
    from wagtail_training_pay.models import Registration

    page = make_session(fee=Decimal("45.00"), capacity=1)
    registration, _ = pay_by_echeck(learner_client, page, training_settings)
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    Registration.objects.create(
        page=page,
        status=RegistrationStatus.CONFIRMED,
        email="grace@example.com",
        first_name="Grace",
        last_name="Hopper",
        amount=Decimal("45.00"),
        currency=registration.currency,
    )
    sweep()
    registration.refresh_from_db()
    assert registration.hold_has_expired()
    assert seats_left(page) == 0


def test_each_sweep_renews_the_hold_while_paypal_holds_the_payment(
    learner_client, make_session, training_settings, nvp_simulator
):
    from wagtail_training_pay.models import Registration

    page = make_session(fee=Decimal("45.00"), capacity=1)
    registration, _ = pay_by_echeck(learner_client, page, training_settings)
    soon = timezone.now() + timedelta(minutes=5)
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=soon)
    sweep()
    registration.refresh_from_db()
    assert registration.hold_expires_at > timezone.now() + timedelta(days=2)
