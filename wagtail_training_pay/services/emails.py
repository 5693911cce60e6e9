"""Emails to learners, rendered in the learner's language from overridable templates."""

import logging
from datetime import timedelta

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
EMAIL_KINDS = ("late_refund", "cancelled", "seat_offered", "manage_link")


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
    """The emails in the outbox (services/outbox.py); called from ``signal_handlers.connect()``."""
    from .outbox import register_email_kind

    register_email_kind("confirmation", build_confirmation)
    for kind in EMAIL_KINDS:
        register_email_kind(kind, build_registration_email)
    register_email_kind("refunded", build_refund_notice)
    register_email_kind("session_started", build_join_link)
    register_email_kind("reminder", build_reminder)
    register_email_kind("host_receipt", build_host_receipt)
    register_email_kind("host_credit_note", build_host_receipt)


# --- a refund by staff -------------------------------------------------------------------------


def owe_refund_notice(registration, movement):
    """Owe the learner the notice of a refund staff made, in the transaction that records it done: one email per
    refund (the refund's money movement is what it is about)."""
    from .outbox import owe_email

    if can_be_emailed(registration):
        owe_email("refunded", movement, registration.email)


def build_refund_notice(owed):
    from ..models import MoneyMovement, MovementState

    movement = MoneyMovement.objects.select_related("payment").filter(pk=owed.object_id).first()
    if movement is None or movement.state != MovementState.DONE or not movement.payment.registration_id:
        return None
    registration = Registration.objects.select_related("page").filter(pk=movement.payment.registration_id).first()
    if registration is None or not can_be_emailed(registration):
        return None
    return build_email(registration, "refunded", extra={"refund_amount": movement.amount})


# --- the join link -----------------------------------------------------------------------------


def join_link_is_due(registration):
    page = registration.page
    return registration.status == RegistrationStatus.CONFIRMED and page.started_at is not None and bool(page.join_url)


def build_join_link(owed):
    registration = Registration.objects.select_related("page").filter(pk=owed.object_id).first()
    if registration is None or not can_be_emailed(registration) or not join_link_is_due(registration):
        return None
    return build_email(registration, "session_started")


def emailable_registrations(**filters):
    """Registrations that still have an address (not erased), as light rows to owe emails to."""
    return (
        Registration.objects.filter(anonymized_at__isnull=True, **filters)
        .exclude(email="")
        .only("pk", "email")
        .order_by("pk")
    )


def owe_join_links(page, *, send_after_commit=True):
    """Owe each confirmed learner of ``page`` the join link, in the caller's transaction (the session's start).

    Once per learner, even if the links are closed and opened again; one dropped because the links were closed
    before it went out is owed again."""
    from .outbox import owe_emails

    learners = emailable_registrations(page_id=page.pk, status=RegistrationStatus.CONFIRMED)
    return owe_emails(
        "session_started",
        [(registration, registration.email) for registration in learners],
        revive_dropped=True,
        send_after_commit=send_after_commit,
    )


def send_join_links(page_id):
    """Owe the join link to every confirmed learner of a started session, then send what is owed; returns how
    many went out (the task ``send_join_links_task`` runs it)."""
    from ..models import TrainingSessionPage
    from .outbox import send_owed_emails

    page = TrainingSessionPage.objects.filter(pk=page_id).first()
    if page is None or page.started_at is None:
        return 0
    with transaction.atomic():
        dedupe_keys = owe_join_links(page, send_after_commit=False)
    return send_owed_emails(dedupe_keys)


# --- the reminder ------------------------------------------------------------------------------


def reminder_is_due(registration, now):
    page = registration.page
    return (
        registration.status == RegistrationStatus.CONFIRMED
        and page.live
        and page.started_at is None
        and page.start_at > now
    )


def build_reminder(owed):
    registration = Registration.objects.select_related("page").filter(pk=owed.object_id).first()
    if registration is None or not can_be_emailed(registration) or not reminder_is_due(registration, timezone.now()):
        return None
    return build_email(registration, "reminder")


def send_due_reminders(now=None):
    """Owe a reminder to confirmed learners of live sessions starting within ``WAGTAIL_TRAINING_PAY_REMINDER_HOURS``
    (once each), then send what is owed of them; returns how many went out."""
    from .outbox import owe_emails, send_owed_emails

    now = now or timezone.now()
    learners = emailable_registrations(
        status=RegistrationStatus.CONFIRMED,
        page__live=True,
        page__started_at__isnull=True,
        page__start_at__gt=now,
        page__start_at__lte=now + timedelta(hours=app_settings.REMINDER_HOURS),
    )
    with transaction.atomic():
        dedupe_keys = owe_emails(
            "reminder", [(registration, registration.email) for registration in learners], send_after_commit=False
        )
    return send_owed_emails(dedupe_keys)


# --- the host's receipt and credit note ----------------------------------------------------------


def host_language(user):
    """The host's admin language (their Wagtail profile), else the site's."""
    language = getattr(getattr(user, "wagtail_userprofile", None), "preferred_language", "") if user else ""
    return language or settings.LANGUAGE_CODE


def host_email(charge):
    return charge.billing_email or (charge.payer.email if charge.payer_id and charge.payer else "")


