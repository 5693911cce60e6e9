"""Stale payments: checked with the gateway where it can tell, cancelled otherwise; late money refunded."""

import logging
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from payments import PaymentStatus

from tests.registration_helpers import (
    card_data,
    commit_after_each_request,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import approve_at_paypal, pay_on_hosted_page, site_path
from tests.simulators.payflow import parse_payflow
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus
from wagtail_training_pay.tasks import check_stale_payments_task

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


@pytest.fixture
def commit_callbacks(client, django_capture_on_commit_callbacks):
    return commit_after_each_request(client, django_capture_on_commit_callbacks)


def start_paying(client, page, training_settings, variant):
    """Register, open the payment step (the provider's page) and come back: nothing reached the site."""
    offer_methods(training_settings, **{variant: "Pay"})
    assert register(client, page, payment_method=variant).status_code == 302
    registration = registration_for()
    step = client.get(pay_step(registration))
    assert step.status_code == 302
    return registration, step["Location"]


def make_stale(registration, *, hold_expired=False):
    an_hour_and_a_half_ago = timezone.now() - timedelta(minutes=90)
    Payment.objects.filter(registration=registration).update(created=an_hour_and_a_half_ago)
    if hold_expired:
        Registration.objects.filter(pk=registration.pk).update(hold_expires_at=an_hour_and_a_half_ago)


def test_a_hosted_payment_whose_notifications_were_lost_is_found_and_confirms_once(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, sweep
):
    registration, hosted_page = start_paying(client, paid_session, training_settings, "payflow")
    pay_on_hosted_page(hosted_page)  # paid at PayPal; neither the return nor the silent post arrives
    make_stale(registration)

    counts = sweep()

    registration.refresh_from_db()
    assert counts["checked"] == 1
    assert registration.status == RegistrationStatus.CONFIRMED
    assert Payment.objects.get(registration=registration).status == PaymentStatus.CONFIRMED
    assert len(mail.outbox) == 1
    assert sweep()["checked"] == 0  # a second run finds nothing left to do
    assert len(mail.outbox) == 1
    assert len(payflow_simulator.charges()) == 1


def test_a_late_payment_found_by_the_sweeper_is_refunded_when_the_seat_is_gone(
    client, make_session, training_settings, payflow_simulator, commit_callbacks, sweep
):
    page = make_session(capacity=1)
    registration, hosted_page = start_paying(client, page, training_settings, "payflow")
    pay_on_hosted_page(hosted_page)
    make_stale(registration, hold_expired=True)
    Registration.objects.create(
        page=page, first_name="Seat", last_name="Taker", email="seat@example.com", currency="EUR", status="confirmed"
    )

    counts = sweep()

    registration.refresh_from_db()
    payment = Payment.objects.get(registration=registration)
    assert counts["checked"] == 1
    assert registration.status == RegistrationStatus.REFUNDED
    assert registration.late_payment_refunded
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("45.00"))
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "C"]
    sweep()
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "C"]  # refunded once


def test_a_hosted_payment_never_paid_is_cancelled_and_its_expired_hold_released(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, sweep
):
    registration, _hosted_page = start_paying(client, paid_session, training_settings, "payflow")
    make_stale(registration, hold_expired=True)

    counts = sweep()

    registration.refresh_from_db()
    assert (counts["cancelled"], counts["expired"]) == (1, 1)
    assert Payment.objects.get(registration=registration).status == PaymentStatus.CANCELLED
    assert registration.status == RegistrationStatus.EXPIRED
    assert payflow_simulator.charges() == []


def test_a_checkout_paypal_completed_after_the_site_timed_out_is_found_and_confirms(
    client, paid_session, training_settings, nvp_simulator, commit_callbacks, sweep
):
    registration, approval_page = start_paying(client, paid_session, training_settings, "express")
    back = approve_at_paypal(approval_page)
    # GetExpressCheckoutDetails answers; DoExpressCheckoutPayment is done at PayPal but every answer is late.
    nvp_simulator.faults.inject("pass", "timeout", "timeout", "timeout")
    response = client.get(site_path(back), follow=True)
    assert response.status_code == 200
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert len(nvp_simulator.charges()) == 1
    make_stale(registration)

    counts = sweep()

    registration.refresh_from_db()
    assert counts["checked"] == 1
    assert registration.status == RegistrationStatus.CONFIRMED
    assert Payment.objects.get(registration=registration).status == PaymentStatus.CONFIRMED
    assert len(nvp_simulator.charges()) == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(("fault", "charged"), [("drop", True), ("timeout", True), ("5xx", False)])
