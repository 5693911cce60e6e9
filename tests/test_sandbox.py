"""The sandbox's demo loader, run as a person would: migrate, load twice, serve."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parent.parent / "sandbox"

pytestmark = pytest.mark.slow


def manage(*args, env):
    return subprocess.run(
        [sys.executable, str(SANDBOX / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def test_demo_loader_twice_leaves_one_copy_and_serves_the_pages(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage("migrate", "--noinput", "-v0", env=env)
    first = manage("load_demo", env=env)
    assert "password: changeme" in first.stdout
    manage("load_demo", env=env)
    script = """
from django.test import Client
from wagtail_training_pay.models import Registration, TrainingIndexPage, TrainingSessionPage
from django.contrib.auth import get_user_model
print(TrainingIndexPage.objects.count(), TrainingSessionPage.objects.count(),
      TrainingSessionPage.objects.live().count(), Registration.objects.count(),
      get_user_model().objects.filter(username="admin").count())
client = Client(HTTP_HOST="127.0.0.1")
for url in ["/", "/django-for-archivists/", "/admin/login/"]:
    print(url, client.get(url).status_code)
"""
    out = manage("shell", "-c", script, env=env).stdout.split("\n")
    lines = [line for line in out if line and not line.endswith("(use -v 2 for details).")]
    assert lines[0] == "1 4 3 2 1"
    assert lines[1:4] == ["/ 200", "/django-for-archivists/ 200", "/admin/login/ 200"]


def test_the_demo_on_another_port_points_every_link_at_that_port(tmp_path):
    """`make demo PORT=8010`: payment returns, emails, .ics files and the admin all use port 8010."""
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("PAYMENT_HOST", "WAGTAILADMIN_BASE_URL")},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "PORT": "8010",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage("migrate", "--noinput", "-v0", env=env)
    printed = manage("load_demo", env=env).stdout
    assert "http://127.0.0.1:8010/" in printed
    assert "http://127.0.0.1:8010/admin/" in printed
    assert "8000" not in printed
    assert str(tmp_path / "mail") in printed
    script = """
from django.conf import settings
from payments import core
from wagtail.models import Site
from wagtail_training_pay.models import Registration, TrainingSessionPage
from wagtail_training_pay.services.emails import manage_url
from wagtail_training_pay.ics import registration_calendar
page = TrainingSessionPage.objects.get(slug="django-for-archivists")
registration = Registration.objects.filter(page__slug="accessible-forms-workshop").first()
print(core.get_base_url())
print(settings.WAGTAILADMIN_BASE_URL)
print(Site.objects.get(is_default_site=True).root_url)
print(page.get_full_url())
print(manage_url(registration))
print(b"8000" in registration_calendar(registration, manage_url(registration)))
"""
    out = manage("shell", "-c", script, env=env).stdout.split("\n")
    lines = [line for line in out if line and not line.endswith("(use -v 2 for details).")]
    assert lines[:4] == [
        "http://127.0.0.1:8010",
        "http://127.0.0.1:8010",
        "http://127.0.0.1:8010",
        "http://127.0.0.1:8010/django-for-archivists/",
    ]
    assert lines[4].startswith("http://127.0.0.1:8010/training/registration/")
    assert lines[5] == "False"
