"""Registrations in the admin: a filtered, searchable listing with CSV/XLSX export and a detail page.

What each column, filter and field shows depends on the user's permissions (see
``wagtail_training_pay.admin_permissions``): personal data and money are separate grants.
"""

import csv
import datetime
import operator
import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import partial

import django_filters
from django import forms
from django.contrib.admin.utils import quote
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_countries.fields import Country
from payments import FraudStatus, PaymentStatus
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, StatusTagColumn, TitleColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.views.mixins import Echo, ExcelDateFormatter
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.admin.widgets.button import ButtonWithDropdown, HeaderButton
from wagtail.log_actions import registry as log_registry
from wagtail.models import ModelLogEntry

from ... import admin_permissions as permissions
from ...currencies import minor_unit
from ...models import Payment, Registration, RegistrationStatus, SessionFormField, TrainingSessionPage
from ...reporting import COLLECTED
from ...spreadsheets import FORMULA_STARTS, neutralise_formula
from .common import (
    FormulaSafeExportMixin,
    HumanInspectMixin,
    LocalDateTimeColumn,
    MoneyColumn,
    RowNounMixin,
    format_money,
    language_name,
    local_datetime,
    payment_method_label,
    payment_method_labels,
    with_time_zone,
    yes_no,
)

#: Rows fetched per round trip while exporting; memory stays flat whatever the number of rows.
EXPORT_CHUNK_SIZE = 2000
#: The exported amounts, rounded to their currency's minor unit.
MONEY_FIELDS = ("amount", "paid_total", "refunded_amount")
#: CSV rows written to the response per chunk.
CSV_ROWS_PER_CHUNK = 200

PAYMENT_STATUS_LABELS = dict(PaymentStatus.CHOICES)
FRAUD_STATUS_LABELS = dict(FraudStatus.CHOICES)


def with_payment_summary(queryset):
    """Annotate each registration with its latest payment's status and variant and the amount paid.

    Subqueries rather than a prefetch, so that a listing or an export costs the same number
    of queries for ten rows or ten thousand.
    """
    latest = Payment.objects.filter(registration=OuterRef("pk")).order_by("-created", "-pk")
    # Paid: what its payments collected, from the money records (a voided authorization collected nothing).
    paid = (
        Payment.objects.filter(registration=OuterRef("pk"))
        .order_by()
        .values("registration")
        .annotate(total_paid=Sum(COLLECTED, output_field=Registration._meta.get_field("amount")))
        .values("total_paid")
    )
    return queryset.annotate(
        payment_status=Subquery(latest.values("status")[:1]),
        payment_variant=Subquery(latest.values("variant")[:1]),
        paid_total=Coalesce(Subquery(paid), 0, output_field=Registration._meta.get_field("amount")),
    )


def sessions_for_filter(request):
    return TrainingSessionPage.objects.order_by("-start_at")


class SessionChoiceField(django_filters.fields.ModelChoiceField):
    def to_python(self, value):
        try:
            return super().to_python(value)
        except OverflowError:  # ``?page=`` past 64 bits: SQLite raises where PostgreSQL finds nothing
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice") from None

    def label_from_instance(self, obj):
        start = timezone.localtime(obj.start_at).strftime("%Y-%m-%d %H:%M") if obj.start_at else ""
        return f"{obj.title} ({start})" if start else obj.title


class SessionFilter(django_filters.ModelChoiceFilter):
    field_class = SessionChoiceField


class RegistrationFilterSet(WagtailFilterSet):
    page = SessionFilter(label=_("Session"), queryset=sessions_for_filter)
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=RegistrationStatus.choices, widget=forms.CheckboxSelectMultiple
    )
    payment_status = django_filters.ChoiceFilter(
        label=_("Payment status"),
        choices=PaymentStatus.CHOICES,
        method="filter_payment_status",
        empty_label=_("All"),
        widget=forms.RadioSelect,
    )
    created_at = django_filters.DateFromToRangeFilter(label=_("Registered between"), widget=DateRangePickerWidget)

    class Meta:
        model = Registration
        fields = []

    def __init__(self, *args, request=None, **kwargs):
        super().__init__(*args, request=request, **kwargs)
        if request is not None and not permissions.can_view_money(request.user):
            # The payment status is the money side of a registration.
            self.filters.pop("payment_status", None)

    def filter_payment_status(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Exists(Payment.objects.filter(registration=OuterRef("pk"), status=value)))


