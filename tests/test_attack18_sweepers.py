"""Attack 18: ``run_sweepers`` when its database connection dies mid-run (a failover, an idle-session killer,
a DBA's ``pg_terminate_backend``), on PostgreSQL (issue 18).

The sweeper whose connection died fails; the others still run on a new connection and the exit code is 1;
no advisory lock is left behind.
"""

import os
import subprocess
import sys

import psycopg
import pytest
from django.db import connection

from tests.test_sweepers_concurrency import (  # noqa: F401  (movements_table_locked: a fixture)
    ROOT,
    database_url,
    movements_table_locked,
    sweeper_lock_holders,
    wait_for,
)
from wagtail_training_pay.models import MoneyMovement

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def waiting_on_the_movements():
    with psycopg.connect(database_url(), autocommit=True) as probe:
        return probe.execute(
            "SELECT pid FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            [MoneyMovement._meta.db_table],
        ).fetchall()


def test_a_run_whose_connection_is_terminated_mid_sweep_runs_the_other_sweepers_and_exits_1(
    movements_table_locked,  # noqa: F811  (the fixture imported above)
):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url()}
    run = subprocess.Popen(
        [sys.executable, "-m", "django", "run_sweepers", "--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: waiting_on_the_movements() or run.poll() is not None)
        assert run.poll() is None, run.communicate()
        assert len(sweeper_lock_holders("payments")) == 1
        [(pid,)] = waiting_on_the_movements()  # the sweeping connection (the lock is held on another)
        with psycopg.connect(database_url(), autocommit=True) as dba:
            dba.execute("SELECT pg_terminate_backend(%s)", [pid])
        movements_table_locked.rollback()
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()

    assert run.returncode == 1, (out, err)
    assert [line.split(":")[0] for line in out.splitlines()] == ["holds", "emails", "reminders", "retention"], out
    assert err.splitlines()[0].startswith("payments: failed in "), err
    assert "1 sweeper(s) failed: payments." in err
    for name in ("payments", "holds", "emails", "reminders", "retention"):
        assert sweeper_lock_holders(name) == []


RUN_WITH_THE_CONNECTION_OPEN = """
import django
django.setup()
from django.core.management import call_command
from django.db import connection
connection.ensure_connection()  # the run's own connection first: the lock's connection is the one refused
call_command("run_sweepers", skip_checks=True)
"""


@pytest.fixture
def role_with_one_connection():
    """A database role allowed one connection at a time (``CONNECTION LIMIT 1``), with the test tables' rights."""
    settings = connection.settings_dict
    role = f"wtp_one_connection_{settings['NAME']}"[:63]
    with psycopg.connect(database_url(), autocommit=True) as dba:
        dba.execute(f'DROP ROLE IF EXISTS "{role}"')
        dba.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
        dba.execute(f'GRANT ALL ON SCHEMA public TO "{role}"')
        dba.execute(f'GRANT ALL ON ALL TABLES IN SCHEMA public TO "{role}"')
        dba.execute(f'GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "{role}"')
    try:
        yield f"postgres://{role}@{settings['HOST']}:{settings['PORT'] or 5432}/{settings['NAME']}"
    finally:
        with psycopg.connect(database_url(), autocommit=True) as dba:
            dba.execute(f'DROP OWNED BY "{role}"')
            dba.execute(f'DROP ROLE "{role}"')


def test_a_lock_that_cannot_get_its_connection_fails_its_sweeper_and_every_other_still_tries(
    role_with_one_connection,
):
    """Each sweeper's lock is held on a second connection: when the database refuses it (no connection left for
    the role), that sweeper fails with the reason and the run goes on to the next; exit code 1."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": role_with_one_connection}
    run = subprocess.run(
        [sys.executable, "-c", RUN_WITH_THE_CONNECTION_OPEN],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, (run.stdout, run.stderr)
    failed = [line for line in run.stderr.splitlines() if ": failed in " in line]
    assert [line.split(":")[0] for line in failed] == ["payments", "holds", "emails", "reminders", "retention"], (
        run.stderr
    )
    assert all("could not take its lock" in line and "too many connections" in line for line in failed), failed
    for name in ("payments", "holds", "emails", "reminders", "retention"):
        assert sweeper_lock_holders(name) == []
