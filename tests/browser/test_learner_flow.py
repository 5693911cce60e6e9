"""A learner registers and pays in Chromium, in English and in French; every page passes the axe scan."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail

from wagtail_training_pay.models import Registration, RegistrationStatus

from .learner_steps import fill_in_registration, pay_with_the_dummy_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def course(make_session, index_page):
    return make_session(title="Django for archivists", slug="django-for-archivists", capacity=12)


def assert_accessible(page, axe_scan):
    assert axe_scan(page) == [], page.url


def test_a_learner_registers_pays_and_is_confirmed(
    browser_page, live_server, index_page, course, make_session, axe_scan, screenshot
):
    make_session(title="Open data with Wagtail", fee=0, start_at=course.start_at + timedelta(days=14), capacity=None)
    make_session(title="Accessible forms", fee=Decimal("120"), start_at=course.start_at + timedelta(days=30))
    page = browser_page
    page.goto(live_server.url + index_page.url)
    card = page.locator(".wtp-card", has_text="Django for archivists")
    assert card.locator(".wtp-fee").inner_text() == "€45.00"
    assert card.locator(".wtp-seats-left").inner_text() == "12"
    assert_accessible(page, axe_scan)
    screenshot(page, "index")

    card.get_by_role("link", name="Django for archivists").click()
    assert page.locator(".wtp-fee").inner_text() == "€45.00"
    assert "Central European" in page.locator(".wtp-facts time").inner_text()
    assert_accessible(page, axe_scan)
    screenshot(page, "session-page")

    # Labels are tied to their inputs: the accessible names find the fields.
    page.get_by_label("First name").fill("Ada")
    fill_in_registration(page)
    page.get_by_role("button", name="Register and pay").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Payment"
    assert "You are paying €45.00" in page.content()
    assert_accessible(page, axe_scan)
    screenshot(page, "payment-step")

    pay_with_the_dummy_provider(page)
    assert page.get_by_role("heading", level=1).inner_text() == "You are registered"
    assert_accessible(page, axe_scan)
    screenshot(page, "confirmation")

    registration = Registration.objects.get(email="ada@example.com")
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.amount == course.fee
    assert [message.to for message in mail.outbox] == [["ada@example.com"]]

    page.get_by_role("link", name="Manage your registration").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Your registration"
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to my calendar (.ics)").click()
    assert "SUMMARY:Django for archivists" in open(download.value.path(), encoding="utf-8").read()
    assert_accessible(page, axe_scan)
    screenshot(page, "manage")

    page.goto(live_server.url + index_page.url)
    assert page.locator(".wtp-card", has_text="Django for archivists").locator(".wtp-seats-left").inner_text() == "11"


def test_a_rejected_payment_says_so_and_the_retry_confirms(browser_page, live_server, course, axe_scan, screenshot):
    page = browser_page
    page.goto(live_server.url + course.url)
    fill_in_registration(page)
    page.get_by_role("button", name="Register and pay").click()

    pay_with_the_dummy_provider(page, status="rejected")
    assert page.get_by_role("heading", level=1).inner_text() == "Payment"
    assert "Your payment did not go through. Nothing was charged" in page.locator(".wtp-messages").inner_text()
    assert Registration.objects.get().status == RegistrationStatus.PENDING
    assert_accessible(page, axe_scan)
    screenshot(page, "payment-failed")

    pay_with_the_dummy_provider(page)
    assert page.get_by_role("heading", level=1).inner_text() == "You are registered"
    registration = Registration.objects.get()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by.status == "confirmed"
    assert len(mail.outbox) == 1


def test_the_form_errors_are_summarised_at_the_top_with_links_and_focus(
    browser_page, live_server, course, axe_scan, screenshot
):
    page = browser_page
    page.goto(live_server.url + course.url)
    fill_in_registration(page, email="not an email", first_name="")
    page.get_by_role("button", name="Register and pay").click()

    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    links = summary.get_by_role("link")
    assert links.count() == 2
    links.filter(has_text="Email").click()
    assert page.evaluate("document.activeElement.id") == "id_email"
    assert page.locator("#id_email").get_attribute("aria-describedby") == "id_email_error"
    assert_accessible(page, axe_scan)
    screenshot(page, "form-errors")
    assert Registration.objects.count() == 0


def test_the_same_flow_in_french(new_browser_page, live_server, index_page, course, axe_scan, screenshot):
    page = new_browser_page(locale="fr-FR")
    page.goto(live_server.url + index_page.url)
    assert page.locator("html").get_attribute("lang") == "fr"
    card = page.locator(".wtp-card", has_text="Django for archivists")
    assert card.locator(".wtp-fee").inner_text() == "45,00\u00a0€"
    assert "d’Europe centrale" in card.locator("time").inner_text()
    assert_accessible(page, axe_scan)
    screenshot(page, "index-fr")

    card.get_by_role("link", name="Django for archivists").click()
    assert page.get_by_role("heading", name="S’inscrire").is_visible()
    fill_in_registration(page)
    page.get_by_role("button", name="S’inscrire et payer").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Paiement"
    assert_accessible(page, axe_scan)
    screenshot(page, "payment-step-fr")

    pay_with_the_dummy_provider(page)
    assert page.get_by_role("heading", level=1).inner_text() == "Vous êtes inscrit"
    assert_accessible(page, axe_scan)
    screenshot(page, "confirmation-fr")
    registration = Registration.objects.get()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.language == "fr"
    email = mail.outbox[0]
    assert email.subject == "Inscription confirmée : Django for archivists"
    assert "45,00\u00a0€" in email.body
    assert "d’Europe centrale" in email.body


def test_the_pages_fit_320_pixels_and_work_with_the_keyboard_alone(
    new_browser_page, live_server, index_page, course, axe_scan, screenshot
):
    page = new_browser_page(width=320, height=640)
    page.goto(live_server.url + index_page.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    page.goto(live_server.url + course.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert_accessible(page, axe_scan)
    screenshot(page, "session-page-320px")

    # The first Tab reaches the skip link, which sends the focus to the main content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "wtp-skip-link"
    assert page.locator(".wtp-skip-link").is_visible()
    # Keyboard only: Tab to each field, type, and press Enter on the button.
    page.locator("#id_first_name").focus()
    for value in ["Ada", "Lovelace", "ada@example.com", "12 rue des Archives", "75004", "Paris"]:
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_billing_country"
    page.keyboard.type("France")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent").strip()
    assert focused == "Register and pay"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/pay/$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    assert Registration.objects.get().billing_country == "FR"
