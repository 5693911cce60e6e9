"""The HTTP load test (``bench/load_registrations.py``) with small, bounded numbers.

Several gunicorn worker processes serve the sandbox on loopback against a PostgreSQL database
of their own; learners race for seats, callbacks race browser returns, hosts race to pay.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.postgresql, pytest.mark.slow]


def load_database_url():
    """A database next to the test database, named after it, that the load test may drop."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    name = (parts.path.lstrip("/") or "wtp") + "_load"
    return urlunsplit(parts._replace(path="/" + name))


def test_learners_callbacks_and_hosts_racing_over_http_hold_every_count():
    command = [
        sys.executable,
        str(ROOT / "bench" / "load_registrations.py"),
        f"--database={load_database_url()}",
        "--attempts=60",
        "--seats=6",
        "--workers=3",
        "--threads=2",
        "--concurrency=12",
        "--replays=2",
        "--hosts=3",
        "--time-limit=240",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    lines = [line for line in run.stdout.splitlines() if line.startswith("LOAD ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(lines[-1][len("LOAD ") :])

    registrations = figures["registrations"]
    assert (registrations["held"], registrations["full"]) == (6, 54), registrations
    assert registrations["errors"] == registrations["other"] == 0, registrations
    confirmations = figures["confirmations"]
    assert confirmations["notifications"] == 6 * 4
    assert (confirmations["confirmed"], confirmations["confirmed_twice"]) == (6, 0), confirmations
    assert (confirmations["emails"], confirmations["emailed_twice"], confirmations["errors"]) == (6, 0, 0)
    hosts = figures["hosts"]
    assert hosts["payments_started"] == 3, hosts
    assert (hosts["charges_paid"], hosts["paid_log_entries"], hosts["live"]) == (1, 1, True), hosts
    assert hosts["surplus_refunded"] == hosts["payments_taken"] - 1, hosts
    assert hosts["errors"] == 0
    assert figures["server_errors_logged"] == 0, run.stdout[-3000:]
    assert figures["ok"] and run.returncode == 0
