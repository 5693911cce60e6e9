"""Seats: the confirmed seats of each session are kept in a counter row; live holds are counted by index.

Counting the seats of a session reads one counter row (``SessionSeats``) and the few pending registrations
whose hold has not expired (the index on page, status and hold expiry), so registering and showing a session
cost the same with 0 or 100,000 registrations.

The counter changes in the transaction that changes a registration's status, under the session's lock
(lock order: payment row, session row, registration row; see ``services/registrations.py``):

- a registration inserted, saved or deleted through the model (``Registration.save``, ``delete``) counts
  itself by the status and session the database holds, read under the session's and the row's locks (the
  copy saved may be stale);
- every status change of the services goes through :func:`set_status`, one conditional UPDATE whose old
  status comes from the database, then the counter;
- pending registrations whose hold expired become "expired" in bulk (:func:`expire_holds`): pending ones
  are never in the counter, so it does not change.

A missing counter row (a session created before the counter existed, or a row deleted by hand) is read as
a recount of its confirmed registrations, and the next change writes it. ``manage.py check_seat_counts``
recounts every session and reports (``--fix``: corrects) any drift.
"""

from django.db import connections, router, transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import ACTIVE_STATUSES, Registration, RegistrationStatus, SessionSeats

#: The status whose registrations the counter counts (a pending one holds a seat only while its hold lives).
COUNTED = RegistrationStatus.CONFIRMED


def delta(old_status, new_status):
    """How a status change moves the counter: +1, -1 or 0."""
    return int(new_status == COUNTED) - int(old_status == COUNTED)


def recount(page_id):
    """The confirmed registrations of a session, counted (what the counter must say)."""
    return Registration.objects.filter(page_id=page_id, status=COUNTED).count()


def adjust(page_id, change):
    """Move a session's counter by ``change``; the caller holds the session's lock (or is inserting).

    A missing row, or one that would go below zero (it drifted: rows changed outside the services), is
    written from a recount instead, which already includes the change the caller just saved.
    """
    if not change:
        return
    rows = SessionSeats.objects.filter(page_id=page_id)
    if change < 0:
        rows = rows.filter(confirmed__gte=-change)
    if rows.update(confirmed=F("confirmed") + change):
        return
    # Rebuilt under the session's lock: a concurrent transaction that found no row either waits here, then
    # moves the row this one wrote (its recount could not see that transaction's uncommitted change).
    lock_session(page_id)
    if not rows.update(confirmed=F("confirmed") + change):
        SessionSeats.objects.update_or_create(page_id=page_id, defaults={"confirmed": recount(page_id)})


def lock_session(page_id):
    """The session's row lock, which every change of its counter holds (``services/registrations.py``)."""
    from .registrations import lock_session as lock

    return lock(page_id)


def lock_for_save(registration):
    """Lock a saved registration's session(s) and row, in that order; return its (status, page id) in the
    database, ``(None, None)`` when its row is gone.

    For ``Registration.save()`` and deletions through the model: the copy may have been loaded before another
    process changed its status, or its session (both sessions are locked, by id, when it moves).
    """
    row = Registration.objects.filter(pk=registration.pk)
    stored = row.values_list("page_id", flat=True).first()
    for page_id in sorted({registration.page_id, stored} - {None}):
        lock_session(page_id)
    return row.select_for_update(of=("self",)).values_list("status", "page_id").first() or (None, None)


def free_seat_of_deleted(registration):
    """``post_delete`` of a registration: a confirmed one frees its seat (its status as read under the locks
    by ``pre_delete``, see ``signal_handlers``)."""
    status, page_id = getattr(registration, "_stored_before_delete", (registration.status, registration.page_id))
    if page_id is not None:
        adjust(page_id, delta(status, None))


def set_status(registration, status, **values):
    """Change a registration's status (and ``values``) and the session's counter, in one transaction.

    The caller holds the session's lock. The UPDATE is conditional on the status the caller read, so a
    registration changed meanwhile is left alone: returns whether it changed.
    """
    old = registration.status
    with transaction.atomic():
        changed = Registration.objects.filter(pk=registration.pk, status=old).update(status=status, **values)
        if changed:
            adjust(registration.page_id, delta(old, status))
    if changed:
        registration.status = status
        registration._loaded_status = status
        for field, value in values.items():
            setattr(registration, field, value)
    return bool(changed)


def expire_holds(now=None):
    """Mark every pending registration whose hold expired as expired (no counter moves: pending ones are not
    in it). Safe to run concurrently: one conditional UPDATE."""
    now = now or timezone.now()
    return Registration.objects.filter(status=RegistrationStatus.PENDING, hold_expires_at__lte=now).update(
        status=RegistrationStatus.EXPIRED
    )


# --- reading -----------------------------------------------------------------------------------

#: The counter, or a recount when the session has no counter row yet (COALESCE reads the second only then).
CONFIRMED_SQL = (
    "COALESCE((SELECT {confirmed} FROM {seats} WHERE {seats_page} = %s), "
    "(SELECT COUNT(*) FROM {registrations} WHERE {page} = %s AND {status} = %s))"
)
#: Live holds: a range of the index on (page, status, hold expiry).
HOLDS_SQL = "(SELECT COUNT(*) FROM {registrations} WHERE {page} = %s AND {status} = %s AND {hold} > %s)"
#: The address's active first registration, written like the partial unique index on LOWER(email) so that it
#: answers (a row at most).
# ``MAX(id + 0)``, not ``MAX(id)``: PostgreSQL turns ``MAX`` of an indexed column into a backward walk of that
# index until a row passes the filter. For an address with no registration (every new one) that walk read every
# registration of every session: 135 ms at 170,000 rows, where the unique index on LOWER(email) answers in one
# entry (bench/cases/flat_sessions.py on PostgreSQL, registration POST at 100,000 registrations: 4.25 -> 1.0).
ACTIVE_ID_SQL = (
    "(SELECT MAX({id} + 0) FROM {registrations} WHERE {page} = %s AND LOWER({email}) = LOWER(%s) "
    "AND {status} IN ({statuses}) AND {anonymized} IS NULL AND {duplicate} IS NULL)"
)


