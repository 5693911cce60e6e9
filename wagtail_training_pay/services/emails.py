"""Emails to learners, rendered in the learner's language from overridable templates."""

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation

from ..conf import app_settings
from ..ics import registration_calendar
from ..models import Registration, RegistrationStatus

logger = logging.getLogger(__name__)

TEMPLATE_DIR = "wagtail_training_pay/emails"
#: kinds of email other than the confirmation; each has ``<kind>_subject.txt``, ``<kind>.txt``, ``<kind>.html``
EMAIL_KINDS = ("late_refund", "cancelled", "seat_offered", "manage_link", "refunded")


def email_base_url(page):
    """Scheme and host of the links in emails, where learners really reach the site.

    ``WAGTAIL_TRAINING_PAY_BASE_URL`` when set; else the page's Wagtail site when it is not the default one
    (another site is only reached through its own host name, so that record is right); else the address
    ``PAYMENT_HOST`` names, where the payment providers send learners back. The default site's record is
    ``localhost`` on a new Wagtail project, an address no learner can open.
    """
    if app_settings.BASE_URL:
        return app_settings.BASE_URL.rstrip("/")
    site = page.get_site()
    if site is not None and not site.is_default_site:
        return site.root_url.rstrip("/")
    from payments.core import get_base_url

    return get_base_url().rstrip("/")


def page_url(page):
    """The page's address on its site, on :func:`email_base_url`."""
    url_parts = page.get_url_parts()
    path = url_parts[2] if url_parts else page.url_path
    return email_base_url(page) + path


def sender():
    return app_settings.FROM_EMAIL or settings.DEFAULT_FROM_EMAIL


def absolute_url(registration, path):
    return f"{email_base_url(registration.page)}{path}"


def manage_url(registration):
    return absolute_url(registration, registration.get_manage_url())


def email_context(registration):
    from .registrations import current_payment

    payment = registration.paid_by or current_payment(registration)
    return {
        "registration": registration,
        "page": registration.page,
        "payment": payment,
        "manage_url": manage_url(registration),
        "page_url": page_url(registration.page),
    }


def can_be_emailed(registration):
    """An erased registration has no address left: whatever was owed to it is not sent."""
    return bool(registration.email) and registration.anonymized_at is None


def build_email(registration, kind, *, with_calendar=False, extra=None):
    with translation.override(registration.language or settings.LANGUAGE_CODE):
        context = {**email_context(registration), **(extra or {})}
        subject = " ".join(render_to_string(f"{TEMPLATE_DIR}/{kind}_subject.txt", context).split())
        text = render_to_string(f"{TEMPLATE_DIR}/{kind}.txt", context)
        html = render_to_string(f"{TEMPLATE_DIR}/{kind}.html", context)
    message = EmailMultiAlternatives(subject, text, sender(), [registration.email])
    message.attach_alternative(html, "text/html")
    if with_calendar:
        message.attach("session.ics", registration_calendar(registration, context["manage_url"]), "text/calendar")
    return message


def build_confirmation(owed):
    """The confirmation, while the registration is confirmed; marks ``confirmation_sent_at``."""
    registration = Registration.objects.select_related("page").filter(pk=owed.object_id).first()
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return None
    if not can_be_emailed(registration):
        return None
    message = build_email(registration, "confirmation", with_calendar=True)
    message.after_sent = lambda: Registration.objects.filter(pk=registration.pk).update(
        confirmation_sent_at=timezone.now()
    )
    return message


def build_registration_email(owed):
    registration = Registration.objects.select_related("page").filter(pk=owed.object_id).first()
    if registration is None or not can_be_emailed(registration):
        return None
    return build_email(registration, owed.kind)


def register_email_kinds():
    """The learner's emails in the outbox (services/outbox.py); called from ``signal_handlers.connect()``."""
    from .outbox import register_email_kind

    register_email_kind("confirmation", build_confirmation)
    for kind in EMAIL_KINDS:
        register_email_kind(kind, build_registration_email)


def deliver_registration_email(registration_id, kind, extra=None):
    if kind not in EMAIL_KINDS:
        raise ValueError(f"Unknown registration email: {kind}")
    registration = Registration.objects.select_related("page").filter(pk=registration_id).first()
    if registration is None or not can_be_emailed(registration):
        return False
    build_email(registration, kind, extra=extra).send()
    return True


