"""Attack 18: the sweepers' advisory locks behind PgBouncer in transaction mode, which ``docs/deployment.md``
offered as the connection pooler of the production shape (issue 18).

``pg_try_advisory_lock`` takes a *session* lock: behind a transaction-mode pooler each statement may run on
another server session, so a second run can be handed the session that holds the first run's lock (advisory
locks are re-entrant per session) and sweep at the same time, and an unlock sent on another session leaves the
lock held for good. Needs ``pgbouncer`` (``apt-get install pgbouncer``); it is started here on port 8741.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.db import connection

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which("pgbouncer"), reason="needs pgbouncer (apt-get install pgbouncer)"),
]

ROOT = Path(__file__).resolve().parent.parent
PORT = 8741

HOLD_THE_LOCK = """
import sys, time
import django
django.setup()
from wagtail_training_pay.services.sweepers import sweeper_lock
with sweeper_lock("payments") as held:
    print("held" if held else "skipped", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def log_says(path, text):
    return path.exists() and text in path.read_text(errors="replace")


@pytest.fixture
def pgbouncer():
    settings = connection.settings_dict
    # Under /tmp itself: pgbouncer drops to "nobody" when started as root, which cannot enter pytest's folders.
    folder = Path(tempfile.mkdtemp(prefix="wtp_attack18_pgbouncer_"))
    folder.chmod(0o777)
    config = folder / "pgbouncer.ini"
    config.write_text(
        f"""[databases]
{settings["NAME"]} = host={settings["HOST"]} port={settings["PORT"] or 5432} user={settings["USER"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {PORT}
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,options
logfile = {folder / "pgbouncer.log"}
"""
    )
    command = ["pgbouncer", str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]  # it refuses to run as root
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not log_says(folder / "pgbouncer.log", "listening on 127.0.0.1"):
            assert process.poll() is None, process.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.1)
        yield f"postgres://{settings['USER']}@127.0.0.1:{PORT}/{settings['NAME']}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def start_run(url, seconds):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(seconds)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_second_run_through_pgbouncer_is_refused_the_lock_the_first_holds(pgbouncer):
    assert urlsplit(pgbouncer).port == PORT
    first = start_run(pgbouncer, 6)
    try:
        assert first.stdout.readline().strip() == "held", first.stderr.read() if first.poll() is not None else ""
        second = start_run(pgbouncer, 0)
        out, err = second.communicate(timeout=60)
    finally:
        first.kill()
        first.wait(timeout=10)
    assert out.strip() == "skipped", (out, err)  # behind the pooler it printed "held": both runs swept at once
