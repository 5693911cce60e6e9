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
``..._GATEWAY_PENDING_HOLD_HOURS``     ``72``        a seat stays held this long after PayPal last
                                                     said it holds the learner's payment (pending,
                                                     under review); renewed at every check
``..._HOLD_MAX_EXTENSIONS``            ``10``        times a learner may extend a live seat hold on the
                                                     payment step (each by the site's hold minutes)
``..._REGISTRATION_RATE_LIMIT``        ``"20/h"``    registration POSTs per client address
``..._TASK_QUEUE``                     ``"default"`` queue name for the app's background tasks
``..._RATE_LIMIT_CACHE``              ``"default"`` alias of the cache the rate limit counts in; it
                                                     must be shared by every app server (database
                                                     cache, Redis, Memcached), see ``docs/security.md``
``..._CLIENT_ADDRESS_HEADER``          ``None``      ``request.META`` name of the header the site's own
                                                     proxies write the client address to, for example
                                                     ``"HTTP_X_FORWARDED_FOR"``; ``REMOTE_ADDR`` if unset
``..._TRUSTED_PROXY_COUNT``            ``1``         how many of the site's proxies append to that
                                                     header (the address is taken that far from the right)
``..._DUPLICATE_NOTICE_RATE``         ``"1/h"``     "you are already registered" emails per address
``..._ANSWER_MAX_LENGTH``              ``2000``      characters of a text answer to an editor's question
                                                     (single-line answers stay within 255)
``..._BASE_TEMPLATE``                  ``"base.html"`` the site's template the learner pages extend;
                                                     ``None`` for the plugin's standalone pages
``..._FROM_EMAIL``                     ``None``      sender of learner emails (``DEFAULT_FROM_EMAIL``)
``..._BASE_URL``                       ``None``      scheme and host of links in emails (from
                                                     ``PAYMENT_HOST`` / the page's Wagtail site)
``..._REMINDER_HOURS``                 ``24``        confirmed learners are reminded of a session this
                                                     many hours before it starts
                                                     (``send_session_reminders``, run by cron)
``..._INVOICE_FONT``                   ``None``      path of a TrueType font for the hosts' invoices
                                                     (for example DejaVuSans.ttf) when names need more
                                                     than Western European letters; else Helvetica
``..._SESSIONS_PER_PAGE``              ``20``        sessions per page of a training index
``..._CALENDAR_FEED_SESSIONS``         ``200``       the index's ``.ics`` feed holds the next this many
                                                     sessions
=====================================  ============  ===============================================
"""

from django.conf import settings

PREFIX = "WAGTAIL_TRAINING_PAY_"

DEFAULTS = {
    "DEFAULT_CURRENCY": "EUR",
    "SEAT_HOLD_MINUTES": 15,
    "ALLOW_DUMMY_PROVIDER": False,
    "STALE_PAYMENT_MINUTES": 60,
    "GATEWAY_PENDING_HOLD_HOURS": 72,
    "HOLD_MAX_EXTENSIONS": 10,
    "REGISTRATION_RATE_LIMIT": "20/h",
    "TASK_QUEUE": "default",
    "ANSWER_MAX_LENGTH": 2000,
    "DUPLICATE_NOTICE_RATE": "1/h",
    "RATE_LIMIT_CACHE": "default",
    "CLIENT_ADDRESS_HEADER": None,
    "TRUSTED_PROXY_COUNT": 1,
    "BASE_TEMPLATE": "base.html",
    "FROM_EMAIL": None,
    "BASE_URL": None,
    "REMINDER_HOURS": 24,
    "INVOICE_FONT": None,
    "SESSIONS_PER_PAGE": 20,
    "CALENDAR_FEED_SESSIONS": 200,
}


class AppSettings:
    """Attribute access to the app settings, looked up on every read."""

    def __getattr__(self, name):
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(settings, PREFIX + name, DEFAULTS[name])


app_settings = AppSettings()
