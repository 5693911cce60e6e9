"""Issue 14, "marked ``error`` after a timeout": a card sale typed on the site went through at the gateway but
every answer was lost; the learner typed another card, the gateway refused it as a retry of the first request
with another body (RESULT 133) and the site marked the payment ``error``. The sweeper finds the first sale and
either settles it (the registration still needs it and its seat is free) or refunds it, once.

The provider paths that can produce it are the two card forms typed on the site (Payflow Pro ``direct`` and
Website Payments Pro UK). A hosted page or PayPal Express Checkout never marks a payment ``error`` after a
timeout: an unanswered call leaves it ``input`` (the stale-payment sweeper's ordinary case).
"""

from decimal import Decimal

import pytest
from django.core import mail
from payments import PaymentStatus

from tests.money_invariant import payflow_holdings
from tests.registration_helpers import card_data, offer_methods, pay_step, register, registration_for
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus

from .test_stale_payments import make_stale

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]

CARD_PATHS = [
    pytest.param("payflow-direct", "EUR", "payflow_simulator", id="payflow-direct"),
    pytest.param("paypal-uk", "GBP", "payflow_uk_simulator", id="paypal-uk"),
]


def error_after_a_timeout(client, page, training_settings, simulator, variant):
    """The learner's sale reaches the gateway, every answer is lost; another card: RESULT 133, ``error``."""
    offer_methods(training_settings, **{variant: "Card"})
    register(client, page, payment_method=variant)
    registration = registration_for()
    simulator.faults.inject("timeout", "timeout", "timeout")
    client.post(pay_step(registration), card_data())
    client.post(pay_step(registration), card_data(number="5555555555554444"))
    payment = Payment.objects.get(registration=registration)
    assert payment.status == PaymentStatus.ERROR
    assert payment.message.startswith("RESULT 133")
    assert not payment.needs_attention  # a refused attempt, not money held in another amount
    assert sum(payflow_holdings(simulator).values()) == page.fee  # the gateway took the first sale
    return registration, payment


@pytest.mark.parametrize(("variant", "currency", "simulator_name"), CARD_PATHS)
def test_an_error_after_a_timeout_is_settled_when_the_registration_still_needs_it(
    request, client, make_session, training_settings, sweep, variant, currency, simulator_name
):
    simulator = request.getfixturevalue(simulator_name)
    page = make_session(currency=currency)
    registration, payment = error_after_a_timeout(client, page, training_settings, simulator, variant)

    counts = sweep()

    payment.refresh_from_db()
    registration.refresh_from_db()
    assert counts["checked"] == 1
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
    assert (registration.status, registration.paid_by_id) == (RegistrationStatus.CONFIRMED, payment.pk)
    assert list(payment.movements.values_list("kind", "state")) == [("sale", "done")]
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]
    assert sweep()["checked"] == 0  # asked once: settled for good
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(("variant", "currency", "simulator_name"), CARD_PATHS)
def test_an_error_after_a_timeout_is_refunded_once_when_its_seat_was_given_to_someone_else(
    request, client, make_session, training_settings, sweep, variant, currency, simulator_name
):
    simulator = request.getfixturevalue(simulator_name)
    page = make_session(currency=currency, capacity=1)
    registration, payment = error_after_a_timeout(client, page, training_settings, simulator, variant)
    make_stale(registration, hold_expired=True)  # the learner gave up; the hold ran out
    Registration.objects.create(
        page=page, first_name="Seat", last_name="Taker", email="seat@example.com", currency=currency, status="confirmed"
    )

    sweep()

    payment.refresh_from_db()
    registration.refresh_from_db()
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.REFUNDED,
        0,
        Decimal("45.00"),
    )
    assert registration.status != RegistrationStatus.CONFIRMED
    assert sum(payflow_holdings(simulator).values()) == 0
    assert list(payment.movements.values_list("kind", "state")) == [("sale", "done"), ("refund", "done")]
    sweep()
    assert len([entry for entry in simulator.entries("C") if not entry["duplicate"]]) == 1  # refunded once
