"""Attack 18: the seat counter against a site's own code calling the model API directly (issue 18).

``Registration.save()`` is documented to keep the counter right for a registration saved directly (a data
import, the shell, a site's own code). These tests save registrations the way such code does: instances
loaded earlier, saved later, from several processes on one PostgreSQL database.
"""

import threading

import pytest
from django.db import connection, transaction

from tests.test_registration_concurrency import run_together
from wagtail_training_pay.models import Registration, RegistrationStatus, SessionSeats
from wagtail_training_pay.services import registrations as service
from wagtail_training_pay.services import seats


def register(page, number):
    return service.register(
        page, first_name="Ada", last_name=str(number), email=f"learner{number}@example.com"
    ).registration


def counter(page):
    return SessionSeats.objects.get(page=page).confirmed


def confirmed(page):
    return Registration.objects.filter(page=page, status=RegistrationStatus.CONFIRMED).count()


@pytest.mark.django_db
def test_two_stale_copies_of_one_registration_saved_as_cancelled_free_one_seat_not_two(make_session):
    """Two copies loaded before either cancelled it (two requests, two processes): the second save changes
    no status in the database, so it must not move the counter again; else the session is oversold."""
    page = make_session(capacity=3, fee=0)
    first = register(page, 1)
    register(page, 2)
    register(page, 3)
    mine, theirs = Registration.objects.get(pk=first.pk), Registration.objects.get(pk=first.pk)

    mine.status = RegistrationStatus.CANCELLED
    mine.save()
    theirs.status = RegistrationStatus.CANCELLED
    theirs.save()

    assert counter(page) == confirmed(page) == 2
    assert seats.drift() == {}
    register(page, 4)  # the one freed seat
    with pytest.raises(service.SessionFull):
        register(page, 5)
    assert confirmed(page) == 3


@pytest.mark.django_db
def test_a_stale_copy_saved_after_the_service_confirmed_it_keeps_the_counter_equal_to_a_recount(make_session):
    """A copy loaded while pending, saved (full save, e.g. a site's code fixing a name) after the payment
    confirmed it: whatever status ends in the database, the counter says the same."""
    page = make_session(capacity=3, fee=0)
    registration = register(page, 1)
    seats.set_status(registration, RegistrationStatus.PENDING)  # as if waiting for its payment
    stale = Registration.objects.get(pk=registration.pk)
    service.confirm_registration(Registration.objects.get(pk=registration.pk), user=None)

    stale.first_name = "Grace"
    stale.save()

    assert counter(page) == confirmed(page)
    assert seats.drift() == {}


@pytest.mark.django_db
def test_a_copy_confirmed_twice_counts_one_seat(make_session):
    """A site's code confirms a pending registration that the payment confirmed meanwhile: one seat."""
    page = make_session(capacity=3, fee=0)
    registration = register(page, 1)
    seats.set_status(registration, RegistrationStatus.PENDING)
    stale = Registration.objects.get(pk=registration.pk)
    service.confirm_registration(Registration.objects.get(pk=registration.pk), user=None)

    stale.status = RegistrationStatus.CONFIRMED
    stale.save()

    assert counter(page) == confirmed(page) == 1
    assert seats.drift() == {}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_processes_cancelling_the_same_registration_at_once_free_one_seat(make_session):
    """Eight threads on their own connections load the same confirmed registration, then all save it as
    cancelled at the same instant."""
    page = make_session(capacity=3, fee=0)
    target = register(page, 1)
    register(page, 2)
    register(page, 3)
    loaded = threading.Barrier(8)

    def cancel(_index):
        copy = Registration.objects.get(pk=target.pk)
        loaded.wait()  # every copy read before any save
        copy.status = RegistrationStatus.CANCELLED
        copy.save()
        return copy.status

    run_together(8, cancel)

    assert counter(page) == confirmed(page) == 2
    assert seats.drift() == {}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_direct_inserts_into_a_session_without_counter_row_all_count(make_session):
    """A session whose counter row is missing (created before the counter, or deleted by hand): several
    processes insert confirmed registrations directly at once. The row rebuilt from a recount must not
    lose the registrations of the transactions that were not committed yet."""
    page = make_session(capacity=None, fee=0)
    SessionSeats.objects.filter(page=page).delete()

    def insert(index):
        with transaction.atomic():
            registration = Registration.objects.create(
                page=page,
                first_name="Imported",
                last_name=str(index),
                email=f"imported{index}@example.com",
                currency="EUR",
                status=RegistrationStatus.CONFIRMED,
            )
            # a slow import: the transaction stays open a little after its counter change
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(0.2)")
        return registration.pk

    run_together(6, insert)

    assert confirmed(page) == 6
    assert counter(page) == 6
    assert seats.drift() == {}