def _sql_parts(connection):
    quote = connection.ops.quote_name
    meta = Registration._meta
    names = {
        "registrations": quote(meta.db_table),
        "page": quote(meta.get_field("page").column),
        "status": quote(meta.get_field("status").column),
        "hold": quote(meta.get_field("hold_expires_at").column),
        "email": quote(meta.get_field("email").column),
        "id": quote(meta.pk.column),
        "anonymized": quote(meta.get_field("anonymized_at").column),
        "duplicate": quote(meta.get_field("duplicate_of").column),
        "seats": quote(SessionSeats._meta.db_table),
        "seats_page": quote(SessionSeats._meta.get_field("page").column),
        "confirmed": quote(SessionSeats._meta.get_field("confirmed").column),
    }
    # Only quoted names of our own models go into the text; every value is a parameter.
    return names, CONFIRMED_SQL.format(**names), HOLDS_SQL.format(**names)


def _active_literals():
    """The active statuses written as literals, like the partial index's condition: a database proves that a
    query's condition implies the index's only from literals (SQLite otherwise reads every row of the
    session). They are our own constants (letters only), never input."""
    assert all(status.value.isalpha() for status in ACTIVE_STATUSES)
    return ", ".join(f"'{status.value}'" for status in ACTIVE_STATUSES)


def _taken_params(connection, page_id, now):
    return [
        page_id,
        page_id,
        COUNTED.value,
        page_id,
        RegistrationStatus.PENDING.value,
        connection.ops.adapt_datetimefield_value(now),
    ]


def seats_taken(page, now=None):
    """Confirmed registrations (the counter) plus pending ones whose hold has not expired (by index)."""
    now = now or timezone.now()
    connection = connections[router.db_for_read(Registration)]
    _names, confirmed, holds = _sql_parts(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {confirmed} + {holds}", _taken_params(connection, page.pk, now))
        return cursor.fetchone()[0]


def seats_taken_and_active_registration_id(page, email, now):
    """The seats taken and the id of this email's active first registration, if any, in one query.

    The email is looked up the way the unique constraint on ``LOWER(email)`` (active, not erased, not a
    second registration) is written, so that its index answers: no statement here reads more rows as the
    session fills up.
    """
    connection = connections[router.db_for_write(Registration)]
    names, confirmed, holds = _sql_parts(connection)
    active = ACTIVE_ID_SQL.format(statuses=_active_literals(), **names)
    params = [*_taken_params(connection, page.pk, now), page.pk, email.strip()]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {confirmed} + {holds}, {active}", params)
        return cursor.fetchone()


def active_registration_id(page_id, email):
    """The id of the address's active first registration for a session, or ``None``, by the unique index."""
    connection = connections[router.db_for_write(Registration)]
    names, _confirmed, _holds = _sql_parts(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {ACTIVE_ID_SQL.format(statuses=_active_literals(), **names)}", [page_id, email.strip()])
        return cursor.fetchone()[0]


def with_seats_taken(sessions, now=None):
    """Annotate a queryset of sessions with ``seats_taken_count``: their counter and live holds, per row."""
    now = now or timezone.now()
    counted = SessionSeats.objects.filter(page_id=OuterRef("pk")).values("confirmed")[:1]
    recounted = (
        Registration.objects.filter(page_id=OuterRef("pk"), status=COUNTED)
        .order_by()
        .values("page_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    holds = (
        Registration.objects.filter(page_id=OuterRef("pk"), status=RegistrationStatus.PENDING, hold_expires_at__gt=now)
        .order_by()
        .values("page_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return sessions.annotate(
        seats_taken_count=Coalesce(
            Subquery(counted, output_field=IntegerField()),
            Subquery(recounted, output_field=IntegerField()),
            Value(0),
        )
        + Coalesce(Subquery(holds, output_field=IntegerField()), Value(0))
    )


# --- checking ----------------------------------------------------------------------------------


def drift(page_ids=None):
    """``{page_id: (counter, recount)}`` of the sessions whose counter disagrees with a recount.

    One statement, so one snapshot: read in two queries, a cancellation committed between them showed a drift
    that never was (``check_seat_counts`` from cron, on a busy site). A session with no counter row is read as
    its recount (see above), so it never drifts.
    """
    recounted = (
        Registration.objects.filter(page_id=OuterRef("page_id"), status=COUNTED)
        .order_by()
        .values("page_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    rows = SessionSeats.objects.all()
    if page_ids is not None:
        rows = rows.filter(page_id__in=page_ids)
    rows = rows.annotate(recount=Coalesce(Subquery(recounted, output_field=IntegerField()), Value(0)))
    return {
        page_id: (counter, recount)
        for page_id, counter, recount in rows.exclude(confirmed=F("recount")).values_list(
            "page_id", "confirmed", "recount"
        )
    }


def fix(page_id):
    """Write a session's counter from a recount, under the session's lock; returns (old, new)."""
    with transaction.atomic():
        lock_session(page_id)
        row = SessionSeats.objects.select_for_update().filter(page_id=page_id).first()
        new = recount(page_id)  # every counter change holds the session's lock: none is in flight now
        SessionSeats.objects.update_or_create(page_id=page_id, defaults={"confirmed": new})
    return (row.confirmed if row else None), new
