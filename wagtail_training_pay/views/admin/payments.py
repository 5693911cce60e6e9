"""Every payment, learners' and hosts', with its provider, status, fraud status and amounts."""

import datetime

import django_filters
from django import forms
from django.conf import settings
from django.contrib.admin.utils import quote
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, pgettext_lazy
from payments import FraudStatus, PaymentStatus
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import Column, StatusTagColumn, TitleColumn
from wagtail.admin.views.generic import IndexView, InspectView
from wagtail.admin.viewsets.model import ModelViewSet

from ... import admin_permissions as permissions
from ...models import Payment
from ...reporting import attention_conditions
from .common import (
    FormulaSafeExportMixin,
    HumanInspectMixin,
    LocalDateTimeColumn,
    MoneyColumn,
    RowNounMixin,
    format_money,
    payment_method_label,
    payment_method_labels,
    with_time_zone,
)
from .payment_attention import SETTLED_ACTION, SettlePaymentView
from .registrations import FRAUD_STATUS_LABELS, PAYMENT_STATUS_LABELS, _ExportRows, local_naive

KIND_CHOICES = [
    ("learner", pgettext_lazy("payment kind", "Learner (session fee)")),
    ("host", pgettext_lazy("payment kind", "Host (pay-per-use)")),
    ("other", pgettext_lazy("payment kind", "Other")),
]
ATTENTION_CHOICES = [
    ("stale", _("Pending too long")),
    ("fraud", _("Fraud review")),
    ("late_refund", _("Late payment refunded")),
    ("disagreement", _("Disagrees with the gateway")),
]


def variant_choices():
    labels = payment_method_labels()
    return [(name, payment_method_label(name, labels)) for name in getattr(settings, "PAYMENT_VARIANTS", {})]


class PaymentFilterSet(WagtailFilterSet):
    kind = django_filters.ChoiceFilter(
        label=_("Paid by"), choices=KIND_CHOICES, method="filter_kind", empty_label=_("All"), widget=forms.RadioSelect
    )
    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=PaymentStatus.CHOICES, widget=forms.CheckboxSelectMultiple
    )
    fraud_status = django_filters.ChoiceFilter(
        label=_("Fraud check"), choices=FraudStatus.CHOICES, empty_label=_("All"), widget=forms.RadioSelect
    )
    variant = django_filters.ChoiceFilter(
        label=_("Payment method"), choices=variant_choices, empty_label=_("All"), widget=forms.RadioSelect
    )
    attention = django_filters.ChoiceFilter(
        label=_("Needs attention"),
        choices=ATTENTION_CHOICES,
        method="filter_attention",
        empty_label=_("All"),
        widget=forms.RadioSelect,
    )
    created = django_filters.DateFromToRangeFilter(label=_("Created between"), widget=DateRangePickerWidget)

    class Meta:
        model = Payment
        fields = []

    def filter_kind(self, queryset, name, value):
        if value == "learner":
            return queryset.filter(registration__isnull=False)
        if value == "host":
            return queryset.filter(usage_charge__isnull=False)
        if value == "other":
            return queryset.filter(registration__isnull=True, usage_charge__isnull=True)
        return queryset

    def filter_attention(self, queryset, name, value):
        conditions = attention_conditions()
        if value in conditions:
            return queryset.filter(conditions[value])
        return queryset


def paid_for(payment):
    """``Session title – learner`` or ``Session title – host``."""
    if payment.registration_id:
        return _("%(session)s (learner)") % {"session": payment.registration.page.title}
    if payment.usage_charge_id:
        return _("%(session)s (host)") % {"session": payment.usage_charge.session_label}
    return payment.description


def movements_table(payment):
    """Every money movement of the payment: what was asked of the gateway, when, and what it answered."""
    from django.template.loader import render_to_string

    movements = payment.movements.select_related("requested_by").order_by("created_at", "pk")
    return render_to_string(
        "wagtail_training_pay/admin/payment_movements.html", {"movements": movements, "currency": payment.currency}
    )


def payment_label(payment):
    return _("Payment #%(id)s") % {"id": payment.pk}


