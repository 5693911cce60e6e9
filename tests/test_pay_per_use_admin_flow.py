"""The host's whole path through the admin: Publish, the Estimated session cost page, billing, payment."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone
from wagtail.models import GroupPagePermission, PageLogEntry

from wagtail_training_pay.models import Payment, TrainingSessionPage, UsageCharge, UsageChargeAction, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import BILLING, is_served, pay_through_the_provider, reload, session_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    return reload(page)


def edit(client, page, **changes):
    return client.post(f"/admin/pages/{page.pk}/edit/", session_form_data(page, **changes, **{"action-publish": "1"}))


def line(content, key):
    match = re.search(rf'<tr data-line="{key}"><th scope="row">[^<]*</th><td>(?:<strong>)?([^<]*)', content)
    assert match, f"no {key} line"
    return match.group(1)


def follow_to_the_provider(client, cost_url, billing=BILLING):
    """From the cost page: Start session / Schedule, billing, and the dummy provider's form."""
    cost = client.get(cost_url).content.decode()
    billing_url = re.search(r'href="([^"]*/billing/[^"]*)"', cost).group(1).replace("&amp;", "&")
    form = client.get(billing_url)
    assert form.status_code == 200
    response = client.post(billing_url, {**billing, "variant": "dummy"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def pay_with_the_dummy_provider(client, payment_url, status="confirmed"):
    assert client.get(payment_url).status_code == 200
    response = client.post(
        payment_url,
        {"status": status, "fraud_status": "accept", "gateway_response": "3ds-disabled", "verification_result": ""},
    )
    assert response.status_code == 302
    response = client.get(response["Location"])  # the app's return view settles and sends the host on
    assert response.status_code == 302
    return client.get(response["Location"], follow=True)


def paid_log_entries(page):
    return PageLogEntry.objects.filter(page=page, action=pay_per_use.PAID_ACTION)


def test_publish_change_publish_billing_and_payment_make_exactly_the_paid_revision_live(
    draft_session, admin_client, client
):
    response = edit(admin_client, draft_session)
    cost_url = response["Location"]
    assert cost_url.startswith(f"/admin/training/pay-per-use/{draft_session.pk}/cost/")
    cost = admin_client.get(cost_url).content.decode()
    assert line(cost, "duration") == "90 minutes"
    assert line(cost, "person-minutes") == "900"
    assert line(cost, "person-minute-rate") == "€0.02"
    assert line(cost, "person-minutes-subtotal") == "€18.00"
    assert line(cost, "teleconference-minutes") == "180"
    assert line(cost, "teleconference-subtotal") == "€9.00"
    assert line(cost, "minimum-charge") == "€5.00"
    assert line(cost, "total") == "€27.00"
    assert line(cost, "due") == "€27.00"
    assert "Start session" in cost

    # Change goes back to the editor.
    change_url = re.search(r'href="([^"]*)" data-action="change"', cost).group(1)
    assert change_url == f"/admin/pages/{draft_session.pk}/edit/"
    assert admin_client.get(change_url).status_code == 200

    response = edit(admin_client, draft_session, duration_minutes=120, teleconference_participants=3)
    cost_url = response["Location"]
    cost = admin_client.get(cost_url).content.decode()
    assert line(cost, "person-minutes") == "1,200"
    assert line(cost, "teleconference-minutes") == "360"
    assert line(cost, "total") == "€42.00"  # 1200 x 0.02 + 360 x 0.05

    payment_url = follow_to_the_provider(admin_client, cost_url)
    final = pay_with_the_dummy_provider(admin_client, payment_url)
    assert "Payment received: the session is live." in final.content.decode()

    page = reload(draft_session)
    assert page.live
    assert page.duration_minutes == 120
    assert is_served(client, page)
    charge = UsageCharge.objects.get(page=page)
    assert charge.status == UsageChargeStatus.PAID
    assert charge.amount == Decimal("42.00")
    assert charge.revision_id == page.live_revision_id
    assert charge.breakdown["person_minutes"] == 1200
    assert charge.billing_country == "FR"
    assert paid_log_entries(page).count() == 1
    assert Payment.objects.get(usage_charge=charge).total == Decimal("42.00")


def test_a_declined_payment_returns_to_the_cost_page_with_the_reason_and_the_draft_intact(
    draft_session, admin_client, client
):
    cost_url = edit(admin_client, draft_session, duration_minutes=150)["Location"]
    payment_url = follow_to_the_provider(admin_client, cost_url)
    final = pay_with_the_dummy_provider(admin_client, payment_url, status="rejected")
    content = final.content.decode()
    assert final.redirect_chain[-1][0].startswith(f"/admin/training/pay-per-use/{draft_session.pk}/cost/")
    assert "The payment failed" in content
    assert "Your draft is unchanged." in content
    page = reload(draft_session)
    assert not page.live
    assert not is_served(client, page)
    assert page.get_latest_revision().as_object().duration_minutes == 150
    assert UsageCharge.objects.get(page=page).status == UsageChargeStatus.FAILED
    assert not paid_log_entries(page).exists()

    # The host can try again and pay.
    payment_url = follow_to_the_provider(admin_client, final.redirect_chain[-1][0])
    pay_with_the_dummy_provider(admin_client, payment_url)
    assert reload(page).live
    assert UsageCharge.objects.filter(page=page, status=UsageChargeStatus.PAID).count() == 1


def test_a_future_go_live_time_schedules_the_paid_revision(draft_session, admin_client):
    go_live_at = timezone.now() + timedelta(days=3)
    cost_url = edit(admin_client, draft_session, go_live_at=timezone.localtime(go_live_at).strftime("%Y-%m-%d %H:%M"))[
        "Location"
    ]
    cost = admin_client.get(cost_url).content.decode()
    assert "Schedule" in cost
    payment_url = follow_to_the_provider(admin_client, cost_url)
    final = pay_with_the_dummy_provider(admin_client, payment_url)
    assert "Payment received: the session is scheduled." in final.content.decode()
    page = reload(draft_session)
    assert not page.live
    charge = UsageCharge.objects.get(page=page, status=UsageChargeStatus.PAID)
    assert charge.action == UsageChargeAction.SCHEDULE
    charge.revision.refresh_from_db()
    assert charge.revision.approved_go_live_at is not None
    assert PageLogEntry.objects.filter(page=page, action="wagtail.publish.schedule").count() == 1
    assert paid_log_entries(page).count() == 1


def test_a_replayed_confirmation_changes_nothing(draft_session, admin_client, admin_user):
    payment = pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    for _ in range(2):
        assert admin_client.get(f"/training/payment/{payment.token}/return/").status_code == 302
        payment.change_status("confirmed")
    assert UsageCharge.objects.filter(page=draft_session, status=UsageChargeStatus.PAID).count() == 1
    assert paid_log_entries(draft_session).count() == 1
    assert PageLogEntry.objects.filter(page=draft_session, action="wagtail.publish").count() == 1


def test_billing_is_prefilled_from_the_hosts_last_charge(draft_session, admin_client, admin_user):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    cost_url = edit(admin_client, page, duration_minutes=200)["Location"]
    billing_url = cost_url.replace("/cost/", "/billing/")
    form = admin_client.get(billing_url).context["form"]
    assert form.initial["address"] == BILLING["address"]
    assert form.initial["country"] == "FR"


def test_bad_billing_input_is_shown_next_to_the_field_and_charges_nothing(draft_session, admin_client):
    cost_url = edit(admin_client, draft_session)["Location"]
    billing_url = cost_url.replace("/cost/", "/billing/")
    response = admin_client.post(billing_url, {**BILLING, "email": "nope", "variant": "dummy"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert response.context["form"]["city"].value() == "Paris"
    assert not UsageCharge.objects.exists()


def test_a_host_who_cannot_edit_the_session_cannot_see_its_cost_page(draft_session, client, django_user_model):
    user = django_user_model.objects.create_user("visitor", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(user)
    response = client.get(f"/admin/training/pay-per-use/{draft_session.pk}/cost/")
    # Wagtail's admin turns PermissionDenied into a redirect to the dashboard with a message.
    assert (response.status_code, response["Location"]) == (302, "/admin/")


# --- top-up ------------------------------------------------------------------------------------------


def test_a_raised_estimate_charges_only_the_difference(draft_session, admin_client, admin_user, client):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    assert page.live

    cost_url = edit(admin_client, page, duration_minutes=120)["Location"]
    assert "/cost/" in cost_url
    cost = admin_client.get(cost_url).content.decode()
    assert line(cost, "total") == "€36.00"
    assert line(cost, "already-paid") == "€27.00"
    assert line(cost, "due") == "€9.00"
    # The live version stays online while the raise waits for its payment.
    assert reload(page).duration_minutes == 90
    assert is_served(client, page)

    payment_url = follow_to_the_provider(admin_client, cost_url)
    pay_with_the_dummy_provider(admin_client, payment_url)
    page = reload(page)
    assert page.duration_minutes == 120
    paid = UsageCharge.objects.filter(page=page, status=UsageChargeStatus.PAID)
    amounts = sorted(paid.values_list("amount", flat=True))
    assert amounts == [Decimal("9.00"), Decimal("27.00")]


def test_an_equal_or_lower_estimate_charges_nothing(draft_session, admin_client, admin_user):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    response = edit(admin_client, page, title="Same cost")
    assert "/cost/" not in response["Location"]
    response = edit(admin_client, reload(page), duration_minutes=30)
    assert "/cost/" not in response["Location"]
    page = reload(page)
    assert page.duration_minutes == 30
    assert page.title == "Same cost"
    assert UsageCharge.objects.filter(page=page).count() == 1


def test_the_rates_of_a_sessions_first_payment_stay_its_rates(draft_session, admin_user, pay_per_use_on):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    pay_per_use_on.person_minute_rate = Decimal("1.00")
    pay_per_use_on.save()
    assert pay_per_use.is_paid_for(reload(draft_session))


# --- exempt groups and sites without pay-per-use ----------------------------------------------------------


def test_a_member_of_an_exempt_group_publishes_without_paying(draft_session, pay_per_use_on, admin_client, admin_user):
    exempt = Group.objects.create(name="Staff trainers")
    pay_per_use_on.exempt_groups.add(exempt)
    pay_per_use_on.save()
    admin_user.groups.add(exempt)
    content = admin_client.get(f"/admin/pages/{draft_session.pk}/edit/").content.decode()
    assert 'name="action-publish"' in content
    assert 'name="action-pay-per-use"' not in content
    response = edit(admin_client, draft_session)
    assert "/cost/" not in response["Location"]
    assert reload(draft_session).live
    assert not UsageCharge.objects.exists()


def test_a_member_of_an_exempt_group_creates_live_sessions(pay_per_use_on, index_page, admin_client, admin_user):
    exempt = Group.objects.create(name="Staff trainers")
    pay_per_use_on.exempt_groups.add(exempt)
    pay_per_use_on.save()
    admin_user.groups.add(exempt)
    url = f"/admin/pages/add/wagtail_training_pay/trainingsessionpage/{index_page.pk}/"
    response = admin_client.post(url, session_form_data(slug="by-staff", **{"action-publish": "1"}))
    assert response.status_code == 302, response.context["form"].errors
    assert TrainingSessionPage.objects.get(slug="by-staff").live


def test_sites_without_pay_per_use_publish_normally(training_settings, make_session, admin_client, index_page):
    assert not training_settings.pay_per_use_enabled
    page = reload(make_session())
    assert page.live
    response = edit(admin_client, page, duration_minutes=300)
    assert "/cost/" not in response["Location"]
    assert reload(page).duration_minutes == 300
    url = f"/admin/pages/add/wagtail_training_pay/trainingsessionpage/{index_page.pk}/"
    admin_client.post(url, session_form_data(slug="no-ppu", **{"action-publish": "1"}))
    assert TrainingSessionPage.objects.get(slug="no-ppu").live


# --- Start session on a published session -------------------------------------------------------------------


@pytest.fixture
def published_before_pay_per_use(training_settings, make_session, pay_per_use_on):
    """A live session published while pay-per-use was off, never paid for."""
    pay_per_use_on.pay_per_use_enabled = False
    pay_per_use_on.save()
    page = reload(make_session(slug="older"))
    pay_per_use_on.pay_per_use_enabled = True
    pay_per_use_on.save()
    return page


def test_start_session_on_an_unpaid_live_session_goes_through_the_cost_page(published_before_pay_per_use, admin_client):
    page = published_before_pay_per_use
    start_url = f"/admin/training/pay-per-use/{page.pk}/start/"
    response = admin_client.post(start_url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/admin/training/pay-per-use/{page.pk}/cost/")
    assert "action=start" in response["Location"]
    assert reload(page).started_at is None

    payment_url = follow_to_the_provider(admin_client, response["Location"])
    final = pay_with_the_dummy_provider(admin_client, payment_url)
    assert "the session has started" in final.content.decode()
    assert reload(page).started_at is not None
    assert PageLogEntry.objects.filter(page=page, action=pay_per_use.STARTED_ACTION).count() == 1


def test_start_session_on_a_paid_session_turns_the_join_links_on(draft_session, admin_client, admin_user):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    header = admin_client.get(f"/admin/pages/{page.pk}/edit/").content.decode()
    assert f"/admin/training/pay-per-use/{page.pk}/start/" in header
    assert admin_client.get(f"/admin/training/pay-per-use/{page.pk}/start/").status_code == 200
    response = admin_client.post(f"/admin/training/pay-per-use/{page.pk}/start/")
    assert response["Location"] == f"/admin/pages/{page.pk}/edit/"
    assert reload(page).started_at is not None


def test_starting_an_unpaid_session_in_code_is_refused(published_before_pay_per_use):
    with pytest.raises(pay_per_use.PayPerUseRequired):
        pay_per_use.start_session(published_before_pay_per_use, None)
    page = reload(published_before_pay_per_use)
    page.started_at = timezone.now()
    with pytest.raises(pay_per_use.PayPerUseRequired):
        page.save(update_fields=["started_at"], clean=False)
    assert reload(page).started_at is None


def test_submitting_the_billing_form_twice_starts_one_charge(draft_session, admin_client):
    billing_url = edit(admin_client, draft_session)["Location"].replace("/cost/", "/billing/")
    first = admin_client.post(billing_url, {**BILLING, "variant": "dummy"})
    second = admin_client.post(billing_url, {**BILLING, "variant": "dummy"})
    assert first["Location"] == second["Location"]
    assert UsageCharge.objects.count() == 1
    assert Payment.objects.count() == 1


def test_a_host_who_may_edit_but_not_publish_is_not_offered_the_cost_page(draft_session, client, django_user_model):
    editor = django_user_model.objects.create_user("editor", password="pw")
    editors = Group.objects.get_or_create(name="Editors")[0]
    editors.permissions.add(Permission.objects.get(codename="access_admin"))
    GroupPagePermission.objects.create(
        group=editors, page=draft_session.get_parent(), permission=Permission.objects.get(codename="change_page")
    )
    editor.groups.add(editors)
    client.force_login(editor)
    content = client.get(f"/admin/pages/{draft_session.pk}/edit/").content.decode()
    assert 'name="action-pay-per-use"' not in content
    response = client.get(f"/admin/training/pay-per-use/{draft_session.pk}/cost/")
    assert (response.status_code, response["Location"]) == (302, "/admin/")


def test_the_cost_page_speaks_the_hosts_language(draft_session, admin_client, admin_user):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(admin_user)
    profile.preferred_language = "fr"
    profile.save()
    cost = admin_client.get(f"/admin/training/pay-per-use/{draft_session.pk}/cost/").content.decode()
    assert "Coût estimé de la session" in cost
    assert "Changer" in cost
    assert line(cost, "total") == "27,00\xa0€"
    assert line(cost, "person-minute-rate") == "0,02\xa0€"


# --- a second payment for an estimate already paid -------------------------------------------------------------


def second_host_pays(draft_session, admin_user, django_user_model, variant):
    """Two hosts start paying the same estimate; the first pays, then the second's payment is confirmed."""
    cohost = django_user_model.objects.create_superuser("cohost", "cohost@example.com", "pw")
    revision = draft_session.get_latest_revision()
    first = pay_per_use.create_usage_payment(
        draft_session, revision, admin_user, action="publish", billing=BILLING, variant="dummy"
    )
    second = pay_per_use.create_usage_payment(
        draft_session, revision, cohost, action="publish", billing=BILLING, variant=variant
    )
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):  # each notification commits; the refund goes after it
        first.change_status("confirmed")
    with TestCase.captureOnCommitCallbacks(execute=True):
        second.change_status("confirmed")
    return cohost, Payment.objects.get(pk=second.pk)


def test_a_second_payment_for_a_paid_estimate_is_refunded(draft_session, admin_user, django_user_model, client):
    cohost, second = second_host_pays(draft_session, admin_user, django_user_model, "dummy")
    assert second.status == "refunded"
    assert second.usage_charge.status == UsageChargeStatus.CANCELLED
    assert UsageCharge.objects.filter(page=draft_session, status=UsageChargeStatus.PAID).count() == 1
    assert paid_log_entries(draft_session).count() == 1
    refund_log = PageLogEntry.objects.get(page=draft_session, action=pay_per_use.REFUNDED_ACTION)
    assert refund_log.data["refunded"] is True
    client.force_login(cohost)
    final = client.get(f"/admin/training/pay-per-use/payment/{second.token}/result/", follow=True)
    assert "your payment is refunded" in final.content.decode()


def test_a_refund_the_gateway_refuses_is_logged_for_staff_and_the_host_is_told(
    draft_session, admin_user, django_user_model, client, settings
):
    settings.PAYMENT_VARIANTS = {
        **settings.PAYMENT_VARIANTS,
        "refund-fails": ("tests.testapp.providers.RefundFailingProvider", {}),
    }
    cohost, second = second_host_pays(draft_session, admin_user, django_user_model, "refund-fails")
    assert second.status == "confirmed"
    assert second.refunded_amount == 0
    assert second.usage_charge.status == UsageChargeStatus.CANCELLED
    assert second.movements.get(kind="refund").state == "failed"  # recorded, refused: staff are asked to look
    assert second.needs_attention
    client.force_login(cohost)
    final = client.get(f"/admin/training/pay-per-use/payment/{second.token}/result/", follow=True)
    assert "the site’s staff will refund your payment" in final.content.decode()


def test_a_session_created_in_code_without_a_revision_goes_live_once_paid(pay_per_use_on, make_session, admin_user):
    page = reload(make_session(slug="no-revision"))
    assert page.get_latest_revision() is None
    pay_through_the_provider(page, None, admin_user, action="publish")
    page = reload(page)
    assert page.live
    assert UsageCharge.objects.get(page=page).revision_id == page.live_revision_id


def test_the_page_listing_offers_start_session_on_published_sessions_only(
    draft_session, make_session, admin_client, index_page, admin_user
):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    unpublished = reload(make_session(slug="still-a-draft"))
    listing = admin_client.get(f"/admin/pages/{index_page.pk}/").content.decode()
    assert f"/admin/training/pay-per-use/{draft_session.pk}/start/" in listing
    assert f"/admin/training/pay-per-use/{unpublished.pk}/start/" not in listing


def test_the_host_chooses_among_the_payment_methods_offered_to_hosts_only(
    draft_session, admin_client, pay_per_use_on, settings
):
    from wagtail_training_pay.models import HostPaymentMethod

    settings.PAYMENT_VARIANTS = {**settings.PAYMENT_VARIANTS, "card": ("payments.dummy.DummyProvider", {})}
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="card", label="Credit card", sort_order=0)
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="dummy", label="Test gateway", sort_order=1)
    billing_url = edit(admin_client, draft_session)["Location"].replace("/cost/", "/billing/")
    form = admin_client.get(billing_url).content.decode()
    assert "Credit card" in form
    assert "Test gateway" in form

    refused = admin_client.post(billing_url, {**BILLING, "variant": "not-offered"})
    assert refused.status_code == 200
    assert refused.context["form"].errors["variant"]
    assert not Payment.objects.exists()

    admin_client.post(billing_url, {**BILLING, "variant": "card"})
    assert Payment.objects.get().variant == "card"


def test_opening_the_join_links_says_when_the_session_starts_and_closing_them_undoes_it(
    draft_session, admin_client, admin_user
):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    start_url = f"/admin/training/pay-per-use/{page.pk}/start/"
    confirmation = admin_client.get(start_url).content.decode()
    days = (page.start_at - timezone.now()).days
    assert f", in {days} days." in confirmation
    assert "Open the join links now" in confirmation
    admin_client.post(start_url, {"join_links": "open"})
    assert reload(page).started_at is not None

    assert "Close the join links" in admin_client.get(f"/admin/pages/{page.pk}/edit/").content.decode()
    response = admin_client.post(start_url, {"join_links": "close"})
    assert response["Location"] == f"/admin/pages/{page.pk}/edit/"
    assert reload(page).started_at is None
    assert PageLogEntry.objects.filter(page=page, action=pay_per_use.JOIN_LINKS_CLOSED_ACTION).count() == 1
    # Opening them again costs nothing more: the charge still counts.
    admin_client.post(start_url, {"join_links": "open"})
    assert reload(page).started_at is not None


def test_the_estimated_cost_button_publishes_changes_already_paid_for_and_says_so(
    draft_session, admin_client, admin_user
):
    pay_through_the_provider(draft_session, draft_session.get_latest_revision(), admin_user)
    page = reload(draft_session)
    assert page.live
    # A draft with more participants: the editor's main button becomes "Start session (estimated cost)".
    admin_client.post(f"/admin/pages/{page.pk}/edit/", session_form_data(page, expected_participants=40))
    assert 'name="action-pay-per-use"' in admin_client.get(f"/admin/pages/{page.pk}/edit/").content.decode()
    # The host puts the figures back and presses it: nothing more to pay, so the changes go live, with a message.
    response = admin_client.post(
        f"/admin/pages/{page.pk}/edit/",
        session_form_data(page, title="Renamed session", **{"action-pay-per-use": "1"}),
        follow=True,
    )
    assert "Already paid for: the changes are live." in response.content.decode()
    page = reload(page)
    assert page.title == "Renamed session"
    assert page.live and not page.has_unpublished_changes


def test_the_editor_shows_the_estimate_of_the_figures_in_its_pay_per_use_panel(draft_session, admin_client):
    html = admin_client.get(f"/admin/pages/{draft_session.pk}/edit/").content.decode()
    panel = html[html.index("data-wtp-estimate") :]
    assert 'data-person-minute-rate="0.0200"' in panel
    assert "€27.00" in panel[: panel.index("</output>")]
    assert "pay_per_use_estimate.js" in panel


def test_a_new_session_editor_shows_the_estimate_with_the_site_rates(pay_per_use_on, index_page, admin_client):
    html = admin_client.get(
        f"/admin/pages/add/wagtail_training_pay/trainingsessionpage/{index_page.pk}/"
    ).content.decode()
    assert "data-wtp-estimate" in html
