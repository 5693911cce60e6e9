"""Learners' personal data: export, erasure on request and after the retention period."""

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from wagtail_training_pay.models import Payment, Registration, RegistrationStatus
from wagtail_training_pay.services.data_protection import (
    anonymize_due_registrations,
    anonymize_registration,
    export_learner_data,
)

pytestmark = pytest.mark.django_db


def registration_for(page, email="ada@example.com", status=RegistrationStatus.CONFIRMED):
    registration = Registration.objects.create(
        page=page,
        status=status,
        first_name="Ada",
        last_name="Lovelace",
        email=email,
        billing_address="12 Analytical Street",
        billing_postcode="75001",
        billing_city="Paris",
        billing_country="FR",
        form_data={"organisation": "Engines Ltd"},
        amount=Decimal("45.00"),
        currency="EUR",
    )
    Payment.objects.create(
        registration=registration,
        variant="dummy",
        total=Decimal("45.00"),
        captured_amount=Decimal("45.00"),
        currency="EUR",
        status="confirmed",
        billing_first_name="Ada",
        billing_last_name="Lovelace",
        billing_email=email,
        billing_city="Paris",
        customer_ip_address="192.0.2.7",
    )
    return registration


def test_export_contains_the_learners_data_and_payments(paid_session):
    registration = registration_for(paid_session)
    data = export_learner_data(registration)
    json.dumps(data)  # JSON-ready
    assert data["registration"]["email"] == "ada@example.com"
    assert data["registration"]["answers"] == {"organisation": "Engines Ltd"}
    assert data["payments"][0]["amount"] == "45.00"
    assert data["payments"][0]["billing"]["billing_city"] == "Paris"


def test_anonymizing_erases_personal_data_but_keeps_the_amounts(paid_session):
    registration = registration_for(paid_session)
    assert anonymize_registration(registration) is True
    registration.refresh_from_db()
    assert registration.email == "" and registration.first_name == "—" and registration.form_data == {}
    assert registration.billing_city == "" and str(registration.billing_country) == ""
    assert registration.amount == Decimal("45.00") and registration.anonymized_at is not None
    payment = registration.payments.get()
    assert payment.billing_email == "" and payment.billing_first_name == "" and payment.customer_ip_address is None
    assert payment.total == Decimal("45.00") and payment.captured_amount == Decimal("45.00")


def test_anonymizing_twice_changes_nothing_the_second_time(paid_session):
    registration = registration_for(paid_session)
    assert anonymize_registration(registration) is True
    first = Registration.objects.get(pk=registration.pk).anonymized_at
    assert anonymize_registration(registration) is False
    assert Registration.objects.get(pk=registration.pk).anonymized_at == first


def test_only_sessions_past_the_retention_period_are_anonymized(make_session, training_settings):
    training_settings.anonymize_after_days = 30
    training_settings.save()
    old = make_session(start_at=timezone.now() - timedelta(days=31))
    recent = make_session(start_at=timezone.now() - timedelta(days=29))
    old_registration = registration_for(old)
    recent_registration = registration_for(recent)
    pending_old = registration_for(old, email="pending@example.com", status=RegistrationStatus.PENDING)

    assert anonymize_due_registrations() == 1
    assert Registration.objects.get(pk=old_registration.pk).anonymized_at is not None
    assert Registration.objects.get(pk=recent_registration.pk).anonymized_at is None
    # Money still moving: kept until the payment settles.
    assert Registration.objects.get(pk=pending_old.pk).anonymized_at is None


def test_the_command_reports_how_many_it_anonymized(make_session, training_settings):
    training_settings.anonymize_after_days = 1
    training_settings.save()
    registration_for(make_session(start_at=timezone.now() - timedelta(days=2)))
    out = StringIO()
    call_command("anonymize_registrations", stdout=out)
    assert out.getvalue().strip() == "1 registration(s) anonymized."
    out = StringIO()
    call_command("anonymize_registrations", stdout=out)
    assert out.getvalue().strip() == "0 registration(s) anonymized."


def test_the_task_runs_the_same_anonymization(make_session, training_settings):
    from wagtail_training_pay.tasks import anonymize_due_registrations_task

    training_settings.anonymize_after_days = 1
    training_settings.save()
    registration = registration_for(make_session(start_at=timezone.now() - timedelta(days=2)))
    result = anonymize_due_registrations_task.enqueue()
    assert result.return_value == 1
    assert Registration.objects.get(pk=registration.pk).anonymized_at is not None
