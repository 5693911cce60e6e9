"""Fixtures of the route tests of issue 15: a host who is not exempt, an exempt user, and a second site.

The host holds Wagtail's own add, change and publish permissions on the whole tree (both sites), so
that only the pay-per-use gate, never a missing permission, keeps a session of theirs from going live.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from wagtail.models import GroupPagePermission, Page, PageLogEntry, Site

from wagtail_training_pay.models import TrainingIndexPage, TrainingSessionPage
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import is_served, reload

FREE_HOST = "free.example"


def page_permissions(group, page, *codenames):
    for codename in codenames:
        GroupPagePermission.objects.create(
            group=group,
            page=page,
            permission=Permission.objects.get(content_type__app_label="wagtailcore", codename=codename),
        )


@pytest.fixture
def host(db, django_user_model, root_page, site):
    """A host: may add, edit, publish, move and delete pages anywhere, exempt from nothing."""
    user = django_user_model.objects.create_user("host", "host@example.com", "password")
    hosts = Group.objects.create(name="Hosts")
    hosts.permissions.add(Permission.objects.get(codename="access_admin"))
    page_permissions(hosts, root_page, "add_page", "change_page", "publish_page", "bulk_delete_page")
    user.groups.add(hosts)
    return user


@pytest.fixture
def host_client(client, host):
    client.force_login(host)
    return client


@pytest.fixture
def public_client(django_user_model):
    """An anonymous visitor of the public site (the host's client is logged in)."""
    from django.test import Client

    return Client()


@pytest.fixture
def exempt_user(db, django_user_model, pay_per_use_on):
    """A superuser in one of the settings' exempt groups: publishes without paying."""
    user = django_user_model.objects.create_superuser("exempt", "exempt@example.com", "password")
    exempt = Group.objects.create(name="Exempt from pay-per-use")
    pay_per_use_on.exempt_groups.add(exempt)
    pay_per_use_on.save()
    user.groups.add(exempt)
    return user


@pytest.fixture
def moderated_index(index_page):
    """The training index under a one-step review by the Moderators group."""
    from wagtail.models import GroupApprovalTask, Workflow, WorkflowPage, WorkflowTask

    workflow = Workflow.objects.create(name="Session review")
    task = GroupApprovalTask.objects.create(name="Moderators approve")
    task.groups.set(Group.objects.filter(name="Moderators"))
    WorkflowTask.objects.create(workflow=workflow, task=task, sort_order=0)
    WorkflowPage.objects.create(workflow=workflow, page=index_page)
    return workflow


@pytest.fixture
def api_v3_headers(db):
    """``api_v3_headers(user)``: the Authorization header of an API v3 token of ``user``."""
    from wagtail.models import APIToken

    def headers(user):
        _token, plaintext = APIToken.create_token(user=user, name=f"{user.username}'s token")
        return {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}

    return headers


@pytest.fixture
def free_index(root_page, site):
    """The training index of a second site whose Training payments settings were never opened."""
    home = root_page.add_child(instance=Page(title="Free home", slug="free-home"))
    Site.objects.create(hostname=FREE_HOST, root_page=home)
    index = TrainingIndexPage(title="Free training", slug="free-training")
    home.add_child(instance=index)
    return index


def free_session_under(index, host, *, slug="moved-in", started=True):
    """A session published (and started) for free, with a newer draft of the host's waiting."""
    page = TrainingSessionPage(
        title="Published for free",
        slug=slug,
        start_at=timezone.now() + timedelta(days=7),
        duration_minutes=90,
        capacity=20,
        expected_participants=10,
        teleconference_participants=2,
        currency="EUR",
        owner=host,
    )
    index.add_child(instance=page)
    page = reload(page)
    page.save_revision(user=host).publish(user=host)
    page = reload(page)
    assert page.live
    if started:
        assert pay_per_use.start_session(page, host)
    page = reload(page)
    page.title = "The host's draft"
    page.save_revision(user=host)
    return reload(page)


@pytest.fixture
def free_live_session(free_index, host, pay_per_use_on):
    return free_session_under(free_index, host)


def is_served_where_it_is(client, page):
    """Whether the site the page is in serves it at its URL."""
    site_id, _root_url, path = reload(page).get_url_parts()
    hostname = Site.objects.get(pk=site_id).hostname
    return client.get(path, HTTP_HOST=hostname).status_code == 200


def assert_left_a_draft(page, client, *, draft_revision=None):
    """The session is not live, not served at its URL, not started, and the host's draft is still there."""
    page = reload(page)
    assert not page.live
    assert page.has_unpublished_changes
    assert page.started_at is None
    assert not is_served(client, page)
    if draft_revision is not None:
        assert page.latest_revision_id == draft_revision.pk
        assert page.get_latest_revision().as_object().title == draft_revision.as_object().title
    return page


def withheld_entries(page):
    return PageLogEntry.objects.filter(page_id=page.pk, action=pay_per_use.WITHHELD_ACTION)
