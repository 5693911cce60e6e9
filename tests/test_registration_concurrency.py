"""Concurrent requests on PostgreSQL, each thread on its own real connection: row locks keep counts exact."""

import threading
from collections import Counter

import pytest
from django.core import mail
from django.db import connection
from django.test import Client

from tests.registration_helpers import learner
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def run_together(count, action):
    """Run ``action(i)`` in ``count`` threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count
    errors = []

    def worker(index):
        try:
            barrier.wait()
            results[index] = action(index)
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return results


def outcome(response):
    if response.status_code == 302 and response["Location"].endswith("/pay/"):
        return "held"
    messages = [str(error) for error in response.context["form"].non_field_errors()] if response.context else []
    if any("session is full" in message or "Every seat is taken" in message for message in messages):
        return "full"
    if any("already registered" in message for message in messages):
        return "duplicate"
    return f"unexpected {response.status_code} {messages}"


@pytest.fixture(autouse=True)
def one_address_for_everyone(settings):
    """Every thread posts from 127.0.0.1: lift the per-address rate limit for these tests."""
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "1000/h"


def test_thirty_learners_racing_for_five_seats_get_five_holds_and_twenty_five_full_answers(make_session):
    page = make_session(capacity=5)
    url = page.url

    results = run_together(30, lambda i: outcome(Client().post(url, learner(email=f"learner{i}@example.com"))))

    assert Counter(results) == {"held": 5, "full": 25}
    assert Registration.objects.filter(page=page, status=RegistrationStatus.PENDING).count() == 5
    assert Registration.objects.count() == 5
    assert Payment.objects.count() == 5
    assert service.seats_left(page) == 0


def test_the_same_email_racing_itself_from_ten_browsers_makes_one_first_registration(make_session):
    """Nobody is told the address is taken (issue 17): one first registration, nine second ones marked as
    such, and one email to the address."""
    page = make_session(capacity=50)
    url = page.url

    results = run_together(10, lambda i: outcome(Client().post(url, learner(email="Ada@Example.com"))))

    assert Counter(results) == {"held": 10}
    first = Registration.objects.get(duplicate_of__isnull=True)
    assert set(Registration.objects.exclude(pk=first.pk).values_list("duplicate_of", flat=True)) == {first.pk}
    assert Registration.objects.count() == 10
    assert len([message for message in mail.outbox if "already registered" in message.body]) == 1


def test_one_confirmation_replayed_ten_times_at_once_confirms_once_and_sends_one_email(make_session):
    page = make_session(capacity=5)
    Client().post(page.url, learner())
    registration = Registration.objects.get()
    payment = registration.payments.get()
    callback = f"/training/payment/{payment.token}/process/?verification_result=confirmed"
    browser_return = f"/training/payment/{payment.token}/return/"
    mail.outbox.clear()

    def notify(index):
        # Provider callbacks and browser returns, interleaved.
        return Client().get(callback if index % 2 == 0 else browser_return).status_code

    statuses = run_together(10, notify)

    assert set(statuses) == {302}
    registration.refresh_from_db()
    payment.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == payment.pk
    assert registration.confirmation_sent_at is not None
    assert payment.captured_amount == payment.total
    assert len(mail.outbox) == 1


def test_concurrent_releases_of_expired_holds_release_each_hold_once(make_session):
    from datetime import timedelta

    from django.utils import timezone

    page = make_session(capacity=30)
    for i in range(12):
        Client().post(page.url, learner(email=f"learner{i}@example.com"))
    Registration.objects.update(hold_expires_at=timezone.now() - timedelta(seconds=1))

    results = run_together(4, lambda i: service.release_expired_holds()[0])

    assert sum(results) == 12
    assert Registration.objects.filter(status=RegistrationStatus.EXPIRED).count() == 12