def build_host_receipt(owed):
    """The receipt of a paid charge (``host_receipt``) or of a refund of it (``host_credit_note``), with the
    invoice or credit note as a PDF, in the host's admin language."""
    from ..models import Invoice
    from .invoices import render_invoice_pdf

    invoice = (
        Invoice.objects.select_related("charge__page", "charge__payer", "payment", "site")
        .filter(pk=owed.object_id)
        .first()
    )
    if invoice is None:
        return None
    charge = invoice.charge
    kind = "host_credit_note" if invoice.is_credit_note else "host_receipt"
    with translation.override(host_language(charge.payer)):
        context = {"charge": charge, "page": charge.page, "invoice": invoice, "session_title": charge.session_label}
        subject = " ".join(render_to_string(f"{TEMPLATE_DIR}/{kind}_subject.txt", context).split())
        text = render_to_string(f"{TEMPLATE_DIR}/{kind}.txt", context)
        html = render_to_string(f"{TEMPLATE_DIR}/{kind}.html", context)
        pdf = render_invoice_pdf(invoice)
    message = EmailMultiAlternatives(subject, text, sender(), [owed.recipient])
    message.attach_alternative(html, "text/html")
    message.attach(invoice.filename(), pdf, "application/pdf")
    return message


# --- tasks queued by earlier versions ----------------------------------------------------------
#
# A task row names its function by import path: rows queued before an upgrade (a worker stopped for the deploy,
# a queue backed up during an SMTP outage) run with the new code. The earlier tasks sent their email themselves;
# their names remain in ``tasks.py`` and owe the same email in the outbox, once, then send it.


def _owe_and_send(kind, obj, recipient):
    from .outbox import owe_emails, send_owed_email

    with transaction.atomic():
        [dedupe_key] = owe_emails(kind, [(obj, recipient)], send_after_commit=False)
    return send_owed_email(dedupe_key=dedupe_key)


def send_for_earlier_registration_task(registration_id, kind):
    """``send_confirmation_task`` and ``send_registration_email_task`` of versions before the outbox."""
    from .outbox import _builders

    registration = Registration.objects.filter(pk=registration_id).first()
    if registration is None or kind not in _builders or not can_be_emailed(registration):
        return False
    if kind == "confirmation" and registration.confirmation_sent_at is not None:
        return False  # the earlier version sent it (its marker) before the upgrade
    return _owe_and_send(kind, registration, registration.email)


def send_for_earlier_refund_notice_task(registration_id, amount):
    """``send_refund_notice_task`` of the versions before the refund notice moved to the outbox: the notice of
    the refund by staff of that amount that no email is owed about yet (the newest one)."""
    from decimal import Decimal, InvalidOperation

    from django.contrib.contenttypes.models import ContentType

    from ..models import MoneyMovement, MovementKind, MovementState, OwedEmail
    from .registrations import ADMIN_REFUND_REASON

    registration = Registration.objects.filter(pk=registration_id).first()
    try:
        amount = Decimal(str(amount))
    except (InvalidOperation, ValueError):
        return False
    if registration is None or not can_be_emailed(registration):
        return False
    refunds = list(
        MoneyMovement.objects.filter(
            payment__registration_id=registration_id,
            kind=MovementKind.REFUND,
            state=MovementState.DONE,
            reason=ADMIN_REFUND_REASON,
            amount=amount,
        ).order_by("-pk")
    )
    # Only this registration's refunds are looked up in the outbox (it read every refund notice of the site).
    noticed = set(
        OwedEmail.objects.filter(
            kind="refunded",
            content_type=ContentType.objects.get_for_model(MoneyMovement),
            object_id__in=[str(refund.pk) for refund in refunds],
        ).values_list("object_id", flat=True)
    )
    movement = next((refund for refund in refunds if str(refund.pk) not in noticed), None)
    if movement is None:
        return False
    return _owe_and_send("refunded", movement, registration.email)


def send_for_earlier_host_receipt_task(charge_id):
    """``send_host_receipt_task`` of the versions before invoices: the receipt of the charge's invoice, once.

    A charge paid before invoices existed has none (numbering one now is the seller's decision): its receipt
    is not sent, and a warning says so.
    """
    from django.contrib.contenttypes.models import ContentType

    from ..models import Invoice, InvoiceKind, OwedEmail, UsageCharge

    charge_type = ContentType.objects.get_for_model(UsageCharge)
    if OwedEmail.objects.filter(kind="host_receipt", content_type=charge_type, object_id=str(charge_id)).exists():
        return False  # sent by the earlier version (migration 0007 recorded it about the charge)
    invoice = (
        Invoice.objects.select_related("charge__payer")
        .filter(charge_id=charge_id, kind=InvoiceKind.INVOICE)
        .order_by("pk")
        .first()
    )
    if invoice is None:
        if UsageCharge.objects.filter(pk=charge_id).exists():
            logger.warning(
                "Usage charge %s has no invoice: the receipt queued before the upgrade is not sent.", charge_id
            )
        return False
    recipient = host_email(invoice.charge)
    if not recipient:
        return False
    return _owe_and_send("host_receipt", invoice, recipient)
