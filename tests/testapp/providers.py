"""A gateway whose refunds fail, for the tests of what the app does when a provider refuses a refund."""

from payments import PaymentError
from payments.dummy import DummyProvider


class RefundFailingProvider(DummyProvider):
    def refund(self, payment, amount=None):
        raise PaymentError("Refunds are unavailable at the gateway.")


class ConfirmsThenFailsProvider(DummyProvider):
    """A gateway that takes the money and then answers with an error (the payment is confirmed all the same)."""

    def get_form(self, payment, data=None):
        from payments import PaymentStatus

        if data is not None:
            payment.change_status(PaymentStatus.CONFIRMED)
            raise PaymentError("The gateway failed after the sale went through.")
        return super().get_form(payment, data)


class StatusCheckCrashesProvider(DummyProvider):
    """A gateway library with a bug: asking about a payment raises an error nobody expected."""

    def check_status(self, payment):
        raise RuntimeError("the gateway library crashed")
