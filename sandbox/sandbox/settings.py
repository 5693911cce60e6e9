"""Settings of the sandbox: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SECRET_KEY", "sandbox-only-not-secret")
DEBUG = os.environ.get("DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

# Where `make demo` serves the site (HOST=... PORT=... make demo): every absolute link the demo builds (payment
# return, emails, .ics files, admin notifications, the Wagtail Site made by load_demo) uses the same address.
DEMO_HOST = os.environ.get("HOST", "127.0.0.1")
DEMO_PORT = int(os.environ.get("PORT", "8000"))
DEMO_URL = f"http://{DEMO_HOST}:{DEMO_PORT}"
if DEMO_HOST not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(DEMO_HOST)
USE_TZ = True
TIME_ZONE = "Europe/Paris"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]

INSTALLED_APPS = [
    "demo",
    "wagtail_training_pay",
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "payments",
    "django_countries",
    "django_tasks",
    "django_tasks_db",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "sandbox.middleware.PreferredLanguageMiddleware",
    "wagtail_training_pay.middleware.ViewerTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "sandbox.urls"
WSGI_APPLICATION = "sandbox.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "sandbox" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"), conn_max_age=60
    )
}
if "postgresql" in DATABASES["default"]["ENGINE"]:
    # Wagtail's search index uses PostgreSQL's GIN indexes: commands (db_worker, run_sweepers) check for it.
    INSTALLED_APPS.append("django.contrib.postgres")
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web server and the task worker write to one SQLite file: write-ahead log, and a write transaction
    # that waits for the other process instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

# The demo's mail is written as one .eml file per message in this folder (`make demo` prints its path); open
# them with any mail client. EMAIL_BACKEND=... picks another backend.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "demo.mail.EmlFolderBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "sent-emails"))
DEFAULT_FROM_EMAIL = "training@example.com"

WAGTAIL_SITE_NAME = "Training sandbox"
WAGTAILADMIN_BASE_URL = os.environ.get("WAGTAILADMIN_BASE_URL", DEMO_URL)

# Background work as in production (docs/deployment.md): tasks are written to the database and run by
# `manage.py db_worker`, which `make demo` starts next to the web server. TASKS_BACKEND=... picks another backend
# (django_tasks.backends.immediate.ImmediateBackend runs each task inside the request, with no worker).
TASKS = {"default": {"BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend")}}

# The registration rate limit counts in a cache every app server shares: Django's database cache works out of
# the box (``migrate`` creates its table here, see demo/apps.py). Redis or Memcached do as well.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "wtp_sandbox_cache",
        "OPTIONS": {"MAX_ENTRIES": 100000},
    }
}

PAYMENT_HOST = os.environ.get("PAYMENT_HOST", f"{DEMO_HOST}:{DEMO_PORT}")
PAYMENT_USES_SSL = os.environ.get("PAYMENT_USES_SSL", "0") == "1"
PAYMENT_MODEL = "wagtail_training_pay.Payment"
PAYMENT_VARIANTS = {
    # Lets whoever sees its form choose the outcome: demo only.
    # django-payments' dummy, whose form starts on a successful payment (demo/providers.py).
    "dummy": ("demo.providers.DemoProvider", {}),
}
WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = True

# PayPal providers against the local simulators (sandbox/run_simulators.py), only when asked:
# WTP_SIMULATORS=1 make demo. The default demo stays on the dummy provider.
if os.environ.get("WTP_SIMULATORS") == "1":
    _PAYFLOW_URL = f"http://127.0.0.1:{os.environ.get('WTP_PAYFLOW_PORT', '8101')}"
    _PAYFLOW_UK_URL = f"http://127.0.0.1:{os.environ.get('WTP_PAYFLOW_UK_PORT', '8103')}"
    _NVP_URL = f"http://127.0.0.1:{os.environ.get('WTP_NVP_PORT', '8102')}"
    _PAYFLOW = {"vendor": "simvendor", "password": "simpass", "endpoint": _PAYFLOW_URL + "/"}
    _PAYFLOW["hosted_url"] = _PAYFLOW_URL + "/hosted"
    PAYMENT_VARIANTS.update(
        {
            "payflow-card": ("wagtail_training_pay.providers.payflow.PayflowProProvider", _PAYFLOW),
            "payflow-direct": (
                "wagtail_training_pay.providers.payflow.PayflowProProvider",
                {**_PAYFLOW, "mode": "direct"},
            ),
            "paypal-uk": (
                "wagtail_training_pay.providers.payflow.WebsitePaymentsProUKProvider",
                {
                    "vendor": "simukvendor",
                    "password": "simpass",
                    "endpoint": _PAYFLOW_UK_URL + "/",
                    "hosted_url": _PAYFLOW_UK_URL + "/hosted",
                },
            ),
            "paypal-express": (
                "wagtail_training_pay.providers.express_checkout.ExpressCheckoutProvider",
                {
                    "user": "sim_api1.example.com",
                    "password": "simpass",
                    "signature": "simsignature",
                    "endpoint": _NVP_URL + "/nvp",
                    "approval_url": _NVP_URL + "/webscr",
                },
            ),
        }
    )
