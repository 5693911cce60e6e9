"""What a person reads in the admin: real dates in one named time zone, Yes/No, language names, payment method
labels, the rows' nouns, a dashboard link whose listing matches its count, and the registration actions as buttons.

Every page is opened through its real admin URL by a staff user holding real permissions, in English and French.
"""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from wagtail_training_pay.models import LearnerPaymentMethod, MoneyMovement, Registration, RegistrationStatus
from wagtail_training_pay.models.money import MovementKind, MovementState

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]

#: 14 March 2030, 08:30 UTC: 09:30 in Paris, 04:30 in Toronto.
START = datetime(2030, 3, 14, 8, 30, tzinfo=UTC)
#: 2 March 2030, 17:05 UTC: 18:05 in Paris, 12:05 in Toronto.
REGISTERED = datetime(2030, 3, 2, 17, 5, tzinfo=UTC)


def admin_prefers(user, language="", time_zone=""):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.current_time_zone = time_zone
    profile.save()


def page_text(response):
    """The visible text of an admin page, in one line (scripts, icons and attributes left out)."""
    html = response.content.decode()
    html = re.sub(r"<(script|svg|style|template)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<[^>]+>", " ", html)
    html = html.replace("&nbsp;", "\xa0").replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")
    return re.sub(r"\s+", " ", html)


def csv_rows(response):
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


@pytest.fixture
def ada(make_session, register, training_settings):
    """A confirmed registration for a session on 14 March 2030, registered on 2 March, paid by "Card (test)"."""
    LearnerPaymentMethod.objects.create(settings=training_settings, variant="dummy", label="Card (test)", sort_order=0)
    session = make_session(title="Python basics", slug="python", start_at=START)
    registration = register(session, first_name="Ada", last_name="Lovelace", email="ada@example.com")
    Registration.objects.filter(pk=registration.pk).update(created_at=REGISTERED, language="fr")
    registration.payments.update(created=REGISTERED)
    registration.refresh_from_db()
    return registration


# Real dates, one time zone per page, named ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [("", "Starts at (Europe/Paris) "), ("fr", "Début (Europe/Paris) ")],
)
def test_revenue_per_session_shows_when_each_session_starts_not_just_now(client, manager, ada, language, expected):
    admin_prefers(manager, language)
    client.force_login(manager)
    text = page_text(client.get(reverse("training_reports:revenue_by_session")))
    assert expected in text
    when = "March 14, 2030, 9:30 a.m." if not language else "14 mars 2030 09:30"
    assert f"Python basics {when}" in text
    assert "Just now" not in text and "À l’instant" not in text


def test_a_french_administrator_in_toronto_reads_every_time_of_a_registration_in_toronto(client, manager, ada):
    admin_prefers(manager, "fr", "America/Toronto")
    client.force_login(manager)
    text = page_text(client.get(reverse("training_registrations:inspect", args=[ada.pk])))
    assert "Les heures sont dans le fuseau horaire America/Toronto." in text
    # The session's start, the registration's fields, its payment and its history: all in Toronto, none in UTC.
    assert "Python basics (14 mars 2030 04:30)" in text
    assert "Inscrit le 2 mars 2030 12:05" in text
    payments_table = "Créé Moyen de paiement Statut Contrôle antifraude Total Encaissé Remboursé Transaction"
    assert f"{payments_table} 2 mars 2030 12:05" in text
    assert "17:05" not in text and "18:05" not in text


def test_a_french_administrator_in_toronto_reads_listings_and_exports_in_toronto(client, manager, ada):
    admin_prefers(manager, "fr", "America/Toronto")
    client.force_login(manager)
    text = page_text(client.get(reverse("training_registrations:index")))
    assert "Inscrit le (America/Toronto)" in text
    assert "2 mars 2030 12:05" in text
    [row] = csv_rows(client.get(reverse("training_registrations:index") + "?export=csv"))
    assert row["Début de la session (America/Toronto)"] == "2030-03-14 04:30-04:00"
    assert row["Inscrit le (America/Toronto)"] == "2030-03-02 12:05-05:00"
    payments = page_text(client.get(reverse("training_payments:inspect", args=[ada.paid_by_id])))
    assert "Créé (America/Toronto) 2 mars 2030 12:05" in payments
    listing = page_text(client.get(reverse("training_payments:index")))
    assert "Créé (America/Toronto)" in listing and "2 mars 2030 12:05" in listing


# Human labels ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("", ["Language French", "Late payment refunded No", "Card (test)"]),
        ("fr", ["Langue Français", "Paiement tardif remboursé Non", "Card (test)"]),
    ],
)
def test_the_registration_page_says_yes_or_no_language_names_and_payment_method_labels(
    client, manager, ada, language, expected
):
    admin_prefers(manager, language)
    client.force_login(manager)
    text = page_text(client.get(reverse("training_registrations:inspect", args=[ada.pk])))
    for words in expected:
        assert words in text
    assert "False" not in text and " dummy " not in text


