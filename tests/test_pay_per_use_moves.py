"""Moving a live session into a site with pay-per-use on is a route to live (issue 15, DESIGN section 12).

A session published and started for free on a site whose Training payments settings were never
opened (pay-per-use off) is moved by its host under the paying site's index, through every route
Wagtail 8 has for a move. It is left a draft there: not live, not served, not started, the host's
newer draft kept. Paying for it then publishes it at its new place.
"""

import pytest
from wagtail.models import Page

from wagtail_training_pay.models import TrainingSessionPage

from .pay_per_use_hosts import assert_left_a_draft, free_session_under, is_served_where_it_is, withheld_entries
from .pay_per_use_support import is_served, pay_through_the_provider, record_paid_charge, reload

pytestmark = pytest.mark.django_db


def pay_and_check_live(page, host, client):
    page = reload(page)
    pay_through_the_provider(page, page.get_latest_revision(), host)
    page = reload(page)
    assert page.live
    assert page.title == "The host's draft"
    assert is_served(client, page)


def test_the_free_session_is_live_and_started_on_its_own_site(free_live_session, public_client):
    assert free_live_session.live
    assert free_live_session.started_at is not None
    assert is_served_where_it_is(public_client, free_live_session)


def test_admin_move_into_a_paying_site_leaves_an_unpaid_session_a_draft_there(
    free_live_session, index_page, host, host_client, public_client
):
    draft = free_live_session.get_latest_revision()
    response = host_client.post(f"/admin/pages/{free_live_session.pk}/move/{index_page.pk}/confirm/")
    assert response.status_code == 302
    page = assert_left_a_draft(free_live_session, public_client, draft_revision=draft)
    assert page.get_parent().pk == index_page.pk
    assert withheld_entries(page).exists()
    pay_and_check_live(page, host, public_client)


def test_admin_move_warns_the_host_that_the_session_is_now_a_draft(free_live_session, index_page, host_client):
    response = host_client.post(f"/admin/pages/{free_live_session.pk}/move/{index_page.pk}/confirm/", follow=True)
    assert "is now a draft" in response.content.decode()


def test_bulk_move_into_a_paying_site_leaves_an_unpaid_session_a_draft_there(
    free_live_session, index_page, host, host_client, public_client
):
    draft = free_live_session.get_latest_revision()
    response = host_client.post(
        f"/admin/bulk/wagtailcore/page/move/?id={free_live_session.pk}&next=/admin/", {"chooser": index_page.pk}
    )
    assert response.status_code == 302
    page = assert_left_a_draft(free_live_session, public_client, draft_revision=draft)
    assert page.get_parent().pk == index_page.pk
    pay_and_check_live(page, host, public_client)


