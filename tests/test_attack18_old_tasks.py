"""Attack 18: tasks queued by an earlier version of the plugin still run after an upgrade (issue 18).

A django-tasks-db row names its task by import path and carries its arguments as JSON; a site upgraded while
rows are queued (a worker stopped for the deploy, a queue backed up during an SMTP outage) runs them with the
new code. Every task name ``wagtail_training_pay/tasks.py`` ever had (``git log -p`` of that file) must still
import, take the arguments it was queued with, and send nothing twice when run again.
"""

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from wagtail_training_pay.models import OwedEmail, OwedEmailState, Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service

ROOT = Path(__file__).resolve().parent.parent

#: Task names of earlier commits, with arguments of the shape they were queued with.
EARLIER_TASKS = {
    "send_confirmation_task": "(registration_id)",  # 92c7091 .. 84508c2
    "send_registration_email_task": "(registration_id, kind)",  # 92c7091 .. 84508c2
    "send_refund_notice_task": "(registration_id, amount)",  # 8a0082f .. ea00e57
    "send_host_receipt_task": "(charge_id)",  # 8a0082f .. ea00e57
    "send_owed_email_task": "(email_id)",  # 84508c2 .. 94f3639: an int, now a dedupe key
}


WORKER_SETTINGS = """
from tests.settings import *  # noqa: F403

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # the README's production block
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.postgres"]  # noqa: F405  (the worker's checks need it)
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = %r
"""


@pytest.fixture
def db_queue(tmp_path):
    """``db_queue(name, *args)``: queue ``name`` as an earlier version did (a row naming its path, its arguments
    as JSON), run ``manage.py db_worker --batch`` in a process of its own with the production task backend, and
    return the row. ``db_queue.emails()``: the messages the worker processes sent so far."""
    from django_tasks_db.models import DBTaskResult

    (tmp_path / "attack18_worker_settings.py").write_text(WORKER_SETTINGS % str(tmp_path / "mail"))
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "attack18_worker_settings",
        "DATABASE_URL": url,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }

    def run(name, *args):
        row = DBTaskResult.objects.create(
            task_path=f"wagtail_training_pay.tasks.{name}",
            args_kwargs={"args": list(args), "kwargs": {}},
            backend_name="default",
            queue_name="default",
            run_after=timezone.now(),
        )
        command = [sys.executable, "-m", "django", "db_worker", "--batch", "--no-startup-delay", "--queue-name", "*"]
        worker = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert worker.returncode == 0, worker.stderr[-3000:]
        row.refresh_from_db()
        assert (row.status, row.exception_class_path) == ("SUCCESSFUL", ""), row.traceback[-3000:]
        return row

    def emails():
        folder = tmp_path / "mail"
        return sorted(folder.iterdir()) if folder.exists() else []

    run.emails = emails
    return run


def pre_outbox_confirmed_registration(page):
    """A registration confirmed by a version before the outbox: no owed row, no ``confirmation_sent_at``."""
    registration = service.register(page, first_name="Ada", last_name="L", email="ada@example.com").registration
    assert registration.status == RegistrationStatus.CONFIRMED
    OwedEmail.objects.all().delete()
    Registration.objects.filter(pk=registration.pk).update(confirmation_sent_at=None)
    return registration


def recipients(db_queue):
    return [path.read_text().split("\nTo: ", 1)[1].split("\n", 1)[0] for path in db_queue.emails()]


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(EARLIER_TASKS))
def test_every_earlier_task_name_still_imports_as_a_task(name):
    from django.utils.module_loading import import_string

    assert callable(getattr(import_string(f"wagtail_training_pay.tasks.{name}"), "enqueue", None))


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_confirmation_queued_before_the_outbox_is_sent_once(free_session, db_queue):
    registration = pre_outbox_confirmed_registration(free_session)

    db_queue("send_confirmation_task", registration.pk)
    assert recipients(db_queue) == ["ada@example.com"]
    db_queue("send_confirmation_task", registration.pk)  # run again (a re-run, a second worker)
    assert recipients(db_queue) == ["ada@example.com"]
    registration.refresh_from_db()
    assert registration.confirmation_sent_at is not None


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_confirmation_already_sent_by_the_earlier_version_is_not_sent_again(free_session, db_queue):
    registration = pre_outbox_confirmed_registration(free_session)
    Registration.objects.filter(pk=registration.pk).update(confirmation_sent_at=timezone.now())

    db_queue("send_confirmation_task", registration.pk)
    assert recipients(db_queue) == []


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_registration_email_queued_before_the_outbox_is_sent_once(free_session, db_queue):
    registration = pre_outbox_confirmed_registration(free_session)
    service.cancel_registration(registration, user=None)
    OwedEmail.objects.all().delete()

    db_queue("send_registration_email_task", registration.pk, "cancelled")
    db_queue("send_registration_email_task", registration.pk, "cancelled")
    assert recipients(db_queue) == ["ada@example.com"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_owed_email_queued_by_its_id_is_sent_once(free_session, db_queue):
    registration = service.register(free_session, first_name="Ada", last_name="L", email="ada@example.com")
    owed = OwedEmail.objects.get(kind="confirmation", object_id=str(registration.registration.pk))
    OwedEmail.objects.filter(pk=owed.pk).update(state=OwedEmailState.OWED, sent_at=None)  # not sent yet

    db_queue("send_owed_email_task", owed.pk)
    db_queue("send_owed_email_task", owed.pk)
    owed.refresh_from_db()
    assert owed.state == OwedEmailState.SENT
    assert recipients(db_queue) == ["ada@example.com"]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_the_refund_notice_and_host_receipt_of_an_earlier_version_run_without_sending_twice(free_session, db_queue):
    registration = pre_outbox_confirmed_registration(free_session)

    for _attempt in range(2):
        db_queue("send_refund_notice_task", registration.pk, str(Decimal("10.00")))
        db_queue("send_host_receipt_task", 999999)
    assert recipients(db_queue) == []  # no refund was made, no such charge: nothing owed
