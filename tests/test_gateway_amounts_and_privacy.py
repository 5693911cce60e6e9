"""Issue 13, points 6, 7 and 8 (Express Checkout): currency precision, no card or personal data in
error reports and logs, refunds of the rest and bounded returns to PayPal."""

import logging
import sys
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.test import RequestFactory
from django.views.debug import ExceptionReporter
from payments import PaymentStatus, RedirectNeeded
from payments.core import provider_factory

from tests.gateway_helpers import make_payment, redirect_of, refreshed
from tests.registration_helpers import (
    CARD,
    CVV,
    card_data,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import approve_at_paypal, site_path
from tests.simulators.payflow import parse_payflow
from wagtail_training_pay import currencies
from wagtail_training_pay.models import Payment, RegistrationStatus
from wagtail_training_pay.views.payment_step import pay

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


# -- point 6: each currency's own precision ----------------------------------------------------------


@pytest.mark.parametrize(("code", "places"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("HUF", 0), ("TWD", 0)])
def test_one_source_of_minor_units(code, places):
    assert currencies.decimal_places(code) == places
    assert currencies.minor_unit(code) == Decimal(1).scaleb(-places)


@pytest.mark.parametrize("currency", ["JPY", "HUF", "TWD"])
def test_express_checkout_sends_whole_amounts_where_paypal_takes_no_decimals(client, nvp_simulator, currency):
    payment = make_payment("express", "4500", currency)
    redirect = redirect_of(payment)
    (request,) = [r for r in nvp_simulator.requests if r["METHOD"] == "SetExpressCheckout"]
    assert request["PAYMENTREQUEST_0_AMT"] == "4500"
    client.get(site_path(approve_at_paypal(redirect)))
    assert refreshed(payment).status == PaymentStatus.CONFIRMED


@pytest.mark.parametrize("currency", ["JPY", "HUF"])
def test_payflow_sends_whole_amounts_where_paypal_takes_no_decimals(payflow_simulator, currency):
    payment = make_payment("payflow-direct", "900", currency)  # the simulator approves up to 1000
    with pytest.raises(RedirectNeeded):
        payment.get_form(data=card_data())
    assert parse_payflow(payflow_simulator.raw_requests[-1])["AMT"] == "900"
    assert refreshed(payment).status == PaymentStatus.CONFIRMED


@pytest.mark.parametrize(("fee", "currency"), [("0.40", "JPY"), ("10.50", "HUF"), ("99.99", "TWD")])
def test_the_fee_field_refuses_an_amount_the_currency_cannot_express(make_session, fee, currency):
    page = make_session(fee=Decimal("10"))
    page.fee, page.currency = Decimal(fee), currency
    with pytest.raises(ValidationError) as error:
        page.full_clean()
    assert "fee" in error.value.message_dict


def test_the_fee_field_accepts_whole_yen_and_cents_of_euro(make_session):
    page = make_session(fee=Decimal("10"))
    page.fee, page.currency = Decimal("4500"), "JPY"
    page.full_clean()
    page.fee, page.currency = Decimal("10.50"), "EUR"
    page.full_clean()


def test_a_session_saved_with_an_impossible_fee_takes_no_unpayable_registration(
    learner_client, make_session, training_settings
):
    from wagtail_training_pay.models import TrainingSessionPage

    page = make_session(fee=Decimal("10"))
    TrainingSessionPage.objects.filter(pk=page.pk).update(fee=Decimal("0.40"), currency="JPY")  # saved unchecked
    page = TrainingSessionPage.objects.get(pk=page.pk)
    offer_methods(training_settings, express="PayPal")
    response = register(learner_client, page, payment_method="express")
    assert response.status_code == 200
    assert not page.registrations.exists()


# -- point 7: no card data in error reports, no personal data in gateway logs --------------------------


def test_the_card_views_hide_card_fields_and_values_from_djangos_error_report(payflow_simulator, make_session):
    """A crash while the card is being charged: Django's error report shows neither the card nor the CVV."""
    payment = make_payment("payflow-direct", "45.00", "USD")
    request = RequestFactory().post(pay_step(payment), card_data())
    with pytest.raises(Http404):
        pay(request, token="00000000-0000-0000-0000-000000000000")  # the decorated view marks the request
    card = {"ACCT": CARD, "EXPDATE": "1230", "CVV2": CVV, "NAME": "Ada Lovelace"}
    unsaved = Payment(variant="payflow-direct", total=Decimal("45.00"), currency="USD")
    try:
        with transaction.atomic():  # the crash may be a database error: keep the test's transaction usable
            provider_factory("payflow-direct").charge_card(unsaved, card)
    except Exception:  # noqa: BLE001 (any crash inside the charge: the report is what is checked)
        exc_type, exc, traceback = sys.exc_info()
        # From the provider's frame down, as in a request (this test's own frame holds the card it made).
        reporter = ExceptionReporter(request, exc_type, exc, traceback.tb_next)
        html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    else:
        pytest.fail("charging an unsaved payment should crash")
    assert getattr(request, "sensitive_post_parameters", None)
    for report in (html, text):
        assert CARD not in report
        assert CVV not in report.replace("Ada", "")  # the CVV digits appear nowhere
        assert "charge_card" in report  # the report is the real one, frames included


def test_gateway_debug_logs_carry_no_personal_data(caplog, payflow_simulator, nvp_simulator, client):
    caplog.set_level(logging.DEBUG, logger="wagtail_training_pay")
    card = make_payment(
        "payflow-direct",
        "45.00",
        "USD",
        billing_first_name="Ada",
        billing_last_name="Lovelace",
        billing_address_1="12 rue des Archives",
        billing_city="Paris",
        billing_postcode="75004",
        billing_email="ada@example.com",
        customer_ip_address="192.0.2.7",
    )
    with pytest.raises(RedirectNeeded):
        card.get_form(data=card_data())
    paypal = make_payment("express", "45.00", "USD", billing_email="ada@example.com")
    client.get(site_path(approve_at_paypal(redirect_of(paypal))))
    assert "Payflow Pro request" in caplog.text and "PayPal Express Checkout request" in caplog.text
    for personal in ("Lovelace", "ada@example.com", "rue des Archives", "75004", "192.0.2.7", "buyer@example.com"):
        assert personal not in caplog.text, personal
    assert CARD not in caplog.text


# -- point 8 (Express Checkout) -----------------------------------------------------------------------


def test_refunding_the_rest_after_a_partial_refund_is_a_partial_refund(client, nvp_simulator):
    payment = make_payment("express", "45.00", "USD")
    client.get(site_path(approve_at_paypal(redirect_of(payment))))
    refreshed(payment).refund(Decimal("10.00"))
    refreshed(payment).refund()
    refunds = [r for r in nvp_simulator.requests if r["METHOD"] == "RefundTransaction"]
    assert [(r["REFUNDTYPE"], r.get("AMT")) for r in refunds] == [("Partial", "10.00"), ("Partial", "35.00")]
    assert refreshed(payment).refunded_amount == Decimal("45.00")


def test_a_failed_refund_or_capture_at_paypal_can_be_retried(client, nvp_simulator):
    payment = make_payment("express", "45.00", "USD")
    client.get(site_path(approve_at_paypal(redirect_of(payment))))
    nvp_simulator.faults.inject("error:10001")
    with pytest.raises(Exception, match="10001"):
        refreshed(payment).refund(Decimal("10.00"))
    refreshed(payment).refund(Decimal("10.00"))
    assert [e["amount"] for e in nvp_simulator.entries("refund")] == [Decimal("10.00")]
    (failed,) = [r["MSGSUBID"] for r in nvp_simulator.faulted_requests if r["METHOD"] == "RefundTransaction"]
    (done,) = [r["MSGSUBID"] for r in nvp_simulator.requests if r["METHOD"] == "RefundTransaction"]
    assert failed != done  # PayPal replays a stored failure to the same MSGSUBID


def test_the_movement_key_is_the_msgsubid(client, nvp_simulator):
    from wagtail_training_pay.models import MoneyMovement, MovementKind

    payment = make_payment("express", "45.00", "USD")
    client.get(site_path(approve_at_paypal(redirect_of(payment))))
    payment = refreshed(payment)
    payment.refund(Decimal("5.00"))  # through the money records (issue 14): the movement's key is the MSGSUBID
    (refund,) = [r for r in nvp_simulator.requests if r["METHOD"] == "RefundTransaction"]
    (movement,) = MoneyMovement.objects.filter(payment=payment, kind=MovementKind.REFUND)
    assert refund["MSGSUBID"] == movement.idempotency_key


def test_10486_sends_the_payer_back_a_bounded_number_of_times_then_offers_another_method(
    learner_client, make_session, training_settings, nvp_simulator
):
    nvp_simulator.funding_always_fails = True
    offer_methods(training_settings, express="PayPal", dummy="Other")
    register(learner_client, make_session(fee=Decimal("104.86"), currency="USD"), payment_method="express")
    registration = registration_for()
    location = learner_client.get(pay_step(registration))["Location"]
    sent_back = 0
    for _ in range(6):
        back = learner_client.get(site_path(approve_at_paypal(location)))
        location = back["Location"]
        if "/webscr" not in location:
            break
        sent_back += 1
    assert sent_back == 2
    payment = Payment.objects.get(registration=registration)
    assert payment.status == PaymentStatus.REJECTED
    step = learner_client.get(location, follow=True)
    assert step.redirect_chain[-1][0] == pay_step(registration)
    assert step.status_code == 200
    assert "PayPal could not take this payment" in step.content.decode()
    assert 'name="choose_payment_method"' in step.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert len([r for r in nvp_simulator.requests if r["METHOD"] == "DoExpressCheckoutPayment"]) == 3
