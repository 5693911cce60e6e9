"""Two ``run_sweepers`` at once on PostgreSQL: a sweeper one run is busy with is skipped by the other, and a run
killed mid-sweep leaves no lock behind."""

import os
import signal
import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from wagtail_training_pay.models import MoneyMovement
from wagtail_training_pay.services.sweepers import LOCK_NAMESPACE, lock_key, run_sweepers

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent


def database_url():
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def movements_table_locked():
    """Another session holds the money movements' table: the payments sweeper waits at its first query."""
    with psycopg.connect(database_url()) as other:
        other.execute(f"LOCK TABLE {MoneyMovement._meta.db_table} IN ACCESS EXCLUSIVE MODE")
        yield other
        other.rollback()


def sweeper_lock_holders(name):
    with psycopg.connect(database_url(), autocommit=True) as probe:
        return probe.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s::oid "
            "AND objid = (%s::int)::oid",
            [LOCK_NAMESPACE & 0xFFFFFFFF, lock_key(name)],
        ).fetchall()


def wait_for(condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_run_skips_the_sweeper_the_first_is_busy_with_and_runs_the_others(movements_table_locked):
    first = {}

    def first_run():
        try:
            first["results"] = run_sweepers(["payments"])
        finally:
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    wait_for(lambda: sweeper_lock_holders("payments"))  # the first run holds the lock, blocked in its sweep

    second = run_sweepers(["payments", "emails"])

    assert [(result.name, result.state) for result in second] == [("payments", "skipped"), ("emails", "done")]
    assert second[0].line == "payments: skipped, another run holds it"
    movements_table_locked.rollback()  # the first run's sweep goes on
    thread.join(timeout=60)
    assert [(result.name, result.state) for result in first["results"]] == [("payments", "done")]
    assert sweeper_lock_holders("payments") == []
    assert run_sweepers(["payments"])[0].state == "done"  # released: the next run sweeps again


def test_a_run_killed_mid_sweep_leaves_no_lock_and_the_next_run_sweeps(movements_table_locked):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url()}
    killed = subprocess.Popen(
        [sys.executable, "-m", "django", "run_sweepers", "--skip-checks", "payments"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: sweeper_lock_holders("payments") or killed.poll() is not None)
        assert killed.poll() is None, killed.communicate()
        killed.send_signal(signal.SIGKILL)  # kill -9 in the middle of the sweep
        killed.wait(timeout=10)
    finally:
        if killed.poll() is None:
            killed.kill()
    movements_table_locked.rollback()
    wait_for(lambda: not sweeper_lock_holders("payments"))  # the server dropped the lock with the connection

    out = StringIO()
    call_command("run_sweepers", "payments", stdout=out)
    assert out.getvalue().startswith("payments: done in ")
