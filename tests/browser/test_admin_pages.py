"""The admin screens for registrations and money in a real browser: they render, work and pass axe-core."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
pytest_plugins = ["tests.admin_fixtures"]


@pytest.fixture
def logged_in_manager(browser_page, live_server, client, manager):
    client.force_login(manager)
    browser_page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    return browser_page


@pytest.fixture
def ada(paid_session, register):
    return register(paid_session, first_name="Ada", last_name="Lovelace", email="ada@example.com")


@pytest.mark.parametrize(
    "name, url_of",
    [
        ("admin-registrations", lambda ada: reverse("training_registrations:index")),
        ("admin-registration", lambda ada: reverse("training_registrations:inspect", args=[ada.pk])),
        ("admin-refund", lambda ada: reverse("training_registrations:refund", args=[ada.pk])),
        ("admin-payments", lambda ada: reverse("training_payments:index")),
        ("admin-revenue-per-session", lambda ada: reverse("training_reports:revenue_by_session")),
        ("admin-dashboard", lambda ada: reverse("wagtailadmin_home")),
        ("admin-upcoming-sessions", lambda ada: reverse("training_reports:upcoming_sessions")),
    ],
)
def test_the_admin_screen_passes_the_accessibility_scan(
    logged_in_manager, live_server, ada, axe_scan, screenshot, name, url_of
):
    page = logged_in_manager
    page.goto(live_server.url + url_of(ada))
    assert page.title(), "the page rendered"
    screenshot(page, name)
    assert axe_scan(page) == []


def test_the_session_editors_figures_panel_passes_the_accessibility_scan(
    logged_in_manager, live_server, ada, screenshot
):
    """Scanned alone: Wagtail's own rich text editors on the page have findings of their own."""
    from tests.browser.conftest import AXE

    page = logged_in_manager
    page.goto(live_server.url + reverse("wagtailadmin_pages:edit", args=[ada.page_id]))
    panel = page.locator("#wtp-session-figures")
    assert "1 confirmed seat out of 20." in panel.inner_text()
    screenshot(page, "admin-session-editor")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        "async () => (await axe.run('#wtp-session-figures')).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact)).map(v => v.id)"
    )
    assert violations == []


def test_a_partial_refund_from_the_browser(logged_in_manager, live_server, ada):
    """The Refund button is in sight on the registration's page, not behind a menu."""
    page = logged_in_manager
    page.goto(live_server.url + reverse("training_registrations:inspect", args=[ada.pk]))
    refund = page.locator("header").get_by_role("link", name="Refund")
    expect(refund).to_be_visible()
    refund.click()
    page.get_by_label("Amount to refund").fill("12.50")
    page.get_by_role("button", name="Yes, refund").click()
    expect(page.get_by_text("€12.50 refunded.")).to_be_visible()
    ada.refresh_from_db()
    assert str(ada.refunded_amount) == "12.50"


def test_a_cancellation_from_the_row_of_the_listing(logged_in_manager, live_server, ada):
    page = logged_in_manager
    page.goto(live_server.url + reverse("training_registrations:index"))
    row = page.get_by_role("row").filter(has_text="Ada Lovelace")
    expect(row.get_by_role("link", name="Resend email")).to_be_visible()
    row.get_by_role("link", name="Cancel").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    expect(page.get_by_text("Registration cancelled; €45.00 refunded.")).to_be_visible()
    page.goto(live_server.url + reverse("training_registrations:index"))
    expect(page.get_by_role("row").filter(has_text="Ada Lovelace").get_by_role("link", name="Refund")).to_have_count(0)
