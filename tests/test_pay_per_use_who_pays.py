"""Who pays (DESIGN section 12): the host who asks; exemption is personal; money given back no longer pays.

Workflow approval by an exempt moderator, saves in code (the base ``Page`` and a raised estimate on a
live paid session), and refunded or charged-back host payments (issue 15).
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from payments import PaymentStatus
from wagtail.models import Page

from wagtail_training_pay.models import Payment
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_hosts import assert_left_a_draft, withheld_entries
from .pay_per_use_support import is_served, pay_through_the_provider, record_paid_charge, reload, session_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def host_draft(pay_per_use_on, make_session, host):
    """An unpaid session of the host's (inserted live by code, kept a draft by the backstop)."""
    page = reload(make_session(slug="hosts-session", owner=host, expected_participants=10))
    page.title = "The host's draft"
    page.save_revision(user=host)
    page = reload(page)
    assert not page.live
    return page


@pytest.fixture
def exempt_moderator(exempt_user):
    exempt_user.groups.add(Group.objects.get(name="Moderators"))
    return exempt_user


def submit_for_moderation(host_client, page, **changes):
    response = host_client.post(
        f"/admin/pages/{page.pk}/edit/", session_form_data(page, **changes, **{"action-submit": "1"})
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    return reload(page)


def approve_in_the_admin(client, page):
    task_state = reload(page).current_workflow_state.current_task_state
    response = client.post(f"/admin/pages/workflow/action/{page.pk}/approve/{task_state.pk}/", {"comment": ""})
    assert response.status_code in (200, 302), response.content.decode()[:3000]
    return reload(page)


# --- workflow approval by an exempt moderator ---------------------------------------------------------


def test_approval_by_an_exempt_moderator_does_not_publish_the_hosts_unpaid_revision(
    host_draft, moderated_index, host, host_client, exempt_moderator, client, public_client
):
    page = submit_for_moderation(host_client, host_draft, title="Submitted")
    draft = page.get_latest_revision()
    host_client.logout()
    client.force_login(exempt_moderator)
    page = approve_in_the_admin(client, page)
    assert page.current_workflow_state is None  # the approval completed
    assert_left_a_draft(page, public_client, draft_revision=draft)
    assert withheld_entries(page).filter(revision=draft).exists()

    # Once the host paid, the exempt moderator's approval publishes it.
    pay_through_the_provider(page, draft, host)
    assert reload(page).live
    client.logout()
    host_client.force_login(host)
    page = submit_for_moderation(host_client, reload(page), title="Second round")
    record_paid_charge(page, page.get_latest_revision())
    host_client.logout()
    client.force_login(exempt_moderator)
    page = approve_in_the_admin(client, page)
    assert page.live
    assert page.title == "Second round"
    assert is_served(public_client, page)


def test_an_exempt_moderators_approval_with_a_future_go_live_time_is_withheld_too(
    host_draft, moderated_index, host_client, exempt_moderator, client
):
    go_live = timezone.localtime(timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    page = submit_for_moderation(host_client, host_draft, go_live_at=go_live)
    client.force_login(exempt_moderator)
    page = approve_in_the_admin(client, page)
    assert not page.live
    assert page.get_latest_revision().approved_go_live_at is None  # not scheduled either


def test_an_exempt_host_asking_for_review_publishes_without_paying(
    pay_per_use_on, make_session, moderated_index, exempt_user, client, public_client
):
    page = reload(make_session(slug="exempt-hosts"))
    client.force_login(exempt_user)
    page = submit_for_moderation(client, page)
    page = approve_in_the_admin(client, page)
    assert page.live
    assert is_served(public_client, page)


# --- code: the base Page, and a raised estimate on a live paid session ----------------------------------


def test_setting_live_on_the_base_page_of_an_unpaid_session_keeps_it_a_draft(host_draft, host, public_client):
    draft = host_draft.get_latest_revision()
    base = Page.objects.get(pk=host_draft.pk)
    base.live = True
    base.save()
    assert_left_a_draft(host_draft, public_client, draft_revision=draft)
    assert withheld_entries(host_draft).filter(data__reason="backstop").count() >= 1

    record_paid_charge(host_draft)
    base = Page.objects.get(pk=host_draft.pk)
    base.live = True
    base.save()
    assert reload(host_draft).live


def test_the_base_page_of_a_session_published_by_an_exempt_user_does_not_take_new_unpaid_content(
    pay_per_use_on, make_session, exempt_user, host, public_client
):
    page = reload(make_session(slug="exempt-live"))
    page.save_revision(user=exempt_user).publish(user=exempt_user)
    live_revision_id = reload(page).live_revision_id
    page = reload(page)
    page.duration_minutes = 600
    revision = page.save_revision(user=host)
    base = Page.objects.get(pk=page.pk)
    base.live_revision = revision
    with pytest.raises(pay_per_use.PayPerUseRequired):
        base.save()
    assert reload(page).live_revision_id == live_revision_id


@pytest.fixture
def live_paid(pay_per_use_on, make_session, host):
    page = reload(make_session(slug="live-paid", expected_participants=10, teleconference_participants=2))
    payment = pay_through_the_provider(page, page.save_revision(user=host), host)
    page = reload(page)
    assert page.live
    return page, payment


@pytest.mark.parametrize("field, value", [("expected_participants", 50), ("duration_minutes", 600)])
def test_raising_the_estimate_of_a_live_paid_session_directly_in_code_is_refused(live_paid, field, value, client):
    page, _payment = live_paid
    setattr(page, field, value)
    with pytest.raises(pay_per_use.PayPerUseRequired):
        page.save()
    stored = reload(page)
    assert getattr(stored, field) != value
    assert is_served(client, stored)

    # Paid for, the same save goes through.
    record_paid_charge(page)
    page.save()
    assert getattr(reload(page), field) == value


def test_lowering_the_estimate_or_changing_other_fields_of_a_live_paid_session_in_code_is_allowed(live_paid):
    page, _payment = live_paid
    page.expected_participants = 2
    page.title = "Renamed in code"
    page.save()
    assert reload(page).expected_participants == 2


def test_raising_the_estimate_of_a_grandfathered_live_session_in_code_is_refused(
    pay_per_use_on, make_session, public_client
):
    pay_per_use_on.pay_per_use_enabled = False
    pay_per_use_on.save()
    page = make_session(slug="grandfathered")
    pay_per_use_on.pay_per_use_enabled = True
    pay_per_use_on.save()
    page = reload(page)
    page.title = "A new title is not new estimate"
    page.save()
    page.expected_participants = 40
    with pytest.raises(pay_per_use.PayPerUseRequired):
        page.save()


# --- refunded and charged-back host payments ------------------------------------------------------------


def unpublish_and_publish_again(host_client, page):
    response = host_client.post(f"/admin/pages/{page.pk}/unpublish/", {})
    assert response.status_code == 302
    assert not reload(page).live
    return host_client.post(f"/admin/pages/{page.pk}/edit/", session_form_data(page, **{"action-publish": "1"}))


def test_a_refunded_host_payment_no_longer_pays_for_the_session(live_paid, host_client, public_client):
    page, payment = live_paid
    payment = Payment.objects.get(pk=payment.pk)
    Payment.objects.filter(pk=payment.pk).update(captured_amount=payment.total)  # as a capture records it
    payment.refresh_from_db()
    payment.refund(payment.total)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert pay_per_use.needs_payment(page)

    response = unpublish_and_publish_again(host_client, page)
    assert response.status_code == 302
    assert "/cost/" in response["Location"]
    assert_left_a_draft(page, public_client)


def test_a_partly_refunded_host_payment_counts_for_what_it_still_holds(live_paid):
    page, payment = live_paid
    payment = Payment.objects.get(pk=payment.pk)
    Payment.objects.filter(pk=payment.pk).update(captured_amount=payment.total)
    payment.refresh_from_db()
    payment.refund(payment.total - 1)
    due = pay_per_use.amount_due(reload(page))
    assert due.already_paid == 1
    assert due.due == payment.total - 1


def test_a_charged_back_host_payment_no_longer_pays_for_the_session(live_paid, host_client, public_client):
    page, payment = live_paid
    # A charge-back (or a refund made at the gateway) recorded on the payment: the money went back.
    Payment.objects.filter(pk=payment.pk).update(captured_amount=0, refunded_amount=payment.total)
    assert pay_per_use.needs_payment(reload(page))
    response = unpublish_and_publish_again(host_client, page)
    assert "/cost/" in response["Location"]
    assert_left_a_draft(page, public_client)


def test_paying_again_after_a_refund_publishes(live_paid, host, host_client, public_client):
    page, payment = live_paid
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.REFUNDED, refunded_amount=payment.total)
    unpublish_and_publish_again(host_client, page)
    page = reload(page)
    assert pay_per_use.amount_due(page, page.get_latest_revision()).due == payment.total
    pay_through_the_provider(page, page.get_latest_revision(), host)
    assert reload(page).live
    assert is_served(public_client, page)


def test_a_note_of_an_approval_counts_only_for_the_moderator_who_approved(host_draft, host, exempt_user):
    # A stale note (its publication failed) must not exempt another user's publication.
    pay_per_use._approving.set((host_draft.pk, exempt_user, exempt_user.pk))
    try:
        assert pay_per_use.publish_revision(host_draft, host_draft.get_latest_revision(), user=host) is None
        assert not reload(host_draft).live
    finally:
        pay_per_use.forget_workflow_approval()


def test_each_request_starts_without_a_note_of_an_approval(host_draft, exempt_user, client):
    pay_per_use._approving.set((host_draft.pk, exempt_user, exempt_user.pk))
    client.get("/")
    assert pay_per_use._approving.get() is None
