"""The upcoming sessions of an index page, as listed to learners and in the calendar feed."""

from django.core.paginator import Paginator
from django.utils import timezone

from ..conf import app_settings
from ..models import TrainingPaySettings
from . import seats
from .registrations import registration_closed_reason


def with_seats_left(sessions, now=None):
    """The sessions of a queryset with ``seats_left`` set, counted in that one query (no query per session).

    Counts what ``Registration.objects.holding_seats()`` counts, from each session's counter and its live
    holds (``services/seats.py``): the cost does not grow with the registrations.
    """
    sessions = list(seats.with_seats_taken(sessions, now))
    for session in sessions:
        session.seats_left = None if session.capacity is None else max(0, session.capacity - session.seats_taken_count)
    return sessions


def sessions_page(index_page, request):
    """The page of the index's upcoming sessions asked for (``?page=``), ``SESSIONS_PER_PAGE`` of them.

    A page number out of range or not a number gives the last or first page, as Django's ``get_page`` does.
    """
    paginator = Paginator(index_page.upcoming_sessions(), max(1, int(app_settings.SESSIONS_PER_PAGE)))
    return paginator.get_page(request.GET.get("page"))


def listed_sessions(index_page, request, now=None, sessions=None):
    """The index's upcoming sessions (or ``sessions``, a page of them) for its template: seats left, fee to
    show and whether registration is open."""
    now = now or timezone.now()
    sessions = with_seats_left(index_page.upcoming_sessions() if sessions is None else sessions, now)
    site_settings = TrainingPaySettings.for_request(request)
    for session in sessions:
        session.display_currency = session.currency or site_settings.default_currency
        session.display_fee = session.fee if session.fee and site_settings.fee_based_enabled else None
        session.closed_reason = registration_closed_reason(session, now)
    return sessions
