"""The training index shows ``SESSIONS_PER_PAGE`` sessions a page with links to the others (issue 18), at the
same cost whatever the number of sessions; its calendar feed holds the next ``CALENDAR_FEED_SESSIONS``."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions(make_session):
    def make(count):
        start = timezone.now() + timedelta(days=1)
        return [make_session(title=f"Session no {n}", start_at=start + timedelta(hours=n)) for n in range(count)]

    return make


def titles(html):
    return re.findall(r">Session no (\d+)</a>", html)


def test_the_index_shows_twenty_sessions_a_page_in_date_order_with_links_to_the_others(client, index_page, sessions):
    sessions(45)
    first = client.get(index_page.url).content.decode()
    assert titles(first) == [str(n) for n in range(20)]
    assert '<nav class="wtp-pagination" aria-label="Pages of upcoming sessions">' in first
    assert '<li aria-current="page">Page 1 of 3</li>' in first
    assert '<a href="?page=2" rel="next">Later sessions</a>' in first
    assert 'rel="prev"' not in first

    second = client.get(index_page.url, {"page": 2}).content.decode()
    assert titles(second) == [str(n) for n in range(20, 40)]
    assert '<a href="?page=1" rel="prev">Previous sessions</a>' in second
    assert '<a href="?page=3" rel="next">Later sessions</a>' in second

    last = client.get(index_page.url, {"page": 3}).content.decode()
    assert titles(last) == [str(n) for n in range(40, 45)]
    assert 'rel="next"' not in last


def test_a_page_number_out_of_range_or_not_a_number_gives_the_last_or_first_page(client, index_page, sessions):
    sessions(25)
    assert titles(client.get(index_page.url, {"page": 99}).content.decode()) == [str(n) for n in range(20, 25)]
    assert titles(client.get(index_page.url, {"page": "x'--"}).content.decode()) == [str(n) for n in range(20)]


def test_one_page_of_sessions_has_no_page_links(client, index_page, sessions):
    sessions(3)
    assert "wtp-pagination" not in client.get(index_page.url).content.decode()


def test_the_page_links_are_in_french_for_a_french_reader(client, index_page, sessions):
    sessions(21)
    html = client.get(index_page.url, {"page": 2}, headers={"accept-language": "fr"}).content.decode()
    assert 'aria-label="Pages des sessions à venir"' in html
    assert '<li aria-current="page">Page 2 sur 2</li>' in html
    assert ">Sessions précédentes</a>" in html


def test_the_page_size_is_a_setting(client, index_page, sessions, settings):
    settings.WAGTAIL_TRAINING_PAY_SESSIONS_PER_PAGE = 5
    sessions(7)
    assert titles(client.get(index_page.url).content.decode()) == [str(n) for n in range(5)]


def test_the_index_costs_the_same_queries_for_a_page_of_ten_or_of_a_hundred_sessions(client, index_page, sessions):
    sessions(10)
    with CaptureQueriesContext(connection) as few:
        client.get(index_page.url)
    sessions(90)
    with CaptureQueriesContext(connection) as many:
        html = client.get(index_page.url).content.decode()
    assert len(many) == len(few)
    assert len(titles(html)) == 20


def test_the_calendar_feed_holds_the_next_sessions_up_to_its_cap(client, index_page, sessions, settings):
    settings.WAGTAIL_TRAINING_PAY_CALENDAR_FEED_SESSIONS = 4
    made = sessions(6)
    body = client.get(f"/training/index/{index_page.pk}/sessions.ics").content.decode()
    assert body.count("BEGIN:VEVENT") == 4
    assert f"UID:session-{made[3].pk}@" in body and f"UID:session-{made[4].pk}@" not in body


def test_the_calendar_feed_costs_the_same_queries_for_two_or_twelve_sessions(client, index_page, sessions):
    feed = f"/training/index/{index_page.pk}/sessions.ics"
    made = sessions(2)
    with CaptureQueriesContext(connection) as few:
        client.get(feed)
    made += sessions(10)
    with CaptureQueriesContext(connection) as many:
        body = client.get(feed).content.decode()
    assert len(many) == len(few)
    assert body.count("BEGIN:VEVENT") == 12
    assert f"URL:http://testserver{made[-1].url}" in body or made[-1].url in body
