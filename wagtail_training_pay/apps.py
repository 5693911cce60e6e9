from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailTrainingPayConfig(AppConfig):
    name = "wagtail_training_pay"
    label = "wagtail_training_pay"
    verbose_name = _("Training payments")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (
            checks,  # noqa: F401  (registers the system checks)
            signal_handlers,
        )

        signal_handlers.connect()
