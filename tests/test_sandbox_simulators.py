"""The sandbox against the gateway simulators, as a person runs it: simulators, settings, a checkout."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.simulators.payer import approve_at_paypal

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "sandbox"

pytestmark = pytest.mark.slow


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def output(completed):
    """The words the script printed after ``OUT`` (the shell prints its own lines too)."""
    return [word for line in completed.stdout.splitlines() if line.startswith("OUT ") for word in line.split()[1:]]


def manage(*args, env):
    return subprocess.run(
        [sys.executable, str(SANDBOX / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


@pytest.fixture
def simulators(tmp_path):
    ports = {"WTP_PAYFLOW_PORT": free_port(), "WTP_NVP_PORT": free_port(), "WTP_PAYFLOW_UK_PORT": free_port()}
    env = {**os.environ, **{name: str(port) for name, port in ports.items()}}
    process = subprocess.Popen(
        [sys.executable, str(SANDBOX / "run_simulators.py")], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        for _ in range(100):
            try:
                requests.get(f"http://127.0.0.1:{ports['WTP_NVP_PORT']}/webscr", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield env
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_sandbox_express_checkout_redirects_to_the_simulator_and_comes_back_paid(simulators, tmp_path):
    env = {**simulators, "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}", "WTP_SIMULATORS": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage("migrate", "--noinput", "-v0", env=env)
    manage("load_demo", env=env)
    assert "paypal-express" in manage("use_simulators", env=env).stdout
    start = """
from payments import RedirectNeeded
from wagtail_training_pay.models import Payment, TrainingPaySettings
from wagtail.models import Site
print("OUT", TrainingPaySettings.for_site(Site.objects.get(is_default_site=True)).host_variants()[0][0])
payment = Payment.objects.create(variant="paypal-express", total="45.00", currency="EUR")
try:
    payment.get_form()
except RedirectNeeded as redirect:
    print("OUT", redirect)
"""
    variant, redirect = output(manage("shell", "-c", start, env=env))
    assert variant == "paypal-express"
    assert redirect.startswith(f"http://127.0.0.1:{env['WTP_NVP_PORT']}/webscr?cmd=_express-checkout")
    return_url = approve_at_paypal(redirect)
    finish = f"""
from urllib.parse import urlsplit
from django.test import Client
from wagtail_training_pay.models import Payment
parts = urlsplit({return_url!r})
response = Client(HTTP_HOST="127.0.0.1:8000").get(parts.path + "?" + parts.query)
payment = Payment.objects.get()
print("OUT", response.status_code, payment.status, payment.captured_amount)
"""
    assert output(manage("shell", "-c", finish, env=env)) == ["302", "confirmed", "45.00"]
