"""Helpers of the pay-per-use tests: admin POST data for a session, paying, and looking at the public site."""

from datetime import timedelta

from django.utils import timezone
from payments import PaymentStatus
from wagtail.test.utils.form_data import inline_formset, nested_form_data, rich_text

from wagtail_training_pay.models import TrainingSessionPage, UsageCharge, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use

DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def local(value):
    return timezone.localtime(value).strftime(DATETIME_FORMAT) if value else ""


def session_form_data(page=None, **overrides):
    """What the page editor posts for a session (``page`` gives the current values)."""
    start_at = getattr(page, "start_at", None) or timezone.now() + timedelta(days=7)
    values = {
        "title": getattr(page, "title", "New session"),
        "slug": getattr(page, "slug", "new-session"),
        "description": rich_text("<p>About the session.</p>"),
        "start_at": local(start_at),
        "duration_minutes": getattr(page, "duration_minutes", 90),
        "registration_opens_at": "",
        "registration_closes_at": "",
        "join_url": "",
        "fee": str(getattr(page, "fee", "45.00")),
        "currency": getattr(page, "currency", "EUR"),
        "capacity": getattr(page, "capacity", 20) or "",
        "expected_participants": getattr(page, "expected_participants", 10),
        "teleconference_participants": getattr(page, "teleconference_participants", 2),
        "form_fields": inline_formset([]),
        "thank_you_text": rich_text(""),
        "seo_title": "",
        "search_description": "",
        "go_live_at": local(getattr(page, "go_live_at", None)),
        "expire_at": "",
        "comments": inline_formset([]),
    }
    values.update(overrides)
    return nested_form_data(values)


def reload(page):
    return TrainingSessionPage.objects.get(pk=page.pk)


def record_paid_charge(page, revision=None, payer=None):
    """A paid charge covering ``revision`` (or the page as it is), without making anything live."""
    due = pay_per_use.amount_due(page, revision)
    estimate = due.estimate
    return UsageCharge.objects.create(
        page=page,
        revision=revision,
        payer=payer,
        status=UsageChargeStatus.PAID,
        paid_at=timezone.now(),
        duration_minutes=estimate.duration_minutes,
        expected_participants=estimate.expected_participants,
        teleconference_participants=estimate.teleconference_participants,
        person_minute_rate=estimate.person_minute_rate,
        teleconference_minute_rate=estimate.teleconference_minute_rate,
        minimum_charge=estimate.minimum_charge,
        breakdown=estimate.as_json(),
        estimated_total=estimate.total,
        amount=due.due,
        currency=estimate.currency,
    )


BILLING = {
    "name": "Grace Hopper",
    "email": "grace@example.com",
    "address": "1 Navy Yard",
    "postcode": "75001",
    "city": "Paris",
    "country": "FR",
}


def pay_through_the_provider(page, revision, user, status=PaymentStatus.CONFIRMED, action=None):
    """Create the charge and its payment as the billing step does, then let the provider confirm (or reject) it."""
    action = action or pay_per_use.go_live_action(pay_per_use.content_of(page, revision))
    payment = pay_per_use.create_usage_payment(page, revision, user, action=action, billing=BILLING, variant="dummy")
    payment.change_status(status)
    return payment


def is_served(client, page):
    """Whether the public site serves the page (it is live and routable)."""
    return client.get(f"/training/{page.slug}/").status_code == 200
