"""Benchmark settings: the test settings on a throw-away database (SQLite file or DATABASE_URL)."""

import os
import tempfile

import dj_database_url

from tests.settings import *  # noqa: F403

DEBUG = False
_default_db = f"sqlite:///{tempfile.gettempdir()}/wtp-bench-{os.getpid()}.sqlite3"
DATABASES = {"default": dj_database_url.parse(os.environ.get("BENCH_DATABASE_URL", _default_db))}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The limiter stays on (its cost is measured) but never refuses the benchmark's thousands of POSTs.
WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "100000000/s"
# Emails and other background work run on a Tasks worker in production, not in the request: the
# benchmark enqueues them and measures what the request itself does.
# bench/cases/multi_server.py queues them in the database for a real worker (BENCH_TASKS_BACKEND).
TASKS = {"default": {"BACKEND": os.environ.get("BENCH_TASKS_BACKEND", "django_tasks.backends.dummy.DummyBackend")}}
