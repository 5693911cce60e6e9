"""Retention and erasure finish on any data and run twice safely (issue 17)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.test_data_protection import registration_for
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services.data_protection import anonymize_due_registrations, erase_on_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def past_session(make_session, training_settings):
    training_settings.anonymize_after_days = 30
    training_settings.save()
    return make_session(start_at=timezone.now() - timedelta(days=40))


def test_retention_anonymizes_every_confirmed_registration_of_a_past_session(past_session):
    registrations = [registration_for(past_session, email=f"learner{n}@example.com") for n in range(6)]
    out = StringIO()
    call_command("anonymize_registrations", stdout=out)
    assert out.getvalue().strip() == "6 registration(s) anonymized."
    assert not Registration.objects.filter(pk__in=[r.pk for r in registrations], anonymized_at__isnull=True).exists()
    # Statuses stay, for the accounts.
    assert set(Registration.objects.values_list("status", flat=True)) == {RegistrationStatus.CONFIRMED}


def test_retention_runs_twice_safely(past_session):
    for n in range(3):
        registration_for(past_session, email=f"learner{n}@example.com")
    assert anonymize_due_registrations() == 3
    assert anonymize_due_registrations() == 0


def test_a_learner_erases_their_data_after_another_learner_did(past_session, client):
    first = registration_for(past_session, email="first@example.com")
    second = registration_for(past_session, email="second@example.com")
    erase_on_request(first)
    response = client.post(f"/training/registration/{second.token}/erase/", {"erase-confirm": "on"})
    assert response.status_code == 302
    second.refresh_from_db()
    assert second.anonymized_at is not None and second.email == ""


def test_an_anonymized_registration_does_not_block_a_new_one_with_another_email(past_session):
    erased = registration_for(past_session, email="gone@example.com")
    anonymize_due_registrations()
    erased.refresh_from_db()
    # The erased registration keeps its status and holds no email any more.
    assert erased.status == RegistrationStatus.CONFIRMED and erased.email == ""


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_retention_runs_at_once_anonymize_each_registration_once(make_session, training_settings):
    from tests.test_registration_concurrency import run_together

    training_settings.anonymize_after_days = 30
    training_settings.save()
    page = make_session(start_at=timezone.now() - timedelta(days=40))
    for n in range(6):
        registration_for(page, email=f"learner{n}@example.com")
    counts = run_together(2, lambda _index: anonymize_due_registrations())
    assert sum(counts) == 6
    assert not Registration.objects.filter(anonymized_at__isnull=True).exists()
