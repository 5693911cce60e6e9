"""The production shape (``bench/multi_process.py``): two gunicorn servers and two ``db_worker`` processes on one
PostgreSQL database, a task worker and a gunicorn worker killed with SIGKILL along the way.

Learners register and payments are notified on both servers; the confirmation emails go through the database
queue to the workers, one of which is killed while it sends one; ``run_sweepers`` (cron) sends what it left.
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


def multi_database_url():
    """A database next to the test database, named after it, that the run may drop."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + (parts.path.lstrip("/") or "wtp") + "_multi"))


@pytest.fixture(scope="module")
def figures():
    command = [sys.executable, str(ROOT / "bench" / "multi_process.py"), f"--database={multi_database_url()}"]
    command += ["--learners=24", "--seats=6", "--limit=3", "--limited=10", "--mail-delay=1", "--time-limit=150"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT)
    lines = [line for line in run.stdout.splitlines() if line.startswith("MULTI ")]
    assert lines, run.stdout[-3000:] + run.stderr[-3000:]
    figures = json.loads(lines[-1][len("MULTI ") :])
    figures["output"] = run.stdout[-4000:]
    figures["returncode"] = run.returncode
    return figures


def test_no_seat_is_oversold_when_learners_register_on_both_servers(figures):
    registrations, money = figures["registrations"], figures["money"]
    assert (registrations["held"], registrations["full"], registrations["errors"]) == (6, 18, 0), registrations
    assert money["holding_seats"] == money["capacity"] == 6


def test_each_paid_registration_is_confirmed_once_with_one_email_though_a_worker_died_mid_email(figures):
    payments, money = figures["payments"], figures["money"]
    assert payments["killed_task"], payments  # a db_worker was killed (SIGKILL) while it sent a confirmation
    assert payments["killed_web_worker"], payments  # and a gunicorn worker while notifications arrived
    assert payments["errors"] == 0, payments
    assert (money["confirmed"], money["confirmed_twice"]) == (6, 0), money
    assert (money["emails"], money["emailed_twice"], money["emails_still_owed"]) == (6, 0, 0), money


def test_the_sweepers_find_the_killed_task_and_a_retried_task_sends_nothing_twice(figures):
    sweep = figures["sweep"]
    assert sweep["exit_code"] == 0, sweep
    assert [line.split(":")[0] for line in sweep["lines"]] == ["payments", "holds", "emails", "reminders", "retention"]
    assert figures["retries"] == {"requeued": 6, "drained": True, "sent_again": 0}


def test_the_rate_limit_is_counted_once_for_both_servers(figures):
    assert figures["rate_limit"] == {"limit": 3, "sent": 10, "allowed": 3, "limited": 7, "errors": 0}


def test_every_check_passes_and_no_server_error_is_logged(figures):
    assert figures["server_errors_logged"] == 0, figures["output"]
    assert figures["ok"] and figures["returncode"] == 0, figures["output"]
