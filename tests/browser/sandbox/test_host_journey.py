"""The host's pay-per-use journey on the demo as `make demo` serves it: the draft session of load_demo, the
Estimated session cost page, Change, billing, payment, then Start session on the live page."""

import re

import pytest

from tests.pay_per_use_support import BILLING

from ..learner_steps import fill_in_fields

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DRAFT_TITLE = "Search engine tuning"


def log_in(page, sandbox):
    page.goto(sandbox.url + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "changeme")
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/admin/$"))


def cost_line(page, key):
    return page.locator(f'tr[data-line="{key}"] td').inner_text()


def open_the_draft_editor(page, sandbox):
    page.goto(sandbox.url + "/admin/pages/search/?q=" + DRAFT_TITLE.replace(" ", "+"))
    page.get_by_role("link", name=DRAFT_TITLE).first.click()
    page.wait_for_url(re.compile(r"/admin/pages/\d+/edit/$"))


def open_the_join_links(page, axe_scan, link, starts_pattern, button):
    """From the page header's Actions menu to the confirmation page, which says when the session starts; submitted.
    Returns what that page said."""
    page.get_by_role("button", name="Actions").first.click()
    page.get_by_role("link", name=link).click()
    page.wait_for_url(re.compile(r"/start/$"))
    warning = page.locator("main").inner_text()
    assert re.search(starts_pattern, warning), warning
    assert axe_scan(page, "main form") == []
    page.locator("main form").get_by_role("button", name=button).click()
    page.wait_for_load_state()
    return warning


def test_a_host_sees_the_cost_changes_pays_and_starts_the_session(sandbox, sandbox_page, axe_scan, sandbox_screenshot):
    page = sandbox_page(locale="en-GB")
    log_in(page, sandbox)
    open_the_draft_editor(page, sandbox)
    page.get_by_role("button", name="Start session (estimated cost)").click()
    page.wait_for_url(re.compile(r"/cost/"))
    # load_demo: 120 minutes, 15 computers, 5 on the teleconference: 15 x 120 x 0.02 + 5 x 120 x 0.05 = 66.00
    assert cost_line(page, "duration") == "120 minutes"
    assert cost_line(page, "total") == "€66.00"
    assert axe_scan(page) == []

    page.locator('[data-action="change"]').click()
    page.wait_for_url(re.compile(r"/edit/$"))
    estimate = page.locator("[data-wtp-estimate] output")
    assert estimate.inner_text() == "€66.00"
    page.locator("#id_duration_minutes").fill("60")
    # The estimate follows the figures as the host types, before any saving.
    assert estimate.inner_text() == "€33.00"
    assert "900 person-minutes" in page.locator("[data-estimate-breakdown]").inner_text()
    page.locator("#id_duration_minutes").fill("5")
    assert estimate.inner_text() == "€5.00"  # 75 x 0.02 + 25 x 0.05 = 2.75: the minimum charge applies
    assert page.locator("[data-estimate-minimum]").is_visible()
    sandbox_screenshot(page.locator("[data-wtp-estimate]").locator(".."), "sandbox-live-estimate")
    page.locator("#id_duration_minutes").fill("60")
    page.get_by_role("button", name="Start session (estimated cost)").click()
    page.wait_for_url(re.compile(r"/cost/"))
    assert cost_line(page, "total") == "€33.00"

    page.locator('[data-action="continue"]').click()
    page.wait_for_url(re.compile(r"/billing/"))
    fill_in_fields(page, BILLING)
    page.get_by_role("button", name="Continue to payment").click()
    page.locator("#id_status").select_option("confirmed")
    page.locator("#id_fraud_status").select_option("accept")
    page.locator("#id_gateway_response").select_option("3ds-disabled")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    # The dummy provider returns the browser to the demo's own port.
    assert page.url.startswith(sandbox.url + "/admin/pages/")
    assert "Payment received: the session is live." in page.locator(".messages").inner_text()
    sandbox_screenshot(page, "sandbox-host-paid")

    visitor = sandbox_page(locale="en-GB")
    visitor.goto(sandbox.url + "/search-engine-tuning/")
    assert visitor.get_by_role("heading", level=1).inner_text() == DRAFT_TITLE
    assert "60 minutes" in visitor.locator(".wtp-facts").inner_text()

    # Opening the join links is its own action, named apart from "Start session" (publish): a confirmation page
    # says when the session starts, and it can be undone.
    open_the_join_links(
        page, axe_scan, "Open the join links", r"This session starts on .+, in \d+ days\.", "Open the join links now"
    )
    assert "The join links are open" in page.locator(".messages").inner_text()

    page.get_by_role("button", name="Actions").first.click()
    page.get_by_role("link", name="Close the join links").click()
    page.wait_for_url(re.compile(r"/start/$"))
    page.locator("main form").get_by_role("button", name="Close the join links").click()
    page.wait_for_load_state()
    assert "The join links are closed" in page.locator(".messages").inner_text()


CREATE_FRENCH_DRAFT = """
from wagtail_training_pay.models import TrainingIndexPage, TrainingSessionPage
from django.utils import timezone
from datetime import timedelta
index = TrainingIndexPage.objects.get(slug="training")
if not TrainingSessionPage.objects.filter(slug="atelier-wagtail").exists():
    page = TrainingSessionPage(
        title="Atelier Wagtail", slug="atelier-wagtail", start_at=timezone.now() + timedelta(days=20),
        duration_minutes=100, capacity=10, fee=0, currency="EUR", expected_participants=10,
        teleconference_participants=0, live=False,
    )
    index.add_child(instance=page)
    page.save_revision()
"""