def test_exports_and_the_payments_screens_name_payment_methods_and_languages(client, manager, ada):
    client.force_login(manager)
    [row] = csv_rows(client.get(reverse("training_registrations:index") + "?export=csv"))
    assert (row["Language"], row["Payment method"]) == ("French", "Card (test)")
    listing = client.get(reverse("training_payments:index"))
    text = page_text(listing)
    assert "Python basics (learner) Card (test) Confirmed" in text
    assert 'value="dummy"' in listing.content.decode() and "Card (test)" in text  # the filter's choice
    [payment] = csv_rows(client.get(reverse("training_payments:index") + "?export=csv"))
    assert payment["Payment method"] == "Card (test)"
    inspect = page_text(client.get(reverse("training_payments:inspect", args=[ada.paid_by_id])))
    assert "Payment method Card (test)" in inspect


def test_a_payment_method_without_a_label_is_named_from_its_key(client, manager, make_session, register):
    session = make_session()
    registration = register(session)
    client.force_login(manager)
    text = page_text(client.get(reverse("training_registrations:inspect", args=[registration.pk])))
    assert " Dummy " in text and " dummy " not in text


# Row nouns ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "one", "two"),
    [("", "1 registration", "2 registrations"), ("fr", "1 inscription", "2 inscriptions")],
)
def test_the_registrations_listing_counts_its_rows_with_the_right_noun(
    client, manager, make_session, register, language, one, two
):
    admin_prefers(manager, language)
    session = make_session()
    register(session)
    client.force_login(manager)
    url = reverse("training_registrations:index")
    assert page_text(client.get(url)).rstrip().endswith(one)
    register(session)
    assert page_text(client.get(url)).rstrip().endswith(two)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("", ["1 session", "1 month", "1 payment", "1 upcoming session"]),
        ("fr", ["1 session", "1 mois", "1 paiement", "1 session à venir"]),
    ],
)
def test_reports_count_what_their_rows_are(client, manager, ada, language, expected):
    admin_prefers(manager, language)
    client.force_login(manager)
    urls = [
        reverse("training_reports:revenue_by_session"),
        reverse("training_reports:revenue_by_month"),
        reverse("training_payments:index"),
        reverse("training_reports:upcoming_sessions"),
    ]
    for url, noun in zip(urls, expected, strict=True):
        assert page_text(client.get(url)).rstrip().endswith(noun), url


def test_a_listing_of_thousands_groups_the_digits_of_its_count():
    from django.utils import translation
    from django.utils.translation import ngettext

    from wagtail_training_pay.views.admin.common import row_count_label

    def message(count):
        return ngettext("%(count)s registration", "%(count)s registrations", count)

    with translation.override("en"):
        assert row_count_label(50000, message) == "50,000 registrations"
    with translation.override("fr"):
        assert row_count_label(50000, message) == "50\xa0000 inscriptions"
        assert row_count_label(0, message) == "0 inscription"


# The dashboard's upcoming sessions --------------------------------------------------------------------------


def test_the_dashboards_upcoming_sessions_link_lists_exactly_the_sessions_it_counts(client, manager, make_session):
    make_session(title="Next week", slug="next-week")
    make_session(title="Next month", slug="next-month", start_at=timezone.now() + timedelta(days=30))
    make_session(title="Last week", slug="last-week", start_at=timezone.now() - timedelta(days=7))
    draft = make_session(title="Still a draft", slug="draft")
    draft.unpublish()
    client.force_login(manager)
    home = client.get("/admin/").content.decode()
    match = re.search(r'<a href="([^"]+)"[^>]*>\s*(?:<[^>]+>\s*)*(\d+) upcoming sessions', home)
    assert match, "the dashboard has no upcoming sessions link"
    url, count = match.group(1).replace("&amp;", "&"), int(match.group(2))
    listing = client.get(url)
    text = page_text(listing)
    assert count == 2 and text.rstrip().endswith("2 upcoming sessions")
    assert "Next week" in text and "Next month" in text
    assert "Last week" not in text and "Still a draft" not in text
    assert text.index("Next week") < text.index("Next month")


def test_the_upcoming_sessions_listing_is_refused_to_editors(client, editor):
    client.force_login(editor)
    response = client.get(reverse("training_reports:upcoming_sessions"))
    assert (response.status_code, response["Location"]) == (302, "/admin/")


# Registration actions as buttons -------------------------------------------------------------------------


def action_buttons(html):
    return re.findall(r'data-registration-action="([a-z]+)"', html)


