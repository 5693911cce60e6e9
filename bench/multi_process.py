#!/usr/bin/env python
"""The production shape, run here: two app servers and task workers on one PostgreSQL, a worker killed mid-task.

    python bench/multi_process.py --database postgres://postgres@127.0.0.1:5432/wtp_multi
    python bench/multi_process.py --learners 40 --seats 8 --ports 8200,8201

Two gunicorn servers (the sandbox with ``bench.multi_settings``: django-tasks-db, the shared database cache, the
proxy's ``X-Forwarded-For``) on two ports, and two ``db_worker`` processes:

1. ``learners`` learners (each from an address of their own) register for ``seats`` seats, alternately on
   either server;
2. ``limited`` registrations from one address, alternately on either server, against a limit of ``limit``
   per hour: the limit is counted once for both servers (the shared database cache);
3. every held payment is notified ``replays`` times on each server, the provider's callback and the browser
   return racing; the confirmation emails are queued, and the workers send them through a slow mail server;
   one worker is killed (SIGKILL) while it sends one, and one gunicorn worker process of the first server
   is killed while the notifications arrive;
4. the remaining worker drains the queue, then ``manage.py run_sweepers`` (cron) sends what the killed worker
   left owed; then every email task is queued again (a retry after it succeeded) and sends nothing.

Checks: no seat oversold, every paid registration confirmed once with one email, the killed task found again by
the sweeper, exactly ``limit`` registrations let through. The database is dropped and created again: give it a
name of its own. Prints the figures and one ``MULTI {json}`` line; exits 1 when a check fails. Loopback only,
every request has a timeout, every process is stopped at the end.
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from argparse import Namespace
from collections import Counter
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "sandbox"
sys.path[:0] = [str(ROOT), str(SANDBOX)]

from bench.load_registrations import (  # noqa: E402
    REQUEST_TIMEOUT,
    emails_per_recipient,
    free_port,
    recreate_database,
    register_once,
    run_all,
    server_environment,
    set_up_content,
    start_gunicorn,
    stop,
    wait_until_served,
)

EMAIL_TASK = "wagtail_training_pay.tasks.send_owed_email_task"
LIMITED_ADDRESS = "203.0.113.7"  # one client behind the site's proxy (TEST-NET-3, never routed)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database",
        default=os.environ.get("WTP_MULTI_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wtp_multi"),
        help="PostgreSQL URL of a throw-away database on loopback (dropped and created again)",
    )
    parser.add_argument("--ports", default="", help="two ports for the servers, e.g. 8200,8201 (default: free)")
    parser.add_argument("--learners", type=int, default=24)
    parser.add_argument("--seats", type=int, default=6)
    parser.add_argument("--replays", type=int, default=1, help="callbacks and returns per payment and server")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes per server")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--mail-delay", type=float, default=1.0, help="seconds the mail server takes per message")
    parser.add_argument("--limit", type=int, default=3, help="registrations per hour from one address")
    parser.add_argument("--limited", type=int, default=10, help="registrations sent from that address")
    parser.add_argument("--time-limit", type=float, default=240, help="seconds before the run is abandoned")
    args = parser.parse_args(argv)
    for name in ("learners", "seats", "workers", "threads", "concurrency", "limit", "limited"):
        if not 1 <= getattr(args, name) <= 500:
            parser.error(f"--{name} must be between 1 and 500")
    if urlsplit(args.database).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--database must be on the loopback interface")
    ports = [int(port) for port in args.ports.split(",") if port.strip()]
    if ports and len(ports) != 2:
        parser.error("--ports takes two ports")
    args.ports = ports or [free_port(), free_port()]
    return args


# -- the processes ------------------------------------------------------------------------------


class Stack:
    """App servers and task workers on one database; everything they print goes to one log file."""

    def __init__(self, args, env, log):
        self.args, self.env, self.log = args, env, log
        self.servers, self.task_workers = [], {}

    def start_server(self, port):
        server = start_gunicorn(self.args, port, self.env, self.log)
        self.servers.append(server)
        return server

    def start_task_worker(self, worker_id, interval=0.1):
        command = [sys.executable, str(SANDBOX / "manage.py"), "db_worker", f"--interval={interval}"]
        command += [f"--worker-id={worker_id}", "--no-startup-delay"]
        worker = subprocess.Popen(command, env=self.env, cwd=SANDBOX, stdout=self.log, stderr=self.log)
        self.task_workers[worker_id] = worker
        return worker

    def manage(self, *command, timeout=120):
        return subprocess.run(
            [sys.executable, str(SANDBOX / "manage.py"), *command],
            env=self.env,
            cwd=SANDBOX,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def stop(self):
        for process in [*self.servers, *self.task_workers.values()]:
            stop(process)


def web_worker_pids(server):
    """The gunicorn worker processes of a server (the children of its master)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


