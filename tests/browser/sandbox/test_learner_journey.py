"""A learner's whole journey on the demo as `make demo` serves it (sandbox settings and URLs), in English and French.

Every form the learner sees is submitted and the test reads what the learner then sees: register, pay, the
email's link, cancel, download the data, erase it, switch language.
"""

import json
import re

import pytest

from ..learner_steps import fill_in_registration, pay_with_the_dummy_provider
from .conftest import body_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSION_TITLE = "Django for archivists"


def assert_accessible(page, axe_scan):
    assert axe_scan(page) == [], page.url


def links_in(text):
    return re.findall(r"https?://[^\s\"<>]+", text)


def register_and_pay(page, sandbox, email, *, register_button, first_name="Ada", axe_scan=None):
    page.goto(sandbox.url + "/")
    if axe_scan:
        assert_accessible(page, axe_scan)
    page.locator(".wtp-card", has_text=SESSION_TITLE).get_by_role("link", name=SESSION_TITLE).click()
    if axe_scan:
        assert_accessible(page, axe_scan)
    fill_in_registration(page, email=email, first_name=first_name)
    page.locator("#id_experience_level").select_option(index=1)
    page.get_by_role("button", name=register_button).click()
    page.wait_for_url(re.compile(r"/pay/$"))


def assert_invalid(page, field_id, message):
    """One message beside the field, the control marked invalid for screen readers and drawn with a red border."""
    control = page.locator(f"#{field_id}")
    assert control.get_attribute("aria-invalid") == "true"
    assert control.evaluate("e => getComputedStyle(e).borderTopColor") == "rgb(185, 28, 28)"
    field = page.locator(".wtp-field", has=control)
    assert field.locator(".wtp-errors li").all_inner_texts() == [message]


