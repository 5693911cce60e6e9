"""Template helpers of the app: ``{% load training_pay %}``."""

from decimal import Decimal
from pathlib import Path

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date, format_time, get_datetime_format, get_timezone_name
from babel.numbers import format_currency
from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import get_template
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, to_locale
from django.utils.translation import gettext as _

from ..form_rendering import text

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
        # The fieldset carries the description; each choice says it is invalid.
        return field.as_widget(attrs={"aria-invalid": "true"} if field.errors else None)
    ids = []
    if field.help_text:
        ids.append(f"{field.auto_id}_helptext")
    if field.errors:
        ids.append(f"{field.auto_id}_error")
    attrs = {"aria-describedby": " ".join(ids)} if ids else {}
    if field.errors:
        attrs["aria-invalid"] = "true"
    return field.as_widget(attrs=attrs)


@register.simple_tag(takes_context=True)
def sessions_list_url(context, page):
    """The URL of the list of sessions a session belongs to (its parent index), without a query.

    A session can only live in a ``TrainingIndexPage``: the parent's URL is the session's own, one segment up.
    """
    url = page.get_url(context.get("request")) if page is not None else None
    if not url:
        return ""
    return url.rstrip("/").rsplit("/", 1)[0] + "/"


def answer_text(value):
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item) for item in value)
    return "" if value is None else str(value)


@register.simple_tag
def registration_answers(registration):
    """The learner's answers to the editor's questions, as ``(question, answer)`` in the form's order.

    An answer to a question the editor has since removed keeps its field name as the question.
    """
    from ..forms import OWN_FIELDS

    answers = dict(registration.form_data or {})
    if not answers:
        return []
    shown = []
    for question in registration.page.get_form_fields():
        name = question.clean_name
        key = f"question_{name}" if name in OWN_FIELDS else name
        if key in answers:
            shown.append((question.label, answer_text(answers.pop(key))))
    shown.extend((key, answer_text(value)) for key, value in answers.items())
    return [(question, answer) for question, answer in shown if answer != ""]


FIELD_TEMPLATE = "wagtail_training_pay/includes/field.html"
_OWN_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_field_template_overridden = None


@receiver(setting_changed)
def _forget_field_template(setting, **kwargs):
    global _field_template_overridden  # noqa: PLW0603 - a per-process cache, reset with the template settings
    if setting in ("TEMPLATES", "INSTALLED_APPS"):
        _field_template_overridden = None


def field_template_overridden():
    """Whether the site replaced ``includes/field.html`` with its own (looked up once per process)."""
    global _field_template_overridden  # noqa: PLW0603
    if _field_template_overridden is None:
        origin = get_template(FIELD_TEMPLATE).origin.name
        _field_template_overridden = Path(origin).resolve() != _OWN_TEMPLATES / FIELD_TEMPLATE
    return _field_template_overridden


def field_html(field):
    """The markup of ``includes/field.html`` written in Python: the same elements, attributes and escaping."""
    errors = field.errors
    help_text = field.help_text
    auto_id = text(field.auto_id)
    required = field.field.required
    classes = "wtp-field"
    if errors:
        classes += " wtp-field--error"
    if required:
        classes += " wtp-field--required"
    name = text(field.label)
    if required:
        name += ' <span class="wtp-required" aria-hidden="true">*</span>'
    parts = [f'<div class="{classes}">']
    if field.use_fieldset:
        described = []
        if help_text:
            described.append(f"{auto_id}_helptext")
        if errors:
            described.append(f"{auto_id}_error")
        describedby = f' aria-describedby="{" ".join(described)}"' if described else ""
        parts.append(f'<fieldset class="wtp-choices"{describedby}><legend>{name}</legend>')
    else:
        parts.append(f'<label for="{text(field.id_for_label)}">{name}</label>')
    if help_text:
        parts.append(f'<p class="wtp-help" id="{auto_id}_helptext">{text(help_text)}</p>')
    if errors:
        items = "".join(f"<li>{text(error)}</li>" for error in errors)
        parts.append(f'<ul class="wtp-errors" id="{auto_id}_error">{items}</ul>')
    parts.append(conditional_escape(described_widget(field)))
    if field.use_fieldset:
        parts.append("</fieldset>")
    parts.append("</div>")
    return mark_safe("\n".join(parts))  # noqa: S308 - every value above is escaped


@register.simple_tag(takes_context=True)
def form_field(context, field):
    """``{% form_field field %}``: one field as ``includes/field.html`` shows it.

    The plugin's own ``field.html`` is written in Python (the session page shows fourteen fields; an
    include per field was a third of its time). A site that overrides ``field.html`` gets its template.
    """
    if field_template_overridden():
        with context.push(field=field):
            return get_template(FIELD_TEMPLATE).template.render(context)
    return field_html(field)


@register.inclusion_tag("wagtail_training_pay/includes/language_switcher.html", takes_context=True)
def language_switcher(context):
    """Buttons to read the page in another of ``LANGUAGES``; nothing when the site has one language or does not
    include ``django.conf.urls.i18n`` (Django's ``set_language`` view)."""
    from django.conf import settings
    from django.urls import NoReverseMatch, reverse
    from django.utils.translation import get_language_info

    request = context.get("request")
    languages = getattr(settings, "LANGUAGES", ())
    try:
        action = reverse("set_language")
    except NoReverseMatch:
        action = None
    if request is None or action is None or len(languages) < 2:
        return {"languages": []}
    current = get_language()
    choices = []
    for code, _name in languages:
        info = get_language_info(code)
        choices.append({"code": code, "name": info["name_local"], "current": code == current})
    return {"languages": choices, "action": action, "next": request.get_full_path(), "request": request}
