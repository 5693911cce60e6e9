"""Small pieces the admin screens share: money display, money columns, human labels, times in one named zone."""

import datetime
from decimal import Decimal

from babel.numbers import format_currency
from django.db import models
from django.utils import timezone, translation
from django.utils.formats import date_format, number_format
from django.utils.functional import lazy
from django.utils.text import capfirst, format_lazy
from django.utils.translation import get_language, get_language_info, to_locale
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column

from ...spreadsheets import neutralise_formula


def format_money(amount, currency):
    """``45,00 €`` in French, ``€45.00`` in English; empty for no amount."""
    if amount is None or not currency:
        return ""
    locale = to_locale(get_language() or "en")
    try:
        return format_currency(Decimal(amount), currency, locale=locale)
    except (ValueError, LookupError):
        return f"{amount} {currency}"


class MoneyColumn(Column):
    """A column showing ``amount`` in the row's currency (``currency_accessor``)."""

    def __init__(self, name, currency_accessor="currency", **kwargs):
        super().__init__(name, **kwargs)
        self.currency_accessor = currency_accessor

    def get_value(self, instance):
        amount = super().get_value(instance)
        currency = Column("currency", accessor=self.currency_accessor).get_value(instance)
        return format_money(amount, currency)


class FormulaSafeExportMixin:
    """Every cell and heading of a CSV or XLSX export goes through ``neutralise_formula``.

    Put it before Wagtail's ``IndexView`` or ``ReportView`` in the bases of an exporting view.
    """

    def preprocess_field_value(self, field, value, export_format):
        return neutralise_formula(super().preprocess_field_value(field, value, export_format))

    def get_heading(self, queryset, field):
        return neutralise_formula(super().get_heading(queryset, field))

    def as_spreadsheet(self, queryset, spreadsheet_format):
        response = super().as_spreadsheet(queryset, spreadsheet_format)
        if getattr(response, "streaming", False):
            response.streaming_content = in_language_and_time_zone_of_now(response.streaming_content)
        return response


def in_language_and_time_zone_of_now(chunks):
    """Yield ``chunks`` under the language and time zone active now.

    A streamed CSV is written after the view returned, outside Wagtail's admin language and time zone: its
    headings would be English and its times in the server's zone for a French administrator in Toronto."""
    language, zone = translation.get_language(), timezone.get_current_timezone()  # now, not at the first chunk

    def generate():
        iterator = iter(chunks)
        while True:
            with translation.override(language), timezone.override(zone):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
            yield chunk

    return generate()


# Human labels and one named time zone per page ------------------------------------------------------


def time_zone_name():
    """The zone every time of an admin page is shown in: the user's admin time zone (Wagtail activates it)."""
    return timezone.get_current_timezone_name()


def local_datetime(value):
    """``8 décembre 2026 10:44`` in French, ``Dec. 8, 2026, 10:44 a.m.`` in English, in the page's time zone."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_format(value, "DATETIME_FORMAT")


def with_time_zone(label):
    """``Starts at (Europe/Paris)``: a heading naming the zone of the times under it."""
    return format_lazy("{label} ({zone})", label=label, zone=lazy(time_zone_name, str)())


def yes_no(value):
    if value is None:
        return "—"
    return _("Yes") if value else _("No")


def language_name(code):
    """``French`` (``français`` to a French administrator) for ``fr``; the code itself if Django does not know it."""
    if not code:
        return ""
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def payment_method_labels():
    """``{variant: label}``: the labels site administrators gave the payment methods in the training settings.

    Read once per request (two small queries); a variant without a label is named from its key."""
    from ...models import HostPaymentMethod, LearnerPaymentMethod

    labels = {}
    for model in (LearnerPaymentMethod, HostPaymentMethod):
        for variant, label in (
            model.objects.exclude(label="").order_by("sort_order", "pk").values_list("variant", "label")
        ):
            labels.setdefault(variant, label)
    return labels


def payment_method_label(variant, labels):
    """The administrator's label of ``variant``, else its key made readable (``payflow-card`` -> ``Payflow card``)."""
    if not variant:
        return ""
    return labels.get(variant) or capfirst(variant.replace("-", " ").replace("_", " "))


class LocalDateTimeColumn(Column):
    """A real date and time in the page's time zone, named in the heading (Wagtail's ``DateColumn`` says "Just
    now" for any future date and shows a relative time)."""

    def __init__(self, name, label=None, **kwargs):
        super().__init__(name, label=with_time_zone(label), **kwargs)

    def get_value(self, instance):
        return local_datetime(super().get_value(instance))


def row_count_label(count, message):
    """``message(count)``, an ``ngettext`` of ``%(count)s``, with the count's digits grouped: ``50,000
    registrations``, ``1 inscription``, ``0 inscription`` (each language's own plural rule)."""
    return message(count) % {"count": number_format(count, force_grouping=True)}


class RowNounMixin:
    """Names the rows of a listing or report under its pagination ("2 registrations") with the language's plural
    rules, where Wagtail writes the count and the model's plural name (wrong for a report's rows, wrong for French's
    "0 inscription", and ungrouped).

    ``row_count_message(count)`` returns an ``ngettext`` message with ``%(count)s``."""

    row_count_message = None

    def get_paginator(self, *args, **kwargs):
        paginator = super().get_paginator(*args, **kwargs)
        message = self.row_count_message
        if message is not None:
            paginator.items_count_label = lazy(lambda: row_count_label(paginator.count, message), str)()
        return paginator


class HumanInspectMixin:
    """Inspect views: times in the page's time zone (Wagtail's template shows them in UTC), Yes/No for booleans.

    With ``name_time_zone_in_labels`` the zone is named beside each time's label; otherwise the template names it
    once (``time_zone_name`` in the context)."""

    name_time_zone_in_labels = False
    #: ``{field name: label}`` where the model's verbose name will not do (untranslated, or a developer's word).
    field_labels = {}

    def get_field_label(self, field_name, field):
        label = self.field_labels.get(field_name) or super().get_field_label(field_name, field)
        if self.name_time_zone_in_labels and isinstance(field, models.DateTimeField):
            return with_time_zone(label)
        return label

    def get_field_display_value(self, field_name, field):
        value = super().get_field_display_value(field_name, field)
        if isinstance(value, bool):
            return yes_no(value)
        if isinstance(value, datetime.datetime):
            return local_datetime(value)
        return "—" if value is None or value == "" else value

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["time_zone_name"] = time_zone_name()
        return context
