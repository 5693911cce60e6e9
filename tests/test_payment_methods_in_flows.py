"""The PayPal providers inside the real flows: a learner pays by Payflow card, a host by Express Checkout."""

import logging
import re
from decimal import Decimal

import pytest
from django.core import mail
from payments import PaymentStatus

from tests.registration_helpers import (
    CARD,
    CVV,
    card_data,
    commit_after_each_request,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import approve_at_paypal, cancel_at_paypal, pay_on_hosted_page, site_path
from wagtail_training_pay.models import (
    HostPaymentMethod,
    Payment,
    RegistrationStatus,
    TrainingSessionPage,
    UsageCharge,
    UsageChargeStatus,
)
from wagtail_training_pay.services.registrations import refund_registration

from .pay_per_use_support import BILLING, session_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


@pytest.fixture
def commit_callbacks(client, django_capture_on_commit_callbacks):
    return commit_after_each_request(client, django_capture_on_commit_callbacks)


def register_with(client, page, training_settings, variant):
    offer_methods(training_settings, **{variant: "Card"})
    response = register(client, page, payment_method=variant)
    assert response.status_code == 302, response.content.decode()[:1000]
    return registration_for()


# -- a learner pays by card ------------------------------------------------------------


def test_a_learner_pays_on_the_payflow_hosted_page_and_is_confirmed_once(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks
):
    registration = register_with(client, paid_session, training_settings, "payflow")
    step = client.get(pay_step(registration))
    assert step.status_code == 302
    assert step["Location"].startswith(payflow_simulator.server.url + "/hosted?SECURETOKEN=")

    answer = pay_on_hosted_page(step["Location"])
    back = client.get(site_path(answer.headers["Location"]))
    done = client.get(back["Location"], follow=True)
    assert done.redirect_chain[-1][0] == f"/training/registration/{registration.token}/done/"

    registration.refresh_from_db()
    payment = Payment.objects.get(registration=registration)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == payment.pk
    assert (payment.status, payment.captured_amount, payment.currency) == ("confirmed", Decimal("45.00"), "EUR")
    assert len(mail.outbox) == 1

    silent_url, fields = payflow_simulator.silent_posts[0]
    assert client.post(site_path(silent_url), fields).status_code == 200
    assert len(mail.outbox) == 1
    assert len(payflow_simulator.charges()) == 1


def test_a_learner_pays_with_the_card_form_and_no_card_data_is_logged(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, caplog
):
    caplog.set_level(logging.DEBUG)
    registration = register_with(client, paid_session, training_settings, "payflow-direct")
    form = client.get(pay_step(registration)).content.decode()
    assert 'name="number"' in form and 'autocomplete="cc-number"' in form

    response = client.post(pay_step(registration), card_data())
    assert response.status_code == 302
    client.get(response["Location"])
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(mail.outbox) == 1
    assert CARD not in caplog.text
    assert not re.search(rf"(?<![0-9A-Za-z]){CVV}(?![0-9A-Za-z])", caplog.text)
    assert CARD not in Payment.objects.get(registration=registration).extra_data


def test_a_declined_learner_sees_the_reason_and_stays_pending(
    client, make_session, training_settings, payflow_simulator, commit_callbacks
):
    page = make_session(fee=Decimal("1012.00"))
    registration = register_with(client, page, training_settings, "payflow-direct")
    response = client.post(pay_step(registration), card_data())
    assert response.status_code == 200
    assert "Your card was declined: Declined" in response.content.decode()
    assert CARD not in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert mail.outbox == []


def test_an_authorization_is_captured_when_the_registration_is_confirmed(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks
):
    registration = register_with(client, paid_session, training_settings, "payflow-direct-auth")
    client.post(pay_step(registration), card_data())
    registration.refresh_from_db()
    payment = Payment.objects.get(registration=registration)
    assert registration.status == RegistrationStatus.CONFIRMED
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["A", "D"]


def test_refunding_a_registration_in_part_then_in_full_goes_through_payflow(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks
):
    registration = register_with(client, paid_session, training_settings, "payflow-direct")
    client.post(pay_step(registration), card_data())
    registration.refresh_from_db()

    refund_registration(registration, Decimal("10.00"))
    payment = Payment.objects.get(registration=registration)
    registration.refresh_from_db()
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.CONFIRMED,
        Decimal("35.00"),
        Decimal("10.00"),
    )
    assert (registration.status, registration.refunded_amount) == (RegistrationStatus.CONFIRMED, Decimal("10.00"))

    refund_registration(registration)
    payment.refresh_from_db()
    registration.refresh_from_db()
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("45.00"))
    assert (registration.status, registration.refunded_amount) == (RegistrationStatus.REFUNDED, Decimal("45.00"))
    assert [entry["amount"] for entry in payflow_simulator.entries("C")] == ["10.00", "35.00"]