def test_a_card_payment_whose_answer_never_came_is_found_by_its_reference(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, sweep, fault, charged
):
    """A card typed on the site, the gateway's answer lost, the learner gone: no Secure Token to ask about."""
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    assert register(client, paid_session, payment_method="payflow-direct").status_code == 302
    registration = registration_for()
    payflow_simulator.faults.inject(fault, fault, fault)  # every try of the one submission
    response = client.post(pay_step(registration), card_data())
    assert response.status_code == 200  # "the payment service did not answer"; the learner leaves
    assert len(payflow_simulator.charges()) == (1 if charged else 0)
    make_stale(registration, hold_expired=True)

    counts = sweep()

    registration.refresh_from_db()
    payment = Payment.objects.get(registration=registration)
    if charged:
        assert counts["checked"] == 1
        assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
        assert registration.status == RegistrationStatus.CONFIRMED  # the seat was still free
        assert len(mail.outbox) == 1
    else:
        assert counts["cancelled"] == 1
        assert payment.status == PaymentStatus.CANCELLED
        assert registration.status == RegistrationStatus.EXPIRED
    requests = [parse_payflow(body) for body in payflow_simulator.raw_requests]
    inquiries = [fields for fields in requests if fields.get("TRXTYPE") == "I"]
    assert [fields.get("CUSTREF") for fields in inquiries] == [str(payment.token).replace("-", "")[:12]]
    assert sweep() == {**dict.fromkeys(counts, 0)}  # nothing left to do, nothing charged or mailed again
    assert len(payflow_simulator.charges()) == (1 if charged else 0)
    assert len(mail.outbox) == (1 if charged else 0)


def test_an_inquiry_by_reference_never_takes_another_sites_sale_for_this_payment(
    client, make_session, training_settings, payflow_simulator, commit_callbacks, sweep
):
    """A staging copy of the site on the same PayPal account numbers its payments alike: ids are no reference."""
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    assert register(client, make_session(), payment_method="payflow-direct").status_code == 302
    unpaid = registration_for()
    payment = Payment.objects.get(registration=unpaid)
    foreign_sale = {"TRXTYPE": "S", "AMT": "45.00", "CURRENCY": "EUR", "ACCT": "4111111111111111"}
    for custref in (str(payment.pk), str(unpaid.pk), str(payment.token)[:8]):
        reply = payflow_simulator.card_transaction({**foreign_sale, "EXPDATE": "1299", "CUSTREF": custref})
        assert reply["RESULT"] == 0
    make_stale(unpaid, hold_expired=True)

    counts = sweep()

    unpaid.refresh_from_db()
    assert counts["cancelled"] == 1
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CANCELLED
    assert unpaid.status == RegistrationStatus.EXPIRED


def test_a_gateway_that_cannot_be_reached_leaves_the_payment_for_the_next_run_and_logs_an_error(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, sweep, caplog
):
    registration, hosted_page = start_paying(client, paid_session, training_settings, "payflow")
    pay_on_hosted_page(hosted_page)
    make_stale(registration)
    payflow_simulator.faults.inject("5xx", "5xx", "5xx")

    with caplog.at_level(logging.ERROR, logger="wagtail_training_pay"):
        counts = sweep()

    assert (counts["unreachable"], counts["cancelled"]) == (1, 0)
    assert Payment.objects.get(registration=registration).status == PaymentStatus.INPUT
    assert "Could not check stale payment" in caplog.text
    assert sweep()["checked"] == 1  # the gateway is back: the payment is found
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED


def test_a_stale_dummy_payment_is_cancelled_and_a_recent_one_left_alone(client, paid_session, sweep):
    register(client, paid_session)
    old = registration_for()
    register(client, paid_session, email="recent@example.com")
    recent = registration_for("recent@example.com")
    make_stale(old)

    assert sweep()["cancelled"] == 1

    assert Payment.objects.get(registration=old).status == PaymentStatus.CANCELLED
    assert Payment.objects.get(registration=recent).status == PaymentStatus.WAITING


def test_the_limit_comes_from_the_settings(client, paid_session, settings, sweep):
    register(client, paid_session)
    make_stale(registration_for())  # 90 minutes old
    settings.WAGTAIL_TRAINING_PAY_STALE_PAYMENT_MINUTES = 120
    assert sweep()["cancelled"] == 0
    settings.WAGTAIL_TRAINING_PAY_STALE_PAYMENT_MINUTES = 60
    assert sweep()["cancelled"] == 1


def test_the_command_and_the_task_run_the_same_sweep(client, paid_session):
    register(client, paid_session)
    make_stale(registration_for())
    out = StringIO()
    call_command("check_stale_payments", stdout=out)
    assert "1 cancelled" in out.getvalue()
    result = check_stale_payments_task.enqueue()
    assert result.return_value["cancelled"] == 0
