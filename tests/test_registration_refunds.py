"""Refunds by staff through the provider: partial or full, amounts kept right on both sides."""

from decimal import Decimal

import pytest
from payments import PaymentStatus

from tests.registration_helpers import pay_with_dummy, register, registration_for
from wagtail_training_pay.models import RegistrationStatus
from wagtail_training_pay.services import registrations as service

pytestmark = pytest.mark.django_db


@pytest.fixture
def confirmed(client, paid_session):
    register(client, paid_session)
    registration = registration_for()
    pay_with_dummy(client, registration)
    registration.refresh_from_db()
    return registration


def test_a_partial_then_a_full_refund_keep_every_amount_right(confirmed, admin_user):
    service.refund_registration(confirmed, Decimal("10.00"), user=admin_user)
    confirmed.refresh_from_db()
    payment = confirmed.paid_by
    assert confirmed.status == RegistrationStatus.CONFIRMED
    assert (confirmed.refunded_amount, payment.refunded_amount, payment.captured_amount) == (
        Decimal("10.00"),
        Decimal("10.00"),
        Decimal("35.00"),
    )
    assert service.seats_taken(confirmed.page) == 1

    service.refund_registration(confirmed, user=admin_user)
    confirmed.refresh_from_db()
    payment.refresh_from_db()
    assert confirmed.status == RegistrationStatus.REFUNDED
    assert confirmed.refunded_amount == Decimal("45.00")
    assert (payment.status, payment.refunded_amount, payment.captured_amount) == (
        PaymentStatus.REFUNDED,
        Decimal("45.00"),
        Decimal("0.00"),
    )
    assert service.seats_taken(confirmed.page) == 0


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1"), Decimal("45.01")])
def test_a_refund_outside_what_was_paid_is_refused(confirmed, amount):
    with pytest.raises(service.RefundFailed):
        service.refund_registration(confirmed, amount)
    confirmed.refresh_from_db()
    assert confirmed.refunded_amount == 0
    assert confirmed.paid_by.status == PaymentStatus.CONFIRMED


def test_a_registration_without_payment_has_nothing_to_refund(client, free_session):
    client.post(free_session.url, {"first_name": "A", "last_name": "B", "email": "a@example.com"})
    with pytest.raises(service.RefundFailed):
        service.refund_registration(registration_for("a@example.com"))


def test_staff_cancellation_refunds_in_full_whatever_the_policy(confirmed, admin_user, training_settings):
    training_settings.refund_percentage = 0
    training_settings.save()
    service.cancel_registration(confirmed, user=admin_user)
    confirmed.refresh_from_db()
    assert confirmed.status == RegistrationStatus.CANCELLED
    assert confirmed.refunded_amount == Decimal("45.00")
