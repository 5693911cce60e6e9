"""ISO 4217 helpers built on Babel's CLDR data: the one source of minor units for forms, prices and gateways."""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

#: PayPal's currency codes page: "HUF, JPY, TWD: this currency does not support decimals; passing a decimal
#: amount is an error". CLDR (Babel) gives JPY no decimals but HUF and TWD two (their coins are gone: CLDR's
#: cash digits are 0): amounts in these are whole units everywhere in the app, or PayPal could not take them.
WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})


@lru_cache(maxsize=1)
def iso_currency_codes():
    return frozenset(list_currencies())


def is_valid_currency(code):
    return bool(code) and code.upper() == code and code in iso_currency_codes()


def decimal_places(currency):
    """Digits after the decimal point of an amount in ``currency`` (2 for EUR, 0 for JPY, HUF, TWD)."""
    if currency in WHOLE_UNIT_CURRENCIES:
        return 0
    return get_currency_precision(currency)


def minor_unit(currency):
    """The smallest amount of ``currency`` as a Decimal (``0.01`` for EUR, ``1`` for JPY)."""
    return Decimal(1).scaleb(-decimal_places(currency))


def quantize_money(amount, currency):
    """Round ``amount`` half up to the currency's minor unit."""
    return Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def is_expressible(amount, currency):
    """``amount`` needs no rounding in ``currency`` (0.40 JPY does: it cannot be charged)."""
    try:
        return quantize_money(amount, currency) == Decimal(amount)
    except (InvalidOperation, TypeError, ValueError):
        return False


def format_amount(amount, currency):
    """The amount as a gateway takes it: the currency's digits after the point (``45.00``, ``4500``)."""
    return f"{quantize_money(amount, currency):.{decimal_places(currency)}f}"
