"""No route to live makes an unpaid session live (DESIGN section 5 item 6, Wagtail 8.0.1).

Each route is tried twice: unpaid, the session stays a draft and the public site does not
serve it; paid, the same route makes it live.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from wagtail.actions.convert_alias import ConvertAliasPageAction
from wagtail.actions.publish_page_revision import PublishPageRevisionAction
from wagtail.models import PageLogEntry

from wagtail_training_pay.models import TrainingSessionPage
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import is_served, pay_through_the_provider, record_paid_charge, reload, session_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    """An unpaid session: inserted live=True like the create view does, kept a draft by the backstop."""
    page = make_session(expected_participants=10, teleconference_participants=2)
    page = reload(page)
    page.save_revision()
    return reload(page)


@pytest.fixture
def live_paid_session(pay_per_use_on, make_session, admin_user):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    revision = page.save_revision(user=admin_user)
    pay_through_the_provider(page, revision, admin_user)
    page = reload(page)
    assert page.live
    return page


def withheld_entries(page):
    return PageLogEntry.objects.filter(page=page, action=pay_per_use.WITHHELD_ACTION)


def cost_page_url(page):
    return f"/admin/training/pay-per-use/{page.pk}/cost/"


# --- programmatic saves: the backstop ------------------------------------------------------------------


def test_inserting_a_live_unpaid_session_keeps_it_a_draft(draft_session, client):
    assert not draft_session.live
    assert not is_served(client, draft_session)
    assert withheld_entries(draft_session).exists()


def test_setting_live_on_an_unpaid_session_and_saving_keeps_it_a_draft(draft_session, client):
    draft_session.live = True
    draft_session.save()
    assert not reload(draft_session).live
    assert not is_served(client, draft_session)


def test_publishing_unpaid_new_content_on_a_live_session_directly_is_refused(live_paid_session, client):
    live_revision_id = live_paid_session.live_revision_id
    page = reload(live_paid_session)
    page.duration_minutes = 300
    revision = page.save_revision()
    with pytest.raises(pay_per_use.PayPerUseRequired):
        PublishPageRevisionAction(revision).execute(skip_permission_checks=True)
    page = reload(page)
    assert page.live_revision_id == live_revision_id
    assert page.duration_minutes == 90
    assert is_served(client, page)


def test_revision_publish_without_a_user_skips_an_unpaid_revision_and_logs_it(draft_session, client):
    assert draft_session.get_latest_revision().publish() is None
    assert not reload(draft_session).live
    assert withheld_entries(draft_session).filter(revision=draft_session.get_latest_revision()).exists()
    record_paid_charge(draft_session)
    draft_session.get_latest_revision().publish()
    assert reload(draft_session).live
    assert is_served(client, draft_session)


# --- the create view -----------------------------------------------------------------------------------


def create_url(index_page):
    return f"/admin/pages/add/wagtail_training_pay/trainingsessionpage/{index_page.pk}/"


def test_create_view_publish_keeps_a_new_unpaid_session_a_draft_and_opens_the_cost_page(
    pay_per_use_on, index_page, admin_client, admin_user, client
):
    response = admin_client.post(create_url(index_page), session_form_data(slug="created", **{"action-publish": "1"}))
    page = TrainingSessionPage.objects.get(slug="created")
    assert response.status_code == 302
    assert response["Location"].startswith(cost_page_url(page))
    assert not page.live
    assert not is_served(client, page)
    assert page.get_latest_revision().as_object().duration_minutes == 90

    pay_through_the_provider(page, page.get_latest_revision(), admin_user)
    assert reload(page).live
    assert is_served(client, page)


def test_create_view_publishes_a_session_whose_estimate_is_paid_for(pay_per_use_on, index_page, admin_client, client):
    # Free estimates are paid for by nothing: rates 0 and no minimum.
    pay_per_use_on.person_minute_rate = pay_per_use_on.teleconference_minute_rate = pay_per_use_on.minimum_charge = 0
    pay_per_use_on.save()
    response = admin_client.post(create_url(index_page), session_form_data(slug="free", **{"action-publish": "1"}))
    assert response.status_code == 302
    page = TrainingSessionPage.objects.get(slug="free")
    assert page.live
    assert is_served(client, page)


def test_create_view_offers_the_pay_per_use_action_instead_of_publish(pay_per_use_on, index_page, admin_client):
    content = admin_client.get(create_url(index_page)).content.decode()
    assert 'name="action-pay-per-use"' in content
    assert 'name="action-publish"' not in content


# --- the edit view and revision revert ----------------------------------------------------------------


def edit_url(page):
    return f"/admin/pages/{page.pk}/edit/"


def test_edit_view_publish_of_an_unpaid_session_saves_the_draft_and_opens_the_cost_page(
    draft_session, admin_client, client
):
    response = admin_client.post(
        edit_url(draft_session), session_form_data(draft_session, title="Renamed", **{"action-publish": "1"})
    )
    assert response.status_code == 302
    assert response["Location"].startswith(cost_page_url(draft_session))
    page = reload(draft_session)
    assert not page.live
    assert page.get_latest_revision().as_object().title == "Renamed"
    assert not is_served(client, page)

    record_paid_charge(page, page.get_latest_revision())
    response = admin_client.post(edit_url(page), session_form_data(page, title="Renamed", **{"action-publish": "1"}))
    assert response.status_code == 302
    assert not response["Location"].startswith(cost_page_url(page))
    assert reload(page).live
    assert is_served(client, page)


def test_edit_view_shows_the_pay_per_use_action_instead_of_publish(draft_session, admin_client):
    content = admin_client.get(edit_url(draft_session)).content.decode()
    assert 'name="action-pay-per-use"' in content
    assert "Start session (estimated cost)" in content
    assert 'name="action-publish"' not in content


def test_edit_view_labels_the_action_schedule_for_a_future_go_live_time(draft_session, admin_client):
    page = reload(draft_session)
    page.go_live_at = timezone.now() + timedelta(days=2)
    page.save_revision()
    content = admin_client.get(edit_url(page)).content.decode()
    assert "Schedule (estimated cost)" in content


def test_the_pay_per_use_action_saves_the_draft_and_opens_the_cost_page(draft_session, admin_client):
    response = admin_client.post(
        edit_url(draft_session),
        session_form_data(draft_session, duration_minutes=120, **{"action-pay-per-use": "1"}),
    )
    assert response.status_code == 302
    assert response["Location"].startswith(cost_page_url(draft_session))
    assert reload(draft_session).get_latest_revision().as_object().duration_minutes == 120


def test_revision_revert_publish_of_an_unpaid_session_is_withheld(draft_session, admin_client, admin_user, client):
    first = draft_session.get_latest_revision()
    page = reload(draft_session)
    page.title = "Second version"
    page.save_revision(user=admin_user)
    url = f"/admin/pages/{page.pk}/revisions/{first.pk}/revert/"
    data = session_form_data(first.as_object(), **{"action-publish": "1", "revision": first.pk})
    response = admin_client.post(url, data)
    assert response.status_code == 302
    assert response["Location"].startswith(cost_page_url(page))
    assert not reload(page).live
    assert not is_served(client, page)

    record_paid_charge(page, first)
    response = admin_client.post(url, data)
    assert response.status_code == 302
    page = reload(page)
    assert page.live
    assert page.title == draft_session.title
    assert is_served(client, page)


# --- bulk publish and the admin API ----------------------------------------------------------------------


def bulk_publish(admin_client, page):
    return admin_client.post(
        f"/admin/bulk/wagtailcore/page/publish/?id={page.pk}&next=/admin/", {"include_descendants": ""}
    )


def test_bulk_publish_skips_an_unpaid_session(draft_session, admin_client, client):
    bulk_publish(admin_client, draft_session)
    assert not reload(draft_session).live
    assert not is_served(client, draft_session)

    record_paid_charge(draft_session, draft_session.get_latest_revision())
    response = bulk_publish(admin_client, draft_session)
    assert response.status_code == 302
    assert reload(draft_session).live
    assert is_served(client, draft_session)


def test_bulk_publish_of_the_index_with_descendants_skips_an_unpaid_session(draft_session, index_page, admin_client):
    admin_client.post(
        f"/admin/bulk/wagtailcore/page/publish/?id={index_page.pk}&next=/admin/", {"include_descendants": "on"}
    )
    assert not reload(draft_session).live


def api_publish(admin_client, page):
    return admin_client.post(f"/admin/api/main/pages/{page.pk}/action/publish/", content_type="application/json")


def test_admin_api_publish_action_refuses_an_unpaid_session(draft_session, admin_client, client):
    response = api_publish(admin_client, draft_session)
    assert response.status_code == 403
    assert not reload(draft_session).live
    assert not is_served(client, draft_session)

    record_paid_charge(draft_session, draft_session.get_latest_revision())
    response = api_publish(admin_client, draft_session)
    assert response.status_code == 200
    assert reload(draft_session).live
    assert is_served(client, draft_session)


# --- workflow approval and scheduled publishing ----------------------------------------------------------


def approve(page, workflow, user):
    page = reload(page)
    page.save_revision(user=user)
    workflow.start(page, user)
    state = reload(page).current_workflow_state
    state.current_task_state.approve(user=user)


def test_workflow_approval_of_an_unpaid_session_completes_without_publishing(
    draft_session, moderated_index, admin_user, client
):
    approve(draft_session, moderated_index, admin_user)
    page = reload(draft_session)
    assert not page.live
    assert not is_served(client, page)
    assert withheld_entries(page).filter(user=admin_user).exists()

    record_paid_charge(page, page.get_latest_revision())
    approve(page, moderated_index, admin_user)
    assert reload(page).live
    assert is_served(client, page)


def schedule(page, minutes_ago=5):
    """A revision approved to go live a few minutes ago, as the edit view's Schedule leaves it."""
    page = reload(page)
    page.go_live_at = timezone.now() - timedelta(minutes=minutes_ago)
    return page.save_revision(approved_go_live_at=page.go_live_at)


