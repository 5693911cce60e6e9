"""Template helpers of the app: ``{% load training_pay %}``."""

from decimal import Decimal

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from babel.numbers import format_currency
from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language, to_locale

register = template.Library()


def babel_locale():
    """The Babel locale of the active language, English when Babel does not know it."""
    try:
        return Locale.parse(to_locale(get_language() or "en"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en")


@register.filter
def money(amount, currency):
    """``{{ page.fee|money:page.get_currency }}``: ``45,00 €`` in French, ``€45.00`` in English."""
    if amount is None or not currency:
        return ""
    try:
        return format_currency(Decimal(amount), currency, locale=babel_locale())
    except (ValueError, UnknownLocaleError):
        return format_currency(Decimal(amount), currency, locale="en")


def local_moment_text(moment, part="datetime"):
    """``moment`` in the active time zone, worded for the active language, with the zone named.

    ``part`` is ``"datetime"`` (Friday, December 4, 2026 at 10:00 AM), ``"date"`` or ``"time"``.
    """
    locale = babel_locale()
    local = timezone.localtime(moment)
    zone = get_timezone_name(local, width="long", locale=locale)
    if part == "date":
        return format_date(local, "full", locale=locale)
    time_text = format_time(local, "short", locale=locale)
    if part == "time":
        return f"{time_text} ({zone})"
    # CLDR's "{1} 'at' {0}" joins the date and the time; quotes only mark literal text.
    pattern = str(get_datetime_format("long", locale=locale)).replace("'", "")
    joined = pattern.replace("{1}", format_date(local, "full", locale=locale)).replace("{0}", time_text)
    return f"{joined} ({zone})"


@register.simple_tag
def moment(value, part="datetime"):
    """``{% moment page.start_at %}``: a ``<time>`` element for the viewer's language and time zone."""
    if value is None:
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), local_moment_text(value, part))


@register.filter
def moment_text(value, part="datetime"):
    """The plain-text form of ``{% moment %}``, for text emails and attributes."""
    return "" if value is None else local_moment_text(value, part)


@register.filter
def described_widget(field):
    """The field's widget tied to its help text and errors (``aria-describedby``) on every Django version."""
    if field.use_fieldset:
        return field.as_widget()
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs = {"aria-describedby": " ".join(ids)} if ids else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)
