"""Add to calendar: an ``.ics`` file per session and a feed of an index page's upcoming sessions."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from ..ics import calendar, session_event
from ..models import TrainingIndexPage, TrainingSessionPage
from ..services.emails import page_url


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
    index = get_object_or_404(TrainingIndexPage.objects.live().public(), pk=page_id)
    events = [session_event(session, page_url(session)) for session in index.upcoming_sessions()]
    return _calendar_response(calendar(events, name=index.title), f"sessions-{index.pk}.ics")