class PaymentIndexView(RowNounMixin, FormulaSafeExportMixin, IndexView):
    any_permission_required = ["view"]

    @staticmethod
    def row_count_message(count):
        return ngettext("%(count)s payment", "%(count)s payments", count)

    default_ordering = "-created"
    custom_value_preprocess = {
        **IndexView.custom_value_preprocess,
        datetime.datetime: {IndexView.FORMAT_XLSX: local_naive},
    }

    def get_base_queryset(self):
        return Payment.objects.select_related("registration__page", "usage_charge__page")

    def get(self, request, *args, **kwargs):
        if self.is_export:
            return self.as_spreadsheet(_ExportRows(self.get_queryset()), request.GET.get("export"))
        return super().get(request, *args, **kwargs)

    @cached_property
    def columns(self):
        title_column_class = self._get_title_column_class(TitleColumn)
        return [
            title_column_class("payment", label=_("Payment"), accessor=payment_label, get_url=self.get_inspect_url),
            Column("paid_for", label=_("For"), accessor=paid_for),
            Column(
                "variant",
                label=_("Payment method"),
                sort_key="variant",
                accessor=lambda p: payment_method_label(p.variant, self.method_labels),
            ),
            StatusTagColumn(
                "status",
                label=_("Status"),
                accessor=lambda p: PAYMENT_STATUS_LABELS.get(p.status, p.status),
                sort_key="status",
                primary=lambda p: p.status == PaymentStatus.CONFIRMED,
            ),
            Column("fraud_status", label=_("Fraud check"), accessor=lambda p: FRAUD_STATUS_LABELS.get(p.fraud_status)),
            MoneyColumn("total", label=_("Total"), sort_key="total"),
            MoneyColumn("captured_amount", label=_("Captured")),
            MoneyColumn("refunded_amount", label=_("Refunded")),
            LocalDateTimeColumn("created", label=_("Created"), sort_key="created"),
        ]

    @cached_property
    def method_labels(self):
        return payment_method_labels()

    @cached_property
    def list_export(self):
        fields = ["pk", "paid_for", "variant", "status", "fraud_status", "total", "captured_amount"]
        fields += ["refunded_amount", "currency", "transaction_id", "created", "modified"]
        if permissions.can_view_personal_data(self.request.user):
            fields += ["billing_first_name", "billing_last_name", "billing_email"]
        return fields

    export_headings = {
        "pk": _("Payment"),
        "paid_for": _("For"),
        "variant": _("Payment method"),
        "status": _("Status"),
        "fraud_status": _("Fraud check"),
        "total": _("Total"),
        "captured_amount": _("Captured"),
        "refunded_amount": _("Refunded"),
        "currency": _("Currency"),
        "transaction_id": _("Transaction"),
        "created": with_time_zone(_("Created")),
        "modified": with_time_zone(_("Last changed")),
        "billing_first_name": _("First name"),
        "billing_last_name": _("Last name"),
        "billing_email": _("Email"),
    }

    def to_row_dict(self, item):
        row = {}
        for field in self.list_export:
            if field == "paid_for":
                row[field] = str(paid_for(item))
            elif field == "status":
                row[field] = str(PAYMENT_STATUS_LABELS.get(item.status, item.status))
            elif field == "fraud_status":
                row[field] = str(FRAUD_STATUS_LABELS.get(item.fraud_status, item.fraud_status))
            elif field == "variant":
                row[field] = payment_method_label(item.variant, self.method_labels)
            else:
                row[field] = getattr(item, field)
        return row

    def get_filename(self):
        return "payments"


