"""ISO 4217 helpers built on Babel's CLDR data."""

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies


@lru_cache(maxsize=1)
def iso_currency_codes():
    return frozenset(list_currencies())


def is_valid_currency(code):
    return bool(code) and code.upper() == code and code in iso_currency_codes()


def minor_unit(currency):
    """The smallest amount of ``currency`` as a Decimal (``0.01`` for EUR, ``1`` for JPY)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize_money(amount, currency):
    """Round ``amount`` half up to the currency's minor unit."""
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
