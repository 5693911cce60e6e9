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
    page.get_by_role("button", name="Actions").first.click()
    page.get_by_role("link", name="Open the join links").click()
    page.wait_for_url(re.compile(r"/start/$"))
    warning = page.locator("main").inner_text()
    assert re.search(r"This session starts on .+, in \d+ days\.", warning), warning
    assert axe_scan(page, "main form") == []
    page.locator("main form").get_by_role("button", name="Open the join links now").click()
    page.wait_for_load_state()
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


def test_a_french_host_goes_through_the_cost_page_and_pays_in_french(sandbox, sandbox_page, axe_scan):
    sandbox.shell(CREATE_FRENCH_DRAFT)
    page = sandbox_page(locale="fr-FR")
    log_in(page, sandbox)
    # The host's Wagtail account prefers French (set here as an administrator would; the account page is Wagtail's).
    sandbox.shell(ADMIN_LANGUAGE.format(language="fr"))
    try:
        french_host_pays(page, sandbox, axe_scan)
    finally:
        sandbox.shell(ADMIN_LANGUAGE.format(language=""))


ADMIN_LANGUAGE = """
from django.contrib.auth import get_user_model
from wagtail.users.models import UserProfile
profile = UserProfile.get_for_user(get_user_model().objects.get(username="admin"))
profile.preferred_language = "{language}"
profile.save()
"""


def french_host_pays(page, sandbox, axe_scan):
    page.goto(sandbox.url + "/admin/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.goto(sandbox.url + "/admin/pages/search/?q=Atelier")
    page.get_by_role("link", name="Atelier Wagtail").first.click()
    page.wait_for_url(re.compile(r"/admin/pages/\d+/edit/$"))
    # 10 computers x 100 minutes x 0.02 = 20,00 €, live in the editor's panel, in French.
    assert page.locator("[data-wtp-estimate] output").inner_text() == "20,00\u00a0€"
    page.get_by_role("button", name="Démarrer la session (coût estimé)").click()
    page.wait_for_url(re.compile(r"/cost/"))
    assert "Coût estimé de la session" in page.locator("main").inner_text()
    assert cost_line(page, "total") == "20,00\u00a0€"
    assert axe_scan(page) == []

    page.locator('[data-action="continue"]').click()
    page.wait_for_url(re.compile(r"/billing/"))
    fill_in_fields(page, BILLING)
    page.get_by_role("button", name="Continuer vers le paiement").click()
    page.locator("main form button[type=submit]").click()  # the demo's dummy form starts on a success
    page.wait_for_load_state()
    assert "Paiement reçu : la session est en ligne." in page.locator(".messages").inner_text()

    [receipt] = sandbox.emails(to=BILLING["email"])[-1:]
    assert receipt["Subject"].strip().startswith("Reçu : facturation à l’usage pour Atelier Wagtail (facture ")
    # The invoice, attached as a PDF, in the host's French.
    from tests.test_host_invoices import pdf_text

    [invoice] = list(receipt.iter_attachments())
    assert invoice.get_content_type() == "application/pdf"
    invoice_text = pdf_text(invoice.get_content())
    assert invoice_text.startswith("Facture ")
    assert "Total payé 20,00 €" in invoice_text
