"""Helpers of the gateway-state tests (issue 13): payments against the simulators, and the sweeper run later."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from payments import RedirectNeeded

from tests.registration_helpers import card_data
from wagtail_training_pay.models import Payment
from wagtail_training_pay.services.stale_payments import check_stale_payments


def make_payment(variant="express", total="45.00", currency="USD", **kwargs):
    values = {"variant": variant, "total": Decimal(total), "currency": currency, "billing_email": "a@example.com"}
    values.update(kwargs)
    return Payment.objects.create(**values)


def refreshed(payment):
    return Payment.objects.get(pk=payment.pk)


def redirect_of(payment):
    """Where the provider sends the payer (``get_form`` raises ``RedirectNeeded``)."""
    with pytest.raises(RedirectNeeded) as redirect:
        payment.get_form()
    return str(redirect.value)


def pay_by_card(payment, **card):
    """Submit the direct card form; returns the redirect, or the form shown again (a decline, an outage)."""
    try:
        return payment.get_form(data=card_data(**card))
    except RedirectNeeded as redirect:
        return str(redirect)


def calls(simulator, method):
    """The NVP simulator's requests of one METHOD."""
    return [request for request in simulator.requests if request["METHOD"] == method]


def sweep():
    """The stale-payment sweeper, at a moment when every payment of the test is stale."""
    return check_stale_payments(now=timezone.now() + timedelta(days=1))
