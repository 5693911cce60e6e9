import pytest

from wagtail_training_pay import checks

DUMMY = ("payments.dummy.DummyProvider", {})


def ids(messages):
    return [message.id for message in messages]


@pytest.mark.django_db
def test_the_test_settings_pass_every_check():
    from django.conf import settings
    from django.core import checks as django_checks

    messages = [m for m in django_checks.run_checks() if m.id.startswith("wagtail_training_pay")]
    assert [m for m in messages if m.id not in settings.SILENCED_SYSTEM_CHECKS] == []


def test_missing_required_app_is_an_error(monkeypatch):
    # Changing INSTALLED_APPS itself would reload the app registry; ask for one more app instead.
    monkeypatch.setattr(checks, "REQUIRED_APPS", (*checks.REQUIRED_APPS, "wagtail_localize"))
    messages = checks.check_installed_apps(None)
    assert ids(messages) == ["wagtail_training_pay.E001"]
    assert "wagtail_localize" in messages[0].msg


@pytest.mark.parametrize("model", [None, "payments.Payment", "shop.Payment"])
def test_other_payment_model_is_an_error(settings, model):
    settings.PAYMENT_MODEL = model
    assert ids(checks.check_payment_model(None)) == ["wagtail_training_pay.E002"]


def test_no_payment_variants_is_an_error(settings):
    settings.PAYMENT_VARIANTS = {}
    assert ids(checks.check_payment_variants(None)) == ["wagtail_training_pay.E003"]


@pytest.mark.parametrize("name", ["Dummy", "pay_flow", "card2", "paypal uk"])
def test_variant_names_outside_lowercase_and_hyphens_are_errors(settings, name):
    settings.PAYMENT_VARIANTS = {name: DUMMY, "good-name": DUMMY}
    messages = checks.check_payment_variants(None)
    assert ids(messages) == ["wagtail_training_pay.E004"]
    assert messages[0].obj == name


def test_malformed_variant_definition_is_an_error(settings):
    settings.PAYMENT_VARIANTS = {"card": "payments.dummy.DummyProvider"}
    assert ids(checks.check_payment_variants(None)) == ["wagtail_training_pay.E005"]


def test_dummy_provider_without_debug_is_an_error(settings):
    settings.DEBUG = False
    settings.WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = False
    settings.PAYMENT_VARIANTS = {"dummy": DUMMY}
    assert ids(checks.check_payment_variants(None)) == ["wagtail_training_pay.E006"]


def test_dummy_provider_is_accepted_with_debug_or_explicit_permission(settings):
    settings.PAYMENT_VARIANTS = {"dummy": DUMMY}
    settings.DEBUG = True
    settings.WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = False
    assert checks.check_payment_variants(None) == []
    settings.DEBUG = False
    settings.WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = True
    assert checks.check_payment_variants(None) == []


@pytest.mark.parametrize("currency", ["EURO", "eur", "", "XYZ"])
def test_invalid_default_currency_is_an_error(settings, currency):
    settings.WAGTAIL_TRAINING_PAY_DEFAULT_CURRENCY = currency
    assert ids(checks.check_default_currency(None)) == ["wagtail_training_pay.E007"]


def test_missing_payment_host_is_a_warning(settings):
    settings.PAYMENT_HOST = None
    assert ids(checks.check_payment_host(None)) == ["wagtail_training_pay.W001"]


def test_urls_not_included_are_errors(settings):
    settings.ROOT_URLCONF = "tests.urls_without_plugin"
    assert ids(checks.check_urls(None)) == ["wagtail_training_pay.E008", "wagtail_training_pay.E009"]


def test_conf_reads_settings_lazily(settings):
    from wagtail_training_pay.conf import app_settings

    assert app_settings.SEAT_HOLD_MINUTES == 15
    settings.WAGTAIL_TRAINING_PAY_SEAT_HOLD_MINUTES = 30
    assert app_settings.SEAT_HOLD_MINUTES == 30
    with pytest.raises(AttributeError):
        app_settings.NOT_A_SETTING  # noqa: B018


def test_a_subclass_of_the_dummy_provider_without_debug_is_an_error_too(settings):
    settings.DEBUG = False
    settings.WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = False
    settings.PAYMENT_VARIANTS = {"dummy": ("tests.testapp.providers.RefundFailingProvider", {})}
    assert ids(checks.check_payment_variants(None)) == ["wagtail_training_pay.E006"]
