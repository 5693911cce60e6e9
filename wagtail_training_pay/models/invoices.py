from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", pgettext_lazy("invoice kind", "Invoice")
    CREDIT_NOTE = "credit_note", pgettext_lazy("invoice kind", "Credit note")


class InvoiceSequence(models.Model):
    """The last invoice number of a site: incremented under its row lock in the transaction that issues the
    invoice, so numbers never repeat, and a rolled-back transaction gives its number back (none is skipped)."""

    site = models.OneToOneField("wagtailcore.Site", on_delete=models.CASCADE, related_name="+")
    last_number = models.PositiveIntegerField(_("last number"), default=0)

    class Meta:
        verbose_name = _("invoice sequence")

    def __str__(self):
        return f"{self.site_id}: {self.last_number}"


class Invoice(models.Model):
    """An invoice for a paid pay-per-use charge, or a credit note for a refund of its payment.

    The seller's details are copied when it is issued: a later change of the site settings does not rewrite
    an invoice already sent. The buyer's details and the breakdown are the charge's own copies.
    """

    site = models.ForeignKey("wagtailcore.Site", on_delete=models.PROTECT, related_name="+", verbose_name=_("site"))
    number = models.PositiveIntegerField(_("number"))
    kind = models.CharField(_("kind"), max_length=20, choices=InvoiceKind.choices, default=InvoiceKind.INVOICE)
    charge = models.ForeignKey(
        "wagtail_training_pay.UsageCharge",
        on_delete=models.PROTECT,
        related_name="invoices",
        verbose_name=_("usage charge"),
    )
    payment = models.ForeignKey(
        "wagtail_training_pay.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payment"),
    )
    movement = models.OneToOneField(
        "wagtail_training_pay.MoneyMovement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_note",
        verbose_name=_("refund"),
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)
    seller_name = models.CharField(_("organisation name"), max_length=200, blank=True)
    seller_address = models.TextField(_("organisation address"), blank=True)
    seller_tax_id = models.CharField(_("VAT or tax number"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["site", "number"]
        constraints = [
            models.UniqueConstraint(fields=["site", "number"], name="wtp_invoice_number_unique_per_site"),
            models.UniqueConstraint(
                fields=["charge"],
                condition=models.Q(kind="invoice"),
                name="wtp_one_invoice_per_charge",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_credit_note(self):
        return self.kind == InvoiceKind.CREDIT_NOTE

    def filename(self):
        prefix = "credit-note" if self.is_credit_note else "invoice"
        return f"{prefix}-{self.number}.pdf"
