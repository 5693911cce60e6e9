"""The learner-facing pages without a browser: money and dates per language, the viewer's zone, the index
listing (one query for the seats), and the calendar files."""

import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from wagtail_training_pay.middleware import TIMEZONE_COOKIE, zone_from_cookie
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.templatetags.training_pay import local_moment_text, money

pytestmark = pytest.mark.django_db

WINTER_MORNING = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # 10:00 in Paris


def test_amounts_are_formatted_per_language():
    with translation.override("fr"):
        assert money(Decimal("45"), "EUR") == "45,00\u00a0€"
        assert money(Decimal("1234.5"), "EUR") == "1\u202f234,50\u00a0€"
    with translation.override("en"):
        assert money(Decimal("45"), "EUR") == "€45.00"
        assert money(Decimal("45"), "JPY") == "¥45"


def test_dates_are_worded_per_language_in_the_active_zone_with_the_zone_named():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    with translation.override("en"), timezone.override(paris):
        assert local_moment_text(WINTER_MORNING) == (
            "Friday, December 4, 2026, 10:00\u202fAM (Central European Standard Time)"
        )
    with translation.override("fr"), timezone.override(paris):
        assert local_moment_text(WINTER_MORNING) == "vendredi 4 décembre 2026, 10:00 (heure normale d’Europe centrale)"
        assert local_moment_text(WINTER_MORNING, "date") == "vendredi 4 décembre 2026"
    with translation.override("en"), timezone.override(zoneinfo.ZoneInfo("America/New_York")):
        text = local_moment_text(WINTER_MORNING, "time")
        assert text == "4:00\u202fAM (Eastern Standard Time)"


def test_the_zone_cookie_switches_the_zone_and_unknown_zones_are_ignored(client, paid_session):
    assert zone_from_cookie("America%2FNew_York") == zoneinfo.ZoneInfo("America/New_York")
    for bad in ["", "Nowhere/Atlantis", "../../etc/passwd", "Europe", "x" * 100]:
        assert zone_from_cookie(bad) is None

    paris = client.get(paid_session.url).content.decode()
    assert "Central European" in paris
    client.cookies[TIMEZONE_COOKIE] = "America%2FNew_York"
    new_york = client.get(paid_session.url).content.decode()
    assert "Eastern" in new_york and "Central European" not in new_york
    client.cookies[TIMEZONE_COOKIE] = "Nowhere/Atlantis"
    assert "Central European" in client.get(paid_session.url).content.decode()


def seats_query_count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_index_counts_seats_in_one_query_whatever_the_number_of_sessions(client, index_page, make_session):
    first = make_session(title="First", capacity=5)
    few_queries, _ = seats_query_count(client, index_page.url)
    for number in range(6):
        make_session(title=f"More {number}", capacity=5)
    many_queries, html = seats_query_count(client, index_page.url)
    assert many_queries == few_queries
    assert html.count('class="wtp-card"') == 7
    Registration.objects.create(
        page=first, first_name="A", last_name="B", email="a@example.com", status=RegistrationStatus.CONFIRMED
    )
    Registration.objects.create(
        page=first,
        first_name="C",
        last_name="D",
        email="c@example.com",
        status=RegistrationStatus.PENDING,
        hold_expires_at=timezone.now() - timedelta(minutes=1),
    )
    _, html = seats_query_count(client, index_page.url)
    assert '<dd class="wtp-seats-left">4</dd>' in html  # the expired hold frees its seat


def test_the_index_shows_fee_seats_and_hides_past_sessions(client, index_page, make_session):
    make_session(title="Upcoming paid", capacity=3)
    make_session(title="Upcoming free", fee=Decimal("0"), capacity=None)
    make_session(title="Already over", start_at=timezone.now() - timedelta(days=1))
    html = client.get(index_page.url).content.decode()
    assert "Upcoming paid" in html and "Upcoming free" in html
    assert "Already over" not in html
    assert "€45.00" in html and "Free" in html
    assert '<dd class="wtp-seats-left">3</dd>' in html
    with translation.override("fr"):
        html = client.get(index_page.url, headers={"accept-language": "fr"}).content.decode()
    assert "45,00\u00a0€" in html and "Gratuit" in html


def test_a_session_has_its_own_calendar_file(client, paid_session):
    response = client.get(f"/training/sessions/{paid_session.pk}/session.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert body.count("BEGIN:VEVENT") == 1
    assert f"UID:session-{paid_session.pk}@wagtail-training-pay" in body
    assert "DTSTART:" + paid_session.start_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") in body
    assert "SUMMARY:Session 1" in body
    assert f'href="/training/sessions/{paid_session.pk}/session.ics"' in client.get(paid_session.url).content.decode()


def test_a_draft_session_has_no_calendar_file(client, paid_session):
    paid_session.unpublish()
    assert client.get(f"/training/sessions/{paid_session.pk}/session.ics").status_code == 404


def test_the_index_feed_holds_its_upcoming_sessions_only(client, index_page, make_session):
    make_session(title="Archives, part 1; basics")
    make_session(title="Archives 2")
    make_session(title="Over", start_at=timezone.now() - timedelta(hours=2))
    response = client.get(f"/training/index/{index_page.pk}/sessions.ics")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("BEGIN:VEVENT") == 2
    assert "SUMMARY:Archives\\, part 1\\; basics" in body
    assert "Over" not in body
    assert f'href="/training/index/{index_page.pk}/sessions.ics"' in client.get(index_page.url).content.decode()
