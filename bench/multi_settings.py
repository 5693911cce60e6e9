"""Settings of the production shape (``bench/multi_process.py``): the sandbox behind a proxy, on PostgreSQL.

Several app servers and ``db_worker`` processes on one database: tasks in the database (django-tasks-db), the
rate limit in the shared database cache (the sandbox's), the client address from the proxy's
``X-Forwarded-For``, mail written to files by a mail server that takes ``WTP_MULTI_MAIL_DELAY`` seconds per
message, so that a worker can be killed in the middle of sending.
"""

import os

from bench.load_settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": os.environ.get("WTP_MULTI_TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}
EMAIL_BACKEND = "bench.slow_mail.SlowFileBackend"
WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
WAGTAIL_TRAINING_PAY_TRUSTED_PROXY_COUNT = 1
LOGGING["loggers"]["django_tasks_db"] = {"handlers": ["stderr"], "level": "ERROR"}  # noqa: F405
