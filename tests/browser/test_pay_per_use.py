"""The host's pay-per-use path in a real browser: editor, Estimated session cost, billing, dummy payment."""

import pytest
from playwright.sync_api import expect

from tests.pay_per_use_support import reload

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


def test_a_host_pays_the_estimate_and_the_session_goes_live(
    browser_page, live_server, admin_user, draft_session, axe_scan, screenshot, monkeypatch
):
    # django-payments reads PAYMENT_HOST at import time; the browser must come back to the live server.
    monkeypatch.setattr("payments.core.PAYMENT_HOST", live_server.url.split("://", 1)[1])
    page = browser_page
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/pages/{draft_session.pk}/edit/")
    page.locator('button[name="action-pay-per-use"]').click()
    page.wait_for_url("**/cost/**")
    assert page.locator('tr[data-line="total"] td').inner_text() == "€27.00"
    screenshot(page, "pay-per-use-estimated-session-cost")
    assert axe_scan(page) == []

    page.locator('[data-action="continue"]').click()
    page.wait_for_url("**/billing/**")
    assert page.input_value("#id_name") == ""
    page.fill("#id_name", "Grace Hopper")
    page.fill("#id_email", "grace@example.com")
    page.fill("#id_address", "1 Navy Yard")
    page.fill("#id_postcode", "75001")
    page.fill("#id_city", "Paris")
    page.select_option("#id_country", "FR")
    assert axe_scan(page) == []
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url("**/payment/**")

    page.select_option("#id_status", "confirmed")
    page.select_option("#id_fraud_status", "accept")
    page.select_option("#id_gateway_response", "3ds-disabled")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(f"**/admin/pages/{draft_session.pk}/edit/")
    expect(page.get_by_text("Payment received: the session is live.")).to_be_visible()
    screenshot(page, "pay-per-use-paid")
    assert reload(draft_session).live
