from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from payments import PurchasedItem
from payments.models import BasePayment

#: added by ``Payment.get_failure_url`` to the return URL, passed on to the page the payer lands on
NOT_PAID_QUERY = "result=not-paid"


class Payment(BasePayment):
    """The concrete django-payments model.

    A payment belongs to a learner's registration or to a host's usage charge; both
    relations are nullable so that a site can carry its other payments here too.
    """

    # django-payments does not index its token, which every callback looks up.
    token = models.CharField(max_length=36, blank=True, default="", db_index=True)
    registration = models.ForeignKey(
        "wagtail_training_pay.Registration",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("registration"),
    )
    usage_charge = models.ForeignKey(
        "wagtail_training_pay.UsageCharge",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("usage charge"),
    )
    # ``captured_amount`` (django-payments': what the payer still has paid) and ``refunded_amount`` are the
    # aggregates of the payment's done money movements (``services/money.py`` keeps them), never set by hand.
    refunded_amount = models.DecimalField(_("refunded amount"), max_digits=9, decimal_places=2, default=0)
    needs_attention = models.CharField(
        _("needs attention"),
        max_length=200,
        blank=True,
        help_text=_("Why the site and the gateway disagree in a way the sweeper could not settle."),
    )
    gateway_answer = models.TextField(_("gateway's answer"), blank=True)
    attention_since = models.DateTimeField(_("needs attention since"), null=True, blank=True)
    reconciled_at = models.DateTimeField(
        _("reconciled at"),
        null=True,
        blank=True,
        help_text=_("When the sweeper last found this given-up payment final at the gateway."),
    )

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created"]
        permissions = [("refund_payment", _("Can refund payments"))]

    def get_purchased_items(self):
        if self.registration_id:
            registration = self.registration
            yield PurchasedItem(
                name=registration.page.title[:127],
                sku=f"session-{registration.page_id}",
                quantity=1,
                price=self.total,
                currency=self.currency,
            )
        elif self.usage_charge_id:
            charge = self.usage_charge
            yield PurchasedItem(
                name=str(_("Pay-per-use: %(title)s") % {"title": charge.session_label})[:127],
                sku=f"usage-{charge.session_page_id or charge.page_id}",
                quantity=1,
                price=self.total,
                currency=self.currency,
            )

    # Money moves through records (services/money.py): these django-payments methods write the movement
    # first and send it once the caller's transaction commits, so no code path moves money unrecorded.

    def capture(self, amount=None):
        from ..models import MovementKind
        from ..services.money import move_now

        move_now(self, MovementKind.CAPTURE, amount, reason="Payment.capture()")

    def release(self):
        from ..models import MovementKind
        from ..services.money import move_now

        move_now(self, MovementKind.VOID, reason="Payment.release()")

    def refund(self, amount=None):
        from ..models import MovementKind
        from ..services.money import move_now

        move_now(self, MovementKind.REFUND, amount, reason="Payment.refund()")

    @property
    def pending_at_gateway(self):
        """PayPal holds this payment (pending, under review): ``{"reason": ...}``, else ``None``."""
        from ..providers.base import pending_at_gateway

        return pending_at_gateway(self)

    @property
    def refused_after_pending(self):
        """PayPal held this payment, then refused it (an eCheck that bounced, a rejected review)."""
        from ..providers.base import refused_after_pending

        return refused_after_pending(self)

    def get_process_url(self):
        """Callbacks go through the app's locked view, not django-payments' unlocked one."""
        return reverse("wagtail_training_pay:process_payment", kwargs={"token": self.token})

    def get_success_url(self):
        return self._absolute(reverse("wagtail_training_pay:payment_return", kwargs={"token": self.token}))

    def get_failure_url(self):
        """Where a provider sends a payer who cancelled or was refused: the same return, marked as not paid, so
        the payer is not told a payment is "being processed" when none was made."""
        path = reverse("wagtail_training_pay:payment_return", kwargs={"token": self.token})
        return self._absolute(f"{path}?{NOT_PAID_QUERY}")

    def _absolute(self, path):
        from payments.core import get_base_url

        return get_base_url() + path