# -- a host pays by Express Checkout ---------------------------------------------------


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="express", label="PayPal", sort_order=0)
    page = TrainingSessionPage.objects.get(pk=make_session(expected_participants=10, teleconference_participants=2).pk)
    page.save_revision()
    return TrainingSessionPage.objects.get(pk=page.pk)


def go_to_paypal(admin_client, page):
    """Publish, then from the cost page: billing with the PayPal variant; returns the redirect to PayPal."""
    response = admin_client.post(f"/admin/pages/{page.pk}/edit/", session_form_data(page, **{"action-publish": "1"}))
    cost = admin_client.get(response["Location"]).content.decode()
    billing_url = re.search(r'href="([^"]*/billing/[^"]*)"', cost).group(1).replace("&amp;", "&")
    response = admin_client.post(billing_url, {**BILLING, "variant": "express"})
    assert response.status_code == 302, response.content.decode()[:2000]
    to_paypal = admin_client.get(response["Location"])
    assert to_paypal.status_code == 302
    return to_paypal["Location"]


def test_a_host_pays_by_express_checkout_and_the_session_goes_live(draft_session, admin_client, nvp_simulator):
    redirect = go_to_paypal(admin_client, draft_session)
    assert redirect.startswith(nvp_simulator.server.url + "/webscr?cmd=_express-checkout&token=EC-")

    back = admin_client.get(site_path(approve_at_paypal(redirect)))
    final = admin_client.get(back["Location"], follow=True)
    assert "Payment received: the session is live." in final.content.decode()

    page = TrainingSessionPage.objects.get(pk=draft_session.pk)
    charge = UsageCharge.objects.get(page=page)
    payment = Payment.objects.get(usage_charge=charge)
    assert page.live
    assert charge.status == UsageChargeStatus.PAID
    assert (payment.status, payment.captured_amount, payment.total) == (
        PaymentStatus.CONFIRMED,
        Decimal("27.00"),
        Decimal("27.00"),
    )
    (sale,) = nvp_simulator.charges()
    assert (sale["id"], sale["amount"]) == (payment.transaction_id, Decimal("27.00"))


def test_a_host_who_cancels_at_paypal_keeps_the_draft_unpublished(draft_session, admin_client, nvp_simulator):
    redirect = go_to_paypal(admin_client, draft_session)
    back = admin_client.get(site_path(cancel_at_paypal(redirect)))
    admin_client.get(back["Location"], follow=True)
    page = TrainingSessionPage.objects.get(pk=draft_session.pk)
    assert not page.live
    assert nvp_simulator.charges() == []


def test_a_learner_who_cancels_at_paypal_is_told_nothing_was_paid_and_can_choose_another_method(
    client, paid_session, training_settings, nvp_simulator, commit_callbacks
):
    offer_methods(training_settings, **{"express": "PayPal", "dummy": "Card"})
    register(client, paid_session, payment_method="express")
    registration = registration_for()
    step = client.get(pay_step(registration))
    assert step["Location"].startswith(nvp_simulator.server.url + "/webscr")

    back = client.get(site_path(cancel_at_paypal(step["Location"])), follow=True)
    page = back.content.decode()
    assert back.redirect_chain[-1][0] == f"/training/registration/{registration.token}/pay/?choose=1"
    assert "being processed" not in page and "you will get an email" not in page.lower()
    assert "You left the payment service before paying. Nothing was charged." in page
    # The choice of method is on the page: the step no longer sends the learner straight back to PayPal.
    assert 'name="payment_method"' in page and 'value="dummy"' in page

    chosen = client.post(pay_step(registration), {"choose_payment_method": "1", "payment_method": "dummy"})
    assert chosen.status_code == 200
    assert 'name="status"' in chosen.content.decode()  # the dummy provider's own form
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert nvp_simulator.charges() == []
