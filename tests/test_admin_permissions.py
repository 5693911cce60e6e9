"""Who sees which admin screen and which action is refused: money and personal data are separate grants."""

import re

import pytest
from django.urls import reverse

from wagtail_training_pay.models import RegistrationStatus

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]

#: role -> the grants of its group (see tests.admin_fixtures.PERMISSIONS)
ROLES = {
    "editor": ("edit_pages",),
    "registrations": ("edit_pages", "registrations"),
    "personal": ("edit_pages", "registrations", "personal_data"),
    "accountant": ("payments",),
    "clerk": ("edit_pages", "registrations", "personal_data", "change"),
    "manager": ("edit_pages", "registrations", "personal_data", "payments", "change", "refund"),
}

#: screen -> roles that may open it (superusers open everything)
SCREENS = {
    "registrations": {"registrations", "personal", "clerk", "manager"},
    "registration detail": {"registrations", "personal", "clerk", "manager"},
    "registrations export": {"registrations", "personal", "clerk", "manager"},
    "payments": {"accountant", "manager"},
    "payment detail": {"accountant", "manager"},
    "revenue per session": {"accountant", "manager"},
    "revenue per month": {"accountant", "manager"},
    "pay-per-use billing": {"accountant", "manager"},
    "refund": {"manager"},
    "cancel": {"clerk", "manager"},
    "confirm by hand": {"clerk", "manager"},
    "resend confirmation": {"clerk", "manager"},
}