def test_a_french_host_sets_french_on_their_account_then_changes_pays_and_starts_the_session_in_french(
    sandbox, sandbox_page, axe_scan, sandbox_screenshot
):
    sandbox.shell(CREATE_FRENCH_DRAFT)
    page = sandbox_page(locale="fr-FR", timezone_id="America/Toronto")
    log_in(page, sandbox)
    try:
        choose_french_and_toronto_on_the_account_page(page, sandbox)
        french_host_pays(page, sandbox, sandbox_page, axe_scan, sandbox_screenshot)
    finally:
        sandbox.shell(ADMIN_LANGUAGE)


ADMIN_LANGUAGE = """
from django.contrib.auth import get_user_model
from wagtail.users.models import UserProfile
profile = UserProfile.get_for_user(get_user_model().objects.get(username="admin"))
profile.preferred_language = ""
profile.current_time_zone = ""
profile.save()
"""


def choose_french_and_toronto_on_the_account_page(page, sandbox):
    """As a host does it: the account page's preferences, submitted with the form's own button."""
    page.goto(sandbox.url + "/admin/")
    page.get_by_role("button", name="admin").first.click()  # the sidebar's account menu
    page.get_by_role("complementary", name="Sidebar").get_by_role("link", name="Account").click()
    page.wait_for_url(re.compile(r"/admin/account/$"))
    # The demo's administrator has no name yet, and the account form requires one.
    page.get_by_label("First Name").fill("Camille")
    page.get_by_label("Last Name").fill("Hôte")
    page.locator("#id_locale-preferred_language").select_option("fr")
    page.locator("#id_locale-current_time_zone").select_option("America/Toronto")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.locator("html").get_attribute("lang") == "fr"
    # Wagtail's own success message has no French translation in Wagtail 8.0.1; the page around it is French.
    assert page.locator(".messages").inner_text().strip()
    assert page.get_by_role("heading", level=1).inner_text() == "Compte"


def french_host_pays(page, sandbox, sandbox_page, axe_scan, sandbox_screenshot):
    page.goto(sandbox.url + "/admin/pages/search/?q=Atelier")
    page.get_by_role("link", name="Atelier Wagtail").first.click()
    page.wait_for_url(re.compile(r"/admin/pages/\d+/edit/$"))
    # 10 computers x 100 minutes x 0.02 = 20,00 €, live in the editor's panel, in French.
    assert page.locator("[data-wtp-estimate] output").inner_text() == "20,00\u00a0€"
    page.get_by_role("button", name="Démarrer la session (coût estimé)").click()
    page.wait_for_url(re.compile(r"/cost/"))
    assert page.get_by_role("heading", level=1).inner_text().startswith("Coût estimé de la session")
    assert cost_line(page, "duration") == "100 minutes"
    assert cost_line(page, "total") == "20,00\u00a0€"
    assert axe_scan(page) == []

    # Change: back to the editor, half the duration, the estimate follows; the cost page agrees.
    page.get_by_role("link", name="Changer").click()
    page.wait_for_url(re.compile(r"/edit/$"))
    page.locator("#id_duration_minutes").fill("50")
    assert page.locator("[data-wtp-estimate] output").inner_text() == "10,00\u00a0€"
    page.get_by_role("button", name="Démarrer la session (coût estimé)").click()
    page.wait_for_url(re.compile(r"/cost/"))
    assert cost_line(page, "duration") == "50 minutes"
    assert cost_line(page, "total") == "10,00\u00a0€"
    sandbox_screenshot(page, "sandbox-host-cost-fr")

    page.locator('[data-action="continue"]').click()
    page.wait_for_url(re.compile(r"/billing/"))
    assert "Informations de facturation" in page.locator("main").inner_text()
    assert axe_scan(page) == []
    fill_in_fields(page, BILLING)
    page.get_by_role("button", name="Continuer vers le paiement").click()
    page.wait_for_url(re.compile(r"/payment/|/pay"))
    assert "10,00\u00a0€" in page.locator("main").inner_text()
    page.locator("main form button[type=submit]").click()  # the demo's dummy form starts on a success
    page.wait_for_load_state()
    assert "Paiement reçu : la session est en ligne." in page.locator(".messages").inner_text()

    url = sandbox.shell(SESSION_URL).strip().splitlines()[-1]
    visitor = sandbox_page(locale="fr-FR")
    visitor.goto(url)
    assert visitor.get_by_role("heading", level=1).inner_text() == "Atelier Wagtail"
    assert "50 minutes" in visitor.locator(".wtp-facts").inner_text()

    # Start session: open the join links, after a page saying when it starts, in the host's zone, named.
    warning = open_the_join_links(
        page,
        axe_scan,
        "Ouvrir les liens pour rejoindre",
        r"Cette session commence le .+ \(heure .+\), dans \d+ jours\.",
        "Ouvrir les liens pour rejoindre maintenant",
    )
    assert "heure normale de l’Est" in warning or "heure de l’Est" in warning, warning
    assert "Les liens pour rejoindre sont ouverts" in page.locator(".messages").inner_text()

    [receipt] = sandbox.emails(to=BILLING["email"])[-1:]
    assert receipt["Subject"].strip().startswith("Reçu : facturation à l’usage pour Atelier Wagtail (facture ")
    # The invoice, attached as a PDF, in the host's French.
    from tests.test_host_invoices import pdf_text

    [invoice] = list(receipt.iter_attachments())
    assert invoice.get_content_type() == "application/pdf"
    invoice_text = pdf_text(invoice.get_content())
    assert invoice_text.startswith("Facture ")
    assert "Total payé 10,00 €" in invoice_text


SESSION_URL = """
from wagtail_training_pay.models import TrainingSessionPage
print(TrainingSessionPage.objects.get(slug="atelier-wagtail").full_url)
"""
