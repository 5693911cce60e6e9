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
    refunded_amount = models.DecimalField(_("refunded amount"), max_digits=9, decimal_places=2, default=0)

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
                name=str(_("Pay-per-use: %(title)s") % {"title": charge.page.title})[:127],
                sku=f"usage-{charge.page_id}",
                quantity=1,
                price=self.total,
                currency=self.currency,
            )

    def capture(self, amount=None):
        """django-payments sets ``captured_amount`` but saves only the status: save it, for every provider."""
        super().capture(amount)
        if self.pk:
            type(self).objects.filter(pk=self.pk).update(captured_amount=self.captured_amount)

    def refund(self, amount=None):
        """Refund through the provider and count it in ``refunded_amount``, for every provider.

        django-payments lowers ``captured_amount`` by what was refunded, so ``captured_amount``
        is what the payer still has paid and ``refunded_amount`` what went back.
        """
        captured_before = self.captured_amount
        super().refund(amount)
        refunded = captured_before - self.captured_amount
        if refunded > 0:
            self.refunded_amount += refunded
            self.save(update_fields=["refunded_amount"])

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
