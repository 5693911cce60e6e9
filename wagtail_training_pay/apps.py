from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def require_payment_host():
    """django-payments stops at import without PAYMENT_HOST or the sites framework (a stock Wagtail project has
    no sites framework), before any system check can speak: say what to set, and where, first."""
    if not getattr(settings, "PAYMENT_HOST", None) and "django.contrib.sites" not in settings.INSTALLED_APPS:
        raise ImproperlyConfigured(
            "wagtail_training_pay: PAYMENT_HOST is not set, and django-payments needs it (or "
            "django.contrib.sites) to build the addresses payment providers send learners back to. Set "
            "PAYMENT_HOST to the host and port learners use, for example PAYMENT_HOST = '127.0.0.1:8000' with "
            "PAYMENT_USES_SSL = False for `manage.py runserver`, and your public host name with "
            "PAYMENT_USES_SSL = True in production (README: Installing into an existing Wagtail project)."
        )


class WagtailTrainingPayConfig(AppConfig):
    name = "wagtail_training_pay"
    label = "wagtail_training_pay"
    verbose_name = _("Training payments")
    default_auto_field = "django.db.models.BigAutoField"

    def import_models(self):
        require_payment_host()
        super().import_models()

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            signal_handlers,
        )

        signal_handlers.connect()