def test_publish_scheduled_skips_an_unpaid_revision_logs_it_and_publishes_the_others(
    draft_session, make_session, client
):
    unpaid = schedule(draft_session)
    paid_page = reload(make_session(title="Paid", slug="paid"))
    paid = schedule(paid_page)
    record_paid_charge(paid_page, paid)

    call_command("publish_scheduled")

    assert not reload(draft_session).live
    assert not is_served(client, draft_session)
    assert withheld_entries(draft_session).filter(revision=unpaid, user=None).exists()
    unpaid.refresh_from_db()
    assert unpaid.approved_go_live_at is None  # logged once, not at every run
    assert reload(paid_page).live
    assert is_served(client, paid_page)


def test_publish_scheduled_publishes_a_paid_revision(draft_session, client):
    revision = schedule(draft_session)
    record_paid_charge(draft_session, revision)
    call_command("publish_scheduled")
    assert reload(draft_session).live
    assert is_served(client, draft_session)


# --- copies and aliases ----------------------------------------------------------------------------------


def copy_with_publish(admin_client, page, index_page, slug):
    return admin_client.post(
        f"/admin/pages/{page.pk}/copy/",
        {
            "new_title": "Copy",
            "new_slug": slug,
            "new_parent_page": index_page.pk,
            "publish_copies": "on",
        },
    )


