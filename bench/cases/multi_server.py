"""Throughput of the production shape on PostgreSQL: two app servers and a task worker against one server.

One gunicorn server with 4 worker processes, then two servers with 2 each behind the same clients (every other
request to each, as a load balancer would), the same ``db_worker`` running beside both, tasks queued in the
database (django-tasks-db). Registrations per second, measured in alternating rounds in the same run; the
ratio is two servers over one. The machine's cores are shared by everything, so this measures what splitting
the same processes across servers costs (nothing should be kept in one process or serialised behind a global
lock), not what a second machine adds. Skipped with a message when PostgreSQL cannot be reached.
"""

import json
import os
import statistics
import subprocess
import sys

from bench.cases import throughput
from bench.harness import Measure

ROUNDS = 3
TARGET = 0.85  # two servers keep at least this share of one server's registrations per second


def start_task_worker(env):
    command = [sys.executable, "-m", "django", "db_worker", "--skip-checks", "--interval=0.2", "--no-startup-delay"]
    return subprocess.Popen(command, cwd=throughput.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run(report, rounds):
    try:
        throughput.recreate_database()
    except Exception as exc:  # noqa: BLE001 - any failure to reach PostgreSQL skips the case
        print(f"# multi_server: SKIPPED, PostgreSQL unreachable ({exc.__class__.__name__}: {exc})")
        return
    from bench.cases.registration import registration_data

    env = {**throughput.server_env(), "BENCH_TASKS_BACKEND": "django_tasks_db.DatabaseBackend"}
    content = throughput.set_up_content("bench.cases.multi_server", env)
    ports = [throughput.free_port() for _ in range(3)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    one = throughput.start_gunicorn(ports[0], workers=4, env=env)
    two = [throughput.start_gunicorn(port, workers=2, env=env) for port in ports[1:]]
    worker = start_task_worker(env)
    try:
        for base, process in zip(bases, [one, *two], strict=True):
            throughput.wait_until_served(base, process)
        clients = throughput.CLIENTS
        one_server = [throughput.Browser(bases[0], content["session"]) for _ in range(clients)]
        two_servers = [throughput.Browser(bases[1 + number % 2], content["session"]) for number in range(clients)]
        accepted = lambda response: response.status_code == 302 and "/pay/" in response.headers.get("Location", "")  # noqa: E731
        one_rates, two_rates = [], []
        for round_number in range(ROUNDS):
            pair = [(one_server, one_rates), (two_servers, two_rates)]
            for browsers, rates in pair if round_number % 2 == 0 else reversed(pair):
                rates.append(throughput.submissions_per_second(browsers, lambda n: registration_data(), accepted))
        worker_alive = worker.poll() is None
    finally:
        for process in [one, *two]:
            throughput.stop(process)
        throughput.stop(worker)
    throughput.drop_database()

    one_rate, two_rate = statistics.median(one_rates), statistics.median(two_rates)
    report.add(
        "throughput, 2 servers + worker vs 1 (ms/registration)",
        Measure(seconds=[1 / rate for rate in one_rates]),
        Measure(seconds=[1 / rate for rate in two_rates]),
        [
            (f"two servers >= {TARGET} x one server's registrations/s", two_rate >= TARGET * one_rate),
            ("the task worker ran throughout", worker_alive),
        ],
        one_server_per_second=round(one_rate, 1),
        two_servers_per_second=round(two_rate, 1),
        throughput_ratio=round(two_rate / one_rate, 3),
        cores=os.cpu_count(),
    )


def _set_up():
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from bench import fixtures

    session = fixtures.session_with_questions("bench-two-servers", capacity=1_000_000)
    print(json.dumps({"session": session.url}))


if __name__ == "__main__" and sys.argv[1:] == ["--set-up"]:
    sys.path.insert(0, str(throughput.ROOT))
    _set_up()
