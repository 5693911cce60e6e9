"""A copy "published" by a host is the host's: the exempt author of the source's live revision exempts nobody.

The source session was published (and started) by a user of an exempt group; a host who is not
exempt copies it with "publish copies" (keep live) through every route Wagtail 8 has for a copy.
The copy is a new session: a draft, not served, not started, its content kept, until the host pays.
"""

import pytest
from wagtail.models import Page

from wagtail_training_pay.models import TrainingSessionPage
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_hosts import assert_left_a_draft
from .pay_per_use_support import is_served, pay_through_the_provider, reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def exempt_session(pay_per_use_on, make_session, exempt_user):
    """Live and started, published by an exempt user without paying."""
    page = reload(make_session(slug="exempt-source", expected_participants=10, teleconference_participants=2))
    page.title = "Published by an exempt user"
    page.save_revision(user=exempt_user).publish(user=exempt_user)
    page = reload(page)
    assert page.live
    assert page.live_revision.user == exempt_user
    assert pay_per_use.start_session(page, exempt_user)
    return reload(page)


def the_copy():
    return TrainingSessionPage.objects.get(slug="the-copy")


def assert_copy_is_a_draft_until_paid(host, client):
    copy = assert_left_a_draft(the_copy(), client)
    assert copy.get_latest_revision().as_object().title == "Published by an exempt user"
    pay_through_the_provider(copy, copy.get_latest_revision(), host)
    copy = reload(copy)
    assert copy.live
    assert is_served(client, copy)
    assert copy.started_at is None  # starting is its own step, paid for with the session


def test_admin_copy_with_publish_copies_keeps_the_hosts_copy_a_draft(
    exempt_session, index_page, host, host_client, public_client
):
    response = host_client.post(
        f"/admin/pages/{exempt_session.pk}/copy/",
        {
            "new_title": "Published by an exempt user",
            "new_slug": "the-copy",
            "new_parent_page": index_page.pk,
            "publish_copies": "on",
        },
    )
    assert response.status_code == 302
    assert_copy_is_a_draft_until_paid(host, public_client)


def test_admin_api_v2_copy_keeps_the_hosts_copy_a_draft(exempt_session, host, host_client, public_client):
    # keep_live defaults to true in the admin API's copy action.
    response = host_client.post(
        f"/admin/api/main/pages/{exempt_session.pk}/action/copy/", {"slug": "the-copy"}, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    assert_copy_is_a_draft_until_paid(host, public_client)


def test_api_v3_copy_keeps_the_hosts_copy_a_draft(exempt_session, host, api_v3_headers, public_client):
    response = public_client.post(
        f"/api/v3/pages/{exempt_session.pk}/actions/copy/",
        {"slug": "the-copy"},
        content_type="application/json",
        **api_v3_headers(host),
    )
    assert response.status_code == 201, response.content
    assert_copy_is_a_draft_until_paid(host, public_client)


def test_page_copy_with_keep_live_in_code_keeps_the_copy_a_draft(exempt_session, host, public_client):
    Page.objects.get(pk=exempt_session.pk).copy(keep_live=True, update_attrs={"slug": "the-copy"}, user=host)
    assert_copy_is_a_draft_until_paid(host, public_client)


def test_a_copy_of_a_paid_session_is_still_a_new_session_to_pay_for(
    pay_per_use_on, make_session, index_page, host, host_client, public_client
):
    source = reload(make_session(slug="paid-source"))
    pay_through_the_provider(source, source.save_revision(user=host), host)
    assert reload(source).live
    response = host_client.post(
        f"/admin/api/main/pages/{source.pk}/action/copy/", {"slug": "the-copy"}, content_type="application/json"
    )
    assert response.status_code == 201
    assert not the_copy().live


def test_an_exempt_user_copying_publishes_the_copy_afterwards_without_paying(
    exempt_session, exempt_user, client, public_client
):
    client.force_login(exempt_user)
    client.post(
        f"/admin/api/main/pages/{exempt_session.pk}/action/copy/", {"slug": "the-copy"}, content_type="application/json"
    )
    copy = the_copy()
    assert not copy.live  # a copy is judged without knowing who copies
    response = client.post(f"/admin/api/main/pages/{copy.pk}/action/publish/", content_type="application/json")
    assert response.status_code == 200
    assert reload(copy).live
    assert is_served(public_client, copy)


# --- translation copies (simple_translation's "Translate" runs CopyPageForTranslationAction) ----------------


@pytest.fixture
def french(settings):
    from wagtail.models import Locale

    settings.WAGTAIL_I18N_ENABLED = True
    settings.WAGTAIL_CONTENT_LANGUAGES = [("en", "English"), ("fr", "French")]
    return Locale.objects.get_or_create(language_code="fr")[0]


def test_a_translation_copy_of_a_live_session_is_a_draft_until_paid(
    exempt_session, french, exempt_user, host, public_client
):
    from wagtail.actions.copy_for_translation import CopyPageForTranslationAction

    translator = exempt_user  # submitting translations is its own permission
    translation = CopyPageForTranslationAction(exempt_session, french, copy_parents=True, user=translator).execute()
    translation = reload(translation)
    assert not translation.live
    assert translation.started_at is None
    assert pay_per_use.needs_payment(translation, host)


def test_a_translation_made_as_an_alias_of_an_unpaid_live_session_is_not_live(
    exempt_session, french, exempt_user, public_client
):
    from wagtail.actions.copy_for_translation import CopyPageForTranslationAction

    action = CopyPageForTranslationAction(exempt_session, french, copy_parents=True, alias=True, user=exempt_user)
    alias = action.execute()
    alias = reload(alias)
    assert alias.alias_of_id == exempt_session.pk
    assert not alias.live
