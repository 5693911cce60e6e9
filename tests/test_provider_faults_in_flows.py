"""Gateway faults inside the real flows: a clear message to the person, an error in the log, nothing lost or doubled.

The faults come from the loopback simulators (``tests/simulators/server.py``): a reply held back
after the gateway did the work (timeout), no server at all (connection refused), garbage instead
of a reply (malformed), a 503 (5xx); and notifications for unknown payments or other amounts.
"""

import logging
import re
import socket
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from payments import PaymentStatus
from payments.core import PROVIDER_CACHE

from tests.registration_helpers import (
    card_data,
    commit_after_each_request,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import approve_at_paypal, pay_on_hosted_page, site_path
from wagtail_training_pay.models import (
    HostPaymentMethod,
    Payment,
    RegistrationStatus,
    TrainingSessionPage,
    UsageCharge,
    UsageChargeStatus,
)

from .pay_per_use_support import BILLING, session_form_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]

CARD_FORM_DID_NOT_ANSWER = "The payment service did not answer. Nothing was charged twice"
STEP_FAILED = "The payment service could not process your payment. Nothing was charged."


@pytest.fixture
def commit_callbacks(client, django_capture_on_commit_callbacks):
    return commit_after_each_request(client, django_capture_on_commit_callbacks)


@pytest.fixture
def errors_logged(caplog):
    caplog.set_level(logging.ERROR, logger="wagtail_training_pay")
    return lambda: [record for record in caplog.records if record.levelno >= logging.ERROR]


def registered(client, page, training_settings, variant):
    offer_methods(training_settings, **{variant: "Card"})
    assert register(client, page, payment_method=variant).status_code == 302
    return registration_for()


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nobody listens once the socket is closed


# -- the learner's card form -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["timeout", "malformed", "5xx", "drop"])
def test_a_card_payment_the_gateway_does_not_answer_is_retried_safely_and_charged_once(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, errors_logged, fault
):
    registration = registered(client, paid_session, training_settings, "payflow-direct")
    payflow_simulator.faults.inject(fault, fault, fault)  # every attempt of the first submission

    response = client.post(pay_step(registration), card_data())

    assert response.status_code == 200
    assert CARD_FORM_DID_NOT_ANSWER in response.content.decode()
    assert "4111111111111111" not in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert errors_logged(), "the administrator sees nothing"
    charged_before_retry = len(payflow_simulator.charges())
    assert charged_before_retry == (0 if fault == "5xx" else 1)  # a timeout may have charged: unknown here

    # The learner submits again: the same request id, so the gateway answers the first sale, never a second.
    response = client.post(pay_step(registration), card_data())
    assert response.status_code == 302
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(payflow_simulator.charges()) == 1
    assert Payment.objects.filter(registration=registration).count() == 1
    assert len(mail.outbox) == 1


def test_a_gateway_refusing_connections_gives_a_clear_message_and_keeps_the_registration(
    client, paid_session, training_settings, settings, commit_callbacks, errors_logged
):
    variants = dict(settings.PAYMENT_VARIANTS)
    path, options = variants["payflow-direct"]
    variants["payflow-direct"] = (path, {**options, "endpoint": f"http://127.0.0.1:{closed_port()}/"})
    settings.PAYMENT_VARIANTS = variants
    PROVIDER_CACHE.clear()
    registration = registered(client, paid_session, training_settings, "payflow-direct")

    response = client.post(pay_step(registration), card_data())

    assert CARD_FORM_DID_NOT_ANSWER in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert "connection failed" in " ".join(record.getMessage() for record in errors_logged())


@pytest.mark.parametrize("fault", ["5xx", "malformed", "timeout"])
def test_a_hosted_page_that_cannot_be_prepared_sends_the_learner_back_to_retry(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, errors_logged, fault
):
    registration = registered(client, paid_session, training_settings, "payflow")
    payflow_simulator.faults.inject(fault, fault, fault)

    response = client.get(pay_step(registration), follow=True)

    assert STEP_FAILED in response.content.decode()
    assert errors_logged()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert payflow_simulator.charges() == []
    # The gateway is back: the learner goes on to the hosted page and pays once.
    step = client.get(pay_step(registration))
    client.get(site_path(pay_on_hosted_page(step["Location"]).headers["Location"]))
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(payflow_simulator.charges()) == 1