def test_a_registrations_actions_are_buttons_on_its_page_and_its_row(client, manager, ada):
    client.force_login(manager)
    inspect = client.get(reverse("training_registrations:inspect", args=[ada.pk])).content.decode()
    assert action_buttons(inspect) == ["refund", "cancel", "resend"]
    header = inspect.split('class="w-slim-header', 1)[1].split("</header>", 1)[0]
    assert "w-dropdown" not in header  # visible, not behind a "more" menu
    listing = client.get(reverse("training_registrations:index")).content.decode()
    assert action_buttons(listing) == ["refund", "cancel", "resend"]
    assert f'href="{reverse("training_registrations:refund", args=[ada.pk])}"' in listing


def test_each_row_shows_only_what_applies_to_it(client, manager, make_session, register):
    session = make_session()
    register(session, pay=False)  # pending: cancel, confirm by hand
    client.force_login(manager)
    listing = client.get(reverse("training_registrations:index")).content.decode()
    assert action_buttons(listing) == ["cancel", "confirm"]


def test_the_french_buttons_are_in_french(client, manager, ada):
    admin_prefers(manager, "fr")
    client.force_login(manager)
    text = page_text(client.get(reverse("training_registrations:inspect", args=[ada.pk])))
    assert "Rembourser" in text and "Annuler l’inscription" in text


def test_a_user_without_the_permissions_sees_no_buttons_and_cannot_act(client, make_staff, ada):
    viewer = make_staff("registrations", "personal_data", "payments")
    client.force_login(viewer)
    assert action_buttons(client.get(reverse("training_registrations:inspect", args=[ada.pk])).content.decode()) == []
    assert action_buttons(client.get(reverse("training_registrations:index")).content.decode()) == []
    for action in ("refund", "cancel", "resend"):
        url = reverse(f"training_registrations:{action}", args=[ada.pk])
        assert client.get(url)["Location"] == "/admin/"
        assert client.post(url, {"refund": "on"})["Location"] == "/admin/"
    ada.refresh_from_db()
    assert (ada.status, ada.refunded_amount) == (RegistrationStatus.CONFIRMED, 0)


def test_who_may_cancel_but_not_refund_sees_cancel_and_no_refund(client, make_staff, ada):
    clerk = make_staff("registrations", "personal_data", "payments", "change")
    client.force_login(clerk)
    assert action_buttons(client.get(reverse("training_registrations:index")).content.decode()) == ["cancel", "resend"]
    # Cancelling with the refund box forced into the form refunds nothing: the box is not theirs.
    client.post(reverse("training_registrations:cancel", args=[ada.pk]), {"refund": "on"})
    ada.refresh_from_db()
    assert (ada.status, ada.refunded_amount) == (RegistrationStatus.CANCELLED, 0)


def test_a_double_submitted_cancellation_cancels_and_refunds_once(client, manager, ada):
    client.force_login(manager)
    url = reverse("training_registrations:cancel", args=[ada.pk])
    first = client.post(url, {"refund": "on"}, follow=True)
    assert "Registration cancelled; €45.00 refunded." in page_text(first)
    second = client.post(url, {"refund": "on"}, follow=True)
    assert "This action does not apply to this registration any more." in page_text(second)
    ada.refresh_from_db()
    assert (ada.status, ada.refunded_amount) == (RegistrationStatus.CANCELLED, 45)
    assert ModelLogEntry.objects.filter(action="wagtail_training_pay.cancel", object_id=str(ada.pk)).count() == 1
    # The row's buttons follow: nothing left to refund or cancel.
    listing = client.get(reverse("training_registrations:index")).content.decode()
    assert action_buttons(listing) == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["cancel", "refund"])
def test_two_tabs_pressing_the_same_button_at_once_move_the_money_once(manager, ada, action):
    """Two staff tabs (or a double click) post the same action at the same instant, each on its own connection:
    the row locks let one through; the other is told, and the learner is refunded once."""
    from tests.test_registration_concurrency import run_together

    url = reverse(f"training_registrations:{action}", args=[ada.pk])
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(manager)
    data = {"refund": "on"} if action == "cancel" else {}
    responses = run_together(2, lambda index: clients[index].post(url, data))
    ada.refresh_from_db()
    assert ada.refunded_amount == 45
    refunds = MoneyMovement.objects.filter(payment__registration=ada, kind=MovementKind.REFUND)
    assert [(movement.amount, movement.state) for movement in refunds] == [(45, MovementState.DONE)]
    logged = ModelLogEntry.objects.filter(action=f"wagtail_training_pay.{action}", object_id=str(ada.pk))
    assert logged.count() == 1
    # The one that came second was answered (the form's error, or back to the page), not a server error.
    assert sorted(response.status_code for response in responses) in ([200, 302], [302, 302])


def test_language_names_fall_back_to_the_code_for_a_language_django_does_not_know():
    from django.utils import translation

    from wagtail_training_pay.views.admin.common import language_name

    with translation.override("fr"):
        assert [language_name(code) for code in ("fr", "en", "fr-ca", "zz", "")] == [
            "Français",
            "Anglais",
            "Français",
            "zz",
            "",
        ]
