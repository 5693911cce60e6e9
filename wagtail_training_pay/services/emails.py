"""Emails to learners, rendered in the learner's language from overridable templates."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
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


def build_email(registration, kind, *, with_calendar=False):
    with translation.override(registration.language or settings.LANGUAGE_CODE):
        context = email_context(registration)
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
