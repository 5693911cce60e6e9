"""Add to calendar: an ``.ics`` file per session and a feed of an index page's upcoming sessions."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from ..conf import app_settings
from ..ics import calendar, session_event
from ..models import TrainingIndexPage, TrainingSessionPage
from ..services.emails import email_base_url, page_url


def session_path(page, request):
    url_parts = page.get_url_parts(request)
    return url_parts[2] if url_parts else page.url_path


def _calendar_response(content, filename):
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def session_calendar_file(request, page_id):
    """Only live, public sessions: a draft or a private session's date is nobody's business."""
    page = get_object_or_404(TrainingSessionPage.objects.live().public(), pk=page_id)
    event = session_event(page, page_url(page))
    return _calendar_response(calendar([event], name=page.title), f"session-{page.pk}.ics")


def index_calendar_feed(request, page_id):
    """The index's next ``CALENDAR_FEED_SESSIONS`` upcoming sessions (200 by default): a bounded file, whatever
    the number of sessions planned; a calendar that subscribes to it sees the later ones as they come closer."""
    index = get_object_or_404(TrainingIndexPage.objects.live().public(), pk=page_id)
    upcoming = index.upcoming_sessions()[: max(0, int(app_settings.CALENDAR_FEED_SESSIONS))]
    # The sessions are the index's children: one site, so one base address; the request keeps Wagtail's
    # site root paths, so that no session costs a query of its own.
    base = email_base_url(index)
    events = [session_event(session, base + session_path(session, request)) for session in upcoming]
    return _calendar_response(calendar(events, name=index.title), f"sessions-{index.pk}.ics")