def question_labels(page_ids):
    """``{page_id: [(clean_name, label)]}`` in the editor's order, in one query."""
    labels = defaultdict(list)
    fields = SessionFormField.objects.filter(page_id__in=page_ids).order_by("page_id", "sort_order", "pk")
    for page_id, clean_name, label in fields.values_list("page_id", "clean_name", "label"):
        labels[page_id].append((clean_name, label))
    return labels


def display_answer(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if value is None:
        return ""
    return str(value)


def answers_of(registration, labels):
    """``[(label, answer)]``: the page's questions first, in order, then answers to removed questions."""
    data = dict(registration.form_data or {})
    answers = [(label, display_answer(data.pop(clean_name, ""))) for clean_name, label in labels]
    answers.extend((key, display_answer(value)) for key, value in data.items())
    return answers


#: What a listing column's ``sort_key`` sorts by.
ORDER_BY = {"last_name": ("last_name", "first_name"), "session_title": ("page__title",)}


def add_listing_details(registrations):
    """Give a page of the listing's registrations what their columns show beyond their own fields: the session's
    title and start, the latest payment's status and method, the amount paid. Two queries for the page."""
    if not registrations:
        return
    summaries = {
        row["pk"]: row
        for row in with_payment_summary(Registration.objects.filter(pk__in=[r.pk for r in registrations])).values(
            "pk", "payment_status", "payment_variant", "paid_total"
        )
    }
    sessions = {
        pk: (title, start_at)
        for pk, title, start_at in TrainingSessionPage.objects.filter(
            pk__in={r.page_id for r in registrations}
        ).values_list("pk", "title", "start_at")
    }
    for registration in registrations:
        summary = summaries.get(registration.pk, {})
        registration.payment_status = summary.get("payment_status")
        registration.payment_variant = summary.get("payment_variant")
        registration.paid_total = summary.get("paid_total", 0)
        registration.session_title, registration.session_start_at = sessions.get(registration.page_id, ("", None))


class _ExportRows:
    """What ``SpreadsheetExportMixin`` iterates over: the queryset (or only its ``columns``), streamed in chunks."""

    def __init__(self, queryset, columns=None):
        self.model = queryset.model
        self.queryset = queryset
        self.columns = columns

    def __iter__(self):
        if self.columns is None:
            return self.queryset.iterator(chunk_size=EXPORT_CHUNK_SIZE)
        # Named tuples: the columns as attributes, without a model instance or a dict per row.
        return self.queryset.values_list(*self.columns, named=True).iterator(chunk_size=EXPORT_CHUNK_SIZE)


#: Values Django's ``force_str(strings_only=True)`` returns unchanged, and no formula can hide in.
PLAIN_TYPES = (int, float, bool, Decimal)


def _unchanged(value):
    return value


def local_naive(value):
    return timezone.make_naive(value) if timezone.is_aware(value) else value


class RowActionsColumn(Column):
    """The actions a registration allows, as buttons on its row rather than in a menu."""

    cell_template_name = "wagtail_training_pay/admin/registration_actions_cell.html"


class RegistrationIndexView(RowNounMixin, FormulaSafeExportMixin, IndexView):
    any_permission_required = ["view"]

    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s registration", "%(count)s registrations", count)

    default_ordering = "-created_at"
    search_fields = ["first_name", "last_name", "email"]
    custom_value_preprocess = {
        datetime.datetime: {
            IndexView.FORMAT_XLSX: local_naive,
            IndexView.FORMAT_CSV: lambda value: timezone.localtime(value).isoformat(sep=" ", timespec="minutes"),
        },
        list: IndexView.custom_value_preprocess[list],
    }

    def get_base_queryset(self):
        if not self.is_export:
            # The listing sorts and counts plain registration rows; the page's 50 rows get their session and
            # payment details afterwards (``paginate_queryset``). Computed in the query, they were computed for
            # every row of the session that a sort had to look at: sorted by name, 50,000 rows cost 3.5 times
            # 50 rows.
            return Registration.objects.all()
        # The session's title and start as plain columns, through a join: building a page object per row would
        # cost more than the rest of the row.
        sessions = {"session_title": F("page__title"), "session_start_at": F("page__start_at")}
        return with_payment_summary(Registration.objects.annotate(**sessions))

    def order_queryset(self, queryset):
        """The chosen order, then a tie-breaker: with only ``last_name``, registrations of the same name could
        move between pages from one page load to the next, and one be listed twice and another never."""
        if not self.ordering:
            return queryset
        descending = self.ordering.startswith("-")
        column = self.ordering.lstrip("-")
        if column == "session_title" and self.exported_session is not None:
            # One session: every row has its title, the tie-breaker alone orders them (without a join and a
            # sort of all of the session's rows).
            return queryset.order_by("-pk" if descending else "pk")
        fields = ORDER_BY.get(column, (column,)) + ("pk",)
        return queryset.order_by(*(f"-{field}" if descending else field for field in fields))

    def paginate_queryset(self, queryset, page_size):
        paginator, page, object_list, is_paginated = super().paginate_queryset(queryset, page_size)
        rows = list(object_list)
        add_listing_details(rows)
        page.object_list = rows
        return paginator, page, rows, is_paginated

    @cached_property
    def can_view_personal_data(self):
        return permissions.can_view_personal_data(self.request.user)

    @cached_property
    def can_view_money(self):
        return permissions.can_view_money(self.request.user)

    @cached_property
    def is_searchable(self):
        return self.can_view_personal_data and bool(self.index_results_url)

    def search_queryset(self, queryset):
        """Every word must match a first name, last name or email ("Ada Lovelace" finds her)."""
        if not self.is_searching:
            return queryset
        for word in self.search_query.split():
            word_query = Q()
            for field in self.search_fields:
                word_query |= Q(**{f"{field}__icontains": word})
            queryset = queryset.filter(word_query)
        return queryset

    def learner_label(self, registration):
        if self.can_view_personal_data:
            return registration.full_name or registration.email
        return _("Registration #%(id)s") % {"id": registration.pk}

    @cached_property
    def row_actions(self):
        """The actions this user may take, decided once per listing (each row then only checks its status)."""
        from .registration_actions import ACTIONS

        return [action for action in ACTIONS if action.user_may(self.request.user)]

    def get_list_buttons(self, instance):
        buttons = super().get_list_buttons(instance)
        # Wagtail names the "more" menu after str(instance): the learner's name.
        label = _("More options for '%(title)s'") % {"title": self.learner_label(instance)}
        for button in buttons:
            if isinstance(button, ButtonWithDropdown):
                button.attrs["aria-label"] = label
        return buttons

    @cached_property
    def columns(self):
        title_column_class = self._get_title_column_class(TitleColumn)
        columns = [
            title_column_class(
                "learner",
                label=_("Learner"),
                accessor=self.learner_label,
                get_url=self.get_inspect_url,
                sort_key="last_name" if self.can_view_personal_data else None,
            )
        ]
        if self.can_view_personal_data:
            columns.append(Column("email", label=_("Email"), sort_key="email"))
        columns += [
            Column("session", label=_("Session"), accessor="session_title", sort_key="session_title"),
            StatusTagColumn(
                "status",
                label=_("Status"),
                accessor="get_status_display",
                sort_key="status",
                primary=lambda registration: registration.status == RegistrationStatus.CONFIRMED,
            ),
        ]
        if self.can_view_money:
            columns += [
                Column(
                    "payment_status",
                    label=_("Payment"),
                    accessor=lambda r: PAYMENT_STATUS_LABELS.get(r.payment_status, ""),
                ),
                MoneyColumn("amount", label=_("Amount"), sort_key="amount"),
                MoneyColumn("refunded_amount", label=_("Refunded")),
            ]
        columns.append(LocalDateTimeColumn("created_at", label=_("Registered"), sort_key="created_at"))
        if self.row_actions:
            columns.append(RowActionsColumn("actions", label=_("Actions"), accessor=self.actions_of_row))
        return columns

    def actions_of_row(self, registration):
        """``[(action, url, learner)]`` a row offers; its page checks them exactly: a row only looks at figures the
        listing already read, so no query per row."""
        learner = self.learner_label(registration)
        return [
            (action, action.url_for(registration), learner)
            for action in self.row_actions
            if action.may_apply_to_row(registration)
        ]

    # Export -----------------------------------------------------------------------------------

    def get(self, request, *args, **kwargs):
        if self.is_export:
            # Straight to the file: the listing's context would load every row into memory.
            rows = _ExportRows(self.get_queryset(), self.export_columns)
            return self.as_spreadsheet(rows, request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    @cached_property
    def exported_session(self):
        """The session the listing is filtered to, if any: its questions become columns."""
        if self.filters and self.filters.is_valid():
            return self.filters.form.cleaned_data.get("page")
        return None

    @cached_property
    def export_question_labels(self):
        if not self.can_view_personal_data:
            return {}
        if self.exported_session is not None:
            return question_labels([self.exported_session.pk])
        return question_labels(TrainingSessionPage.objects.values("pk"))

    @cached_property
    def list_export(self):
        fields = ["pk", "session_title", "session_start_at", "get_status_display", "created_at", "confirmed_at"]
        fields.append("cancelled_at")
        if self.can_view_personal_data:
            fields += [
                "first_name",
                "last_name",
                "email",
                "billing_address",
                "billing_postcode",
                "billing_city",
                "billing_country.name",
                "language",
            ]
        if self.can_view_money:
            fields += ["amount", "currency", "paid_total", "refunded_amount", "payment_status", "payment_variant"]
        if self.can_view_personal_data:
            if self.exported_session is not None:
                fields += [f"answer:{name}" for name, _label in self.export_question_labels[self.exported_session.pk]]
            else:
                fields.append("answers")
        return fields

    @cached_property
    def export_columns(self):
        """The database columns and annotations the exported fields read (``export_getters``)."""
        computed = ("get_status_display", "answers", "billing_country.name")
        named = [field for field in self.list_export if field not in computed and not field.startswith("answer:")]
        return list(dict.fromkeys([*named, "page_id", "status", "currency", "billing_country", "form_data"]))

    @cached_property
    def export_headings(self):
        headings = {
            "pk": _("Registration"),
            "session_title": _("Session"),
            "session_start_at": _("Session starts at"),
            "get_status_display": _("Status"),
            "billing_country.name": _("Country"),
            "paid_total": _("Paid"),
            "payment_status": _("Payment status"),
            "payment_variant": _("Payment method"),
            "answers": _("Answers"),
            "language": _("Language"),
        }
        for field, label in (
            ("session_start_at", _("Session starts at")),
            ("created_at", _("Registered at")),
            ("confirmed_at", _("Confirmed at")),
            ("cancelled_at", _("Cancelled at")),
        ):
            headings[field] = with_time_zone(label)
        if self.exported_session is not None:
            for name, label in self.export_question_labels.get(self.exported_session.pk, []):
                headings[f"answer:{name}"] = label
        return headings

    @cached_property
    def export_getters(self):
        """``{field: function(registration)}``, built once per export: labels are translated once, not per row."""
        status_labels = {value: str(label) for value, label in RegistrationStatus.choices}
        payment_labels = {value: str(label) for value, label in PaymentStatus.CHOICES}
        country_names = {}
        method_labels = payment_method_labels()

        def country_name(item):
            code = str(item.billing_country or "")
            if code not in country_names:
                country_names[code] = str(Country(code=code).name) if code else ""
            return country_names[code]

        def answers(item):
            labels = self.export_question_labels.get(item.page_id, [])
            return "; ".join(f"{label}: {answer}" for label, answer in answers_of(item, labels) if answer)

        units = {}

        def money_getter(field):
            # quantize_money with the currency's minor unit looked up once per currency, not per cell.
            def money(item):
                currency = item.currency
                unit = units.get(currency)
                if unit is None:
                    unit = units[currency] = minor_unit(currency)
                return Decimal(getattr(item, field) or 0).quantize(unit, rounding=ROUND_HALF_UP)

            return money

        def by_value(field, label):
            """``label(item.field)``, computed once per distinct value (a few languages, a few methods)."""
            labels = {}

            def getter(item):
                value = getattr(item, field)
                try:
                    return labels[value]
                except KeyError:
                    found = labels[value] = label(value)
                    return found

            return getter

        def answer_getter(clean_name):
            return lambda item: display_answer((item.form_data or {}).get(clean_name, ""))

        getters = {
            "get_status_display": lambda item: status_labels.get(item.status, item.status),
            "payment_status": lambda item: payment_labels.get(item.payment_status, item.payment_status or ""),
            "billing_country.name": country_name,
            "language": by_value("language", language_name),
            "payment_variant": by_value("payment_variant", partial(payment_method_label, labels=method_labels)),
            "answers": answers,
        }
        for field in MONEY_FIELDS:
            getters[field] = money_getter(field)
        for field in self.list_export:
            if field.startswith("answer:"):
                getters[field] = answer_getter(field.removeprefix("answer:"))
            elif field not in getters:
                getters[field] = operator.attrgetter(field)
        return getters

    def to_row_dict(self, item):
        getters = self.export_getters
        return {field: getters[field](item) for field in self.list_export}

    def row_writer(self, export_format):
        """``function(item) -> [cell values]``: what ``to_row_dict`` then ``preprocess_field_value`` give, with the
        preprocessing chosen once per column and type of value rather than looked up for every cell (the
        export runs at least half the speed of a plain loop over the same rows, ``bench/cases/flat_backoffice.py``)."""
        # An id and the money columns are always an int or a Decimal, which nothing changes: no preprocessing.
        as_is = {"pk", *MONEY_FIELDS}
        columns = [(field, self.export_getters[field], field in as_is) for field in self.list_export]
        chosen = {}
        zone = timezone.get_current_timezone()
        # In a CSV, what ``custom_value_preprocess`` says for dates, with the zone read once rather than per cell.
        csv_dates = export_format == self.FORMAT_CSV

        def preprocess(field, value, kind):
            function = chosen.get((field, kind))
            if function is None:
                found = self.get_preprocess_function(field, value, export_format)
                function = chosen[field, kind] = found if found is not None else _unchanged
            return neutralise_formula(function(value))

        def row(item):
            # The common cases inline (a function call per cell is a good part of an export's time).
            cells = []
            append = cells.append
            for field, getter, unchanged in columns:
                value = getter(item)
                if unchanged:
                    append(value)
                    continue
                kind = type(value)
                if kind is str:  # force_str leaves it as it is; only a formula start needs care
                    append("'" + value if value.startswith(FORMULA_STARTS) else value)
                elif value is None or kind in PLAIN_TYPES:  # force_str(strings_only=True) leaves these as they are
                    append(value)
                elif kind is datetime.datetime and csv_dates:  # "2026-12-08 10:44+01:00": no formula can start so
                    append(value.astimezone(zone).isoformat(sep=" ", timespec="minutes"))
                else:
                    append(preprocess(field, value, kind))
            return cells

        return row

    def stream_csv(self, queryset):
        """Wagtail's, row for row the same file, with ``row_writer`` and a plain ``csv.writer``."""
        writer = csv.writer(Echo())
        yield writer.writerow([self.get_heading(queryset, field) for field in self.list_export])
        row = self.row_writer(self.FORMAT_CSV)
        # Rows go out CSV_ROWS_PER_CHUNK at a time: a chunk per row would pay the response's per-chunk work
        # (the language and time zone it is written under) ten thousand times.
        lines = []
        for item in queryset:
            lines.append(writer.writerow(row(item)))
            if len(lines) == CSV_ROWS_PER_CHUNK:
                yield b"".join(lines)
                lines = []
        if lines:
            yield b"".join(lines)

    def write_xlsx(self, queryset, output):
        """Wagtail's, cell for cell the same workbook (dates with the user's date format), with ``row_writer``."""
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        workbook = Workbook(write_only=True, iso_dates=True)
        worksheet = workbook.create_sheet(title="Sheet1")
        worksheet.append([self.get_heading(queryset, field) for field in self.list_export])
        date_format = ExcelDateFormatter().get()
        row = self.row_writer(self.FORMAT_XLSX)

        def cell(value):
            if isinstance(value, datetime.datetime):
                dated = WriteOnlyCell(worksheet, value)
                dated.number_format = date_format
                return dated
            if isinstance(value, str) and value.startswith("="):
                text = WriteOnlyCell(worksheet, value)
                text.data_type = "s"  # never a formula (neutralise_formula already made it text)
                return text
            return value

        for item in queryset:
            worksheet.append([cell(value) for value in row(item)])
        workbook.save(output)

    def get_filename(self):
        return "registrations"

    def write_xlsx_response(self, queryset):
        """Like Wagtail's, but through a temporary file rather than memory."""
        output = tempfile.TemporaryFile()
        self.write_xlsx(queryset, output)
        output.seek(0)
        return FileResponse(
            output,
            as_attachment=True,
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename=f"{self.get_filename()}.xlsx",
        )


class RegistrationInspectView(HumanInspectMixin, InspectView):
    any_permission_required = ["view"]
    template_name = "wagtail_training_pay/admin/registration_inspect.html"

    def get_object(self, queryset=None):
        return get_object_or_404(Registration.objects.select_related("page"), pk=self.pk)

    def get_page_subtitle(self):
        if permissions.can_view_personal_data(self.request.user):
            return self.object.full_name
        return str(_("Registration #%(id)s") % {"id": self.object.pk})

    def get_fields(self):
        fields = ["page", "status", "created_at", "hold_expires_at", "confirmed_at", "cancelled_at"]
        fields += ["confirmation_sent_at", "language"]
        user = self.request.user
        if permissions.can_view_personal_data(user):
            fields += [
                "first_name",
                "last_name",
                "email",
                "billing_address",
                "billing_postcode",
                "billing_city",
                "billing_country",
                "duplicate_of",
            ]
        if permissions.can_view_money(user):
            fields += ["amount", "refunded_amount", "late_payment_refunded"]
        return fields

    def get_amount_display_value(self):
        return format_money(self.object.amount, self.object.currency)

    def get_refunded_amount_display_value(self):
        return format_money(self.object.refunded_amount, self.object.currency)

    def get_page_display_value(self):
        page = self.object.page
        return f"{page.title} ({local_datetime(page.start_at)})" if page.start_at else page.title

    def get_language_display_value(self):
        return language_name(self.object.language) or "—"

    def get_late_payment_refunded_display_value(self):
        return yes_no(self.object.late_payment_refunded)

    def get_billing_country_display_value(self):
        return self.object.billing_country.name if self.object.billing_country else ""

    @cached_property
    def payments(self):
        return list(self.object.payments.order_by("created", "pk"))

    def payment_rows(self):
        method_labels = payment_method_labels()
        return [
            {
                "payment": payment,
                "created": local_datetime(payment.created),
                "method": payment_method_label(payment.variant, method_labels),
                "status": PAYMENT_STATUS_LABELS.get(payment.status, payment.status),
                "fraud_status": FRAUD_STATUS_LABELS.get(payment.fraud_status, payment.fraud_status),
                "total": format_money(payment.total, payment.currency),
                "captured": format_money(payment.captured_amount, payment.currency),
                "refunded": format_money(payment.refunded_amount, payment.currency),
            }
            for payment in self.payments
        ]

    def history(self):
        """Log entries of the registration and of its payments, newest first."""
        registration_entries = log_registry.get_logs_for_instance(self.object)
        query = Q(pk__in=registration_entries.values("pk"))
        if self.payments and permissions.can_view_money(self.request.user):
            from django.contrib.contenttypes.models import ContentType

            query |= Q(
                content_type=ContentType.objects.get_for_model(Payment),
                object_id__in=[str(payment.pk) for payment in self.payments],
            )
        entries = ModelLogEntry.objects.filter(query).select_related("user").order_by("-timestamp", "-pk")
        can_view_money = permissions.can_view_money(self.request.user)
        return [
            {
                "entry": entry,
                "details": self.log_details(entry, can_view_money),
                "when": local_datetime(entry.timestamp),
            }
            for entry in entries
        ]

    def log_details(self, entry, can_view_money):
        """What a log entry's data says, in words; amounts only for those who may see money."""
        data = entry.data or {}
        currency = self.object.currency
        details = []
        if can_view_money and data.get("amount"):
            details.append(_("Amount: %(amount)s") % {"amount": format_money(data["amount"], currency)})
        if can_view_money and data.get("refunded") not in (None, "", "0", "0.00"):
            details.append(_("Refunded in all: %(amount)s") % {"amount": format_money(data["refunded"], currency)})
        if data.get("automatic"):
            details.append(_("done automatically"))
        if data.get("late"):
            details.append(_("payment arrived after the seat hold"))
        if data.get("reason"):
            details.append(data["reason"])
        return "; ".join(str(detail) for detail in details)

    @cached_property
    def actions(self):
        from .registration_actions import available_actions

        return available_actions(self.object, self.request.user)

    @cached_property
    def header_buttons(self):
        # Visible buttons in the header, not a dropdown: what can be done to this registration shows at once.
        return [
            HeaderButton(
                action.label,
                url=action.url_for(self.object),
                icon_name=action.icon,
                priority=10 + index,
                attrs={"data-registration-action": action.name},
            )
            for index, action in enumerate(self.actions)
        ]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["can_view_money"] = permissions.can_view_money(user)
        context["can_view_personal_data"] = permissions.can_view_personal_data(user)
        if context["can_view_personal_data"]:
            labels = question_labels([self.object.page_id])[self.object.page_id]
            context["answers"] = answers_of(self.object, labels)
        if context["can_view_money"]:
            context["payments"] = self.payment_rows()
        context["history"] = self.history()
        context["edit_session_url"] = reverse("wagtailadmin_pages:edit", args=[self.object.page_id])
        return context


class RegistrationViewSet(ModelViewSet):
    """Read-only admin screens for registrations, with the actions of ``registration_actions``."""

    model = Registration
    name = "training_registrations"
    icon = "group"
    menu_label = _("Registrations")
    menu_order = 100
    add_to_admin_menu = False
    inspect_view_enabled = True
    copy_view_enabled = False
    index_view_class = RegistrationIndexView
    inspect_view_class = RegistrationInspectView
    list_per_page = 50

    filterset_class = RegistrationFilterSet

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        # No add, edit, copy or delete screens: registrations change through the actions only.
        for name in ("add_url_name", "edit_url_name", "delete_url_name", "copy_url_name", "history_url_name"):
            view_kwargs[name] = None
        return view_kwargs

    def get_urlpatterns(self):
        from . import registration_actions

        urlpatterns = [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
        ]
        for action in registration_actions.ACTIONS:
            urlpatterns.append(
                path(f"{action.name}/<int:pk>/", action.view_class.as_view(action=action), name=action.name)
            )
        return urlpatterns

    def get_permissions_to_register(self):
        # Registrations are made by learners, never added or deleted in the admin.
        return super().get_permissions_to_register().exclude(codename__in=["add_registration", "delete_registration"])


def registrations_url_for_session(page):
    return reverse("training_registrations:index") + f"?page={quote(page.pk)}"
