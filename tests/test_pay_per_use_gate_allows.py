"""What the pay-per-use gate must not block (issue 15): privacy, unscheduling, deleting; and what paying must not allow.

Each runs as the host (Wagtail's add, change and publish permissions, not exempt) through the admin,
on an unpaid draft and on a live paid session.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from payments import PaymentStatus
from wagtail.models import PageLogEntry, PageViewRestriction

from wagtail_training_pay.models import Payment, TrainingSessionPage, UsageCharge, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_hosts import page_permissions
from .pay_per_use_support import BILLING, is_served, pay_through_the_provider, reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def unpaid_draft(pay_per_use_on, make_session, host):
    page = reload(make_session(slug="unpaid-draft", owner=host))
    page.save_revision(user=host)
    page = reload(page)
    assert not page.live
    return page


@pytest.fixture
def paid_live(pay_per_use_on, make_session, host):
    page = reload(make_session(slug="paid-live", owner=host))
    payment = pay_through_the_provider(page, page.save_revision(user=host), host)
    page = reload(page)
    assert page.live
    return page, payment


@pytest.fixture(params=["unpaid draft", "paid live"])
def session(request):
    if request.param == "unpaid draft":
        return request.getfixturevalue("unpaid_draft")
    return request.getfixturevalue("paid_live")[0]


# --- privacy ------------------------------------------------------------------------------------------


def test_the_host_sets_privacy_on_a_session(session, host_client):
    url = f"/admin/pages/{session.pk}/privacy/"
    assert host_client.get(url).status_code == 200
    response = host_client.post(url, {"restriction_type": "password", "password": "secret", "groups": []})
    assert response.status_code == 200
    assert response.json()["step"] == "set_privacy_done"
    restriction = PageViewRestriction.objects.get(page=session)
    assert restriction.restriction_type == "password"
    assert reload(session).live == session.live  # privacy made nothing live


# --- unscheduling -------------------------------------------------------------------------------------


def test_the_host_cancels_a_scheduled_publication(session, host, host_client, client):
    page = reload(session)
    page.go_live_at = timezone.now() + timedelta(days=3)
    revision = page.save_revision(user=host, approved_go_live_at=page.go_live_at)
    response = host_client.post(f"/admin/pages/{page.pk}/revisions/{revision.pk}/unschedule/")
    assert response.status_code == 302
    revision.refresh_from_db()
    assert revision.approved_go_live_at is None
    assert reload(page).live == session.live


# --- deleting -----------------------------------------------------------------------------------------


def delete_in_the_admin(host_client, page):
    response = host_client.post(f"/admin/pages/{page.pk}/delete/")
    assert response.status_code == 302, response.content.decode()[:2000]
    assert not TrainingSessionPage.objects.filter(pk=page.pk).exists()


def test_the_host_deletes_an_unpaid_draft(unpaid_draft, host_client):
    delete_in_the_admin(host_client, unpaid_draft)


def test_deleting_a_paid_session_keeps_its_charges_and_payments_with_its_title_and_id(paid_live, host_client, client):
    page, payment = paid_live
    charge = UsageCharge.objects.get(page=page)
    delete_in_the_admin(host_client, page)

    charge.refresh_from_db()
    assert charge.page_id is None
    assert charge.status == UsageChargeStatus.PAID
    assert charge.session_title == page.title
    assert charge.session_page_id == page.pk
    assert page.title in str(charge.session_label)
    assert Payment.objects.get(pk=payment.pk).usage_charge_id == charge.pk
    entry = PageLogEntry.objects.get(page_id=page.pk, action=pay_per_use.SESSION_DELETED_ACTION)
    assert entry.data["charges"] == [charge.pk]
    assert entry.data["payments"] == [payment.pk]
    assert PageLogEntry.objects.filter(page_id=page.pk, action="wagtail.delete").exists()
    assert not is_served(client, page)


def test_the_billing_report_and_payments_listing_show_a_deleted_sessions_charge(paid_live, host_client, admin_client):
    page, _payment = paid_live
    delete_in_the_admin(host_client, page)
    report = admin_client.get(reverse("training_reports:usage_billing"))
    assert report.status_code == 200
    assert page.title in report.content.decode()


def test_a_host_payment_confirmed_after_its_session_was_deleted_is_refunded(
    unpaid_draft, host, host_client, django_capture_on_commit_callbacks
):
    payment = pay_per_use.create_usage_payment(
        unpaid_draft,
        unpaid_draft.get_latest_revision(),
        host,
        action="publish",
        billing=BILLING,
        variant="dummy",
    )
    delete_in_the_admin(host_client, unpaid_draft)
    Payment.objects.filter(pk=payment.pk).update(captured_amount=payment.total)
    payment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):  # the refund is recorded, then sent after the commit
        payment.change_status(PaymentStatus.CONFIRMED)
    payment.refresh_from_db()
    assert payment.usage_charge.status == UsageChargeStatus.CANCELLED
    assert payment.refunded_amount == payment.total


# --- paying does not let an edit-only user publish -------------------------------------------------------


@pytest.fixture
def edit_only_client(django_user_model, index_page, client):
    user = django_user_model.objects.create_user("edit-only", password="pw")
    editors = Group.objects.create(name="Edit only")
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    page_permissions(editors, index_page, "change_page")
    user.groups.add(editors)
    client.force_login(user)
    return client


def assert_refused(response):
    """Wagtail's admin answers a permission error with a redirect to the dashboard (403 for other clients)."""
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert response["Location"] == "/admin/"


