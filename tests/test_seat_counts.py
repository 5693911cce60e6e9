"""The seat counter (services/seats.py): it agrees with a recount after every flow (the autouse check in
conftest.py runs after every database test of the suite), drift is found and fixed by ``check_seat_counts``,
an old session without a counter row is counted right, and concurrent registrations and cancellations on
PostgreSQL neither oversell nor drift."""

import importlib
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction

from tests.test_registration_concurrency import run_together
from wagtail_training_pay.models import Registration, RegistrationStatus, SessionSeats
from wagtail_training_pay.services import registrations as service
from wagtail_training_pay.services import seats

ROOT = Path(__file__).resolve().parent.parent


def register(page, number, **kwargs):
    return service.register(
        page, first_name="Ada", last_name=str(number), email=f"learner{number}@example.com", **kwargs
    ).registration


def counter(page):
    return SessionSeats.objects.get(page=page).confirmed


@pytest.mark.django_db
def test_every_flow_moves_the_counter_in_its_own_transaction(free_session, admin_user):
    first, second, third = (register(free_session, n) for n in range(3))
    assert counter(free_session) == 3
    service.cancel_registration(first, user=admin_user)
    assert counter(free_session) == 2
    # Saved directly (a data import, the shell): the model keeps the counter too.
    second.status = RegistrationStatus.CANCELLED
    second.save()
    assert counter(free_session) == 1
    third.refresh_from_db()
    third.status = RegistrationStatus.CONFIRMED
    third.save()  # no change of status: no change of count
    assert counter(free_session) == 1
    assert service.seats_taken(free_session) == 1


@pytest.mark.django_db
@pytest.mark.seat_drift_expected
def test_a_status_changed_behind_the_services_back_is_reported_and_fixed_by_check_seat_counts(free_session, capsys):
    registration = register(free_session, 1)
    register(free_session, 2)
    Registration.objects.filter(pk=registration.pk).update(status=RegistrationStatus.CANCELLED)  # no counter
    assert seats.drift() == {free_session.pk: (2, 1)}

    with pytest.raises(SystemExit) as exited:
        call_command("check_seat_counts")
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert f"Session {free_session.pk}: counter says 2 confirmed seat(s), recount 1." in out
    assert "1 seat counter(s) disagree" in err

    call_command("check_seat_counts", "--fix")
    assert f"Session {free_session.pk}: counter set to 1." in capsys.readouterr().out
    assert seats.drift() == {}
    call_command("check_seat_counts")
    assert "Every seat counter agrees with a recount." in capsys.readouterr().out


@pytest.mark.django_db
def test_a_counter_that_would_go_below_zero_is_recounted_rather_than_refusing_the_cancellation(free_session):
    registration = register(free_session, 1)
    SessionSeats.objects.filter(page=free_session).update(confirmed=0)  # drifted low (rows imported in bulk)
    service.cancel_registration(registration, user=None)
    assert counter(free_session) == 0
    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CANCELLED


@pytest.mark.django_db
def test_a_session_with_no_counter_row_is_counted_from_its_registrations_and_gets_its_row(make_session):
    """An old session whose row is missing (or was deleted by hand): never read as 0 seats taken."""
    page = make_session(capacity=3, fee=0)
    for number in range(2):
        register(page, number)
    SessionSeats.objects.filter(page=page).delete()
    assert service.seats_taken(page) == 2
    assert service.seats_left(page) == 1
    from wagtail_training_pay.services.session_listing import with_seats_left

    assert with_seats_left(type(page).objects.filter(pk=page.pk))[0].seats_left == 1

    register(page, 3)
    assert counter(page) == 3
    with pytest.raises(service.SessionFull):
        register(page, 4)


@pytest.mark.django_db
def test_the_migration_fills_a_counter_for_every_existing_session(make_session):
    busy, empty = make_session(fee=0, capacity=None), make_session()
    for number in range(4):
        register(busy, number)
    Registration.objects.filter(page=busy, last_name="0").update(status=RegistrationStatus.CANCELLED)
    SessionSeats.objects.all().delete()  # as before the migration: no table rows

    migration = importlib.import_module("wagtail_training_pay.migrations.0009_issue18_seat_counts")
    # The function only reads the schema editor's connection; SQLite cannot open a schema editor inside the
    # test's transaction, so it is given the connection the migration would run on.
    migration.fill_counters(apps, SimpleNamespace(connection=connection))

    assert dict(SessionSeats.objects.values_list("page_id", "confirmed")) == {busy.pk: 3, empty.pk: 0}


@pytest.mark.django_db
def test_an_error_after_the_status_change_rolls_back_the_counter_with_it(free_session):
    registration = register(free_session, 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        seats.set_status(registration, RegistrationStatus.CANCELLED)
        raise RuntimeError("the worker died here")
    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CONFIRMED
    assert counter(free_session) == 1


# --- PostgreSQL: a killed process, concurrent cancellations and registrations -------------------


KILLED_MID_TRANSACTION = """
import os, signal, sys
import django
django.setup()
from django.db import transaction
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service, seats
with transaction.atomic():
    service.lock_session(int(sys.argv[1]))
    registration = Registration.objects.select_for_update().get(pk=int(sys.argv[2]))
    seats.set_status(registration, RegistrationStatus.CANCELLED)
    print("changed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_a_process_killed_between_status_change_and_commit_leaves_neither(free_session):
    registration = register(free_session, 1)
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": url}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_TRANSACTION, str(free_session.pk), str(registration.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert "changed" in killed.stdout
    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CONFIRMED
    assert counter(free_session) == 1
    assert seats.drift() == {}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_and_cancellations_never_oversell_nor_drift(make_session, admin_user, settings):
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "1000/h"
    page = make_session(capacity=10, fee=0)
    present = [register(page, number) for number in range(10)]
    assert counter(page) == 10

    def cancel(registration, by):
        def action():
            service.cancel_registration(registration, user=by)
            return "cancelled"

        return action

    def newcomer(number):
        def action():
            try:
                return register(page, number).status
            except service.SessionFull:
                return "full"

        return action

    actions = [cancel(registration, admin_user if i % 2 else None) for i, registration in enumerate(present[:6])]
    actions += [newcomer(100 + number) for number in range(24)]
    results = Counter(run_together(len(actions), lambda index: actions[index]()))

    assert results["cancelled"] == 6
    confirmed = Registration.objects.filter(page=page, status=RegistrationStatus.CONFIRMED).count()
    assert confirmed <= 10
    assert set(results) <= {"cancelled", "confirmed", "full"}
    assert results["confirmed"] == confirmed - 4  # the 4 never cancelled plus those who got a freed seat
    assert counter(page) == confirmed
    assert seats.drift() == {}
