"""The plugin's Payment keeps captured_amount and refunded_amount saved, whatever the provider."""

from decimal import Decimal

import pytest
from payments import PaymentStatus

from wagtail_training_pay.models import Payment

pytestmark = pytest.mark.django_db


def test_a_capture_saves_the_captured_amount_which_django_payments_alone_does_not():
    payment = Payment.objects.create(variant="dummy", total=Decimal("45.00"), currency="EUR", status="preauth")
    payment.capture(Decimal("30.00"))
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("30.00"))


def test_partial_refunds_add_up_in_refunded_amount_and_lower_captured_amount():
    payment = Payment.objects.create(
        variant="dummy", total=Decimal("45.00"), currency="EUR", status="confirmed", captured_amount=Decimal("45.00")
    )
    payment.refund(Decimal("10.00"))
    payment.refund(Decimal("35.00"))
    stored = Payment.objects.get(pk=payment.pk)
    assert (stored.status, stored.captured_amount, stored.refunded_amount) == (
        PaymentStatus.REFUNDED,
        Decimal("0.00"),
        Decimal("45.00"),
    )
