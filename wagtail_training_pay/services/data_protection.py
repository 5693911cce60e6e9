"""Learners' personal data: export on request, erase on request or after the retention period.

Amounts, currencies, statuses and dates stay, so that accounting and the revenue reports
still add up after the people behind them are forgotten.
"""

import logging
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.models import ModelLogEntry

from ..models import ACTIVE_STATUSES, Payment, Registration, RegistrationStatus, TrainingPaySettings
from .audit import log_action

logger = logging.getLogger(__name__)

ERASED_NAME = "—"

#: Registration fields holding personal data, with the value they are erased to.
PERSONAL_REGISTRATION_FIELDS = {
    "first_name": ERASED_NAME,
    "last_name": ERASED_NAME,
    "email": "",
    "billing_address": "",
    "billing_postcode": "",
    "billing_city": "",
    "billing_country": "",
    "form_data": {},
}

#: Payment fields holding personal data (django-payments' billing fields).
PERSONAL_PAYMENT_FIELDS = {
    "billing_first_name": "",
    "billing_last_name": "",
    "billing_address_1": "",
    "billing_address_2": "",
    "billing_city": "",
    "billing_postcode": "",
    "billing_country_code": "",
    "billing_country_area": "",
    "billing_email": "",
    "customer_ip_address": None,
}


def export_learner_data(registration):
    """Everything the site holds about the learner of ``registration``, as a JSON-ready dict."""
    payments = [
        {
            "created": payment.created.isoformat(),
            "status": payment.status,
            "amount": str(payment.total),
            "currency": payment.currency,
            "captured_amount": str(payment.captured_amount),
            "refunded_amount": str(payment.refunded_amount),
            "billing": {field: getattr(payment, field) for field in PERSONAL_PAYMENT_FIELDS},
        }
        for payment in registration.payments.order_by("created")
    ]
    return {
        "session": {"title": registration.page.title, "starts_at": registration.page.start_at.isoformat()},
        "registration": {
            "status": registration.status,
            "registered_at": registration.created_at.isoformat(),
            "first_name": registration.first_name,
            "last_name": registration.last_name,
            "email": registration.email,
            "billing_address": registration.billing_address,
            "billing_postcode": registration.billing_postcode,
            "billing_city": registration.billing_city,
            "billing_country": str(registration.billing_country),
            "answers": registration.form_data,
            "amount": str(registration.amount),
            "refunded_amount": str(registration.refunded_amount),
            "currency": registration.currency,
            "language": registration.language,
        },
        "payments": payments,
    }


@transaction.atomic
def anonymize_registration(registration, *, now=None):
    """Erase the personal data of one registration and its payments; idempotent."""
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.anonymized_at:
        return False
    for field, value in PERSONAL_REGISTRATION_FIELDS.items():
        setattr(registration, field, value)
    registration.anonymized_at = now or timezone.now()
    registration.save(update_fields=[*PERSONAL_REGISTRATION_FIELDS, "anonymized_at"])
    Payment.objects.filter(registration=registration).update(**PERSONAL_PAYMENT_FIELDS, extra_data="")
    # Wagtail's history keeps the object's name as it was when each entry was written.
    ModelLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Registration), object_id=str(registration.pk)
    ).update(label=str(registration))
    return True


class ErasureRefused(Exception):
    """The learner cannot have their data erased yet; ``message`` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def learner_can_request_erasure(registration, now=None):
    """Not while a payment may still move, nor while the seat is still to be used: cancel first."""
    if registration.anonymized_at or registration.status == RegistrationStatus.PENDING:
        return False
    end = registration.page.end_at or registration.page.start_at
    still_to_come = end is None or end > (now or timezone.now())
    return not (registration.status in ACTIVE_STATUSES and still_to_come)


@transaction.atomic
def erase_on_request(registration, *, now=None):
    """Erase a learner's personal data at their own request, keeping the amounts for accounting."""
    registration = Registration.objects.select_for_update().select_related("page").get(pk=registration.pk)
    if registration.anonymized_at:
        return registration
    if not learner_can_request_erasure(registration, now):
        raise ErasureRefused(_("Your registration is still active: cancel it first, or ask again after the session."))
    anonymize_registration(registration, now=now)
    registration.refresh_from_db()
    log_action(registration, "erase")
    return registration


def registrations_due_for_anonymization(now=None):
    """Registrations whose session ended more than the site's retention period ago."""
    now = now or timezone.now()
    due = Registration.objects.none()
    for site_settings in TrainingPaySettings.objects.select_related("site__root_page"):
        cutoff = now - timedelta(days=site_settings.anonymize_after_days)
        root = site_settings.site.root_page
        due = due | Registration.objects.filter(
            anonymized_at__isnull=True,
            page__path__startswith=root.path,
            page__start_at__lt=cutoff,
        )
    if not TrainingPaySettings.objects.exists():
        cutoff = now - timedelta(days=TrainingPaySettings._meta.get_field("anonymize_after_days").default)
        due = Registration.objects.filter(anonymized_at__isnull=True, page__start_at__lt=cutoff)
    # Never erase a registration whose money is still moving.
    return due.exclude(status="pending").distinct()


def anonymize_due_registrations(now=None):
    """Anonymize every registration past its retention period; safe to run twice at once."""
    count = 0
    for registration in registrations_due_for_anonymization(now).only("pk").iterator():
        if anonymize_registration(registration, now=now):
            count += 1
    if count:
        logger.info("Anonymized %d registrations past their retention period.", count)
    return count
