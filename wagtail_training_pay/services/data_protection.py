"""Learners' personal data: export on request, erase on request or after the retention period.

Amounts, currencies, statuses and dates stay, so that accounting and the revenue reports
still add up after the people behind them are forgotten. So do the gateway's references of each
payment (tokens, transaction ids: no personal data) while the gateway may still move its money:
a hosted page the learner left open can still be paid, and that money must be recognised and
given back (see ``docs/security.md``, "What erasure keeps").
"""

import json
import logging
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from payments import PaymentStatus
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

#: Keys of a payment's ``extra_data`` that let the gateway's later notifications, the stale-payment sweeper
#: and refunds find the payment at the gateway: tokens and references, nothing about the person. Every
#: other key (the last digits of a card, anything a provider adds) goes at erasure.
GATEWAY_REFERENCE_KEYS = (
    "payflow_secure_token",
    "payflow_trxtype",
    "payflow_capture_pnref",
    "express_checkout",
    "paypal_payment_action",
    "paypal_capture_id",
    "gateway_history",
)

#: Keys of our log entries' ``data`` that hold no personal data (an administrator's free-text reason may).
LOG_DATA_KEYS = ("payment", "amount", "refunded", "automatic", "late")

#: How long a gateway may still take money for a payment the site gave up on (cancelled, rejected, failed):
#: a provider says so with a ``gateway_state_lifetime`` attribute (a ``timedelta``); for one that does not,
#: this cautious default.
DEFAULT_GATEWAY_STATE_LIFETIME = timedelta(hours=24)
FAILED_PAYMENT_STATUSES = (PaymentStatus.REJECTED, PaymentStatus.ERROR, PaymentStatus.CANCELLED)


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


def gateway_state_lifetime(variant):
    """How long after its last change a payment of ``variant`` the site gave up on can still be paid."""
    from payments.core import provider_factory
    from payments.dummy import DummyProvider

    try:
        provider = provider_factory(variant)
    except ValueError:  # a variant since removed from the settings: nothing can reach it any more
        return timedelta(0)
    if isinstance(provider, DummyProvider):
        return timedelta(0)
    return getattr(provider, "gateway_state_lifetime", DEFAULT_GATEWAY_STATE_LIFETIME)


def payment_is_final(payment, now=None):
    """No gateway can move this payment's money on its own any more.

    A payment in progress is not final; one the site cancelled or saw fail is final once its hosted page
    or token has expired at the gateway. Confirmed and refunded payments are final (only the site moves
    their money now, through refunds that need the references kept).
    """
    if payment.status in FAILED_PAYMENT_STATUSES:
        return payment.modified + gateway_state_lifetime(payment.variant) <= (now or timezone.now())
    return payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED)


def gateway_references(payment, now=None):
    """What erasure leaves of a payment's ``extra_data``: nothing once no gateway can move its money
    and none was taken, otherwise the gateway references only."""
    if payment.status in FAILED_PAYMENT_STATUSES and payment_is_final(payment, now):
        return ""
    try:
        attrs = json.loads(payment.extra_data or "{}")
    except ValueError:
        return ""
    if not isinstance(attrs, dict):
        return ""
    kept = {key: attrs[key] for key in GATEWAY_REFERENCE_KEYS if key in attrs}
    return json.dumps(kept, cls=DjangoJSONEncoder) if kept else ""


def erase_payment(payment, now=None):
    """Erase what a payment of an erased registration says about the person; idempotent."""
    Payment.objects.filter(pk=payment.pk).update(
        **PERSONAL_PAYMENT_FIELDS, extra_data=gateway_references(payment, now), fraud_message=""
    )


def erase_log_entries(registration):
    """Our history of the registration keeps what happened, when, by which administrator and for how
    much; not the learner's name (Wagtail stores it as each entry's label) nor free-text reasons."""
    entries = ModelLogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Registration), object_id=str(registration.pk)
    )
    label = str(registration)
    for entry in entries.only("pk", "data", "label"):
        data = {key: value for key, value in (entry.data or {}).items() if key in LOG_DATA_KEYS}
        if data != entry.data or entry.label != label:
            ModelLogEntry.objects.filter(pk=entry.pk).update(label=label, data=data)


@transaction.atomic
def anonymize_registration(registration, *, now=None):
    """Erase the personal data of one registration and its payments; idempotent."""
    registration = Registration.objects.select_for_update().get(pk=registration.pk)
    if registration.anonymized_at:
        return False
    for field, value in PERSONAL_REGISTRATION_FIELDS.items():
        setattr(registration, field, value)
    registration.user = None
    registration.anonymized_at = now or timezone.now()
    registration.save(update_fields=[*PERSONAL_REGISTRATION_FIELDS, "user", "anonymized_at"])
    for payment in Payment.objects.select_for_update().filter(registration=registration):
        erase_payment(payment, now)
    erase_log_entries(registration)
    erase_money_records(registration)
    return True


def erase_money_records(registration):
    """The outbox keeps the address an email was owed to, and a movement the free-text reason staff typed:
    both go; the amounts, states and dates stay for the accounts (docs/money.md)."""
    from django.contrib.contenttypes.models import ContentType

    from ..models import MoneyMovement, OwedEmail

    content_type = ContentType.objects.get_for_model(Registration, for_concrete_model=False)
    for owed in OwedEmail.objects.filter(content_type=content_type, object_id=str(registration.pk)):
        OwedEmail.objects.filter(pk=owed.pk).update(
            recipient="", dedupe_key=f"{owed.kind}:{content_type.pk}:{registration.pk}:erased:{owed.pk}"
        )
    # A refund notice is about the refund (its money movement), owed to the same learner.
    movement_type = ContentType.objects.get_for_model(MoneyMovement, for_concrete_model=False)
    movement_ids = [
        str(pk) for pk in MoneyMovement.objects.filter(payment__registration=registration).values_list("pk", flat=True)
    ]
    for owed in OwedEmail.objects.filter(content_type=movement_type, object_id__in=movement_ids):
        OwedEmail.objects.filter(pk=owed.pk).update(
            recipient="", dedupe_key=f"{owed.kind}:{movement_type.pk}:{owed.object_id}:erased:{owed.pk}"
        )
    MoneyMovement.objects.filter(payment__registration=registration).exclude(reason="").update(reason="")


def finish_erasures(now=None):
    """Drop the gateway references kept for payments of erased registrations once nothing can pay them."""
    now = now or timezone.now()
    finished = 0
    waiting = Payment.objects.filter(registration__anonymized_at__isnull=False, status__in=FAILED_PAYMENT_STATUSES)
    for payment in waiting.exclude(extra_data="").only("pk", "status", "variant", "modified", "extra_data"):
        if payment_is_final(payment, now):
            with transaction.atomic():
                payment = Payment.objects.select_for_update().get(pk=payment.pk)
                if payment.status in FAILED_PAYMENT_STATUSES and payment_is_final(payment, now):
                    erase_payment(payment, now)
                    finished += 1
    return finished


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
    finish_erasures(now)
    if count:
        logger.info("Anonymized %d registrations past their retention period.", count)
    return count