# -- what the database says ---------------------------------------------------------------------


def running_email_task_of(worker_id):
    from django_tasks_db.models import DBTaskResult

    return DBTaskResult.objects.filter(status="RUNNING", task_path=EMAIL_TASK, worker_ids__contains=[worker_id])


def queue_counts():
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    return dict(DBTaskResult.objects.values_list("status").annotate(Count("id")))


def progress(what):
    print(f"# {time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def wait_for(condition, deadline, step=0.05):
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


# -- the phases ---------------------------------------------------------------------------------


def phase_registrations(args, bases, path):
    jobs = [
        lambda n=n: register_once(bases[n % 2], path, n, headers={"X-Forwarded-For": f"198.51.100.{n % 250 + 1}"})
        for n in range(args.learners)
    ]
    started = time.monotonic()
    results = run_all(jobs, args.concurrency)
    outcomes = Counter(result[0] for result in results)
    return {
        "learners": args.learners,
        "held": outcomes["held"],
        "full": outcomes["full"],
        "errors": outcomes["error"] + outcomes["exception"] + outcomes["other"],
        "problems": [result for result in results if result[0] not in ("held", "full")][:5],
        "duration_s": round(time.monotonic() - started, 2),
    }


def notifications(args, bases, session):
    """Every payment's callback and browser return, ``replays`` times on each server, shuffled."""
    from payments import PaymentStatus

    from wagtail_training_pay.models import Payment

    urls = []
    for payment in Payment.objects.filter(registration__page=session):
        for base in bases:
            process = f"{base}/training/payment/{payment.token}/process/?verification_result={PaymentStatus.CONFIRMED}"
            urls += [process, f"{base}/training/payment/{payment.token}/return/"] * args.replays
    random.shuffle(urls)
    return urls


class TaskWorkerKiller(threading.Thread):
    """Watches the queue and kills ``worker_id`` (SIGKILL) while it is sending an email."""

    def __init__(self, stack, worker_id, delay, deadline):
        super().__init__(daemon=True)
        self.stack, self.worker_id, self.delay, self.deadline = stack, worker_id, delay, deadline
        self.killed_task = None

    def run(self):
        from django.db import connection

        try:
            give_up = min(self.deadline, time.monotonic() + 60)
            if wait_for(lambda: running_email_task_of(self.worker_id).exists(), give_up):
                time.sleep(self.delay)  # well inside the mail server's delay: the email is not out yet
                task = running_email_task_of(self.worker_id).values_list("id", flat=True).first()
                self.stack.task_workers[self.worker_id].send_signal(signal.SIGKILL)
                self.stack.task_workers[self.worker_id].wait(timeout=10)
                self.killed_task = str(task)
        finally:
            connection.close()


def phase_payments(args, stack, bases, session, deadline):
    """The notifications, with a gunicorn worker killed among them and a task worker killed mid-email."""
    import requests

    def hit(url):
        status = requests.get(url, timeout=REQUEST_TIMEOUT, allow_redirects=False).status_code
        return ("error", status) if status >= 500 else ("ok", status)

    killer = TaskWorkerKiller(stack, "worker-one", min(0.3, args.mail_delay / 3), deadline)
    killer.start()
    urls = notifications(args, bases, session)
    half = len(urls) // 2
    started = time.monotonic()
    results = run_all([lambda url=url: hit(url) for url in urls[:half]], args.concurrency)
    pids = web_worker_pids(stack.servers[0])
    # A gunicorn worker killed while the second half is in flight (its master starts another one).
    kill_web_worker = threading.Timer(0.1, os.kill, [pids[0], signal.SIGKILL]) if pids else None
    if kill_web_worker is not None:
        kill_web_worker.start()
    results += run_all([lambda url=url: hit(url) for url in urls[half:]], args.concurrency)
    killed_web_worker = pids[0] if kill_web_worker is not None and kill_web_worker.finished.is_set() else None
    notified_s = time.monotonic() - started
    killer.join(timeout=max(1, deadline - time.monotonic()))
    # The other worker drains the queue; the killed worker's task stays "running" for ever.
    drained = wait_for(lambda: not queue_counts().get("READY") and queue_counts().get("RUNNING", 0) <= 1, deadline)
    outcomes = Counter(result[0] for result in results)
    return {
        "notifications": len(urls),
        "answered": outcomes["ok"],
        "errors": outcomes["error"],
        "lost_answers": outcomes["exception"],  # requests on the gunicorn worker that was killed
        "killed_web_worker": killed_web_worker,
        "killed_task": killer.killed_task,
        "queue_drained": drained,
        "queue_after_kill": queue_counts(),
        "duration_s": round(notified_s, 2),
    }


def phase_sweep(stack):
    """Cron's turn: ``run_sweepers`` in a process of its own."""
    started = time.monotonic()
    swept = stack.manage("run_sweepers")
    return {
        "exit_code": swept.returncode,
        "lines": swept.stdout.splitlines() + swept.stderr.splitlines(),
        "duration_s": round(time.monotonic() - started, 2),
    }


def phase_retries(deadline):
    """Every email task queued again, as a queue that delivers at least once would: nothing is sent twice."""
    from wagtail_training_pay.models import OwedEmail
    from wagtail_training_pay.tasks import enqueue, send_owed_email_task

    keys = list(OwedEmail.objects.values_list("dedupe_key", flat=True))
    results = [enqueue(send_owed_email_task, key) for key in keys]
    drained = wait_for(lambda: not queue_counts().get("READY") and queue_counts().get("RUNNING", 0) <= 1, deadline)
    from django_tasks_db.models import DBTaskResult

    finished = DBTaskResult.objects.filter(id__in=[result.id for result in results])
    return {
        "requeued": len(keys),
        "drained": drained,
        "sent_again": sum(1 for value in finished.values_list("return_value", flat=True) if value),
    }


def phase_rate_limit(args, bases, path):
    jobs = [
        lambda n=n: register_once(bases[n % 2], path, 1000 + n, headers={"X-Forwarded-For": LIMITED_ADDRESS})
        for n in range(args.limited)
    ]
    results = run_all(jobs, args.concurrency)
    outcomes = Counter("limited" if result == ("other", 429) else result[0] for result in results)
    return {
        "limit": args.limit,
        "sent": args.limited,
        "allowed": outcomes["held"],
        "limited": outcomes["limited"],
        "errors": sum(count for outcome, count in outcomes.items() if outcome not in ("held", "limited")),
    }


def money_figures(session, mail_dir):
    from wagtail.models import ModelLogEntry

    from wagtail_training_pay.models import OwedEmail, Registration, RegistrationStatus

    registrations = Registration.objects.filter(page=session)
    confirmed = list(registrations.filter(status=RegistrationStatus.CONFIRMED))
    confirm_entries = Counter(
        ModelLogEntry.objects.filter(action="wagtail_training_pay.confirm").values_list("object_id", flat=True)
    )
    emails = emails_per_recipient(mail_dir)
    return {
        "capacity": session.capacity,
        "holding_seats": registrations.filter(status__in=[RegistrationStatus.PENDING, "confirmed"]).count(),
        "confirmed": len(confirmed),
        "confirmed_twice": sum(1 for count in confirm_entries.values() if count > 1),
        "emails": sum(emails.get(registration.email, 0) for registration in confirmed),
        "emailed_twice": sum(1 for registration in confirmed if emails.get(registration.email, 0) > 1),
        "emails_still_owed": OwedEmail.objects.filter(state="owed").count(),
    }


def checks(args, figures):
    registrations, payments = figures["registrations"], figures["payments"]
    money, sweep, limit = figures["money"], figures["sweep"], figures["rate_limit"]
    seats = min(args.seats, args.learners)
    return {
        "exactly the seats held, the others told it is full": (registrations["held"], registrations["full"])
        == (seats, args.learners - seats),
        "no error while registering": registrations["errors"] == 0,
        "no seat oversold": money["holding_seats"] <= money["capacity"],
        "no error answered to a notification": payments["errors"] == 0,
        "a task worker was killed while sending an email": payments["killed_task"] is not None,
        "every paid registration confirmed, once": money["confirmed"] == seats and money["confirmed_twice"] == 0,
        "one confirmation email each, the killed one sent by the sweeper": money["emails"] == seats
        and money["emailed_twice"] == 0
        and money["emails_still_owed"] == 0,
        "email tasks run again send nothing": figures["retries"]["drained"] and figures["retries"]["sent_again"] == 0,
        "the sweepers ran and said so": sweep["exit_code"] == 0
        and any(line.startswith("emails: done") for line in sweep["lines"]),
        "the rate limit counted once for both servers": (limit["allowed"], limit["limited"], limit["errors"])
        == (args.limit, args.limited - args.limit, 0),
        "no server error logged": figures["server_errors_logged"] == 0,
    }


def set_up(args):
    from django.db import connections
    from wagtail.models import Site

    from wagtail_training_pay.models import TrainingPaySettings, TrainingSessionPage

    content = set_up_content(Namespace(seats=args.seats, hosts=0))
    session = content["session"]
    training_settings = TrainingPaySettings.for_site(Site.objects.get(is_default_site=True))
    training_settings.pay_per_use_enabled = False  # the second session goes live at once
    training_settings.save()
    limited = session.get_parent().add_child(
        instance=TrainingSessionPage(
            title="Rate limit",
            slug="rate-limit",
            capacity=args.limited + 10,
            fee=Decimal("45.00"),
            start_at=session.start_at,
            duration_minutes=90,
            currency="EUR",
        )
    )
    connections.close_all()
    return session, limited


def main(argv=None):
    args = parse_args(argv)
    deadline = time.monotonic() + args.time_limit
    mail_dir = tempfile.mkdtemp(prefix="wtp-multi-mail-")
    os.environ.update(server_environment(args, args.ports[0], mail_dir))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="bench.multi_settings",
        WTP_LOAD_RATE_LIMIT=f"{args.limit}/h",
        WTP_MULTI_MAIL_DELAY=str(args.mail_delay),
    )
    recreate_database(args.database)

    import django

    django.setup()
    progress("setting up the database")
    session, limited = set_up(args)
    progress("database ready")
    bases = [f"http://127.0.0.1:{port}" for port in args.ports]
    figures = {"ports": args.ports}
    with tempfile.TemporaryFile(mode="w+") as log:
        stack = Stack(args, dict(os.environ), log)
        try:
            servers = [stack.start_server(port) for port in args.ports]
            for worker_id in ("worker-one", "worker-two"):
                stack.start_task_worker(worker_id)
            for base, server in zip(bases, servers, strict=True):
                wait_until_served(base, session.get_url(), server, deadline)
            progress("servers and task workers up")
            figures["registrations"] = phase_registrations(args, bases, session.get_url())
            progress("registrations done")
            figures["rate_limit"] = phase_rate_limit(args, bases, limited.get_url())
            progress("rate limit done")
            figures["payments"] = phase_payments(args, stack, bases, session, deadline)
            progress("payments done")
            figures["sweep"] = phase_sweep(stack)
            progress("sweepers done")
            figures["retries"] = phase_retries(deadline)
            progress("retries done")
        finally:
            stack.stop()
        log.seek(0)
        server_log = log.read()
    figures["money"] = money_figures(session, mail_dir)
    # A killed gunicorn worker is reported by its master ("Worker ... was sent SIGKILL"): not an error of ours.
    figures["server_errors_logged"] = len(re.findall(r"^(?:Internal Server Error|Traceback)", server_log, re.M))
    results = checks(args, figures)
    figures["ok"] = all(results.values())

    registrations, payments, money = figures["registrations"], figures["payments"], figures["money"]
    print(f"two servers on {', '.join(bases)}, {args.workers} gunicorn workers each; two db_worker processes")
    print(
        f"registrations: {args.learners} learners for {args.seats} seats -> {registrations['held']} held, "
        f"{registrations['full']} told it is full, {registrations['errors']} errors"
    )
    print(
        f"payments: {payments['notifications']} notifications on both servers -> {money['confirmed']} confirmed, "
        f"{money['confirmed_twice']} twice; gunicorn worker {payments['killed_web_worker']} killed "
        f"({payments['lost_answers']} answers lost); task {payments['killed_task']} killed mid-email"
    )
    print(f"sweepers (exit {figures['sweep']['exit_code']}): " + "; ".join(figures["sweep"]["lines"]))
    print(f"emails: {money['emails']} for {money['confirmed']} confirmed, {money['emailed_twice']} twice")
    limit = figures["rate_limit"]
    print(
        f"rate limit {limit['limit']}/h, {limit['sent']} registrations from one address on both servers -> "
        f"{limit['allowed']} allowed, {limit['limited']} refused"
    )
    for name, passed in results.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    if figures["server_errors_logged"] or not figures["ok"]:
        print(f"server log:\n{server_log[-4000:]}")
    print("MULTI " + json.dumps(figures, default=str))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
