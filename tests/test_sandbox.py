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
