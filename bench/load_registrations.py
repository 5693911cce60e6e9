#!/usr/bin/env python
"""HTTP load test: the sandbox served by several gunicorn workers on PostgreSQL, hammered on loopback.

    python bench/load_registrations.py --database postgres://postgres@127.0.0.1:5432/wtp_load
    python bench/load_registrations.py --attempts 60 --seats 6 --workers 3 --concurrency 16

Three phases, each against the real stack (gunicorn processes, PostgreSQL row locks, the
dummy provider):

1. ``attempts`` learners register at once for a session of ``seats`` seats: exactly ``seats``
   holds, every other attempt a clear "full" page, no 5xx;
2. for every held payment, ``replays`` provider callbacks and ``replays`` browser returns race
   each other: each registration confirmed once, one confirmation email each;
3. ``hosts`` hosts pay at once for the same unpaid session: one paid charge, the surplus refunded.

The database named by ``--database`` is dropped and created again: give it a name of its own.
Prints the figures, then one ``LOAD {json}`` line; exits 1 when an invariant does not hold.
Everything listens on 127.0.0.1 only, and every request has a timeout.
"""

import argparse
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / "sandbox"
REQUEST_TIMEOUT = 30
#: A full session says so; when its last seats are held by learners still paying, it says when to try again.
FULL_MESSAGES = ("Sorry, this session is full.", "Every seat is taken, but one is held by someone who is paying.")


def says_full(text):
    return any(message in text for message in FULL_MESSAGES)


HOST_PASSWORD = "load-test-only"  # noqa: S105 - a throw-away account on a throw-away database


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database",
        default=os.environ.get("WTP_LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/wtp_load"),
        help="PostgreSQL URL of a throw-away database (dropped and created again)",
    )
    parser.add_argument("--attempts", type=int, default=200)
    parser.add_argument("--seats", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--concurrency", type=int, default=32, help="client threads")
    parser.add_argument("--replays", type=int, default=3, help="callbacks and returns per payment")
    parser.add_argument("--hosts", type=int, default=4, help="hosts paying for the same session")
    parser.add_argument("--time-limit", type=float, default=300, help="seconds before the run is abandoned")
    args = parser.parse_args(argv)
    for name in ("attempts", "seats", "workers", "threads", "concurrency", "hosts"):
        if not 1 <= getattr(args, name) <= 1000:
            parser.error(f"--{name} must be between 1 and 1000")
    if not urlsplit(args.database).scheme.startswith("postgres"):
        parser.error("--database must be a PostgreSQL URL")
    if urlsplit(args.database).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--database must be on the loopback interface")
    return args


# -- the server --------------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(url):
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise SystemExit(f"Database name {name!r}: use lowercase letters, digits and underscores.")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def server_environment(args, port, mail_dir):
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database,
        DJANGO_SETTINGS_MODULE="bench.load_settings",
        WTP_LOAD_HOST=f"127.0.0.1:{port}",
        WTP_LOAD_MAIL_DIR=mail_dir,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(SANDBOX), env.get("PYTHONPATH", "")]),
    )
    return env


def start_gunicorn(args, port, env, log):
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "sandbox.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
    ]
    return subprocess.Popen(command, env=env, cwd=SANDBOX, stdout=log, stderr=log, start_new_session=True)


