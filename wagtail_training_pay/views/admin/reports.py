"""Reports on money: revenue per session, revenue per month, pay-per-use billing per host.

Built on Wagtail's ``ReportView`` (filters, CSV/XLSX export); every figure is aggregated in
the database (``wagtail_training_pay.reporting``). Only users who may see payments see them.
"""

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, Sum
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, StatusTagColumn, TitleColumn
from wagtail.admin.views.reports import ReportView
from wagtail.admin.viewsets.base import ViewSet

from ... import admin_permissions as permissions
from ... import reporting
from ...currencies import quantize_money
from ...models import Payment, UsageCharge, UsageChargeStatus
from .common import FormulaSafeExportMixin, LocalDateTimeColumn, MoneyColumn, RowNounMixin, format_money, with_time_zone


class PaymentDateFilterSet(WagtailFilterSet):
    created = django_filters.DateFromToRangeFilter(label=_("Paid between"), widget=DateRangePickerWidget)

    class Meta:
        model = Payment
        fields = []


class CheckedReportView(RowNounMixin, ReportView):
    """A report only users for whom ``user_may_open(user)`` is true may open."""

    paginate_by = 100
    user_may_open = None

    def dispatch(self, request, *args, **kwargs):
        if not self.user_may_open(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class MoneyReportView(FormulaSafeExportMixin, CheckedReportView):
    """A report only users allowed to see payments may open."""

    user_may_open = staticmethod(permissions.can_view_money)

    def get_filtered_queryset(self):
        # get_queryset() filters the rows before they are aggregated.
        return self.get_queryset()


class RevenueReportView(MoneyReportView):
    filterset_class = PaymentDateFilterSet
    money_fields = ("gross", "refunded", "net", "learner_gross", "host_gross")

    def to_row_dict(self, item):
        row = super().to_row_dict(item)
        for field in self.money_fields:
            if field in row:
                row[field] = quantize_money(row[field] or 0, item["currency"])
        return row

    def payments(self):
        return self.filter_queryset(reporting.collected_payments())


class RevenueBySessionView(RevenueReportView):
    page_title = _("Revenue per session")
    header_icon = "calendar-alt"
    index_url_name = "training_reports:revenue_by_session"
    index_results_url_name = "training_reports:revenue_by_session_results"

    # A row is a session (in one currency), not a payment.
    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s session", "%(count)s sessions", count)

    list_export = ["title", "start_at", "seats", "capacity", "payment_count", "currency", "gross", "refunded", "net"]
    export_headings = {
        "title": _("Session"),
        "start_at": with_time_zone(_("Starts at")),
        "seats": _("Confirmed seats"),
        "capacity": _("Capacity"),
        "payment_count": _("Payments"),
        "currency": _("Currency"),
        "gross": _("Collected"),
        "refunded": _("Refunded"),
        "net": _("Net"),
    }
    export_filename = "revenue-per-session"

    def get_queryset(self):
        return reporting.revenue_by_session(self.payments())

    @cached_property
    def columns(self):
        return [
            TitleColumn(
                "title",
                label=_("Session"),
                get_url=lambda row: registrations_url_for_session_id(row["page_id"]),
            ),
            LocalDateTimeColumn("start_at", label=_("Starts at")),
            Column("seats", label=_("Seats"), accessor=seats_label),
            Column("payment_count", label=_("Payments")),
            MoneyColumn("gross", label=_("Collected")),
            MoneyColumn("refunded", label=_("Refunded")),
            MoneyColumn("net", label=_("Net")),
        ]


def registrations_url_for_session_id(page_id):
    return reverse("training_registrations:index") + f"?page={page_id}"


def seats_label(row):
    if row.get("capacity"):
        return f"{row['seats']}/{row['capacity']}"
    return str(row["seats"])


class RevenueByMonthView(RevenueReportView):
    page_title = _("Revenue per month")
    header_icon = "date"
    index_url_name = "training_reports:revenue_by_month"
    index_results_url_name = "training_reports:revenue_by_month_results"

    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s month", "%(count)s months", count)

    list_export = ["month", "currency", "payment_count", "learner_gross", "host_gross", "gross", "refunded", "net"]
    export_headings = {
        "month": _("Month"),
        "currency": _("Currency"),
        "payment_count": _("Payments"),
        "learner_gross": _("Session fees"),
        "host_gross": _("Pay-per-use"),
        "gross": _("Collected"),
        "refunded": _("Refunded"),
        "net": _("Net"),
    }
    export_filename = "revenue-per-month"

    def get_queryset(self):
        return reporting.revenue_by_month(self.payments())

    def to_row_dict(self, item):
        row = super().to_row_dict(item)
        row["month"] = timezone.localtime(item["month"]).strftime("%Y-%m") if item["month"] else ""
        return row

    @cached_property
    def columns(self):
        return [
            Column("month", label=_("Month"), accessor=month_label),
            Column("payment_count", label=_("Payments")),
            MoneyColumn("learner_gross", label=_("Session fees")),
            MoneyColumn("host_gross", label=_("Pay-per-use")),
            MoneyColumn("gross", label=_("Collected")),
            MoneyColumn("refunded", label=_("Refunded")),
            MoneyColumn("net", label=_("Net")),
        ]


def month_label(row):
    from django.utils.formats import date_format

    return date_format(row["month"], "YEAR_MONTH_FORMAT")


def hosts_with_charges(request):
    return get_user_model().objects.filter(training_usage_charges__isnull=False).distinct().order_by("username")


class UsageChargeFilterSet(WagtailFilterSet):
    payer = django_filters.ModelChoiceFilter(label=_("Host"), queryset=hosts_with_charges)
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"),
        choices=UsageChargeStatus.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    created_at = django_filters.DateFromToRangeFilter(label=_("Created between"), widget=DateRangePickerWidget)

    class Meta:
        model = UsageCharge
        fields = []


def host_name(charge):
    payer = charge.payer if hasattr(charge, "payer") else None
    if payer is None:
        return _("(deleted user)")
    return payer.get_full_name() or payer.get_username()


def invoice_links(charge):
    """Links to the charge's invoice and credit notes (PDF)."""
    from django.utils.html import format_html_join

    from ..invoice_pdf import invoice_url

    return format_html_join(
        " ",
        '<a href="{}" download>{}</a>',
        ((invoice_url(invoice), str(invoice)) for invoice in charge.invoices.all()),
    )


class UsageBillingView(MoneyReportView):
    page_title = _("Pay-per-use billing")
    header_icon = "tag"
    template_name = "wagtail_training_pay/admin/usage_billing_report.html"
    results_template_name = "wagtail_training_pay/admin/usage_billing_report_results.html"
    index_url_name = "training_reports:usage_billing"
    index_results_url_name = "training_reports:usage_billing_results"

    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s pay-per-use charge", "%(count)s pay-per-use charges", count)

    filterset_class = UsageChargeFilterSet
    list_export = [
        "host",
        "session_label",
        "created_at",
        "get_action_display",
        "duration_minutes",
        "expected_participants",
        "teleconference_participants",
        "estimated_total",
        "amount",
        "currency",
        "get_status_display",
        "paid_at",
    ]
    export_headings = {
        "host": _("Host"),
        "session_label": _("Session"),
        "get_action_display": _("Action"),
        "get_status_display": _("Status"),
        "created_at": with_time_zone(_("Created")),
        "paid_at": with_time_zone(_("Paid at")),
    }
    export_filename = "pay-per-use-billing"

    def get_queryset(self):
        charges = (
            UsageCharge.objects.select_related("page", "payer")
            .prefetch_related("invoices")
            .order_by("payer__username", "-created_at")
        )
        return self.filter_queryset(charges)

    def to_row_dict(self, item):
        row = super().to_row_dict(item)
        row["host"] = str(host_name(item))
        return row

    @cached_property
    def columns(self):
        return [
            Column("host", label=_("Host"), accessor=host_name),
            Column("session", label=_("Session"), accessor="session_label"),
            LocalDateTimeColumn("created_at", label=_("Created")),
            Column("action", label=_("Action"), accessor="get_action_display"),
            MoneyColumn("estimated_total", label=_("Estimated cost")),
            MoneyColumn("amount", label=_("Amount charged")),
            StatusTagColumn(
                "status",
                label=_("Status"),
                accessor="get_status_display",
                primary=lambda charge: charge.status == UsageChargeStatus.PAID,
            ),
            LocalDateTimeColumn("paid_at", label=_("Paid at")),
            Column("invoices", label=_("Invoices"), accessor=invoice_links),
        ]

    def host_totals(self):
        """Per host and currency: charges, amount paid, amount awaiting payment."""
        rows = (
            self.get_queryset()
            .order_by()
            .values("payer", "payer__username", "payer__first_name", "payer__last_name", "currency")
            .annotate(
                charges=Count("pk"),
                estimated=Sum("estimated_total"),
                paid=Sum("amount", filter=Q(status=UsageChargeStatus.PAID)),
                pending=Sum("amount", filter=Q(status=UsageChargeStatus.PENDING)),
            )
            .order_by("payer__username", "currency")
        )
        return [
            {
                "host": " ".join(filter(None, [row["payer__first_name"], row["payer__last_name"]]))
                or row["payer__username"]
                or _("(deleted user)"),
                "charges": row["charges"],
                "estimated": format_money(row["estimated"] or 0, row["currency"]),
                "paid": format_money(row["paid"] or 0, row["currency"]),
                "pending": format_money(row["pending"] or 0, row["currency"]),
            }
            for row in rows
        ]

    def get_context_data(self, *args, **kwargs):
        context = super().get_context_data(*args, **kwargs)
        context["host_totals"] = self.host_totals()
        return context


class UpcomingSessionsView(CheckedReportView):
    """The live sessions still to come: the dashboard's "N upcoming sessions" opens this list of those N."""

    page_title = _("Upcoming sessions")
    header_icon = "calendar-alt"
    index_url_name = "training_reports:upcoming_sessions"
    index_results_url_name = "training_reports:upcoming_sessions_results"

    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s upcoming session", "%(count)s upcoming sessions", count)

    user_may_open = staticmethod(permissions.can_view_registrations)

    def get_queryset(self):
        # The very query the dashboard counts, in start order.
        return (
            reporting.upcoming_sessions()
            .annotate(seats=reporting.confirmed_seats_subquery())
            .order_by("start_at", "pk")
            .values("pk", "title", "start_at", "capacity", "seats")
        )

    @cached_property
    def columns(self):
        return [
            # A session leads to its registrations, as on the revenue report.
            TitleColumn("title", label=_("Session"), get_url=lambda row: registrations_url_for_session_id(row["pk"])),
            LocalDateTimeColumn("start_at", label=_("Starts at")),
            Column("seats", label=_("Seats"), accessor=seats_label),
        ]


class MoneyReportMenuItem(MenuItem):
    def is_shown(self, request):
        return permissions.can_view_money(request.user)


class TrainingReportsViewSet(ViewSet):
    name = "training_reports"
    icon = "table"

    def get_urlpatterns(self):
        patterns = []
        for name, view_class in (
            ("revenue_by_session", RevenueBySessionView),
            ("revenue_by_month", RevenueByMonthView),
            ("usage_billing", UsageBillingView),
            ("upcoming_sessions", UpcomingSessionsView),
        ):
            slug = name.replace("_", "-")
            patterns += [
                path(f"{slug}/", view_class.as_view(), name=name),
                path(f"{slug}/results/", view_class.as_view(results_only=True), name=f"{name}_results"),
            ]
        return patterns


def revenue_by_session_menu_item():
    return MoneyReportMenuItem(
        _("Revenue per session"),
        reverse("training_reports:revenue_by_session"),
        name="training-revenue-per-session",
        icon_name="calendar-alt",
        order=1300,
    )


def revenue_by_month_menu_item():
    return MoneyReportMenuItem(
        _("Revenue per month"),
        reverse("training_reports:revenue_by_month"),
        name="training-revenue-per-month",
        icon_name="date",
        order=1310,
    )


def usage_billing_menu_item():
    return MoneyReportMenuItem(
        _("Pay-per-use billing"),
        reverse("training_reports:usage_billing"),
        name="training-usage-billing",
        icon_name="tag",
        order=1320,
    )