@pytest.mark.django_db
def test_a_confirmed_registration_moved_to_another_session_moves_its_seat(make_session):
    """A site's code moves a learner to another date (``registration.page = other``; ``save()``)."""
    full, other = make_session(capacity=1, fee=0), make_session(capacity=1, fee=0)
    moved = register(full, 1)

    moved.page = other
    moved.save()

    assert counter(full) == confirmed(full) == 0
    assert counter(other) == confirmed(other) == 1
    assert seats.drift() == {}
    with pytest.raises(service.SessionFull):
        register(other, 2)  # else the second session is oversold


@pytest.mark.django_db
def test_a_confirmed_registration_deleted_through_the_model_frees_its_seat(make_session):
    """A site's code (or django.contrib.admin) deletes a confirmed registration: its seat is free again."""
    page = make_session(capacity=1, fee=0)
    register(page, 1).delete()

    assert counter(page) == confirmed(page) == 0
    assert seats.drift() == {}
    register(page, 2)


@pytest.mark.django_db
def test_confirming_by_hand_a_registration_cancelled_meanwhile_is_refused(make_session, admin_user):
    """The admin's "Confirm by hand" page checked the status when it loaded the registration; the learner
    cancelled (and was refunded) before the confirmation took the locks. The service re-checks under them."""
    page = make_session(capacity=1, fee=0)
    registration = register(page, 1)
    seats.set_status(registration, RegistrationStatus.PENDING)
    seen_by_admin = Registration.objects.get(pk=registration.pk)  # pending: the action applies
    service.cancel_registration(Registration.objects.get(pk=registration.pk), user=None)
    register(page, 2)  # the freed seat is taken

    with pytest.raises(ValueError):
        service.confirm_registration(seen_by_admin, user=admin_user, reason="bank transfer")

    assert Registration.objects.get(pk=registration.pk).status == RegistrationStatus.CANCELLED
    assert counter(page) == confirmed(page) == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_check_seat_counts_fix_during_a_direct_insert_leaves_the_counter_equal_to_a_recount(make_session):
    """``check_seat_counts --fix`` while a site's import inserts a confirmed registration: the recount must be
    taken once that transaction's counter change is settled, not before (it then wrote a stale count)."""
    page = make_session(capacity=None, fee=0)
    register(page, 1)
    SessionSeats.objects.filter(page=page).update(confirmed=5)  # drifted: what --fix is run for
    inserted = threading.Event()

    def slow_import(index):
        if index == 0:
            with transaction.atomic():
                Registration.objects.create(
                    page=page,
                    first_name="Imported",
                    last_name="1",
                    email="imported@example.com",
                    currency="EUR",
                    status=RegistrationStatus.CONFIRMED,
                )
                inserted.set()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_sleep(1)")
            return "imported"
        inserted.wait(timeout=30)
        return seats.fix(page.pk)

    run_together(2, slow_import)

    assert confirmed(page) == 2
    assert counter(page) == 2
    assert seats.drift() == {}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_check_seat_counts_reports_no_drift_while_learners_cancel_and_register(make_session):
    """Monitoring runs ``check_seat_counts`` from cron against a busy site: a counter and its recount read
    at two different moments disagree for a moment, and the command reported a drift that never was."""
    page = make_session(capacity=None, fee=0)
    people = [register(page, number) for number in range(40)]
    done = threading.Event()

    def work(index):
        if index == 0:
            try:
                for person in people:
                    service.cancel_registration(Registration.objects.get(pk=person.pk), user=None)
                    register(page, 1000 + person.pk)
            finally:
                done.set()
            return None
        reports = []
        while not done.is_set():
            found = seats.drift([page.pk])
            if found:
                reports.append(found)
        return reports

    _none, false_reports = run_together(2, work)

    assert false_reports == []
    assert seats.drift() == {}


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_site_code_and_services_racing_on_the_same_registrations_keep_the_counter_exact(make_session):
    """Per registration, the service cancels it while a site's code saves a stale copy of it as cancelled;
    meanwhile an import inserts confirmed registrations and learners register: no deadlock, no drift."""
    page = make_session(capacity=None, fee=0)
    present = [register(page, number) for number in range(8)]
    stale = [Registration.objects.get(pk=registration.pk) for registration in present]

    def action(index):
        kind, number = divmod(index, 8)
        if kind == 0:
            service.cancel_registration(Registration.objects.get(pk=present[number].pk), user=None)
        elif kind == 1:
            stale[number].status = RegistrationStatus.CANCELLED
            stale[number].save()
        elif kind == 2:
            Registration.objects.create(
                page=page,
                first_name="Imported",
                last_name=str(number),
                email=f"imported{number}@example.com",
                currency="EUR",
                status=RegistrationStatus.CONFIRMED,
            )
        else:
            register(page, 100 + number)
        return kind

    run_together(32, action)

    assert confirmed(page) == 16
    assert counter(page) == 16
    assert seats.drift() == {}
