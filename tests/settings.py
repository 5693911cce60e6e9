"""Settings of the test suite: SQLite by default, PostgreSQL when DATABASE_URL is set."""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "Europe/Paris"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
USE_I18N = True

INSTALLED_APPS = [
    "wagtail_training_pay",
    "tests.testapp",
    "wagtail.contrib.settings",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.simple_translation",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail.locales",
    "wagtail.api.v2",
    "wagtail.api.v3",
    "ninja",
    "wagtail",
    "modelcluster",
    "taggit",
    "rest_framework",
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
    "django.contrib.sites",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "wagtail_training_pay.middleware.ViewerTimezoneMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "tests.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'test.sqlite3'}"))}
DATABASES["default"]["TEST"] = {"NAME": None}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "artifacts" / "static"
MEDIA_ROOT = BASE_DIR / "artifacts" / "media"
MEDIA_URL = "/media/"
DEFAULT_FROM_EMAIL = "training@example.com"
SITE_ID = 1

WAGTAIL_SITE_NAME = "Training tests"
WAGTAILADMIN_BASE_URL = "http://testserver"
WAGTAIL_I18N_ENABLED = False

# One process runs the test suite: the local-memory cache (Django's default) serves the rate limit, whose tests
# use a shared cache where it matters (tests/test_ratelimit_shared.py); the check saying it would count per
# process in production is silenced here only.
SILENCED_SYSTEM_CHECKS = ["wagtail_training_pay.W002"]

# Tasks run at once inside the test process; tests where a real worker is the point (tests/test_multi_process.py)
# serve the site with django-tasks-db's database backend and run `db_worker` processes.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

PAYMENT_HOST = "testserver"
PAYMENT_USES_SSL = False
PAYMENT_MODEL = "wagtail_training_pay.Payment"
PAYMENT_VARIANTS = {
    "dummy": ("payments.dummy.DummyProvider", {}),
}
WAGTAIL_TRAINING_PAY_ALLOW_DUMMY_PROVIDER = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"wagtail_training_pay": {"handlers": ["null"], "level": "DEBUG", "propagate": True}},
}