class PaymentInspectView(HumanInspectMixin, InspectView):
    any_permission_required = ["view"]
    name_time_zone_in_labels = True

    #: Labels of django-payments' fields, which have no translated verbose names.
    field_labels = {
        "variant": _("Payment method"),
        "fraud_message": _("Fraud check message"),
        "total": _("Total"),
        "captured_amount": _("Captured"),
        "refunded_amount": _("Refunded"),
        "currency": _("Currency"),
        "transaction_id": _("Transaction"),
        "message": _("Message"),
        "created": _("Created"),
        "modified": _("Last changed"),
        "billing_first_name": _("First name"),
        "billing_last_name": _("Last name"),
        "billing_email": _("Email"),
        "billing_city": _("City"),
        "billing_country_code": _("Country"),
    }

    def get_object(self, queryset=None):
        return get_object_or_404(Payment.objects.select_related("registration__page", "usage_charge__page"), pk=self.pk)

    def get_page_subtitle(self):
        return payment_label(self.object)

    def get_fields(self):
        fields = ["variant", "status", "fraud_status", "fraud_message", "total", "captured_amount"]
        fields += ["refunded_amount", "currency", "transaction_id", "message", "created", "modified"]
        fields += ["registration", "usage_charge", "needs_attention", "gateway_answer", "movements"]
        fields += ["settled_by_hand"]
        if permissions.can_view_personal_data(self.request.user):
            fields += ["billing_first_name", "billing_last_name", "billing_email", "billing_city"]
            fields += ["billing_country_code"]
        return fields

    def get_variant_display_value(self):
        return payment_method_label(self.object.variant, payment_method_labels())

    def get_status_display_value(self):
        return PAYMENT_STATUS_LABELS.get(self.object.status, self.object.status)

    def get_fraud_status_display_value(self):
        return FRAUD_STATUS_LABELS.get(self.object.fraud_status, self.object.fraud_status)

    def get_total_display_value(self):
        return format_money(self.object.total, self.object.currency)

    def get_captured_amount_display_value(self):
        return format_money(self.object.captured_amount, self.object.currency)

    def get_refunded_amount_display_value(self):
        return format_money(self.object.refunded_amount, self.object.currency)

    def get_registration_display_value(self):
        registration = self.object.registration
        if registration is None:
            return "—"
        if permissions.can_view_registrations(self.request.user):
            from django.utils.html import format_html

            url = reverse("training_registrations:inspect", args=[quote(registration.pk)])
            return format_html('<a href="{}">{}</a>', url, paid_for(self.object))
        return paid_for(self.object)

    def get_needs_attention_display_value(self):
        if not self.object.needs_attention:
            return _("No: the site and the gateway agree.")
        text = _("%(reason)s (since %(since)s)") % {
            "reason": self.object.needs_attention,
            "since": date_format(localtime(self.object.attention_since), "DATETIME_FORMAT")
            if self.object.attention_since
            else "—",
        }
        if not permissions.can_settle_payments(self.request.user):
            return text
        url = reverse("training_payments:settle", args=[self.object.pk])
        return format_html('{} <a class="button button-small" href="{}">{}</a>', text, url, _("Mark as settled"))

    def get_gateway_answer_display_value(self):
        return self.object.gateway_answer or "—"

    def get_movements_display_value(self):
        return movements_table(self.object)

    def get_field_label(self, field_name, field):
        if field_name == "settled_by_hand":
            return _("Settled by hand")
        return super().get_field_label(field_name, field)

    def get_settled_by_hand_display_value(self):
        """Disagreements administrators marked settled: who, when, the reason it had and their note."""
        from django.template.loader import render_to_string
        from wagtail.models import ModelLogEntry

        entries = (
            ModelLogEntry.objects.for_instance(self.object)
            .filter(action=SETTLED_ACTION)
            .select_related("user")
            .order_by("timestamp", "pk")
        )
        return render_to_string("wagtail_training_pay/admin/payment_settled.html", {"entries": entries})

    def get_usage_charge_display_value(self):
        return paid_for(self.object) if self.object.usage_charge_id else "—"


class PaymentViewSet(ModelViewSet):
    """Read-only admin screens for payments."""

    model = Payment
    name = "training_payments"
    icon = "form"
    menu_label = _("Payments")
    menu_order = 200
    inspect_view_enabled = True
    copy_view_enabled = False
    index_view_class = PaymentIndexView
    inspect_view_class = PaymentInspectView
    filterset_class = PaymentFilterSet
    list_per_page = 50

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        for name in ("add_url_name", "edit_url_name", "delete_url_name", "copy_url_name", "history_url_name"):
            view_kwargs[name] = None
        return view_kwargs

    def get_urlpatterns(self):
        return [
            path("", self.index_view, name="index"),
            path("results/", self.index_results_view, name="index_results"),
            path("inspect/<int:pk>/", self.inspect_view, name="inspect"),
            path("settle/<int:pk>/", SettlePaymentView.as_view(), name="settle"),
        ]

    def get_permissions_to_register(self):
        # Payments come from providers; the admin views them, and "change" marks a disagreement settled.
        return super().get_permissions_to_register().filter(codename__in=["view_payment", "change_payment"])
