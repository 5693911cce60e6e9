"""A small RFC 5545 (iCalendar) writer: one event per file, enough for "add to my calendar"."""

from datetime import UTC

from django.utils import timezone

PRODUCT_ID = "-//wagtail-training-pay//EN"


def escape_text(value):
    """Escape a TEXT value (RFC 5545 section 3.3.11)."""
    return (
        str(value)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def format_utc(moment):
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def fold(line):
    """Fold a content line to 75 octets, never splitting a UTF-8 character (section 3.1)."""
    encoded = line.encode("utf-8")
    if len(encoded) <= 75:
        return line
    parts, current, limit = [], b"", 75
    for char in line:
        piece = char.encode("utf-8")
        if len(current) + len(piece) > limit:
            parts.append(current.decode("utf-8"))
            current, limit = b"", 74  # continuation lines start with one space
        current += piece
    parts.append(current.decode("utf-8"))
    return "\r\n ".join(parts)


def event_lines(*, uid, start, end, summary, description="", url="", now=None):
    """The content lines of one VEVENT."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        f"DTSTAMP:{format_utc(now or timezone.now())}",
        f"DTSTART:{format_utc(start)}",
        f"DTEND:{format_utc(end)}",
        f"SUMMARY:{escape_text(summary)}",
    ]
    if description:
        lines.append(f"DESCRIPTION:{escape_text(description)}")
    if url:
        lines.append(f"URL:{url}")
    lines.append("END:VEVENT")
    return lines


def calendar(events, *, name=""):
    """An iCalendar document holding ``events`` (lists of lines), as bytes with CRLF line endings."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODUCT_ID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    for event in events:
        lines += event
    lines.append("END:VCALENDAR")
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


def event_calendar(*, uid, start, end, summary, description="", url="", now=None):
    """An iCalendar document with one VEVENT."""
    return calendar(
        [event_lines(uid=uid, start=start, end=end, summary=summary, description=description, url=url, now=now)]
    )


def session_event(page, url="", now=None):
    """The public event of a session: the same UID in the per-session file and in the index feed."""
    return event_lines(
        uid=f"session-{page.pk}@wagtail-training-pay",
        start=page.start_at,
        end=page.end_at,
        summary=page.title,
        description=page.search_description or url,
        url=url,
        now=now,
    )


def registration_calendar(registration, manage_url=""):
    page = registration.page
    return event_calendar(
        uid=f"registration-{registration.token}@wagtail-training-pay",
        start=page.start_at,
        end=page.end_at,
        summary=page.title,
        description=manage_url,
        url=manage_url,
    )
