"""The host's pay-per-use path in a real browser: editor, Estimated session cost, change, billing, dummy payment,
live (the Wagtail admin in Chromium; axe-core on each page)."""

import pytest

from tests.pay_per_use_support import BILLING, reload
from wagtail_training_pay.models import TrainingSessionPage, UsageCharge, UsageChargeStatus

from .learner_steps import fill_in_fields

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    page = reload(make_session(title="Search engine tuning", expected_participants=10, teleconference_participants=2))
    page.save_revision()
    return reload(page)


def log_in(page, live_server):
    page.goto(live_server.url + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/admin/")


def publish(page):
    """The editor's main action: with pay-per-use on, Publish reads "Start session (estimated cost)"."""
    page.get_by_role("button", name="Start session (estimated cost)").click()
    page.wait_for_url("**/cost/**")


def cost_line(page, key):
    return page.locator(f'tr[data-line="{key}"] td').inner_text()


def test_a_host_publishes_sees_the_cost_changes_the_duration_pays_and_the_page_is_live(
    browser_page, live_server, admin_user, draft_session, axe_scan, screenshot
):
    page = browser_page
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/pages/{draft_session.pk}/edit/")
    publish(page)

    assert cost_line(page, "duration") == "90 minutes"
    assert cost_line(page, "total") == "€27.00"
    assert axe_scan(page) == []
    screenshot(page, "pay-per-use-estimated-session-cost")

    page.locator('[data-action="change"]').click()
    page.wait_for_url(f"**/admin/pages/{draft_session.pk}/edit/")
    page.locator("#id_duration_minutes").fill("120")
    page.locator("#id_teleconference_participants").fill("3")
    publish(page)
    assert cost_line(page, "duration") == "120 minutes"
    assert cost_line(page, "total") == "€42.00"  # 10 x 120 x 0.02 + 3 x 120 x 0.05

    page.locator('[data-action="continue"]').click()
    page.wait_for_url("**/billing/**")
    fill_in_fields(page, BILLING)
    assert axe_scan(page) == []
    screenshot(page, "pay-per-use-billing")
    page.get_by_role("button", name="Continue to payment").click()

    page.locator("#id_status").select_option("confirmed")
    page.locator("#id_fraud_status").select_option("accept")
    page.locator("#id_gateway_response").select_option("3ds-disabled")
    assert axe_scan(page) == []
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    # The host lands back in Wagtail's page editor, whose Draftail fields fail axe's aria-input-field-name
    # rule in Wagtail 8.0.1 (Wagtail's markup, not ours): scan the plugin's message only.
    assert "/edit/" in page.url
    assert axe_scan(page, ".messages") == []
    assert "Payment received: the session is live." in page.content()
    screenshot(page, "pay-per-use-paid")

    session = TrainingSessionPage.objects.get(pk=draft_session.pk)
    assert session.live
    assert session.duration_minutes == 120
    charge = UsageCharge.objects.get(page=session)
    assert charge.status == UsageChargeStatus.PAID
    assert str(charge.amount) == "42.00"

    page.goto(live_server.url + session.url)
    assert page.get_by_role("heading", level=1).inner_text() == "Search engine tuning"
    assert "120 minutes" in page.locator(".wtp-facts").inner_text()
