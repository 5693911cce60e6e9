"""The pay-per-use estimate: what a host pays before a session goes live.

From the product description: person-minutes = duration x computers connected to the
session; teleconference minutes = duration x computers connected to the
teleconference; the cost is each quantity times its per-minute rate, never less than
the site's minimum charge. Everything stays an exact ``Decimal`` until the total, which
is rounded half up to the currency's minor unit once, so that the figures on the cost
page add up to what is charged.
"""

from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation

from .currencies import is_valid_currency, quantize_money


@dataclass(frozen=True)
class SessionCostEstimate:
    """Every line of the breakdown shown on the Estimated session cost page."""

    duration_minutes: int
    expected_participants: int
    teleconference_participants: int
    person_minutes: int
    teleconference_minutes: int
    person_minute_rate: Decimal
    teleconference_minute_rate: Decimal
    person_minutes_subtotal: Decimal
    teleconference_minutes_subtotal: Decimal
    subtotal: Decimal
    minimum_charge: Decimal
    minimum_charge_applied: bool
    total: Decimal
    currency: str

    def as_json(self):
        """The breakdown as JSON-ready values (Decimals as strings), for ``UsageCharge.breakdown``."""
        return {key: str(value) if isinstance(value, Decimal) else value for key, value in asdict(self).items()}


def _count(name, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}.")
    if value < 0:
        raise ValueError(f"{name} must not be negative (got {value}).")
    return value


def _amount(name, value):
    if isinstance(value, float):
        raise TypeError(f"{name} must be a Decimal, an int or a string, not a float.")
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{name} is not a number: {value!r}.") from None
    if not amount.is_finite():
        raise ValueError(f"{name} must be finite (got {value}).")
    if amount < 0:
        raise ValueError(f"{name} must not be negative (got {value}).")
    return amount


def estimate_session_cost(
    duration_minutes,
    expected_participants,
    teleconference_participants,
    person_minute_rate,
    teleconference_minute_rate,
    minimum_charge=Decimal("0"),
    currency="EUR",
):
    """Estimate a session's pay-per-use cost; raise ``ValueError`` on negative or unknown inputs."""
    duration_minutes = _count("duration_minutes", duration_minutes)
    expected_participants = _count("expected_participants", expected_participants)
    teleconference_participants = _count("teleconference_participants", teleconference_participants)
    person_minute_rate = _amount("person_minute_rate", person_minute_rate)
    teleconference_minute_rate = _amount("teleconference_minute_rate", teleconference_minute_rate)
    minimum_charge = _amount("minimum_charge", minimum_charge)
    if not isinstance(currency, str) or not is_valid_currency(currency):
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code.")

    person_minutes = duration_minutes * expected_participants
    teleconference_minutes = duration_minutes * teleconference_participants
    person_minutes_subtotal = person_minutes * person_minute_rate
    teleconference_minutes_subtotal = teleconference_minutes * teleconference_minute_rate
    subtotal = person_minutes_subtotal + teleconference_minutes_subtotal
    minimum_charge_applied = minimum_charge > subtotal
    total = quantize_money(minimum_charge if minimum_charge_applied else subtotal, currency)
    return SessionCostEstimate(
        duration_minutes=duration_minutes,
        expected_participants=expected_participants,
        teleconference_participants=teleconference_participants,
        person_minutes=person_minutes,
        teleconference_minutes=teleconference_minutes,
        person_minute_rate=person_minute_rate,
        teleconference_minute_rate=teleconference_minute_rate,
        person_minutes_subtotal=person_minutes_subtotal,
        teleconference_minutes_subtotal=teleconference_minutes_subtotal,
        subtotal=subtotal,
        minimum_charge=minimum_charge,
        minimum_charge_applied=minimum_charge_applied,
        total=total,
        currency=currency,
    )
