"""Small pieces the admin screens share: money display, money columns, the audit log."""

from decimal import Decimal

from babel.numbers import format_currency
from django.utils.translation import get_language, to_locale
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
