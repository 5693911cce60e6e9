"""The registrations listing in the admin: columns, filters, search, detail page and the session buttons."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from wagtail_training_pay.models import Registration, SessionFormField

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]

INDEX = "training_registrations:index"


@pytest.fixture
def two_sessions(make_session, register):
    python = make_session(title="Python basics", slug="python")
    django = make_session(title="Django deep dive", slug="django", capacity=None)
    ada = register(python, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    grace = register(python, first_name="Grace", last_name="Hopper", email="grace@example.com", pay=False)
    alan = register(django, first_name="Alan", last_name="Turing", email="alan@example.com")
    return {"python": python, "django": django, "ada": ada, "grace": grace, "alan": alan}


def listed_names(response):
    return {r.full_name for r in response.context["object_list"]}


def test_the_listing_shows_every_registration_with_its_session_status_and_amount(client, manager, two_sessions):
    client.force_login(manager)
    response = client.get(reverse(INDEX))
    assert response.status_code == 200
    assert listed_names(response) == {"Ada Lovelace", "Grace Hopper", "Alan Turing"}
    html = response.content.decode()
    assert "ada@example.com" in html
    assert "Python basics" in html
    assert "€45.00" in html
    assert "Pending payment" in html and "Confirmed" in html


def test_the_listing_filters_by_session(client, manager, two_sessions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"page": two_sessions["django"].pk})
    assert listed_names(response) == {"Alan Turing"}


def test_the_listing_filters_by_status(client, manager, two_sessions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"status": "pending"})
    assert listed_names(response) == {"Grace Hopper"}
    response = client.get(reverse(INDEX), {"status": ["pending", "confirmed"]})
    assert listed_names(response) == {"Ada Lovelace", "Grace Hopper", "Alan Turing"}


def test_the_listing_filters_by_payment_status(client, manager, two_sessions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"payment_status": "confirmed"})
    assert listed_names(response) == {"Ada Lovelace", "Alan Turing"}
    response = client.get(reverse(INDEX), {"payment_status": "waiting"})
    assert listed_names(response) == {"Grace Hopper"}


def test_the_listing_filters_by_registration_date(client, manager, two_sessions):
    Registration.objects.filter(pk=two_sessions["alan"].pk).update(created_at=timezone.now() - timedelta(days=40))
    client.force_login(manager)
    since = (timezone.localdate() - timedelta(days=5)).isoformat()
    response = client.get(reverse(INDEX), {"created_at_from": since})
    assert listed_names(response) == {"Ada Lovelace", "Grace Hopper"}
    until = (timezone.localdate() - timedelta(days=30)).isoformat()
    response = client.get(reverse(INDEX), {"created_at_to": until})
    assert listed_names(response) == {"Alan Turing"}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("ada", {"Ada Lovelace"}),
        ("HOPPER", {"Grace Hopper"}),
        ("alan@example", {"Alan Turing"}),
        ("Ada Lovelace", {"Ada Lovelace"}),
        ("example.com", {"Ada Lovelace", "Grace Hopper", "Alan Turing"}),
        ("nobody", set()),
    ],
)
def test_search_matches_names_and_emails(client, manager, two_sessions, query, expected):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"q": query})
    assert listed_names(response) == expected


def test_search_and_filters_combine(client, manager, two_sessions):
    client.force_login(manager)
    query = {"q": "example.com", "page": two_sessions["python"].pk, "status": "confirmed"}
    response = client.get(reverse(INDEX), query)
    assert listed_names(response) == {"Ada Lovelace"}


def test_the_results_view_refreshes_the_listing(client, manager, two_sessions):
    client.force_login(manager)
    response = client.get(reverse("training_registrations:index_results"), {"q": "turing"})
    assert response.status_code == 200
    assert listed_names(response) == {"Alan Turing"}


def test_the_detail_page_shows_answers_with_the_questions_labels_payment_and_history(
    client, manager, make_session, register
):
    page = make_session(title="Answers session", slug="answers")
    SessionFormField.objects.create(page=page, label="Your level", field_type="singleline", sort_order=0)
    SessionFormField.objects.create(page=page, label="Topics", field_type="checkboxes", choices="a,b", sort_order=1)
    registration = register(
        page, first_name="Ada", last_name="Lovelace", answers={"your_level": "expert", "topics": ["a", "b"]}
    )
    client.force_login(manager)
    response = client.get(reverse("training_registrations:inspect", args=[registration.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"<dd>\s*None\s*</dd>", html), "empty dates show a dash"
    assert "Your level" in html and "expert" in html
    assert "Topics" in html and "a, b" in html
    assert response.context["payments"][0]["payment"] == registration.paid_by
    assert "€45.00" in html
    actions = [row["entry"].action for row in response.context["history"]]
    assert "wagtail_training_pay.confirm" in actions


def test_the_session_buttons_show_confirmed_over_capacity_and_open_the_filtered_listing(client, manager, two_sessions):
    client.force_login(manager)
    python = two_sessions["python"]
    expected_url = reverse(INDEX) + f"?page={python.pk}"
    explorer = client.get(reverse("wagtailadmin_explore", args=[python.get_parent().pk]))
    assert "Registrations (1/20)" in explorer.content.decode()
    assert expected_url in explorer.content.decode()
    editor_page = client.get(reverse("wagtailadmin_pages:edit", args=[python.pk]))
    html = editor_page.content.decode()
    assert "Registrations (1/20)" in html
    assert expected_url.replace("&", "&amp;") in html
    unlimited = client.get(reverse("wagtailadmin_pages:edit", args=[two_sessions["django"].pk]))
    assert "Registrations (1)" in unlimited.content.decode()


def test_the_page_editor_shows_seats_and_revenue(client, manager, two_sessions):
    client.force_login(manager)
    html = client.get(reverse("wagtailadmin_pages:edit", args=[two_sessions["python"].pk])).content.decode()
    assert "1 confirmed seat out of 20." in html
    assert "Revenue: €45.00 collected, €0.00 refunded, €45.00 net." in html


def test_the_listing_is_in_french_for_a_french_administrator(client, manager, two_sessions):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(manager)
    profile.preferred_language = "fr"
    profile.save()
    client.force_login(manager)
    html = client.get(reverse(INDEX)).content.decode()
    assert "Inscriptions" in html
    assert "45,00\xa0€" in html
    assert "Confirmée" in html
    assert "Statut du paiement" in html and "Formation" in html


@pytest.mark.parametrize(
    "ordering",
    ["last_name", "-last_name", "email", "-email", "status", "-created_at", "session_title", "-session_title"],
)
def test_pages_of_a_sorted_listing_list_every_registration_once_in_a_stable_order(
    client, manager, make_session, ordering
):
    """60 learners of the same name, address and status, on two pages of 50: ties are broken by the id, so the
    two pages hold the 60 registrations once each, in the order of (the sorted column, the id), on every load.
    Their registration times are shuffled against their ids (and tie in pairs when sorting by them), so that
    neither the time of registration nor the order rows are read in gives that order by chance."""
    from wagtail_training_pay.services import seats

    page = make_session(title="Ties", slug="ties", capacity=None)
    now = timezone.now()
    Registration.objects.bulk_create(
        Registration(
            page=page,
            first_name="Ada",
            last_name="Lovelace",
            email="ada@example.com" if ordering.endswith("email") else f"ada{i}@example.com",
            # One address may hold one active registration only: the same address on cancelled ones.
            status="cancelled" if ordering.endswith("email") else "confirmed",
            amount="45.00",
            currency="EUR",
            created_at=now - timedelta(seconds=i // 2 if ordering.endswith("created_at") else (i * 37) % 60),
        )
        for i in range(60)
    )
    seats.fix(page.pk)
    field = {"session_title": "page__title"}.get(ordering.lstrip("-"), ordering.lstrip("-"))
    rows = Registration.objects.filter(page=page).values_list(field, "pk")
    expected = [pk for _value, pk in sorted(rows, reverse=ordering.startswith("-"))]
    assert len(expected) == 60
    client.force_login(manager)

    def listed(page_number):
        response = client.get(reverse(INDEX), {"page": page.pk, "ordering": ordering, "p": page_number})
        assert response.status_code == 200
        return [registration.pk for registration in response.context["object_list"]]

    first, second = listed(1), listed(2)
    assert len(first) == 50 and len(second) == 10
    assert first + second == expected
    assert listed(1) == first
