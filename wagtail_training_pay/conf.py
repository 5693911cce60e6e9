"""App-level settings, read lazily so that ``override_settings`` works.

Every setting is optional and prefixed ``WAGTAIL_TRAINING_PAY_`` in the Django
settings. Site administrators configure the rest (rates, variants offered,
policies) in the Wagtail admin through ``TrainingPaySettings``.

=====================================  ============  ===============================================
setting                                default       meaning
=====================================  ============  ===============================================
``WAGTAIL_TRAINING_PAY_DEFAULT_CURRENCY``  ``"EUR"``  currency of a new site's settings
``..._SEAT_HOLD_MINUTES``              ``15``        default of the site setting of the same name
``..._ALLOW_DUMMY_PROVIDER``           ``False``     accept django-payments' dummy provider with
                                                     ``DEBUG = False`` (demo servers only)
``..._STALE_PAYMENT_MINUTES``          ``60``        a pending payment older than this is checked
                                                     with the provider or cancelled
``..._REGISTRATION_RATE_LIMIT``        ``"20/h"``    registration POSTs per client address
``..._TASK_QUEUE``                     ``"default"`` queue name for the app's background tasks
``..._REMINDER_HOURS``                 ``24``        confirmed learners are reminded of a session this
                                                     many hours before it starts
                                                     (``send_session_reminders``, run by cron)
=====================================  ============  ===============================================
"""

from django.conf import settings

PREFIX = "WAGTAIL_TRAINING_PAY_"

DEFAULTS = {
    "DEFAULT_CURRENCY": "EUR",
    "SEAT_HOLD_MINUTES": 15,
    "ALLOW_DUMMY_PROVIDER": False,
    "STALE_PAYMENT_MINUTES": 60,
    "REGISTRATION_RATE_LIMIT": "20/h",
    "TASK_QUEUE": "default",
    "REMINDER_HOURS": 24,
}


class AppSettings:
    """Attribute access to the app settings, looked up on every read."""

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, PREFIX + name, DEFAULTS[name])


app_settings = AppSettings()
