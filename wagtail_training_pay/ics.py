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


def event_calendar(*, uid, start, end, summary, description="", url="", now=None):
    """An iCalendar document with one VEVENT, as bytes with CRLF line endings."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODUCT_ID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
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
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(fold(line) for line in lines) + "\r\n").encode("utf-8")


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
