"""Confirmation emails: once, in the learner's language, with the receipt, a calendar file and the manage link."""

from datetime import UTC, datetime

import pytest
from django.core import mail
from django.utils import timezone

from tests.registration_helpers import commit_after_each_request, pay_with_dummy, register, registration_for
from wagtail_training_pay import ics
from wagtail_training_pay.models import Registration
from wagtail_training_pay.services import registrations as service
from wagtail_training_pay.services.outbox import send_owed_emails

pytestmark = pytest.mark.django_db


def test_the_email_is_in_the_learners_language(client, paid_session, django_capture_on_commit_callbacks):
    learner_client = commit_after_each_request(client, django_capture_on_commit_callbacks)
    learner_client.post(
        paid_session.url,
        {
            "first_name": "Émilie",
            "last_name": "du Châtelet",
            "email": "emilie@example.com",
            "billing_address": "1 place Vendôme",
            "billing_postcode": "75001",
            "billing_city": "Paris",
            "billing_country": "FR",
        },
        HTTP_ACCEPT_LANGUAGE="fr",
    )
    registration = registration_for("emilie@example.com")
    assert registration.language == "fr"
    pay_with_dummy(learner_client, registration)  # the payment step itself in English: the email stays French
    (email,) = mail.outbox
    assert email.subject.startswith("Inscription confirmée")
    assert "45,00\xa0€" in email.body
    assert "Gérer votre inscription" in email.alternatives[0][0]


def test_the_confirmation_is_sent_once_even_when_asked_twice(client, free_session):
    client.post(free_session.url, {"first_name": "A", "last_name": "B", "email": "a@example.com"})
    registration = Registration.objects.get()
    assert send_owed_emails() == 1  # the request's commit never ran here: the sweeper sends what is owed
    assert send_owed_emails() == 0
    service.send_confirmation(registration)  # owed again: the same email, recorded once
    assert send_owed_emails() == 0
    assert len(mail.outbox) == 1
    registration.refresh_from_db()
    assert registration.confirmation_sent_at is not None


def test_no_confirmation_for_a_registration_that_is_not_confirmed(client, paid_session):
    register(client, paid_session)
    service.send_confirmation(registration_for())  # owed by mistake: dropped at sending time
    assert send_owed_emails() == 0
    assert not mail.outbox


def test_icalendar_text_is_escaped_and_long_lines_folded():
    start = datetime(2030, 1, 2, 9, 30, tzinfo=UTC)
    body = ics.event_calendar(
        uid="x@example.com",
        start=start,
        end=start.replace(hour=11, minute=0),
        summary="Archives; metadata, and XML\nday " + "é" * 80,
        now=timezone.now(),
    ).decode()
    lines = body.split("\r\n")
    assert "DTSTART:20300102T093000Z" in lines
    assert "DTEND:20300102T110000Z" in lines
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:Archives\\; metadata\\, and XML\\nday " + "é" * 80 in unfolded
