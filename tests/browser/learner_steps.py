"""What a learner does in the browser: fill in the registration form, pay with the dummy provider."""

from tests.registration_helpers import LEARNER


def fill_in_fields(page, values):
    """Type or choose each value into the field of that name, by the fields' ids (language-neutral)."""
    for name, value in values.items():
        if value is None:
            continue
        field = page.locator(f"#id_{name}")
        if field.evaluate("element => element.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)


def fill_in_registration(page, **overrides):
    """Type the learner's details into the session page's form."""
    fill_in_fields(page, {**LEARNER, **overrides})


def pay_with_the_dummy_provider(page, status="confirmed"):
    """Choose the dummy provider's outcome and submit its form (the 'Pay' button, whatever its language)."""
    page.locator("#id_status").select_option(status)
    page.locator("#id_fraud_status").select_option("accept")
    page.locator("#id_gateway_response").select_option("3ds-disabled")
    page.locator("form.wtp-provider-form button[type=submit]").click()
    page.wait_for_load_state()