def test_a_user_who_may_only_edit_cannot_open_or_complete_the_hosts_pending_payment(
    unpaid_draft, host, edit_only_client, public_client
):
    payment = pay_per_use.create_usage_payment(
        unpaid_draft, unpaid_draft.get_latest_revision(), host, action="publish", billing=BILLING, variant="dummy"
    )
    url = f"/admin/training/pay-per-use/payment/{payment.token}/"
    assert_refused(edit_only_client.get(url))
    assert_refused(edit_only_client.post(url, {"status": "confirmed", "fraud_status": "accept"}))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.WAITING
    assert not reload(unpaid_draft).live
    assert not is_served(public_client, unpaid_draft)
    assert_refused(edit_only_client.get(f"{url}result/"))


def test_the_host_opens_their_own_pending_payment(unpaid_draft, host, host_client):
    payment = pay_per_use.create_usage_payment(
        unpaid_draft, unpaid_draft.get_latest_revision(), host, action="publish", billing=BILLING, variant="dummy"
    )
    assert host_client.get(f"/admin/training/pay-per-use/payment/{payment.token}/").status_code == 200


def test_deleting_a_session_with_registrations_is_refused_with_a_message_not_a_server_error(paid_live, host_client):
    from wagtail_training_pay.models import Registration

    page, _payment = paid_live
    Registration.objects.create(page=page, first_name="Ada", last_name="L", email="ada@example.com", currency="EUR")
    response = host_client.post(f"/admin/pages/{page.pk}/delete/", follow=True)
    assert response.status_code == 200
    assert "registrations" in response.content.decode()
    assert TrainingSessionPage.objects.filter(pk=page.pk).exists()


def test_bulk_deleting_a_paid_session_keeps_its_charges(paid_live, host_client):
    page, payment = paid_live
    response = host_client.post(f"/admin/bulk/wagtailcore/page/delete/?id={page.pk}&next=/admin/", {})
    assert response.status_code == 302
    assert not TrainingSessionPage.objects.filter(pk=page.pk).exists()
    charge = UsageCharge.objects.get(session_page_id=page.pk)
    assert charge.page_id is None
    assert Payment.objects.get(pk=payment.pk).usage_charge_id == charge.pk