def wait_until_served(base, path, process, deadline):
    import requests

    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited before serving")
        try:
            if requests.get(base + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not serve the session page in time")


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# -- content, through the ORM of this process ---------------------------------------------------


def set_up_content(args):
    """A session of ``seats`` seats, an unpaid draft for the hosts, the settings and the host accounts."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone
    from wagtail.models import Page, Site

    from wagtail_training_pay.models import (
        HostPaymentMethod,
        LearnerPaymentMethod,
        TrainingIndexPage,
        TrainingPaySettings,
        TrainingSessionPage,
    )

    call_command("migrate", verbosity=0, interactive=False)
    site = Site.objects.get(is_default_site=True)
    home = site.root_page if site.root_page.depth > 1 else Page.objects.get(depth=2)
    index = home.add_child(instance=TrainingIndexPage(title="Training", slug="training"))
    common = {"start_at": timezone.now() + timedelta(days=7), "duration_minutes": 90, "currency": "EUR"}
    session = index.add_child(
        instance=TrainingSessionPage(
            title="Load test", slug="load-test", capacity=args.seats, fee=Decimal("45.00"), **common
        )
    )
    settings = TrainingPaySettings.for_site(site)
    settings.fee_based_enabled = True
    settings.pay_per_use_enabled = False  # the learners' session stays live; switched on below
    settings.save()
    LearnerPaymentMethod.objects.create(settings=settings, variant="dummy", label="Test payment", sort_order=0)
    HostPaymentMethod.objects.create(settings=settings, variant="dummy", label="Test payment", sort_order=0)

    settings.pay_per_use_enabled = True
    settings.person_minute_rate = Decimal("0.0200")
    settings.teleconference_minute_rate = Decimal("0.0500")
    settings.save()
    draft = TrainingSessionPage(
        title="Hosts' session",
        slug="hosts-session",
        capacity=30,
        fee=Decimal("0"),
        expected_participants=10,
        teleconference_participants=2,
        live=False,
        **common,
    )
    index.add_child(instance=draft)
    draft = TrainingSessionPage.objects.get(pk=draft.pk)
    revision = draft.save_revision()
    user_model = get_user_model()
    hosts = [
        user_model.objects.create_superuser(f"host{number}", f"host{number}@example.com", HOST_PASSWORD).get_username()
        for number in range(args.hosts)
    ]
    return {"session": session, "draft": draft, "revision": revision.pk, "hosts": hosts}


# -- the phases ---------------------------------------------------------------------------------


def csrf_token(html):
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""


def run_all(jobs, concurrency):
    """Run the callables on ``concurrency`` threads; results in order, exceptions as ``("exception", text)``."""

    def guarded(job):
        try:
            return job()
        except Exception as exc:  # noqa: BLE001 - counted as an error in the figures
            return ("exception", f"{exc.__class__.__name__}: {exc}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(guarded, jobs))


def register_once(base, path, number, headers=None):
    """One learner: GET the form, POST it; ``headers`` go with both (a proxy's ``X-Forwarded-For``)."""
    import requests

    browser = requests.Session()
    browser.headers.update(headers or {})
    page = browser.get(base + path, timeout=REQUEST_TIMEOUT)
    if page.status_code != 200:
        return ("error" if page.status_code >= 500 else "other", page.status_code)
    if says_full(page.text) and 'class="wtp-form"' not in page.text:
        return ("full", 200)  # full before this learner could even see the form
    data = {
        "csrfmiddlewaretoken": csrf_token(page.text),
        "first_name": "Learner",
        "last_name": f"Number {number}",
        "email": f"learner{number}@example.com",
        "billing_address": "12 rue des Archives",
        "billing_postcode": "75004",
        "billing_city": "Paris",
        "billing_country": "FR",
    }
    answer = browser.post(base + path, data=data, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    if answer.status_code >= 500:
        return ("error", answer.status_code)
    if answer.status_code == 302 and answer.headers["Location"].endswith("/pay/"):
        return ("held", answer.headers["Location"])
    if answer.status_code == 200 and says_full(answer.text):
        return ("full", 200)
    return ("other", answer.status_code)


def phase_registrations(args, base, path):
    started = time.monotonic()
    results = run_all([lambda n=n: register_once(base, path, n) for n in range(args.attempts)], args.concurrency)
    duration = time.monotonic() - started
    outcomes = Counter(result[0] for result in results)
    return {
        "attempts": args.attempts,
        "held": outcomes["held"],
        "full": outcomes["full"],
        "errors": outcomes["error"] + outcomes["exception"],
        "other": outcomes["other"],
        "duration_s": round(duration, 2),
        "requests_per_s": round(2 * args.attempts / duration, 1),
        "problems": [result for result in results if result[0] in ("error", "exception", "other")][:5],
    }


def phase_confirmations(args, base, session, mail_dir):
    import requests
    from payments import PaymentStatus
    from wagtail.models import ModelLogEntry

    from wagtail_training_pay.models import Payment, Registration, RegistrationStatus

    payments = list(Payment.objects.filter(registration__page=session).select_related("registration"))
    jobs = []
    for payment in payments:
        callback = f"{base}/training/payment/{payment.token}/process/?verification_result={PaymentStatus.CONFIRMED}"
        browser_return = f"{base}/training/payment/{payment.token}/return/"
        jobs += [callback] * args.replays + [browser_return] * args.replays
    random.shuffle(jobs)

    def hit(url):
        status = requests.get(url, timeout=REQUEST_TIMEOUT, allow_redirects=False).status_code
        return ("error", status) if status >= 500 else ("ok", status)

    started = time.monotonic()
    results = run_all([lambda url=url: hit(url) for url in jobs], args.concurrency)
    duration = time.monotonic() - started
    registrations = Registration.objects.filter(page=session)
    confirmations = Counter(
        ModelLogEntry.objects.filter(action="wagtail_training_pay.confirm").values_list("object_id", flat=True)
    )
    emails = emails_per_recipient(mail_dir)
    confirmed = registrations.filter(status=RegistrationStatus.CONFIRMED)
    return {
        "payments": len(payments),
        "notifications": len(jobs),
        "confirmed": confirmed.count(),
        "confirmed_twice": sum(1 for count in confirmations.values() if count > 1),
        "emails": sum(emails.get(r.email, 0) for r in confirmed),
        "emailed_twice": sum(1 for r in confirmed if emails.get(r.email, 0) > 1),
        "errors": sum(1 for result in results if result[0] != "ok"),
        "duration_s": round(duration, 2),
    }


def emails_per_recipient(mail_dir):
    counts = Counter()
    for path in Path(mail_dir).glob("*"):
        for recipient in re.findall(r"^To: (\S+)$", path.read_text(errors="replace"), flags=re.M):
            counts[recipient] += 1
    return counts


def host_browser(base, username):
    import requests

    browser = requests.Session()
    login = browser.get(f"{base}/admin/login/", timeout=REQUEST_TIMEOUT)
    data = {"csrfmiddlewaretoken": csrf_token(login.text), "username": username, "password": HOST_PASSWORD}
    answer = browser.post(f"{base}/admin/login/", data=data, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    if answer.status_code != 302:
        raise RuntimeError(f"login of {username} answered {answer.status_code}")
    return browser


def start_host_payment(base, browser, draft, revision):
    billing_url = f"{base}/admin/training/pay-per-use/{draft.pk}/billing/?revision={revision}&action=publish"
    form = browser.get(billing_url, timeout=REQUEST_TIMEOUT)
    if form.status_code != 200:
        return ("error" if form.status_code >= 500 else "other", form.status_code)
    data = {
        "csrfmiddlewaretoken": csrf_token(form.text),
        "name": "Host",
        "email": "host@example.com",
        "address": "1 rue de la Paix",
        "postcode": "75002",
        "city": "Paris",
        "country": "FR",
        "variant": "dummy",
    }
    answer = browser.post(billing_url, data=data, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    if answer.status_code >= 500:
        return ("error", answer.status_code)
    return ("payment", base + answer.headers.get("Location", "")) if answer.status_code == 302 else ("other", 0)


def pay_as_host(base, browser, payment_url):
    form = browser.get(payment_url, timeout=REQUEST_TIMEOUT)
    if form.status_code >= 500:
        return ("error", form.status_code)
    data = {
        "csrfmiddlewaretoken": csrf_token(form.text),
        "status": "confirmed",
        "fraud_status": "accept",
        "gateway_response": "3ds-disabled",
        "verification_result": "",
    }
    answer = browser.post(payment_url, data=data, timeout=REQUEST_TIMEOUT, allow_redirects=False)
    if answer.status_code >= 500:
        return ("error", answer.status_code)
    location = answer.headers.get("Location", "")
    if location:  # the app's return view settles the payment and sends the host on
        back = browser.get(location if location.startswith("http") else base + location, timeout=REQUEST_TIMEOUT)
        if back.status_code >= 500:
            return ("error", back.status_code)
    return ("paid", answer.status_code)


def phase_host_payments(args, base, draft, revision, hosts):
    from payments import PaymentStatus
    from wagtail.models import PageLogEntry

    from wagtail_training_pay.models import Payment, TrainingSessionPage, UsageCharge, UsageChargeStatus
    from wagtail_training_pay.services import pay_per_use

    browsers = run_all([lambda name=name: host_browser(base, name) for name in hosts], args.concurrency)
    browsers = [browser for browser in browsers if not isinstance(browser, tuple)]
    started = time.monotonic()
    starts = run_all([lambda b=b: start_host_payment(base, b, draft, revision) for b in browsers], args.concurrency)
    paying = [(b, result[1]) for b, result in zip(browsers, starts, strict=True) if result[0] == "payment"]
    paid = run_all([lambda b=b, url=url: pay_as_host(base, b, url) for b, url in paying], args.concurrency)
    duration = time.monotonic() - started
    charges = UsageCharge.objects.filter(page=draft)
    payments = Payment.objects.filter(usage_charge__page=draft)
    return {
        "hosts": len(hosts),
        "payments_started": len(paying),
        "payments_taken": payments.filter(status__in=[PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED]).count(),
        "charges_paid": charges.filter(status=UsageChargeStatus.PAID).count(),
        "surplus_refunded": payments.filter(status=PaymentStatus.REFUNDED).count(),
        "paid_log_entries": PageLogEntry.objects.filter(page=draft, action=pay_per_use.PAID_ACTION).count(),
        "live": TrainingSessionPage.objects.get(pk=draft.pk).live,
        "errors": sum(1 for result in [*starts, *paid] if result[0] in ("error", "exception", "other"))
        + (len(hosts) - len(browsers)),
        "duration_s": round(duration, 2),
    }


# -- main ---------------------------------------------------------------------------------------


def invariants(args, figures):
    registrations, confirmations, hosts = figures["registrations"], figures["confirmations"], figures["hosts"]
    expected_held = min(args.seats, args.attempts)
    return {
        "exactly the seats held": registrations["held"] == expected_held,
        "every other attempt told the session is full": registrations["full"] == args.attempts - expected_held,
        "no error while registering": registrations["errors"] == 0 and registrations["other"] == 0,
        "every held seat confirmed": confirmations["confirmed"] == expected_held,
        "no registration confirmed twice": confirmations["confirmed_twice"] == 0,
        "one confirmation email each": confirmations["emails"] == expected_held and confirmations["emailed_twice"] == 0,
        "no error while confirming": confirmations["errors"] == 0,
        "one paid host charge": hosts["charges_paid"] == 1 and hosts["paid_log_entries"] == 1 and hosts["live"],
        "every surplus host payment refunded": hosts["surplus_refunded"] == hosts["payments_taken"] - 1,
        "no error while hosts pay": hosts["errors"] == 0,
    }


def main(argv=None):
    args = parse_args(argv)
    sys.path[:0] = [str(ROOT), str(SANDBOX)]
    port = free_port()
    mail_dir = tempfile.mkdtemp(prefix="wtp-load-mail-")
    os.environ.update(server_environment(args, port, mail_dir))
    recreate_database(args.database)

    import django

    django.setup()
    content = set_up_content(args)
    from django.db import connections

    connections.close_all()

    base = f"http://127.0.0.1:{port}"
    session_path = content["session"].get_url()
    deadline = time.monotonic() + args.time_limit
    with tempfile.TemporaryFile(mode="w+") as log:
        server = start_gunicorn(args, port, dict(os.environ), log)
        try:
            wait_until_served(base, session_path, server, min(deadline, time.monotonic() + 60))
            figures = {"registrations": phase_registrations(args, base, session_path)}
            figures["confirmations"] = phase_confirmations(args, base, content["session"], mail_dir)
            figures["hosts"] = phase_host_payments(args, base, content["draft"], content["revision"], content["hosts"])
        finally:
            stop(server)
            log.seek(0)
            server_log = log.read()
    figures["server_errors_logged"] = len(re.findall(r"^(?:ERROR|Internal Server Error|Traceback)", server_log, re.M))
    figures["settings"] = {
        key: getattr(args, key) for key in ("attempts", "seats", "workers", "threads", "concurrency", "replays")
    }
    checks = invariants(args, figures)
    figures["ok"] = all(checks.values())

    registrations = figures["registrations"]
    print(f"gunicorn: {args.workers} workers x {args.threads} threads on {base}; {args.concurrency} client threads")
    print(
        f"registrations: {registrations['attempts']} attempts for {args.seats} seats -> "
        f"{registrations['held']} seats held, {registrations['full']} 'full' pages, "
        f"{registrations['errors']} errors, {registrations['other']} other, in {registrations['duration_s']} s "
        f"({registrations['requests_per_s']} requests/s)"
    )
    confirmations = figures["confirmations"]
    print(
        f"confirmations: {confirmations['notifications']} racing callbacks and returns for "
        f"{confirmations['payments']} payments -> {confirmations['confirmed']} confirmed, "
        f"{confirmations['confirmed_twice']} twice, {confirmations['emails']} emails, "
        f"{confirmations['errors']} errors, in {confirmations['duration_s']} s"
    )
    hosts = figures["hosts"]
    print(
        f"host payments: {hosts['payments_started']} hosts paying for one session -> {hosts['charges_paid']} paid "
        f"charge, {hosts['surplus_refunded']} surplus refunded, live={hosts['live']}, {hosts['errors']} errors, "
        f"in {hosts['duration_s']} s"
    )
    for name, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    if figures["server_errors_logged"]:
        print(f"server log ({figures['server_errors_logged']} errors):\n{server_log[-4000:]}")
    print("LOAD " + json.dumps(figures, default=str))
    return 0 if figures["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