def test_copy_with_publish_copies_keeps_the_unpaid_copy_a_draft(
    live_paid_session, index_page, admin_client, admin_user, client
):
    response = copy_with_publish(admin_client, live_paid_session, index_page, "copied")
    assert response.status_code == 302
    copy = TrainingSessionPage.objects.get(slug="copied")
    assert not copy.live
    assert not is_served(client, copy)

    pay_through_the_provider(copy, copy.get_latest_revision(), admin_user)
    assert reload(copy).live
    assert is_served(client, copy)


def test_an_alias_of_a_paid_session_is_live_and_covered_by_its_charges(live_paid_session, index_page, client):
    alias = live_paid_session.create_alias(parent=index_page, update_slug="alias-of-paid")
    alias = reload(alias)
    assert alias.live
    assert is_served(client, alias)


def test_an_alias_of_an_unpaid_live_session_stays_a_draft(make_session, pay_per_use_on, index_page, client):
    pay_per_use_on.pay_per_use_enabled = False
    pay_per_use_on.save()
    published_before = make_session(slug="grandfathered")
    pay_per_use_on.pay_per_use_enabled = True
    pay_per_use_on.save()
    alias = reload(published_before.create_alias(parent=index_page, update_slug="alias-unpaid"))
    assert not alias.live
    assert not is_served(client, alias)


def test_paying_for_a_session_publishes_its_draft_aliases(draft_session, index_page, admin_user, client):
    alias = reload(draft_session.create_alias(parent=index_page, update_slug="alias-draft"))
    assert not alias.live
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    assert reload(alias).live
    assert is_served(client, alias)


def test_converting_a_live_alias_makes_an_unpaid_draft_until_it_is_paid_for(
    live_paid_session, index_page, admin_client, admin_user, client
):
    alias = reload(live_paid_session.create_alias(parent=index_page, update_slug="alias-converted"))
    assert alias.live
    response = admin_client.post(f"/admin/pages/{alias.pk}/convert_alias/")
    assert response.status_code == 302
    converted = reload(alias)
    assert converted.alias_of_id is None
    assert not converted.live
    assert not is_served(client, converted)

    pay_through_the_provider(converted, converted.get_latest_revision(), admin_user)
    assert reload(converted).live
    assert is_served(client, converted)


