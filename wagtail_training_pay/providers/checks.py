"""System checks of the PayPal variants: options that would only fail at payment time."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import PayPalClassicProvider

PAYFLOW_PROVIDERS = ("PayflowProProvider", "WebsitePaymentsProUKProvider")


def _paypal_variants():
    for name, definition in (getattr(settings, "PAYMENT_VARIANTS", None) or {}).items():
        if not isinstance(definition, (tuple, list)) or len(definition) != 2:
            continue
        path, options = definition
        if not str(path).startswith("wagtail_training_pay.providers."):
            continue
        yield name, path, options


@register()
def check_paypal_variants(app_configs, **kwargs):
    problems = []
    for name, path, options in _paypal_variants():
        try:
            provider_class = import_string(path)
            if not issubclass(provider_class, PayPalClassicProvider):
                raise ImproperlyConfigured(f"{path} is not a provider.")
            provider_class(**options)
        except (ImportError, ImproperlyConfigured, TypeError) as exc:
            problems.append(
                Error(
                    f"Payment variant {name!r}: {exc}",
                    hint="See docs/payment-methods/ for the options of each PayPal provider.",
                    obj=name,
                    id="wagtail_training_pay.E090",
                )
            )
            continue
        card_form = path.rsplit(".", 1)[-1] in PAYFLOW_PROVIDERS and options.get("mode") == "direct"
        if card_form and not settings.DEBUG and not getattr(settings, "PAYMENT_USES_SSL", False):
            problems.append(
                Warning(
                    f"Payment variant {name!r} shows a card form on the site, but PAYMENT_USES_SSL is off.",
                    hint="Serve the site over HTTPS and set PAYMENT_USES_SSL = True, or use mode 'hosted'. "
                    "The card form is refused until then.",
                    obj=name,
                    id="wagtail_training_pay.W090",
                )
            )
    return problems
