"""Throughput on PostgreSQL: gunicorn with 4 worker processes on loopback, registrations per second vs
plain form submissions per second; then many learners at once for a few seats, to check for overselling.

The database (``BENCH_PG_URL``, default ``postgres://postgres@127.0.0.1:5432/wt8bench``) is dropped and
created again. Skipped with a message when PostgreSQL cannot be reached. Every request has a timeout and
the run is bounded (a fixed number of requests per round).
"""

import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.harness import Measure

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/wt8bench")
WORKERS = 4
CLIENTS = 8
REQUESTS_PER_ROUND = 200
THROUGHPUT_ROUNDS = 3
SEATS, ATTEMPTS = 20, 100
TIMEOUT = 30


def maintenance_connection():
    import psycopg

    parts = urlsplit(DATABASE_URL)
    url = urlunsplit(parts._replace(path="/postgres"))
    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def recreate_database():
    from psycopg import sql

    name = urlsplit(DATABASE_URL).path.lstrip("/")
    with maintenance_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database():
    from psycopg import sql

    name = urlsplit(DATABASE_URL).path.lstrip("/")
    with maintenance_connection() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def server_env():
    return {
        **os.environ,
        "BENCH_DATABASE_URL": DATABASE_URL,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(ROOT),
    }


def set_up_content(module="bench.cases.throughput", env=None):
    """Migrate the PostgreSQL database and create the pages, in a process of its own (``module --set-up``)."""
    output = subprocess.run(
        [sys.executable, "-m", module, "--set-up"],
        cwd=ROOT,
        env=env or server_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port, workers=WORKERS, env=None):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [str(gunicorn), "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
        + ["--timeout", str(TIMEOUT), "bench.wsgi:application"],
        cwd=ROOT,
        env=env or server_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until_served(base, process, deadline=60):
    import requests

    stop_at = time.monotonic() + deadline
    while time.monotonic() < stop_at:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited: " + process.stderr.read().decode()[-2000:])
        try:
            requests.get(base + "/", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer in time")


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Browser:
    """One learner's browser: a cookie jar and the CSRF token of the form it was given."""

    def __init__(self, base, path):
        import requests

        self.session = requests.Session()
        self.url = base + path
        html = self.session.get(self.url, timeout=TIMEOUT).text
        self.token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    def post(self, data):
        return self.session.post(
            self.url, {**data, "csrfmiddlewaretoken": self.token}, allow_redirects=False, timeout=TIMEOUT
        )


def submissions_per_second(browsers, data_for, accept):
    """``REQUESTS_PER_ROUND`` POSTs from ``CLIENTS`` browsers at once; successes per second."""

    def one(number):
        response = browsers[number % len(browsers)].post(data_for(number))
        return accept(response)

    start = time.perf_counter()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(one, range(REQUESTS_PER_ROUND)))
    elapsed = time.perf_counter() - start
    if not all(results):
        raise AssertionError(f"{results.count(False)} of {len(results)} submissions failed")
    return REQUESTS_PER_ROUND / elapsed


def held_seats(page_id):
    import psycopg

    with psycopg.connect(DATABASE_URL, connect_timeout=3) as conn:
        return conn.execute(
            "SELECT count(*) FROM wagtail_training_pay_registration WHERE page_id = %s AND status IN "
            "('pending', 'confirmed')",
            [page_id],
        ).fetchone()[0]


def run(report, rounds):
    try:
        recreate_database()
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL skips the case
        print(f"# throughput: SKIPPED, PostgreSQL unreachable at {DATABASE_URL} ({exc.__class__.__name__}: {exc})")
        return
    from bench.cases.registration import answers, registration_data

    content = set_up_content()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_gunicorn(port)
    try:
        wait_until_served(base, process)
        plain_browsers = [Browser(base, content["plain"]) for _ in range(CLIENTS)]
        learner_browsers = [Browser(base, content["session"]) for _ in range(CLIENTS)]
        plain_rates, plugin_rates = [], []
        for _ in range(THROUGHPUT_ROUNDS):
            plain_rates.append(
                submissions_per_second(plain_browsers, lambda n: answers(), lambda r: r.status_code == 200)
            )
            plugin_rates.append(
                submissions_per_second(
                    learner_browsers,
                    lambda n: registration_data(),
                    lambda r: r.status_code == 302 and "/pay/" in r.headers.get("Location", ""),
                )
            )
        # Overselling: ATTEMPTS learners at once for SEATS seats.
        racers = [Browser(base, content["small"]) for _ in range(CLIENTS)]
        with ThreadPoolExecutor(CLIENTS * 2) as pool:
            outcomes = list(
                pool.map(lambda n: racers[n % CLIENTS].post(registration_data()).status_code, range(ATTEMPTS))
            )
        holds = held_seats(content["small_id"])
    finally:
        stop(process)
    drop_database()

    plain_rate, plugin_rate = statistics.median(plain_rates), statistics.median(plugin_rates)
    # Rates become per-submission times so that the table reads like the other rows.
    base_measure = Measure(seconds=[1 / rate for rate in plain_rates])
    plug_measure = Measure(seconds=[1 / rate for rate in plugin_rates])
    report.add(
        f"throughput, PostgreSQL, {WORKERS} workers (ms/submission)",
        base_measure,
        plug_measure,
        [
            ("registrations/s >= 0.5 x plain submissions/s", plugin_rate >= 0.5 * plain_rate),
            (f"no overselling ({ATTEMPTS} learners, {SEATS} seats)", holds == SEATS and 500 not in outcomes),
        ],
        plain_per_second=round(plain_rate, 1),
        registrations_per_second=round(plugin_rate, 1),
        throughput_ratio=round(plugin_rate / plain_rate, 3),
        seats=SEATS,
        seats_held=holds,
        attempts=ATTEMPTS,
    )


def _set_up():
    """Runs in its own process on the PostgreSQL database (``--set-up``)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from bench import fixtures

    plain = fixtures.plain_form_page()
    session = fixtures.session_with_questions("bench-throughput", capacity=1_000_000)
    fixtures.add_registrations(session, 10_000)
    small = fixtures.session_with_questions("bench-few-seats", capacity=SEATS)
    print(json.dumps({"plain": plain.url, "session": session.url, "small": small.url, "small_id": small.pk}))


if __name__ == "__main__" and sys.argv[1:] == ["--set-up"]:
    sys.path.insert(0, str(ROOT))
    _set_up()