def deliver_refund_notice(registration_id, amount):
    """To the learner when staff refund all or part of a registration (``amount`` as a string)."""
    return deliver_registration_email(registration_id, "refunded", extra={"refund_amount": Decimal(amount)})


def _send_once(registration_id, marker, kind, is_due):
    """Send ``kind`` to one registration at most once: ``marker`` (a datetime field) is checked and set under the
    registration's row lock, so two workers or a retried task never send it twice."""
    with transaction.atomic():
        registration = (
            Registration.objects.select_for_update(of=("self",))
            .select_related("page")
            .filter(pk=registration_id)
            .first()
        )
        if registration is None or getattr(registration, marker) or not is_due(registration):
            return False
        build_email(registration, kind).send()
        setattr(registration, marker, timezone.now())
        registration.save(update_fields=[marker])
    return True


def deliver_join_link(registration_id):
    """To a confirmed learner when the host opens the join links (once, even if they are closed and reopened)."""

    def is_due(registration):
        page = registration.page
        return registration.status == RegistrationStatus.CONFIRMED and page.started_at is not None and page.join_url

    return _send_once(registration_id, "join_link_sent_at", "session_started", is_due)


def deliver_reminder(registration_id, now=None):
    """To a confirmed learner before the session (once), unless it has already started or begun."""

    def is_due(registration):
        page = registration.page
        return (
            registration.status == RegistrationStatus.CONFIRMED
            and page.started_at is None
            and page.start_at > (now or timezone.now())
        )

    return _send_once(registration_id, "reminder_sent_at", "reminder", is_due)


def send_join_links(page_id):
    """Send the join link to every confirmed learner of a started session who has not had it yet."""
    ids = Registration.objects.filter(
        page_id=page_id, status=RegistrationStatus.CONFIRMED, join_link_sent_at__isnull=True
    ).values_list("pk", flat=True)
    return sum(deliver_join_link(registration_id) for registration_id in list(ids))


def send_due_reminders(now=None):
    """Remind confirmed learners of live sessions starting within ``WAGTAIL_TRAINING_PAY_REMINDER_HOURS``."""
    from ..conf import app_settings

    now = now or timezone.now()
    ids = Registration.objects.filter(
        status=RegistrationStatus.CONFIRMED,
        reminder_sent_at__isnull=True,
        page__live=True,
        page__started_at__isnull=True,
        page__start_at__gt=now,
        page__start_at__lte=now + timedelta(hours=app_settings.REMINDER_HOURS),
    ).values_list("pk", flat=True)
    return sum(deliver_reminder(registration_id, now) for registration_id in list(ids))


def deliver_host_receipt(charge_id):
    """To the host's billing email, once per paid pay-per-use charge: the receipt of what was paid and why."""
    from ..models import UsageCharge, UsageChargeStatus

    with transaction.atomic():
        charge = (
            UsageCharge.objects.select_for_update(of=("self",))
            .select_related("page", "payer")
            .filter(pk=charge_id)
            .first()
        )
        if charge is None or charge.receipt_sent_at or charge.status != UsageChargeStatus.PAID:
            return False
        recipient = charge.billing_email or (charge.payer.email if charge.payer else "")
        if not recipient:
            return False
        language = getattr(getattr(charge.payer, "wagtail_userprofile", None), "preferred_language", "")
        with translation.override(language or settings.LANGUAGE_CODE):
            context = {"charge": charge, "page": charge.page, "breakdown": charge.breakdown}
            subject = " ".join(render_to_string(f"{TEMPLATE_DIR}/host_receipt_subject.txt", context).split())
            text = render_to_string(f"{TEMPLATE_DIR}/host_receipt.txt", context)
            html = render_to_string(f"{TEMPLATE_DIR}/host_receipt.html", context)
        message = EmailMultiAlternatives(subject, text, sender(), [recipient])
        message.attach_alternative(html, "text/html")
        message.send()
        charge.receipt_sent_at = timezone.now()
        charge.save(update_fields=["receipt_sent_at"])
    return True
