from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField


class UsageChargeStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("usage charge status", "Awaiting payment")
    PAID = "paid", pgettext_lazy("usage charge status", "Paid")
    FAILED = "failed", pgettext_lazy("usage charge status", "Failed")
    CANCELLED = "cancelled", pgettext_lazy("usage charge status", "Cancelled")


class UsageChargeAction(models.TextChoices):
    PUBLISH = "publish", pgettext_lazy("go-live action", "Start session")
    SCHEDULE = "schedule", pgettext_lazy("go-live action", "Schedule")
    START = "start", pgettext_lazy("go-live action", "Start the live session")


class UsageCharge(models.Model):
    """One pay-per-use charge of a host for a session."""

    # A charge follows its page (moves included) and outlives it: deleting a session keeps its
    # charges and payments for the accounts, with the session's title and id recorded below.
    page = models.ForeignKey(
        "wagtail_training_pay.TrainingSessionPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="usage_charges",
        verbose_name=_("session"),
    )
    session_title = models.CharField(_("session title"), max_length=255, blank=True)
    session_page_id = models.PositiveIntegerField(
        _("session page id"), null=True, blank=True, help_text=_("Kept when the session is deleted.")
    )
    revision = models.ForeignKey(
        "wagtailcore.Revision",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revision paid for"),
    )
    payer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="training_usage_charges",
        verbose_name=_("host"),
    )
    status = models.CharField(
        _("status"), max_length=20, choices=UsageChargeStatus.choices, default=UsageChargeStatus.PENDING
    )
    action = models.CharField(
        _("action"), max_length=20, choices=UsageChargeAction.choices, default=UsageChargeAction.PUBLISH
    )
    go_live_at = models.DateTimeField(_("go-live time"), null=True, blank=True)
    # Inputs of the estimate, copied so that later changes of the page or the rates do not rewrite history.
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"))
    expected_participants = models.PositiveIntegerField(_("computers connected to the session"))
    teleconference_participants = models.PositiveIntegerField(_("computers connected to the teleconference"))
    person_minute_rate = models.DecimalField(_("person-minute rate"), max_digits=10, decimal_places=4)
    teleconference_minute_rate = models.DecimalField(_("teleconference-minute rate"), max_digits=10, decimal_places=4)
    minimum_charge = models.DecimalField(_("minimum charge"), max_digits=10, decimal_places=2, default=0)
    breakdown = models.JSONField(_("breakdown"), default=dict)
    estimated_total = models.DecimalField(_("estimated cost"), max_digits=12, decimal_places=2)
    amount = models.DecimalField(
        _("amount charged"), max_digits=12, decimal_places=2, help_text=_("The estimate less what was already paid.")
    )
    currency = models.CharField(_("currency"), max_length=3)
    billing_name = models.CharField(_("name"), max_length=200, blank=True)
    billing_email = models.EmailField(_("email"), blank=True)
    billing_address = models.CharField(_("address"), max_length=255, blank=True)
    billing_postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    billing_city = models.CharField(_("city"), max_length=100, blank=True)
    billing_country = CountryField(_("country"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)

    class Meta:
        verbose_name = _("usage charge")
        verbose_name_plural = _("usage charges")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="wtp_usage_charge_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.session_page_id or self.page_id} {self.amount} {self.currency} ({self.get_status_display()})"

    @property
    def session_label(self):
        """The session's title, or the recorded one once the session was deleted."""
        if self.page_id is not None and self.page is not None:
            return self.page.title
        return _("%(title)s (deleted, page %(id)s)") % {"title": self.session_title, "id": self.session_page_id}