def test_a_learner_pays_cancels_downloads_and_erases_in_english(sandbox, sandbox_page, axe_scan, sandbox_screenshot):
    page = sandbox_page(locale="en-GB")
    page.clock.install()  # the seat-hold countdown is checked below by moving the browser's clock
    page.goto(sandbox.url + "/")
    assert_accessible(page, axe_scan)
    page.locator(".wtp-card", has_text=SESSION_TITLE).get_by_role("link", name=SESSION_TITLE).click()
    assert page.get_by_role("link", name="All sessions").get_attribute("href") == "/"
    assert_accessible(page, axe_scan)

    # The drop-down question chooses nothing for the learner: sent as it is, it is refused.
    level = page.locator("#id_experience_level")
    assert level.locator("option:checked").inner_text() == "Choose…"
    fill_in_registration(page, email="ada.en@example.com", billing_postcode="")
    page.get_by_role("button", name="Register and pay").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.get_by_role("heading").inner_text() == "There is a problem"
    assert summary.locator("li").all_inner_texts() == [
        "Postcode: This field is required.",
        "Experience level: This field is required.",
    ]
    assert page.locator(".wtp-messages").count() == 0  # no second banner over the summary
    assert_invalid(page, "id_billing_postcode", "This field is required.")
    assert_invalid(page, "id_experience_level", "This field is required.")
    assert page.locator("#id_first_name").get_attribute("aria-invalid") is None
    assert page.locator("#id_first_name").input_value() == "Ada"  # what was typed is kept
    assert_accessible(page, axe_scan)
    sandbox_screenshot(page, "sandbox-form-errors")

    page.locator("#id_billing_postcode").fill("75004")
    level.select_option("Intermediate")
    page.get_by_role("button", name="Register and pay").click()
    page.wait_for_url(re.compile(r"/pay/$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Payment"
    assert page.get_by_role("link", name="All sessions").get_attribute("href") == "/"
    hold = page.locator("section.wtp-hold")
    assert re.search(r"Your seat is held until .+\. \(1[45] minutes left\)", hold.inner_text())
    assert_accessible(page, axe_scan)

    # WCAG 2.2.1: before the hold ends the learner is warned (an alert) and offered more time.
    page.clock.fast_forward("13:30")
    warning = hold.get_by_role("alert")
    assert warning.inner_text() == (
        "Your seat hold ends in less than 2 minutes. Complete your payment, or ask for more time with the button below."
    )
    assert hold.get_by_role("status").inner_text() in ("2 minutes left", "1 minute left")
    assert_accessible(page, axe_scan)
    sandbox_screenshot(page, "sandbox-payment-step-hold-warning")
    hold.get_by_role("button", name="I need more time (15 more minutes)").click()
    page.wait_for_url(re.compile(r"/pay/$"))
    assert page.locator(".wtp-messages").inner_text().startswith("Your seat is now held until")
    assert page.locator("section.wtp-hold [data-hold-warning]").text_content() == ""  # no warning any more
    assert_accessible(page, axe_scan)

    # The demo's dummy form starts on a successful payment: a newcomer just presses Pay.
    assert page.locator("#id_status").input_value() == "confirmed"
    page.locator("form.wtp-provider-form").get_by_role("button", name="Pay").click()
    page.wait_for_load_state()
    # The provider sends the browser back to the demo's own port, not 8000.
    assert page.url.startswith(sandbox.url + "/training/registration/")
    assert page.get_by_role("heading", level=1).inner_text() == "You are registered"
    receipt = page.locator("section.wtp-receipt")
    assert "Experience level\nIntermediate" in receipt.inner_text()
    assert page.get_by_role("link", name="All sessions").get_attribute("href") == "/"
    assert_accessible(page, axe_scan)

    [confirmation] = sandbox.emails(to="ada.en@example.com")
    assert "Experience level: Intermediate" in body_of(confirmation)
    text = body_of(confirmation)
    manage_link = next(link for link in links_in(text) if "/training/registration/" in link)
    assert manage_link.startswith(sandbox.url + "/training/registration/"), text
    for link in links_in(text) + links_in(body_of(confirmation, "html")):
        assert link.startswith(sandbox.url) or "example.com" in link, link
    calendar = next(part for part in confirmation.iter_attachments() if part.get_filename() == "session.ics")
    assert f"URL:{sandbox.url}/" in calendar.get_content().replace("\r\n ", "")

    # The link in the email opens the manage page, where the learner cancels.
    page.goto(manage_link)
    assert page.get_by_role("heading", level=1).inner_text() == "Your registration"
    assert_accessible(page, axe_scan)
    cancel = page.locator("section.wtp-cancel")
    cancel.get_by_role("checkbox", name="Yes, cancel my registration").check()
    cancel.get_by_role("button", name="Cancel my registration").click()
    page.wait_for_load_state()
    assert "Your registration is cancelled." in page.locator(".wtp-messages").inner_text()
    assert page.locator(".wtp-status").inner_text() == "Status: Cancelled"
    assert page.locator("section.wtp-cancel").count() == 0
    sandbox_screenshot(page, "sandbox-manage-cancelled")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    assert download.value.suggested_filename.endswith(".json")
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert "ada.en@example.com" in json.dumps(data)
    assert "Intermediate" in json.dumps(data)  # the answers are the learner's data too
    assert "Beginner" not in json.dumps(data)

    my_data = page.locator("section.wtp-my-data")
    my_data.get_by_role("checkbox", name="Yes, erase my personal data").check()
    my_data.get_by_role("button", name="Erase my personal data").click()
    page.wait_for_load_state()
    assert "Your personal data is erased." in page.locator(".wtp-messages").inner_text()
    assert "ada.en@example.com" not in page.content()
    assert_accessible(page, axe_scan)
    page.get_by_role("link", name="All sessions").click()
    page.wait_for_load_state()
    assert page.url == sandbox.url + "/"


def test_a_french_browser_gets_french_from_the_session_page_to_the_manage_page(
    sandbox, sandbox_page, axe_scan, sandbox_screenshot
):
    page = sandbox_page(locale="fr-FR")
    page.goto(sandbox.url + "/")
    # Accept-Language: fr sends the browser to the French pages.
    assert page.url == sandbox.url + "/fr/"
    assert page.locator("html").get_attribute("lang") == "fr"
    register_and_pay(page, sandbox, "ada.fr@example.com", register_button="S’inscrire et payer", axe_scan=axe_scan)
    assert page.url.startswith(sandbox.url + "/fr/training/registration/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Paiement"
    assert page.get_by_role("link", name="Toutes les sessions").get_attribute("href") == "/fr/"
    assert_accessible(page, axe_scan)
    sandbox_screenshot(page, "sandbox-payment-step-fr")
    page.get_by_role("button", name="J’ai besoin de plus de temps (15 minutes de plus)").click()
    page.wait_for_url(re.compile(r"/fr/training/registration/.+/pay/$"))
    assert page.locator(".wtp-messages").inner_text().startswith("Votre place est maintenant réservée jusqu’à")
    assert re.search(r"\(1[45] minutes restantes\)", page.locator("section.wtp-hold").inner_text())

    pay_with_the_dummy_provider(page)
    assert page.url.startswith(sandbox.url + "/fr/training/registration/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Vous êtes inscrit"
    assert "Experience level\nBeginner" in page.locator("section.wtp-receipt").inner_text()  # the editor’s words
    assert_accessible(page, axe_scan)
    sandbox_screenshot(page, "sandbox-confirmation-fr")

    [confirmation] = sandbox.emails(to="ada.fr@example.com")
    assert confirmation["Subject"].strip() == f"Inscription confirmée : {SESSION_TITLE}"
    manage_link = next(link for link in links_in(body_of(confirmation)) if "/training/registration/" in link)
    assert manage_link.startswith(sandbox.url + "/fr/training/registration/")

    # The email's link opens the French manage page, even in a browser that prefers English.
    page = sandbox_page(locale="en-GB")
    page.goto(manage_link)
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Votre inscription"
    assert_accessible(page, axe_scan)
    cancel = page.locator("section.wtp-cancel")
    cancel.get_by_role("checkbox", name="Oui, annuler mon inscription").check()
    cancel.get_by_role("button", name="Annuler mon inscription").click()
    page.wait_for_load_state()
    assert "Votre inscription est annulée." in page.locator(".wtp-messages").inner_text()
    assert page.locator(".wtp-status").inner_text() == "Statut : Annulée"
    sandbox_screenshot(page, "sandbox-manage-cancelled-fr")
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger mes données (JSON)").click()
    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert "ada.fr@example.com" in json.dumps(data)

    my_data = page.locator("section.wtp-my-data")
    my_data.get_by_role("checkbox", name="Oui, effacer mes données personnelles").check()
    my_data.get_by_role("button", name="Effacer mes données personnelles").click()
    page.wait_for_load_state()
    assert "Vos données personnelles sont effacées." in page.locator(".wtp-messages").inner_text()

    # The language switcher: English, on the same page, and it stays English.
    page.locator(".wtp-language-switcher").get_by_role("button", name="English").click()
    page.wait_for_load_state()
    assert not page.url.startswith(sandbox.url + "/fr/")
    assert "/training/registration/" in page.url
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Your registration"
    page.goto(sandbox.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.locator(".wtp-language-switcher").get_by_role("button", name="Français").click()
    page.wait_for_load_state()
    assert page.url == sandbox.url + "/fr/"
    assert page.locator("html").get_attribute("lang") == "fr"


CANCEL_AT_PAYPAL = {
    "en-GB": {
        "register": "Register and pay",
        "left": "You left the payment service before paying. Nothing was charged.",
        "use": "Use this payment method",
        "paid": "You are registered",
        "prefix": "",
    },
    "fr-FR": {
        "register": "S’inscrire et payer",
        "left": "Vous avez quitté le service de paiement avant de payer. Rien n’a été débité.",
        "use": "Utiliser ce moyen de paiement",
        "paid": "Vous êtes inscrit",
        "prefix": "/fr",
    },
}


@pytest.mark.parametrize("locale", ["en-GB", "fr-FR"])
def test_a_learner_cancels_at_paypal_and_pays_with_another_method(simulator_sandbox, sandbox_page, axe_scan, locale):
    """The demo with the PayPal simulators: PayPal's Cancel link brings the learner back to a choice of methods
    (not to "your payment is being processed", not straight back to PayPal); another method then pays."""
    words = CANCEL_AT_PAYPAL[locale]
    sandbox = simulator_sandbox
    page = sandbox_page(locale=locale)
    page.goto(sandbox.url + "/")
    page.locator(".wtp-card", has_text=SESSION_TITLE).get_by_role("link", name=SESSION_TITLE).click()
    email = f"paypal.{locale}@example.com"
    fill_in_registration(page, email=email)
    page.locator("#id_experience_level").select_option(index=1)
    page.get_by_role("radio", name="PayPal", exact=True).check()
    page.get_by_role("button", name=words["register"]).click()
    page.wait_for_url(re.compile(re.escape(sandbox.nvp_url) + r"/webscr"))
    page.get_by_role("link", name="Cancel and return to the merchant").click()

    page.wait_for_url(re.compile(r"/pay/\?choose=1$"))
    assert page.url.startswith(sandbox.url + words["prefix"] + "/training/registration/")
    assert page.locator("html").get_attribute("lang") == locale[:2]
    assert page.locator(".wtp-messages").inner_text().startswith(words["left"])
    assert page.get_by_role("radio", name="PayPal", exact=True).is_checked()
    assert_accessible(page, axe_scan)
    page.get_by_role("radio", name="Dummy", exact=True).check()
    page.get_by_role("button", name=words["use"]).click()
    page.wait_for_load_state()
    pay_with_the_dummy_provider(page)
    assert page.get_by_role("heading", level=1).inner_text() == words["paid"]
    assert page.locator("html").get_attribute("lang") == locale[:2]
    assert_accessible(page, axe_scan)
    [confirmation] = sandbox.emails(to=email)
    assert "Experience level: Beginner" in body_of(confirmation)
