"""The learner's registration screens in a real browser: usable by keyboard and screen reader (axe-core)."""

import pytest

from wagtail_training_pay.models import Registration, SessionFormField

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_learner(page):
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Address").fill("12 rue des Archives")
    page.get_by_label("Postcode").fill("75004")
    page.get_by_label("City").fill("Paris")
    page.get_by_label("Country").select_option("FR")


def test_registering_with_mistakes_then_correctly_passes_the_accessibility_scan(
    browser_page, live_server, make_session, axe_scan
):
    session = make_session(title="Metadata for archivists")
    SessionFormField.objects.create(page=session, label="Organisation", field_type="singleline", required=True)
    browser_page.goto(live_server.url + session.url)

    browser_page.get_by_role("button", name="Register and pay").click()
    summary = browser_page.get_by_role("alert")
    assert "There is a problem" in summary.inner_text()
    assert axe_scan(browser_page) == []

    fill_learner(browser_page)
    browser_page.get_by_label("Organisation").fill("National Archives")
    browser_page.get_by_role("button", name="Register and pay").click()
    browser_page.wait_for_url("**/pay/")
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Payment"
    assert axe_scan(browser_page) == []

    registration = Registration.objects.get()
    browser_page.goto(f"{live_server.url}/training/registration/{registration.token}/done/")
    assert "being processed" in browser_page.get_by_role("heading", level=1).inner_text()
    assert axe_scan(browser_page) == []

    browser_page.goto(live_server.url + registration.get_manage_url())
    assert browser_page.get_by_role("link", name="Complete your payment").is_visible()
    assert axe_scan(browser_page) == []


def test_the_manage_page_of_a_confirmed_registration_passes_the_accessibility_scan(
    browser_page, live_server, make_session, axe_scan
):
    session = make_session(fee=0)
    browser_page.goto(live_server.url + session.url)
    browser_page.get_by_label("First name").fill("Alan")
    browser_page.get_by_label("Last name").fill("Turing")
    browser_page.get_by_label("Email").fill("alan@example.com")
    browser_page.get_by_role("button", name="Register").click()
    browser_page.wait_for_url("**/done/")
    assert browser_page.get_by_role("heading", level=1).inner_text() == "You are registered"
    assert axe_scan(browser_page) == []

    browser_page.goto(live_server.url + Registration.objects.get().get_manage_url())
    assert browser_page.get_by_role("link", name="Add to my calendar (.ics)").is_visible()
    assert browser_page.get_by_label("Yes, cancel my registration").is_visible()
    assert axe_scan(browser_page) == []
