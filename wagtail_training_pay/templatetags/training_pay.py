"""Template helpers of the app: ``{% load training_pay %}``."""

from decimal import Decimal

from babel.core import UnknownLocaleError
from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

register = template.Library()


@register.filter
def money(amount, currency):
    """``{{ page.fee|money:page.get_currency }}``: ``45,00 €`` in French, ``€45.00`` in English."""
    if amount is None or not currency:
        return ""
    locale = to_locale(get_language() or "en")
    try:
        return format_currency(Decimal(amount), currency, locale=locale)
    except (ValueError, UnknownLocaleError):
        return format_currency(Decimal(amount), currency, locale="en")
