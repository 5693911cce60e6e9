"""The training index with 10 and with 1,000 upcoming sessions (issue 18): it shows one page of
``SESSIONS_PER_PAGE`` sessions, so its cost stays flat (target with the same cards on both: ratio <= 1.15 and
the same queries); and its ``.ics`` feed holds at most ``CALENDAR_FEED_SESSIONS`` sessions whatever the
number planned, at a constant number of queries.

``--busy`` below 1,000 (the test of the runner) makes fewer sessions.
"""

from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench import fixtures
from bench.harness import compare, repeat

FLAT_RATIO = 1.15
#: 20 cards against 10: the page's own work doubles, not the database's.
DEFAULT_PAGE_RATIO = 1.6


def index_with_sessions(slug, count):
    from wagtail_training_pay.models import TrainingIndexPage, TrainingSessionPage

    index = TrainingIndexPage.objects.filter(slug=slug).first()
    if index is None:
        index = TrainingIndexPage(title=f"Training {slug}", slug=slug)
        fixtures.home().add_child(instance=index)
    start = timezone.now() + timedelta(days=2)
    for number in range(index.get_children().count(), count):
        index.add_child(
            instance=TrainingSessionPage(
                title=f"Session {number}",
                slug=f"{slug}-{number}",
                start_at=start + timedelta(hours=number),
                duration_minutes=90,
                capacity=30,
                fee=Decimal("45.00"),
                currency="EUR",
            )
        )
        index.refresh_from_db()  # treebeard: the next child's path comes from the parent's numchild
    return index


def run(report, rounds):
    from wagtail_training_pay.conf import app_settings

    many = min(1_000, max(fixtures.BUSY_REGISTRATIONS, 30))
    few_index = index_with_sessions("bench-index-few", 10)
    many_index = index_with_sessions("bench-index-many", many)
    fixtures.settle_database()
    client = Client()

    def get(url):
        def request():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return request

    from django.test import override_settings

    # With 10 sessions a page both indexes render the same 10 cards: the ratio shows what 1,000 sessions
    # cost beyond them. With the default 20 a page, the large index renders twice the cards.
    for per_page, target in ((10, FLAT_RATIO), (app_settings.SESSIONS_PER_PAGE, DEFAULT_PAGE_RATIO)):
        with override_settings(WAGTAIL_TRAINING_PAY_SESSIONS_PER_PAGE=per_page):
            base, plug = compare(get(few_index.url), get(many_index.url), rounds=rounds)
        ratio = plug.median_ms / base.median_ms
        report.add(
            f"training index GET, 10 vs {many:,} sessions, {per_page} a page",
            base,
            plug,
            [(f"time ratio <= {target}", ratio <= target), ("same queries", plug.query_count == base.query_count)],
            sessions=many,
            per_page=per_page,
        )

    cap = app_settings.CALENDAR_FEED_SESSIONS
    feed_url = reverse("wagtail_training_pay:index_ics", kwargs={"page_id": many_index.pk})
    events = client.get(feed_url).content.count(b"BEGIN:VEVENT")
    feed = repeat(get(feed_url), rounds=min(rounds, 10))
    report.add(
        f"training index .ics feed, {many:,} sessions",
        None,
        feed,
        [
            (f"at most {cap} events", events <= cap),
            ("every session up to the cap", events == min(many, cap)),
            ("queries do not grow with the events", feed.query_count <= 10),
        ],
        sessions=many,
        events=events,
    )
