"""Learners' personal data: export on request, erase on request or after the retention period.

Amounts, currencies, statuses and dates stay, so that accounting and the revenue reports
still add up after the people behind them are forgotten.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from ..models import Payment, Registration, TrainingPaySettings

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
    return True


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
