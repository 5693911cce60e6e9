"""Settings of the HTTP load test (``bench/load_registrations.py``): the sandbox, as in production.

``DEBUG`` off, the database from ``DATABASE_URL`` (PostgreSQL), emails written to files so the
load test can count them across worker processes, and a rate limit high enough for one client
address sending every attempt (the limit itself has its own tests).
"""

import os

from sandbox.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
PAYMENT_HOST = os.environ.get("WTP_LOAD_HOST", "127.0.0.1:8000")
WAGTAILADMIN_BASE_URL = f"http://{PAYMENT_HOST}"
WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = os.environ.get("WTP_LOAD_RATE_LIMIT", "100000/h")
if os.environ.get("WTP_LOAD_CACHE") == "locmem":  # bench/load_rate_limit.py --cache locmem: what not to do
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
# The load tests count the emails a request sends; bench/multi_process.py runs real task workers instead.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
EMAIL_FILE_PATH = os.environ["WTP_LOAD_MAIL_DIR"]  # a fresh directory of the load test
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR"},
        "wagtail_training_pay": {"handlers": ["stderr"], "level": "ERROR"},
    },
}