def test_admin_api_v2_move_into_a_paying_site_leaves_an_unpaid_session_a_draft_there(
    free_live_session, index_page, host, host_client, public_client
):
    draft = free_live_session.get_latest_revision()
    response = host_client.post(
        f"/admin/api/main/pages/{free_live_session.pk}/action/move/",
        {"destination_page_id": index_page.pk, "position": "last-child"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    page = assert_left_a_draft(free_live_session, public_client, draft_revision=draft)
    assert page.get_parent().pk == index_page.pk
    pay_and_check_live(page, host, public_client)


def test_api_v3_move_into_a_paying_site_leaves_an_unpaid_session_a_draft_there(
    free_live_session, index_page, host, api_v3_headers, public_client
):
    draft = free_live_session.get_latest_revision()
    response = public_client.post(
        f"/api/v3/pages/{free_live_session.pk}/actions/move/",
        {"destination_id": index_page.pk, "position": "last-child"},
        content_type="application/json",
        **api_v3_headers(host),
    )
    assert response.status_code == 200, response.content
    page = assert_left_a_draft(free_live_session, public_client, draft_revision=draft)
    pay_and_check_live(page, host, public_client)


def test_moving_in_code_through_the_base_page_leaves_an_unpaid_session_a_draft(
    free_live_session, index_page, host, public_client
):
    draft = free_live_session.get_latest_revision()
    Page.objects.get(pk=free_live_session.pk).move(index_page, pos="last-child")
    page = assert_left_a_draft(free_live_session, public_client, draft_revision=draft)
    pay_and_check_live(page, host, public_client)


def test_moving_a_whole_index_of_free_sessions_into_a_paying_site_leaves_each_a_draft(
    pay_per_use_on, free_index, index_page, host, host_client, public_client
):
    first = free_session_under(free_index, host, slug="first")
    second = free_session_under(free_index, host, slug="second", started=False)
    paid = free_session_under(free_index, host, slug="paid-already")
    record_paid_charge(paid)
    response = host_client.post(f"/admin/pages/{free_index.pk}/move/{index_page.get_parent().pk}/confirm/")
    assert response.status_code == 302
    assert reload(first).get_site().hostname == "testserver"
    for session in (first, second):
        session = reload(session)
        assert not session.live
        assert session.started_at is None
        assert not is_served_where_it_is(public_client, session)
    assert reload(paid).live
    assert is_served_where_it_is(public_client, paid)


def test_a_paid_session_moves_into_a_paying_site_and_stays_live(
    free_live_session, index_page, host, host_client, public_client
):
    record_paid_charge(free_live_session)
    started_at = free_live_session.started_at
    response = host_client.post(f"/admin/pages/{free_live_session.pk}/move/{index_page.pk}/confirm/")
    assert response.status_code == 302
    page = reload(free_live_session)
    assert page.live
    assert page.started_at == started_at
    assert is_served(public_client, page)


def test_moving_an_unpaid_session_within_its_own_site_changes_nothing(
    free_index, free_live_session, host, host_client, public_client
):
    other_index = free_index.get_parent().add_child(instance=type(free_index)(title="Other", slug="other"))
    response = host_client.post(f"/admin/pages/{free_live_session.pk}/move/{other_index.pk}/confirm/")
    assert response.status_code == 302
    page = reload(free_live_session)
    assert page.live
    assert page.started_at is not None


def test_moving_a_grandfathered_session_within_the_paying_site_keeps_it_live(
    pay_per_use_on, make_session, index_page, host, host_client, public_client
):
    pay_per_use_on.pay_per_use_enabled = False
    pay_per_use_on.save()
    page = make_session(slug="grandfathered")
    pay_per_use_on.pay_per_use_enabled = True
    pay_per_use_on.save()
    second_index = index_page.get_parent().add_child(instance=type(index_page)(title="More", slug="more"))
    response = host_client.post(f"/admin/pages/{page.pk}/move/{second_index.pk}/confirm/")
    assert response.status_code == 302
    assert TrainingSessionPage.objects.get(pk=page.pk).live


def test_an_alias_of_a_free_sites_session_made_in_the_paying_site_is_a_draft(
    free_live_session, index_page, host, host_client, public_client
):
    response = host_client.post(
        f"/admin/pages/{free_live_session.pk}/copy/",
        {"new_title": "Alias", "new_slug": "alias-here", "new_parent_page": index_page.pk, "alias": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    alias = TrainingSessionPage.objects.get(slug="alias-here")
    assert alias.alias_of_id == free_live_session.pk
    assert not alias.live
    assert not is_served(public_client, alias)


def test_a_copy_of_a_free_sites_session_published_into_the_paying_site_is_a_draft(
    free_live_session, index_page, host, host_client, public_client
):
    response = host_client.post(
        f"/admin/pages/{free_live_session.pk}/copy/",
        {"new_title": "Copy", "new_slug": "copy-here", "new_parent_page": index_page.pk, "publish_copies": "on"},
    )
    assert response.status_code == 302
    copy = TrainingSessionPage.objects.get(slug="copy-here")
    assert not copy.live
    assert copy.started_at is None
    assert not is_served(public_client, copy)
