"""Seat holds expire by themselves; the release task and command tidy up and refund stray payments."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from payments import PaymentStatus

from tests.registration_helpers import register, registration_for
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service
from wagtail_training_pay.tasks import release_expired_holds_task

pytestmark = pytest.mark.django_db


def test_an_expired_hold_stops_counting_without_any_job(client, make_session):
    page = make_session(capacity=2)
    register(client, page)
    assert service.seats_taken(page) == 1
    later = timezone.now() + timedelta(minutes=16)
    assert service.seats_taken(page, now=later) == 0
    assert service.seats_left(page, now=later) == 2


def test_the_hold_length_comes_from_the_site_settings(client, paid_session, training_settings):
    training_settings.seat_hold_minutes = 42
    training_settings.save()
    before = timezone.now()
    register(client, paid_session)
    hold = registration_for().hold_expires_at - before
    assert timedelta(minutes=41) < hold <= timedelta(minutes=42, seconds=5)


def test_the_command_releases_expired_holds_only(client, paid_session):
    register(client, paid_session)
    register(client, paid_session, email="grace@example.com")
    Registration.objects.filter(email="ada@example.com").update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    out = StringIO()
    call_command("release_expired_holds", stdout=out)
    assert "1 hold(s) released" in out.getvalue()
    assert registration_for().status == RegistrationStatus.EXPIRED
    assert registration_for("grace@example.com").status == RegistrationStatus.PENDING
    # Running it again finds nothing more to do.
    call_command("release_expired_holds", stdout=out)
    assert "0 hold(s) released" in out.getvalue()


def test_the_task_refunds_a_late_payment_whose_refund_had_failed(
    client, paid_session, monkeypatch, django_capture_on_commit_callbacks
):
    register(client, paid_session)
    registration = registration_for()
    payment = registration.payments.get()
    # The payment arrived late, the session filled up, and the automatic refund could not run.
    Registration.objects.filter(pk=registration.pk).update(status=RegistrationStatus.EXPIRED)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CONFIRMED, captured_amount=Decimal("45.00"))

    with django_capture_on_commit_callbacks(execute=True):  # as a worker's commit would: the refund is sent
        result = release_expired_holds_task.enqueue()
    assert result.return_value == {"expired": 0, "refunded": 1}
    registration.refresh_from_db()
    assert registration.late_payment_refunded
    assert registration.status == RegistrationStatus.REFUNDED
    assert Payment.objects.get().status == PaymentStatus.REFUNDED
    assert release_expired_holds_task.enqueue().return_value == {"expired": 0, "refunded": 0}


def test_a_waiting_learner_is_offered_a_seat_with_a_hold(client, make_session, training_settings):
    training_settings.waitlist_enabled = True
    training_settings.save()
    page = make_session(capacity=1)
    register(client, page)
    register(client, page, email="grace@example.com")
    waiting = registration_for("grace@example.com")
    assert waiting.status == RegistrationStatus.WAITLISTED
    with pytest.raises(service.SessionFull):
        service.admit_from_waitlist(waiting)

    Registration.objects.filter(email="ada@example.com").update(status=RegistrationStatus.CANCELLED)
    service.admit_from_waitlist(waiting)
    waiting.refresh_from_db()
    assert waiting.status == RegistrationStatus.PENDING
    assert waiting.hold_expires_at > timezone.now()
    assert waiting.payments.get().total == Decimal("45.00")


def test_the_seat_count_statement_counts_what_the_orm_definition_counts(make_session):
    """``seats_taken`` is written in SQL for speed; ``holding_seats()`` is the definition. They must agree."""
    page, other = make_session(capacity=50), make_session(capacity=50)
    now = timezone.now()
    holds = {"live": now + timedelta(minutes=5), "expired": now - timedelta(minutes=5), "none": None}
    number = 0
    for session in (page, other):
        for status in RegistrationStatus.values:
            for hold in holds.values():
                number += 1
                Registration.objects.create(
                    page=session,
                    status=status,
                    hold_expires_at=hold,
                    first_name="A",
                    last_name=str(number),
                    email=f"learner{number}@example.com",
                    currency="EUR",
                )

    for moment in (now, now - timedelta(minutes=10), now + timedelta(minutes=10)):
        expected = Registration.objects.filter(page=page).holding_seats(moment).count()
        assert service.seats_taken(page, moment) == expected
    assert service.seats_taken(page, now) == 4  # 3 confirmed + 1 pending with a live hold
    assert service.seats_left(page, now) == 46