# -- notifications that do not fit ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["/training/payment/{token}/process/", "/training/payment/{token}/return/"])
def test_a_notification_for_an_unknown_payment_is_a_404_and_logged(client, paid_session, errors_logged, path):
    register(client, paid_session)
    before = list(Payment.objects.values_list("pk", "status"))

    response = client.post(path.format(token=uuid.uuid4()), {"RESULT": "0", "AMT": "45.00"})

    assert response.status_code == 404
    assert list(Payment.objects.values_list("pk", "status")) == before
    if "process" in path:
        assert "unknown token" in " ".join(record.getMessage() for record in errors_logged())


def test_a_hosted_payment_the_gateway_recorded_for_another_amount_confirms_nothing(
    client, paid_session, training_settings, payflow_simulator, commit_callbacks, errors_logged
):
    registration = registered(client, paid_session, training_settings, "payflow")
    step = client.get(pay_step(registration))
    # The gateway ends up holding another amount than the payment asks for (4.50 instead of 45.00).
    Payment.objects.filter(registration=registration).update(total=Decimal("4.50"))
    back = pay_on_hosted_page(step["Location"])

    client.get(site_path(back.headers["Location"]), follow=True)

    registration.refresh_from_db()
    payment, *retry = Payment.objects.filter(registration=registration).order_by("pk")
    assert registration.status == RegistrationStatus.PENDING
    assert payment.status == PaymentStatus.ERROR
    assert all(attempt.status in (PaymentStatus.WAITING, PaymentStatus.INPUT) for attempt in retry)  # may retry
    assert mail.outbox == []
    assert any("not confirmed" in record.getMessage() for record in errors_logged())


def test_a_checkout_paypal_holds_in_another_currency_confirms_nothing(
    client, paid_session, training_settings, nvp_simulator, commit_callbacks, errors_logged
):
    registration = registered(client, paid_session, training_settings, "express")
    step = client.get(pay_step(registration))
    Payment.objects.filter(registration=registration).update(currency="USD")  # PayPal holds EUR
    back = approve_at_paypal(step["Location"])

    client.get(site_path(back), follow=True)

    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert Payment.objects.filter(registration=registration).order_by("pk").first().status == PaymentStatus.ERROR
    assert nvp_simulator.charges() == []
    assert any("PayPal holds" in record.getMessage() for record in errors_logged())


# -- the host's payment --------------------------------------------------------------------------


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="express", label="PayPal", sort_order=0)
    page = TrainingSessionPage.objects.get(pk=make_session(expected_participants=10, teleconference_participants=2).pk)
    page.save_revision()
    return TrainingSessionPage.objects.get(pk=page.pk)


@pytest.mark.parametrize("fault", ["5xx", "timeout", "malformed"])
def test_a_host_whose_gateway_fails_is_back_on_the_cost_page_with_the_draft_intact(
    draft_session, admin_client, nvp_simulator, errors_logged, fault
):
    response = admin_client.post(
        f"/admin/pages/{draft_session.pk}/edit/", session_form_data(draft_session, **{"action-publish": "1"})
    )
    cost = admin_client.get(response["Location"]).content.decode()
    billing_url = re.search(r'href="([^"]*/billing/[^"]*)"', cost).group(1).replace("&amp;", "&")
    response = admin_client.post(billing_url, {**BILLING, "variant": "express"})
    nvp_simulator.faults.inject(fault, fault, fault)

    response = admin_client.get(response["Location"], follow=True)

    assert response.status_code == 200
    assert "The payment service did not answer" in response.content.decode()
    assert response.redirect_chain[-1][0].startswith(f"/admin/training/pay-per-use/{draft_session.pk}/cost/")
    assert errors_logged()
    page = TrainingSessionPage.objects.get(pk=draft_session.pk)
    assert not page.live
    assert page.get_latest_revision().content["duration_minutes"] == draft_session.duration_minutes
    assert UsageCharge.objects.get(page=page).status == UsageChargeStatus.PENDING
    assert nvp_simulator.charges() == []


def test_a_gateway_error_on_a_payment_that_went_through_does_not_say_nothing_was_charged(
    client, paid_session, training_settings, settings, commit_callbacks, errors_logged
):
    from payments import core

    settings.PAYMENT_VARIANTS = {
        **settings.PAYMENT_VARIANTS,
        "confirms-then-fails": ("tests.testapp.providers.ConfirmsThenFailsProvider", {}),
    }
    core.PROVIDER_CACHE.clear()
    registration = registered(client, paid_session, training_settings, "confirms-then-fails")
    done = client.post(pay_step(registration), {"status": "confirmed"}, follow=True)
    page = done.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert "You are registered" in page
    assert "Nothing was charged" not in page
    assert errors_logged(), "the gateway's error is still logged for the administrator"
    core.PROVIDER_CACHE.clear()