@pytest.fixture
def world(paid_session, register, training_settings):
    confirmed = register(paid_session, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    pending = register(paid_session, first_name="Grace", last_name="Hopper", pay=False)
    return {"page": paid_session, "confirmed": confirmed, "pending": pending}


def screen_url(screen, world):
    confirmed, pending = world["confirmed"], world["pending"]
    return {
        "registrations": reverse("training_registrations:index"),
        "registration detail": reverse("training_registrations:inspect", args=[confirmed.pk]),
        "registrations export": reverse("training_registrations:index") + "?export=csv",
        "payments": reverse("training_payments:index"),
        "payment detail": reverse("training_payments:inspect", args=[confirmed.paid_by_id]),
        "revenue per session": reverse("training_reports:revenue_by_session"),
        "revenue per month": reverse("training_reports:revenue_by_month"),
        "pay-per-use billing": reverse("training_reports:usage_billing"),
        "refund": reverse("training_registrations:refund", args=[confirmed.pk]),
        "cancel": reverse("training_registrations:cancel", args=[confirmed.pk]),
        "confirm by hand": reverse("training_registrations:confirm", args=[pending.pk]),
        "resend confirmation": reverse("training_registrations:resend", args=[confirmed.pk]),
    }[screen]


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
@pytest.mark.parametrize("screen", SCREENS)
def test_permission_matrix_of_the_screens(client, make_staff, admin_user, world, role, screen):
    user = admin_user if role == "superuser" else make_staff(*ROLES[role], username=role)
    client.force_login(user)
    url = screen_url(screen, world)
    response = client.get(url)
    allowed = role == "superuser" or role in SCREENS[screen]
    if allowed:
        assert response.status_code == 200, f"{role} should open {screen}"
    else:
        assert_refused(response, f"{role} should not open {screen}")
        # Wagtail answers scripts (the listing's live refresh) with a plain 403.
        assert client.get(url, headers={"x-requested-with": "XMLHttpRequest"}).status_code == 403


def assert_refused(response, reason):
    """Wagtail's admin refuses with a redirect home and its "Sorry, you do not have permission" message."""
    from django.contrib.messages import get_messages

    assert response.status_code == 302, reason
    assert response["Location"] == reverse("wagtailadmin_home"), reason
    assert [str(m).strip() for m in get_messages(response.wsgi_request)] == [
        "Sorry, you do not have permission to access this area."
    ]


@pytest.mark.parametrize("action", ["refund", "cancel"])
def test_a_refused_action_posted_anyway_changes_nothing(client, make_staff, world, action):
    client.force_login(make_staff(*ROLES["registrations"], username="looker"))
    confirmed = world["confirmed"]
    response = client.post(reverse(f"training_registrations:{action}", args=[confirmed.pk]), {"amount": "10"})
    assert_refused(response, f"{action} is refused")
    confirmed.refresh_from_db()
    assert (confirmed.status, confirmed.refunded_amount) == (RegistrationStatus.CONFIRMED, 0)


def test_anonymous_visitors_are_sent_to_the_login_page(client, world):
    response = client.get(reverse("training_registrations:index"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def page_html(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_an_editor_sees_no_money_and_no_personal_data_anywhere(client, make_staff, world):
    editor = make_staff(*ROLES["editor"], username="editor")
    page = world["page"]
    edit = page_html(client, editor, reverse("wagtailadmin_pages:edit", args=[page.pk]))
    explorer = page_html(client, editor, reverse("wagtailadmin_explore", args=[page.get_parent().pk]))
    dashboard = page_html(client, editor, reverse("wagtailadmin_home"))
    for html in (edit, explorer, dashboard):
        assert "Registrations (" not in html
        # Whole words: a random CSRF token may contain the letters "Ada".
        assert not re.search(r"\bAda\b|Lovelace", html) and "ada@example.com" not in html
        assert "€45.00" not in html
        assert "Revenue" not in html
        assert "training_registrations" not in html and "/admin/training_payments/" not in html
    assert "confirmed seat" not in edit
    assert "upcoming session" not in dashboard and "payments need attention" not in dashboard


def test_a_registrations_viewer_sees_seats_but_no_money(client, make_staff, world):
    viewer = make_staff(*ROLES["personal"], username="viewer")
    page = world["page"]
    edit = page_html(client, viewer, reverse("wagtailadmin_pages:edit", args=[page.pk]))
    assert "Registrations (1/20)" in edit and "1 confirmed seat out of 20." in edit
    assert "Revenue:" not in edit
    listing = page_html(client, viewer, reverse("training_registrations:index"))
    assert "Ada Lovelace" in listing and "€45.00" not in listing
    detail = page_html(client, viewer, reverse("training_registrations:inspect", args=[world["confirmed"].pk]))
    assert "ada@example.com" in detail and "€45.00" not in detail and "Payments" not in detail
    dashboard = page_html(client, viewer, reverse("wagtailadmin_home"))
    assert "1 upcoming session" in dashboard and "1 seat sold this month" in dashboard
    assert "revenue this month" not in dashboard and "need attention" not in dashboard


def test_without_the_personal_data_permission_learners_are_numbers(client, make_staff, world):
    viewer = make_staff(*ROLES["registrations"], username="numbers")
    listing = page_html(client, viewer, reverse("training_registrations:index"))
    assert f"Registration #{world['confirmed'].pk}" in listing
    assert "Lovelace" not in listing and "ada@example.com" not in listing
    assert 'name="q"' not in listing, "no search by name or email"
    detail = page_html(client, viewer, reverse("training_registrations:inspect", args=[world["confirmed"].pk]))
    assert "Lovelace" not in detail and "Answers" not in detail


def test_an_accountant_sees_money_but_no_registrations(client, make_staff, world):
    accountant = make_staff(*ROLES["accountant"], username="accountant")
    dashboard = page_html(client, accountant, reverse("wagtailadmin_home"))
    assert "€45.00 revenue this month" in dashboard
    assert "0 payments need attention" in dashboard
    assert "seat sold" not in dashboard
    payments = page_html(client, accountant, reverse("training_payments:index"))
    assert "€45.00" in payments
    assert reverse("training_registrations:inspect", args=[world["confirmed"].pk]) not in payments


def test_the_detail_page_offers_only_the_actions_the_user_may_take(client, make_staff, world):
    detail_url = reverse("training_registrations:inspect", args=[world["confirmed"].pk])
    clerk_html = page_html(client, make_staff(*ROLES["clerk"], username="clerk"), detail_url)
    assert "Cancel registration" in clerk_html and "Resend confirmation email" in clerk_html
    assert ">Refund<" not in clerk_html.replace("\n", "").replace(" ", "")
    manager_html = page_html(client, make_staff(*ROLES["manager"], username="boss"), detail_url)
    assert reverse("training_registrations:refund", args=[world["confirmed"].pk]) in manager_html
    viewer_html = page_html(client, make_staff(*ROLES["personal"], username="looker"), detail_url)
    assert "Cancel registration" not in viewer_html


def test_the_permissions_are_offered_on_the_group_screen_and_nothing_meaningless(client, admin_user):
    from django.contrib.auth.models import Permission

    html = page_html(client, admin_user, reverse("wagtailusers_groups:add"))
    offered = {
        permission.codename
        for permission in Permission.objects.filter(content_type__app_label="wagtail_training_pay")
        if f'name="permissions" value="{permission.pk}"' in html
    }
    assert {
        "view_registration",
        "view_registration_personal_data",
        "change_registration",
        "refund_registration",
        "view_payment",
    } <= offered
    assert not {"add_registration", "delete_registration", "add_payment", "delete_payment"} & offered
