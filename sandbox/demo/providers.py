"""The demo's payment provider: django-payments' dummy, whose form starts on a successful payment.

The plain dummy form starts on "Waiting for confirmation", and a newcomer who presses Pay waits forever."""

from payments import FraudStatus, PaymentStatus
from payments.dummy import DummyProvider


class DemoProvider(DummyProvider):
    def get_form(self, payment, data=None):
        form = super().get_form(payment, data)
        form.fields["status"].initial = PaymentStatus.CONFIRMED
        form.fields["fraud_status"].initial = FraudStatus.ACCEPT
        return form
