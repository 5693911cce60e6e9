"""System checks for the misconfigurations that would otherwise fail at payment time."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from .conf import app_settings
from .currencies import is_valid_currency
from .providers import checks as provider_checks  # noqa: F401 - registers the PayPal variants' checks

PLUGIN_PAYMENT_MODEL = "wagtail_training_pay.Payment"
DUMMY_PROVIDER = "payments.dummy.DummyProvider"


def is_dummy_provider(path):
    """django-payments' DummyProvider or a subclass of it (the sandbox's demo provider is one)."""
    if path == DUMMY_PROVIDER:
        return True
    from django.utils.module_loading import import_string
    from payments.dummy import DummyProvider

    try:
        provider_class = import_string(path)
    except (ImportError, ValueError):
        return False
    return isinstance(provider_class, type) and issubclass(provider_class, DummyProvider)


REQUIRED_APPS = (
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "payments",
    "django_countries",
)


@register(Tags.compatibility)
def check_installed_apps(app_configs, **kwargs):
    return [
        Error(
            f"'{app}' must be in INSTALLED_APPS to use wagtail_training_pay.",
            hint=f"Add '{app}' to INSTALLED_APPS.",
            id="wagtail_training_pay.E001",
        )
        for app in REQUIRED_APPS
        if app not in settings.INSTALLED_APPS
    ]


@register()
def check_payment_model(app_configs, **kwargs):
    model = getattr(settings, "PAYMENT_MODEL", None)
    if model != PLUGIN_PAYMENT_MODEL:
        return [
            Error(
                f"PAYMENT_MODEL is {model!r}; wagtail_training_pay needs {PLUGIN_PAYMENT_MODEL!r}.",
                hint=(
                    "Set PAYMENT_MODEL = 'wagtail_training_pay.Payment'. Its links to registrations "
                    "and charges are optional, so it can carry the site's other payments too."
                ),
                id="wagtail_training_pay.E002",
            )
        ]
    return []


@register()
def check_payment_variants(app_configs, **kwargs):
    errors = []
    variants = getattr(settings, "PAYMENT_VARIANTS", None)
    if not variants:
        return [
            Error(
                "PAYMENT_VARIANTS is empty: learners and hosts would have no way to pay.",
                hint="Define at least one django-payments variant, for example a Payflow Pro or Stripe one.",
                id="wagtail_training_pay.E003",
            )
        ]
    import re

    for name, definition in variants.items():
        if not re.fullmatch(r"[a-z-]+", name):
            errors.append(
                Error(
                    f"Payment variant name {name!r} contains characters other than lowercase letters and hyphens.",
                    hint="django-payments' callback URL only matches [a-z-]+; rename the variant.",
                    obj=name,
                    id="wagtail_training_pay.E004",
                )
            )
        if not isinstance(definition, (tuple, list)) or len(definition) != 2 or not isinstance(definition[1], dict):
            errors.append(
                Error(
                    f"Payment variant {name!r} must be a pair (provider class path, options dict).",
                    obj=name,
                    id="wagtail_training_pay.E005",
                )
            )
            continue
        if is_dummy_provider(definition[0]) and not settings.DEBUG and not app_settings.ALLOW_DUMMY_PROVIDER:
            errors.append(
                Error(
                    f"Payment variant {name!r} uses django-payments' DummyProvider while DEBUG is False.",
                    hint=(
                        "The dummy provider lets the payer choose the outcome. Use a real provider, or set "
                        "WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = True on a demo server."
                    ),
                    obj=name,
                    id="wagtail_training_pay.E006",
                )
            )
    return errors


@register()
def check_default_currency(app_configs, **kwargs):
    currency = app_settings.DEFAULT_CURRENCY
    if not is_valid_currency(currency):
        return [
            Error(
                f"WAGTAIL_TRAINING_PAY_DEFAULT_CURRENCY is {currency!r}, not an ISO 4217 code.",
                hint="Use an upper-case code such as 'EUR', 'USD' or 'GBP'.",
                id="wagtail_training_pay.E007",
            )
        ]
    return []


@register()
def check_payment_host(app_configs, **kwargs):
    if not getattr(settings, "PAYMENT_HOST", None):
        return [
            Warning(
                "PAYMENT_HOST is not set; payment providers get return URLs built from the sites framework.",
                hint="Set PAYMENT_HOST to the public host name (and PAYMENT_USES_SSL) of the site.",
                id="wagtail_training_pay.W001",
            )
        ]
    return []


@register(Tags.urls)
def check_urls(app_configs, **kwargs):
    errors = []
    try:
        reverse("wagtail_training_pay:payment_return", kwargs={"token": "00000000-0000-0000-0000-000000000000"})
    except NoReverseMatch:
        errors.append(
            Error(
                "The URLs of wagtail_training_pay are not included.",
                hint="Add path('training/', include('wagtail_training_pay.urls')) to the root URLconf.",
                id="wagtail_training_pay.E008",
            )
        )
    try:
        reverse("process_payment", kwargs={"token": "00000000-0000-0000-0000-000000000000"})
    except NoReverseMatch:
        errors.append(
            Error(
                "The URLs of django-payments are not included.",
                hint="Add path('payments/', include('payments.urls')) to the root URLconf.",
                id="wagtail_training_pay.E009",
            )
        )
    return errors


@register(Tags.caches)
def check_rate_limit_cache(app_configs, **kwargs):
    """The rate limit counts in a cache: one each process keeps for itself lets every process count apart."""
    from django.conf import settings

    from .conf import app_settings
    from .ratelimit import CULLING_CACHES, MIN_CACHE_ENTRIES, PROCESS_LOCAL_CACHES

    alias = app_settings.RATE_LIMIT_CACHE
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if alias not in settings.CACHES:
        return [
            Error(
                f"WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE names the cache {alias!r}, which CACHES does not define.",
                id="wagtail_training_pay.E010",
            )
        ]
    if backend in PROCESS_LOCAL_CACHES and not settings.DEBUG:  # one development server is one process
        return [
            Warning(
                f"The registration rate limit counts in the cache {alias!r} ({backend.rsplit('.', 1)[-1]}), which "
                "each process keeps for itself: with several processes or servers each counts apart.",
                hint="Use a cache every app server shares: Django's database cache "
                "(django.core.cache.backends.db.DatabaseCache, then manage.py createcachetable), Redis or "
                "Memcached; name it with WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE.",
                id="wagtail_training_pay.W002",
            )
        ]
    options = settings.CACHES[alias].get("OPTIONS", {})
    max_entries = options.get("MAX_ENTRIES", options.get("max_entries", 300))
    if backend in CULLING_CACHES and int(max_entries) < MIN_CACHE_ENTRIES:
        return [
            Warning(
                f"The registration rate limit counts in the cache {alias!r} ({backend.rsplit('.', 1)[-1]}), which "
                f"deletes a third of its entries, counters included, once it holds {max_entries}: the clients whose "
                "counts it deleted are let in again.",
                hint=f'Set "OPTIONS": {{"MAX_ENTRIES": {MIN_CACHE_ENTRIES}}} (or more) on that cache; the limit '
                "takes one entry per allowed request.",
                id="wagtail_training_pay.W006",
            )
        ]
    return []


@register()
def check_email_sender(app_configs, **kwargs):
    """Django's default sender is ``webmaster@localhost``: learners' mail servers reject or bin it."""
    sender = app_settings.FROM_EMAIL or settings.DEFAULT_FROM_EMAIL
    if not settings.DEBUG and sender.rsplit("@", 1)[-1].rstrip(">").lower() in ("localhost", ""):
        return [
            Warning(
                f"Emails to learners would come from {sender!r}.",
                hint=(
                    "Set DEFAULT_FROM_EMAIL (or WAGTAIL_TRAINING_PAY_FROM_EMAIL for the training emails only) "
                    "to an address of your institution, for example 'Training <training@example.edu>'."
                ),
                id="wagtail_training_pay.W005",
            )
        ]
    return []


@register(Tags.templates)
def check_base_template(app_configs, **kwargs):
    from django.template import TemplateSyntaxError

    from .layout import base_template_name, missing_blocks, overridden_layout_without_page_block

    if overridden_layout_without_page_block():
        return [
            Warning(
                "Your project overrides wagtail_training_pay/base.html without a 'training_content' block: the "
                "learner pages would be empty.",
                hint=(
                    "The pages now extend your base.html themselves (WAGTAIL_TRAINING_PAY_BASE_TEMPLATE): delete "
                    "the override, or give it a {% block training_content %}{% endblock %}."
                ),
                id="wagtail_training_pay.W004",
            )
        ]
    try:
        missing = missing_blocks()
    except TemplateSyntaxError as error:
        missing, problem = [], str(error)
    else:
        problem = None
    if problem or missing:
        detail = problem or f"it has no {', '.join(repr(block) for block in missing)} block"
        return [
            Warning(
                f"The learner pages extend {base_template_name()!r}, but {detail}.",
                hint=(
                    "The pages go into its 'content' block and the plugin's stylesheet into 'extra_css' (the "
                    "blocks of a `wagtail start` base.html). Add them, name another template in "
                    "WAGTAIL_TRAINING_PAY_BASE_TEMPLATE, or set it to None for the standalone pages."
                ),
                id="wagtail_training_pay.W003",
            )
        ]
    return []
