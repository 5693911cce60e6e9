"""Small pieces the admin screens share: money display, money columns, the audit log."""

from decimal import Decimal

from babel.numbers import format_currency
from django.utils.translation import get_language, to_locale
from wagtail.admin.ui.tables import Column


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
