"""The sweepers behind one entry point: ``manage.py run_sweepers`` (cron) or ``run_sweepers_task`` (a periodic task).

Each sweeper finishes what a request, a task or a worker left undone; all of them are idempotent, so a task
lost with its worker (killed, out of memory, a deploy) is found again here. In order:

``payments``   stale payments asked about at the gateway, money movements sent again, given-up payments
               reconciled (``services/stale_payments.py``, ``services/money.py``);
``holds``      expired seat holds released, money nobody needs refunded;
``emails``     owed emails sent (``services/outbox.py``);
``reminders``  reminders of sessions starting soon;
``retention``  registrations past the retention period anonymized.

``payments`` also releases holds and sends owed emails once it is done; ``holds`` and ``emails`` run on their own
as well, so that a failing sweeper (a gateway down, a bug) never stops the others.

**Never twice at once.** On PostgreSQL each sweeper runs under an advisory lock of its own
(``pg_try_advisory_xact_lock``, in a transaction held open on a second connection, so that it holds behind a
pooler in transaction mode too): a second run started meanwhile (a slow run overlapping the next cron tick, two
servers with the same crontab) skips that sweeper and says so. The lock goes with that transaction, so a run
killed mid-sweep leaves no lock behind. Other databases (SQLite: development, one server) take no lock: run
a single cron line there (``flock -n``, see ``docs/deployment.md``); the sweepers stay correct twice at once,
only slower.
"""

import logging
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import DatabaseError, connection, connections

logger = logging.getLogger(__name__)

#: First key of every sweeper's advisory lock ("WTP!"), the second is the sweeper's own.
LOCK_NAMESPACE = 0x57545021


def _sweep_payments():
    from .stale_payments import check_stale_payments

    counts = check_stale_payments()
    done = [f"{value} {name.replace('_', ' ')}" for name, value in counts.items() if value]
    return ", ".join(done) or "nothing to do"


def _sweep_holds():
    from .registrations import release_expired_holds

    expired, refunded = release_expired_holds()
    return f"{expired} hold(s) released, {refunded} late payment(s) refunded"


def _sweep_emails():
    from .outbox import send_owed_emails

    return f"{send_owed_emails()} owed email(s) sent"


def _sweep_reminders():
    from .emails import send_due_reminders

    return f"{send_due_reminders()} reminder(s) sent"


def _sweep_retention():
    from .data_protection import anonymize_due_registrations

    return f"{anonymize_due_registrations()} registration(s) anonymized"


#: name -> function returning a one-line account of what it did, in the order they run.
SWEEPERS = {
    "payments": _sweep_payments,
    "holds": _sweep_holds,
    "emails": _sweep_emails,
    "reminders": _sweep_reminders,
    "retention": _sweep_retention,
}


@dataclass
class SweepResult:
    name: str
    state: str  # "done", "failed" or "skipped"
    summary: str
    seconds: float = 0.0

    @property
    def line(self):
        if self.state == "skipped":
            return f"{self.name}: skipped, {self.summary}"
        return f"{self.name}: {self.state} in {self.seconds:.2f} s, {self.summary}"


def lock_key(name):
    """The sweeper's own advisory lock key, a signed 32-bit integer stable across processes."""
    key = zlib.crc32(f"wagtail_training_pay.sweepers.{name}".encode())
    return key - 2**32 if key >= 2**31 else key


@contextmanager
def sweeper_lock(name):
    """Yield True when this process holds the sweeper's lock (always, on a database without advisory locks).

    The lock is a transaction-level advisory lock taken in a transaction of its own, on a connection of its own,
    held open while the sweeper runs on the usual connection. A session-level lock would not hold behind a pooler
    in transaction mode (PgBouncer hands each transaction any server connection: a second run was told it held
    the lock the first run held, ``tests/test_attack18_pgbouncer.py``); an open transaction keeps its server
    connection. The lock ends with that transaction: at the end of the sweep, or when the process dies and its
    connection closes.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    lock = connections.create_connection(connection.alias)
    try:
        lock.set_autocommit(False)
        with lock.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, lock_key(name)])
            held = cursor.fetchone()[0]
        yield held
    finally:
        try:
            lock.rollback()
        except DatabaseError:
            pass  # the connection broke (a database restart): the server ended the transaction and its lock
        lock.close()


def run_sweeper(name):
    try:
        with sweeper_lock(name) as held:
            if not held:
                return SweepResult(name, "skipped", "another run holds it")
            started = time.monotonic()
            try:
                summary = SWEEPERS[name]()
            except Exception as exc:  # noqa: BLE001 - one sweeper's failure must not stop the others
                logger.exception("Sweeper %s failed.", name)
                if connection.vendor == "postgresql" and not connection.in_atomic_block:
                    _recover_connection()
                return SweepResult(name, "failed", _reason(exc), time.monotonic() - started)
            return SweepResult(name, "done", summary, time.monotonic() - started)
    except DatabaseError as exc:
        # The lock's own connection could not be opened (no connection left for the role, the server down): this
        # sweeper fails and says so, the next ones still try.
        logger.exception("Sweeper %s could not take its lock.", name)
        return SweepResult(name, "failed", f"could not take its lock: {_reason(exc)}")


def _reason(exc):
    return f"{exc.__class__.__name__}: {exc}".strip()[:300]


def _recover_connection():
    """After a database error the connection may be unusable (the server went away): the next sweeper reconnects."""
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        connection.close()


def run_sweepers(names=None):
    """Run the named sweepers (all by default) in order; returns one ``SweepResult`` each."""
    unknown = set(names or ()) - set(SWEEPERS)
    if unknown:
        raise ValueError(f"Unknown sweeper(s): {', '.join(sorted(unknown))}. Known: {', '.join(SWEEPERS)}.")
    results = [run_sweeper(name) for name in SWEEPERS if not names or name in names]
    for result in results:
        log = logger.error if result.state == "failed" else logger.info
        log("Sweeper %s", result.line)
    return results
