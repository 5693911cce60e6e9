"""The public pages in a real browser: reachable, accessible, readable at 320 px."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def published_sessions(make_session):
    return [make_session(title="Django for archivists"), make_session(title="Free intro", fee=0)]


def test_index_lists_sessions_and_passes_the_accessibility_scan(
    browser_page, live_server, index_page, published_sessions, axe_scan
):
    browser_page.goto(live_server.url + index_page.url)
    assert browser_page.get_by_role("link", name="Django for archivists").is_visible()
    assert axe_scan(browser_page) == []


def test_session_page_passes_the_accessibility_scan(browser_page, live_server, published_sessions, axe_scan):
    browser_page.goto(live_server.url + published_sessions[0].url)
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Django for archivists"
    assert axe_scan(browser_page) == []


def test_times_follow_the_browser_time_zone_from_the_second_page_on(new_browser_page, live_server, published_sessions):
    page = new_browser_page(timezone_id="America/New_York")
    page.goto(live_server.url + published_sessions[0].url)
    assert "Central European" in page.locator(".wtp-facts time").inner_text()  # the site's zone, named
    page.reload()
    assert "Eastern" in page.locator(".wtp-facts time").inner_text()
    assert page.locator(".wtp-facts time").get_attribute("datetime") == published_sessions[0].start_at.isoformat()
