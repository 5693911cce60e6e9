"""A gateway whose refunds fail, for the tests of what the app does when a provider refuses a refund."""

from payments import PaymentError
from payments.dummy import DummyProvider


class RefundFailingProvider(DummyProvider):
    def refund(self, payment, amount=None):
        raise PaymentError("Refunds are unavailable at the gateway.")