def test_converting_a_draft_alias_changes_nothing_live(draft_session, index_page, admin_user):
    alias = reload(draft_session.create_alias(parent=index_page, update_slug="alias-to-convert"))
    ConvertAliasPageAction(alias, user=admin_user).execute()
    assert not reload(alias).live


# --- layer (a) on its own: the permission tester -----------------------------------------------------------


def test_the_permission_tester_refuses_publish_until_the_estimate_is_paid(draft_session, admin_user):
    tester = draft_session.permissions_for_user(admin_user)
    assert tester.can_publish_once_paid()
    assert not tester.can_publish()
    assert tester.can_edit()
    record_paid_charge(draft_session)
    assert reload(draft_session).permissions_for_user(admin_user).can_publish()


def test_the_permission_tester_lets_exempt_groups_and_sites_without_pay_per_use_publish(
    draft_session, admin_user, pay_per_use_on
):
    exempt = Group.objects.create(name="Exempt hosts")
    pay_per_use_on.exempt_groups.add(exempt)
    pay_per_use_on.save()
    admin_user.groups.add(exempt)
    assert draft_session.permissions_for_user(admin_user).can_publish()
    admin_user.groups.remove(exempt)
    assert not draft_session.permissions_for_user(admin_user).can_publish()
    pay_per_use_on.pay_per_use_enabled = False
    pay_per_use_on.save()
    assert draft_session.permissions_for_user(admin_user).can_publish()


def test_the_create_views_pay_per_use_action_saves_a_draft_and_opens_the_cost_page(
    pay_per_use_on, index_page, admin_client, client
):
    response = admin_client.post(
        create_url(index_page), session_form_data(slug="via-action", **{"action-pay-per-use": "1"})
    )
    page = TrainingSessionPage.objects.get(slug="via-action")
    assert response["Location"].startswith(cost_page_url(page))
    assert not page.live
    assert not is_served(client, page)


# --- Wagtail's API v3 (mounted at /api/v3/ in the test URLconf) ---------------------------------------------


@pytest.fixture
def v3_headers(admin_user):
    from wagtail.models import APIToken

    _token, plaintext = APIToken.create_token(user=admin_user, name="pay-per-use tests")
    return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}


def test_api_v3_publish_action_refuses_an_unpaid_session(draft_session, client, v3_headers):
    url = f"/api/v3/pages/{draft_session.pk}/actions/publish/"
    response = client.post(url, **v3_headers)
    assert response.status_code == 403
    assert not reload(draft_session).live
    assert not is_served(client, draft_session)

    record_paid_charge(draft_session, draft_session.get_latest_revision())
    assert client.post(url, **v3_headers).status_code == 200
    assert reload(draft_session).live
    assert is_served(client, draft_session)


def test_api_v3_update_with_publish_refuses_an_unpaid_session(draft_session, client, v3_headers):
    def update(title):
        return client.patch(
            f"/api/v3/pages/{draft_session.pk}/",
            data={"meta": {"type": "wagtail_training_pay.TrainingSessionPage", "action": "publish"}, "title": title},
            content_type="application/json",
            **v3_headers,
        )

    assert update("Via the API").status_code == 403
    assert not reload(draft_session).live
    record_paid_charge(draft_session, draft_session.get_latest_revision())
    assert update("Via the API").status_code == 200
    page = reload(draft_session)
    assert page.live
    assert page.title == "Via the API"


def test_the_create_action_of_api_v3_with_publish_keeps_an_unpaid_session_a_draft(
    pay_per_use_on, index_page, admin_user, client
):
    from wagtail.actions.create_page import CreatePageAction

    page = TrainingSessionPage()
    form_class = TrainingSessionPage.get_edit_handler().get_form_class()
    form = form_class(
        session_form_data(title="By API", slug="by-api"), instance=page, parent_page=index_page, for_user=admin_user
    )
    CreatePageAction(page, index_page, user=admin_user, form=form, publish=True).execute()
    page = TrainingSessionPage.objects.get(slug="by-api")
    assert not page.live
    assert not is_served(client, page)
    assert withheld_entries(page).filter(user=admin_user).exists()


def test_publish_scheduled_publishes_a_revision_an_exempt_host_scheduled(draft_session, pay_per_use_on, admin_user):
    exempt = Group.objects.create(name="Exempt schedulers")
    pay_per_use_on.exempt_groups.add(exempt)
    pay_per_use_on.save()
    admin_user.groups.add(exempt)
    page = reload(draft_session)
    page.go_live_at = timezone.now() - timedelta(minutes=5)
    page.save_revision(user=admin_user, approved_go_live_at=page.go_live_at)
    call_command("publish_scheduled")
    assert reload(page).live
