"""The pay-per-use estimate: hand-computed cases, bad input, and properties that hold for every input."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wagtail_training_pay.currencies import minor_unit, quantize_money
from wagtail_training_pay.pricing import estimate_session_cost


def estimate(**overrides):
    values = {
        "duration_minutes": 90,
        "expected_participants": 10,
        "teleconference_participants": 2,
        "person_minute_rate": Decimal("0.02"),
        "teleconference_minute_rate": Decimal("0.05"),
        "minimum_charge": Decimal("5.00"),
        "currency": "EUR",
    }
    values.update(overrides)
    return estimate_session_cost(**values)


def test_every_line_of_the_breakdown_matches_the_hand_computation():
    # 90 min x 10 computers = 900 person-minutes x 0.02 = 18.00; 90 x 2 = 180 x 0.05 = 9.00.
    result = estimate()
    assert result.person_minutes == 900
    assert result.teleconference_minutes == 180
    assert result.person_minutes_subtotal == Decimal("18.00")
    assert result.teleconference_minutes_subtotal == Decimal("9.00")
    assert result.subtotal == Decimal("27.00")
    assert result.minimum_charge_applied is False
    assert result.total == Decimal("27.00")
    assert result.currency == "EUR"


def test_the_total_is_rounded_half_up_once_at_the_end():
    # 7 x 1 x 0.0015 = 0.0105 and 7 x 1 x 0.0010 = 0.0070: 0.0175 -> 0.02 (rounding each line first gives 0.01 + 0.01).
    result = estimate(
        duration_minutes=7,
        expected_participants=1,
        teleconference_participants=1,
        person_minute_rate=Decimal("0.0015"),
        teleconference_minute_rate=Decimal("0.0010"),
        minimum_charge=Decimal("0"),
    )
    assert result.subtotal == Decimal("0.0175")
    assert result.total == Decimal("0.02")
    assert result.total.as_tuple().exponent == -2


def test_an_exact_half_cent_rounds_up():
    result = estimate(
        duration_minutes=1,
        expected_participants=1,
        teleconference_participants=0,
        person_minute_rate=Decimal("0.125"),
        minimum_charge=0,
    )
    assert result.total == Decimal("0.13")


def test_a_currency_without_minor_unit_rounds_to_whole_units():
    result = estimate(
        duration_minutes=45,
        expected_participants=3,
        teleconference_participants=0,
        person_minute_rate="1.5",
        currency="JPY",
    )
    # 135 person-minutes x 1.5 = 202.5 -> 203 yen.
    assert result.total == Decimal("203")


def test_the_minimum_charge_applies_below_it_and_not_above_it():
    small = estimate(duration_minutes=10, expected_participants=2, teleconference_participants=0)
    assert small.subtotal == Decimal("0.40")
    assert small.minimum_charge_applied is True
    assert small.total == Decimal("5.00")
    exactly = estimate(duration_minutes=250, expected_participants=1, teleconference_participants=0)
    assert exactly.subtotal == Decimal("5.00")
    assert exactly.minimum_charge_applied is False
    assert exactly.total == Decimal("5.00")


def test_no_participants_cost_only_the_minimum_charge():
    result = estimate(expected_participants=0, teleconference_participants=0)
    assert result.person_minutes == 0
    assert result.total == Decimal("5.00")


def test_the_breakdown_serializes_decimals_as_strings():
    data = estimate().as_json()
    assert data["total"] == "27.00"
    assert data["person_minutes"] == 900
    assert data["minimum_charge_applied"] is False


@pytest.mark.parametrize(
    "field",
    ["duration_minutes", "expected_participants", "teleconference_participants"],
)
def test_a_negative_count_is_refused(field):
    with pytest.raises(ValueError, match=field):
        estimate(**{field: -1})


@pytest.mark.parametrize("field", ["person_minute_rate", "teleconference_minute_rate", "minimum_charge"])
def test_a_negative_amount_is_refused(field):
    with pytest.raises(ValueError, match=field):
        estimate(**{field: Decimal("-0.01")})


@pytest.mark.parametrize("value", [1.5, "abc", "NaN", "Infinity"])
def test_a_rate_that_is_not_an_exact_number_is_refused(value):
    with pytest.raises((TypeError, ValueError)):
        estimate(person_minute_rate=value)


@pytest.mark.parametrize("value", [1.0, "90", True])
def test_a_count_that_is_not_an_integer_is_refused(value):
    with pytest.raises(TypeError):
        estimate(duration_minutes=value)


@pytest.mark.parametrize("currency", ["XYZ", "eur", "", None])
def test_an_unknown_currency_is_refused(currency):
    with pytest.raises(ValueError):
        estimate(currency=currency)


counts = st.integers(min_value=0, max_value=100_000)
rates = st.decimals(min_value=0, max_value=100, places=4, allow_nan=False, allow_infinity=False)
minimums = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
currencies = st.sampled_from(["EUR", "USD", "GBP", "JPY", "CAD"])


@given(counts, counts, counts, rates, rates, minimums, currencies)
def test_the_estimate_is_never_negative_and_never_below_the_minimum(d, n, t, pr, tr, minimum, currency):
    result = estimate_session_cost(d, n, t, pr, tr, minimum, currency)
    assert result.total >= 0
    assert result.total >= quantize_money(minimum, currency)
    assert abs(result.total - max(result.subtotal, minimum)) <= minor_unit(currency) / 2


@given(counts, counts, counts, counts, rates, rates, minimums, currencies)
def test_the_estimate_grows_with_the_duration(d, extra, n, t, pr, tr, minimum, currency):
    shorter = estimate_session_cost(d, n, t, pr, tr, minimum, currency)
    longer = estimate_session_cost(d + extra, n, t, pr, tr, minimum, currency)
    assert longer.total >= shorter.total


@given(counts, counts, counts, counts, counts, rates, rates, minimums, currencies)
def test_the_estimate_grows_with_the_participants(d, n, t, more_n, more_t, pr, tr, minimum, currency):
    fewer = estimate_session_cost(d, n, t, pr, tr, minimum, currency)
    more = estimate_session_cost(d, n + more_n, t + more_t, pr, tr, minimum, currency)
    assert more.total >= fewer.total
    assert more.person_minutes >= fewer.person_minutes
    assert more.teleconference_minutes >= fewer.teleconference_minutes
