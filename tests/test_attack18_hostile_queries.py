"""Attack 18: hostile query strings and ids on the index pagination and the ``.ics`` feeds (issue 18).

Each answer is a clear page (the first, the last, or a 404 for an id that names nothing), never a 500.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

HOSTILE_PAGES = [
    "-1",
    "0",
    "-0",
    "abc",
    "",
    " 2 ",
    "2.0",
    "1e9",
    "nan",
    "inf",
    "-inf",
    "9" * 30,
    "9" * 5000,  # beyond Python's int() digit limit
    "0x2",
    "\x00",
    "２",  # a full-width digit
    "1%00",
    "99999999999999999999999999999999999999",
    "-99999999999999999999999999999999999999",
]


@pytest.fixture
def twenty_five(make_session):
    start = timezone.now() + timedelta(days=1)
    for n in range(25):
        make_session(title=f"Session no {n}", start_at=start + timedelta(hours=n))


@pytest.mark.parametrize("page", HOSTILE_PAGES)
def test_a_hostile_page_number_gives_a_page_of_sessions(client, index_page, twenty_five, page):
    response = client.get(index_page.url, {"page": page})
    assert response.status_code == 200
    shown = re.findall(r">Session no (\d+)</a>", response.content.decode())
    assert shown in ([str(n) for n in range(20)], [str(n) for n in range(20, 25)])


def test_several_page_parameters_give_a_page_of_sessions(client, index_page, twenty_five):
    response = client.get(index_page.url + "?page=2&page=abc&page[]=1")
    assert response.status_code == 200


@pytest.mark.parametrize("page_id", ["0", "99999", "2147483648", "9" * 30])
def test_a_feed_or_session_file_for_an_id_that_names_nothing_is_a_404(client, index_page, page_id):
    for name in ("wagtail_training_pay:index_ics", "wagtail_training_pay:session_ics"):
        url = reverse(name, kwargs={"page_id": 1}).replace("/1/", f"/{page_id}/")
        assert client.get(url).status_code == 404


def test_the_feed_ignores_its_query_string(client, index_page, twenty_five):
    url = reverse("wagtail_training_pay:index_ics", kwargs={"page_id": index_page.pk})
    response = client.get(url, {"page": "-1", "limit": "9" * 50})
    assert response.status_code == 200
    assert response.content.decode().count("BEGIN:VEVENT") == 25


@pytest.mark.parametrize(
    "query",
    [
        {"p": "-1"},
        {"p": "abc"},
        {"p": "9" * 40},
        {"page": "abc"},
        {"page": "-1"},
        {"page": "9" * 40},
        {"page": "2147483648"},
        {"status": "nonsense"},
        {"created_at_from": "not a date"},
        {"created_at_from": "99999-01-01"},
        {"ordering": "-nonexistent"},
        {"payment_status": "\x00"},
    ],
)
def test_a_hostile_query_on_the_admin_registrations_listing_gives_a_page(admin_client, make_session, query):
    from wagtail_training_pay.services import registrations as service

    session = make_session(fee=0)
    for number in range(3):
        service.register(session, first_name="Ada", last_name=str(number), email=f"ada{number}@example.com")
    response = admin_client.get(reverse("training_registrations:index"), query)
    assert response.status_code in (200, 302, 404)
