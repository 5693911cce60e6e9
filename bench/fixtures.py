"""Data the benchmark cases share: a site with a training index, sessions and a plain form page."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

#: Registrations on the "busy" sessions; ``run.py --busy`` lowers it for the test of the runner.
BUSY_REGISTRATIONS = 10_000

QUESTIONS = [
    ("Organisation", "singleline", ""),
    ("Job title", "singleline", ""),
    ("Phone", "singleline", ""),
    ("Experience level", "dropdown", "Beginner\nIntermediate\nAdvanced"),
    ("Dietary needs", "multiline", ""),
    ("Accept the terms", "checkbox", ""),
]


def home():
    from wagtail.models import Page, Site

    site = Site.objects.get(is_default_site=True)
    site.hostname = "testserver"
    site.save()
    return Page.objects.get(pk=site.root_page_id)


#: The same introduction on both pages, so that both render the same rich text.
INTRO = (
    "<p>A two-hour session on <b>accessible forms</b>: labels, errors, keyboard use. "
    '<a href="https://example.com/syllabus">Read the syllabus</a>.</p>'
)


def training_index():
    from wagtail_training_pay.models import TrainingIndexPage

    index = TrainingIndexPage.objects.filter(slug="bench-training").first()
    if index is None:
        index = TrainingIndexPage(title="Training", slug="bench-training")
        home().add_child(instance=index)
    return index


def session_with_questions(slug, capacity=None, fee=Decimal("45.00")):
    from wagtail_training_pay.models import SessionFormField, TrainingSessionPage

    page = TrainingSessionPage.objects.filter(slug=slug).first()
    if page is not None:
        return page
    page = TrainingSessionPage(
        title=f"Session {slug}",
        slug=slug,
        start_at=timezone.now() + timedelta(days=30),
        duration_minutes=120,
        capacity=capacity,
        fee=fee,
        currency="EUR",
        description=INTRO,
    )
    training_index().add_child(instance=page)
    for order, (label, field_type, choices) in enumerate(QUESTIONS):
        SessionFormField.objects.create(
            page=page, sort_order=order, label=label, field_type=field_type, choices=choices, required=False
        )
    return page


def plain_section():
    """The plain page's parent, so that it sits as deep in the tree as a session under its index."""
    from tests.testapp.models import PlainSectionPage

    section = PlainSectionPage.objects.filter(slug="bench-section").first()
    if section is None:
        section = PlainSectionPage(title="Courses", slug="bench-section")
        home().add_child(instance=section)
    return section


def plain_form_page():
    """A plain Wagtail form page (the one of Wagtail's documentation) with the session's 6 questions."""
    from tests.testapp.models import PlainFormField, PlainFormPage

    page = PlainFormPage.objects.filter(slug="bench-plain-form").first()
    if page is not None:
        return page
    page = PlainFormPage(title="Plain form", slug="bench-plain-form", to_address="", intro=INTRO)
    plain_section().add_child(instance=page)
    for order, (label, field_type, choices) in enumerate(QUESTIONS):
        PlainFormField.objects.create(
            page=page, sort_order=order, label=label, field_type=field_type, choices=choices, required=False
        )
    return page


def add_registrations(page, count, status="confirmed"):
    """Bulk-create ``count`` registrations (fast path: no signals, one query per batch)."""
    from wagtail_training_pay.models import Registration

    existing = page.registrations.count()
    now = timezone.now()
    for start in range(existing, count, 10_000):  # in slices, so 100,000 rows never sit in memory at once
        batch = [
            Registration(
                page=page,
                status=status,
                first_name="Learner",
                last_name=str(number),
                email=f"learner{number}@example.com",
                amount=page.fee,
                currency=page.currency,
                confirmed_at=now,
            )
            for number in range(start, min(count, start + 10_000))
        ]
        Registration.objects.bulk_create(batch, batch_size=2000)
    # bulk_create skips Registration.save(), which keeps the session's seat counter: recount it once.
    from wagtail_training_pay.services import seats

    seats.fix(page.pk)


def settle_database():
    """On PostgreSQL, ``VACUUM ANALYZE`` after bulk loading: what autovacuum does on a site whose sessions filled up
    over weeks. Right after ``bulk_create`` the planner still believes a session holds a few dozen rows (it chose
    a bitmap scan and a sort over an index read in order), and counts read every row's heap page."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
