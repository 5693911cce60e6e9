"""One idempotent confirmation path: late payments, replays, mismatches and duplicate payments."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from payments import PaymentStatus

from tests.registration_helpers import register, registration_for
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service

pytestmark = pytest.mark.django_db


def provider_callback(client, payment, result=PaymentStatus.CONFIRMED):
    """The dummy provider's notification, through the app's locked callback view."""
    return client.get(f"/training/payment/{payment.token}/process/?verification_result={result}")


def expire_hold(registration):
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))


def test_a_replayed_callback_confirms_once_and_sends_one_email(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    payment = registration.payments.get()
    for _ in range(3):
        assert provider_callback(learner_client, payment).status_code == 302
    learner_client.get(f"/training/payment/{payment.token}/return/")
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == payment.pk
    assert len(mail.outbox) == 1
    assert Payment.objects.get().captured_amount == Decimal("45.00")


def test_a_late_payment_is_confirmed_when_a_seat_is_still_free(learner_client, make_session):
    page = make_session(capacity=1)
    register(learner_client, page)
    registration = registration_for()
    expire_hold(registration)
    assert service.seats_left(page) == 1

    provider_callback(learner_client, registration.payments.get())
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert not registration.late_payment_refunded
    assert service.seats_left(page) == 0
    assert len(mail.outbox) == 1


def test_a_late_payment_is_refunded_when_the_seat_is_gone(learner_client, make_session):
    page = make_session(capacity=1)
    register(learner_client, page)
    late = registration_for()
    expire_hold(late)
    register(learner_client, page, email="grace@example.com")
    assert service.seats_left(page) == 0

    payment = late.payments.get()
    provider_callback(learner_client, payment)
    late.refresh_from_db()
    payment.refresh_from_db()
    assert late.status == RegistrationStatus.REFUNDED
    assert late.late_payment_refunded
    assert late.refunded_amount == Decimal("45.00")
    assert payment.status == PaymentStatus.REFUNDED
    assert payment.refunded_amount == Decimal("45.00")
    assert payment.captured_amount == 0
    assert registration_for("grace@example.com").status == RegistrationStatus.PENDING
    (email,) = mail.outbox
    assert email.to == ["ada@example.com"]
    assert "refunded" in email.subject.lower()

    # The learner's browser comes back afterwards: the page says what happened, nothing else changes.
    done = learner_client.get(f"/training/payment/{payment.token}/return/", follow=True)
    assert "Your payment arrived too late" in done.content.decode()
    provider_callback(learner_client, payment)
    late.refresh_from_db()
    assert late.refunded_amount == Decimal("45.00")
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("tampered", [{"total": Decimal("1.00")}, {"currency": "USD"}])
def test_a_payment_that_does_not_match_the_registration_confirms_nothing(
    learner_client, paid_session, caplog, tampered
):
    register(learner_client, paid_session)
    registration = registration_for()
    Payment.objects.filter(registration=registration).update(**tampered)

    with caplog.at_level(logging.ERROR, logger="wagtail_training_pay"):
        provider_callback(learner_client, registration.payments.get())
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert registration.paid_by_id is None
    assert "does not match" in caplog.text
    assert not mail.outbox


def test_a_second_payment_for_a_confirmed_registration_is_refunded(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    first = registration.payments.get()
    provider_callback(learner_client, first)
    second = service.create_payment(registration, "dummy")

    provider_callback(learner_client, second)
    registration.refresh_from_db()
    second.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == first.pk
    assert second.status == PaymentStatus.REFUNDED
    assert second.refunded_amount == Decimal("45.00")
    assert registration.refunded_amount == Decimal("45.00")  # recorded against the learner, seat kept
    assert len(mail.outbox) == 1


def test_a_payment_for_a_cancelled_registration_is_refunded(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    payment = registration.payments.get()
    Registration.objects.filter(pk=registration.pk).update(status=RegistrationStatus.CANCELLED)

    provider_callback(learner_client, payment)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert Registration.objects.get().status == RegistrationStatus.CANCELLED


def test_a_pre_authorized_payment_is_captured_and_confirms(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    provider_callback(learner_client, registration.payments.get(), PaymentStatus.PREAUTH)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert Payment.objects.get().status == PaymentStatus.CONFIRMED


def test_a_replayed_pre_authorization_after_the_capture_changes_nothing(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    payment = registration.payments.get()
    provider_callback(learner_client, payment, PaymentStatus.PREAUTH)
    provider_callback(learner_client, payment, PaymentStatus.PREAUTH)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == payment.pk
    assert registration.refunded_amount == 0
    payment.refresh_from_db()
    assert payment.status != PaymentStatus.REFUNDED  # the captured money was not released
    assert len(mail.outbox) == 1


def test_a_pre_authorized_payment_is_released_when_no_seat_is_left(learner_client, make_session):
    page = make_session(capacity=1)
    register(learner_client, page)
    late = registration_for()
    expire_hold(late)
    register(learner_client, page, email="grace@example.com")

    provider_callback(learner_client, late.payments.get(), PaymentStatus.PREAUTH)
    late.refresh_from_db()
    assert late.status in (RegistrationStatus.PENDING, RegistrationStatus.EXPIRED)
    assert Payment.objects.get(registration=late).status == PaymentStatus.REFUNDED


def test_a_confirmation_by_hand_is_kept_when_the_payment_arrives(learner_client, paid_session, admin_user):
    register(learner_client, paid_session)
    registration = registration_for()
    service.confirm_registration(registration, user=admin_user, reason="paid by bank transfer")
    payment = registration.payments.get()

    provider_callback(learner_client, payment)
    registration.refresh_from_db()
    payment.refresh_from_db()
    assert registration.paid_by_id == payment.pk
    assert payment.status == PaymentStatus.CONFIRMED
