"""Records of money: every movement asked of a gateway, and every email the flows owe.

Both are written in the transaction of the change that needs them, before anything leaves
the site; what happened afterwards is written on the same row. ``services/money.py`` sends
the movements, ``services/outbox.py`` the emails, and the sweeper (``services/stale_payments.py``)
finishes whatever a crash, a timeout or an outage left behind.
"""

import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


def new_idempotency_key():
    """32 hexadecimal characters: what Payflow's ``X-VPS-REQUEST-ID`` and the NVP ``MSGSUBID`` accept."""
    return uuid.uuid4().hex


class MovementKind(models.TextChoices):
    SALE = "sale", pgettext_lazy("money movement", "Sale")
    CAPTURE = "capture", pgettext_lazy("money movement", "Capture")
    VOID = "void", pgettext_lazy("money movement", "Void")
    REFUND = "refund", pgettext_lazy("money movement", "Refund")


class MovementState(models.TextChoices):
    CREATED = "created", pgettext_lazy("money movement state", "Created")
    SENT = "sent", pgettext_lazy("money movement state", "Sent")
    DONE = "done", pgettext_lazy("money movement state", "Done")
    FAILED = "failed", pgettext_lazy("money movement state", "Failed")
    UNKNOWN = "unknown", pgettext_lazy("money movement state", "Unknown")


#: States of a movement whose outcome is not known yet: the gateway may have done it.
OPEN_MOVEMENT_STATES = (MovementState.CREATED, MovementState.SENT, MovementState.UNKNOWN)
#: Movements that took money in.
INCOMING_KINDS = (MovementKind.SALE, MovementKind.CAPTURE)


class MoneyMovement(models.Model):
    """One sale, capture, void or refund: written before the gateway is asked, then what it answered.

    ``idempotency_key`` goes to the gateway with the request; a retry of the very same request
    (after a lost answer) sends the same key, so PayPal answers with the first result instead of
    moving the money twice. A new attempt after a refusal is a new row with a new key.
    A ``sale`` is recorded, already done, when the gateway reports money the payer sent on its pages.
    """

    payment = models.ForeignKey(
        "wagtail_training_pay.Payment",
        on_delete=models.PROTECT,
        related_name="movements",
        verbose_name=_("payment"),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=MovementKind.choices)
    amount = models.DecimalField(_("amount"), max_digits=9, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    state = models.CharField(
        _("state"), max_length=10, choices=MovementState.choices, default=MovementState.CREATED, db_index=True
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("requested by"),
    )
    idempotency_key = models.CharField(
        _("idempotency key"), max_length=32, unique=True, default=new_idempotency_key, editable=False
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    gateway_answer = models.TextField(_("gateway's answer"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("money movement")
        verbose_name_plural = _("money movements")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["payment", "kind", "state"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="wtp_movement_amount_not_negative"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} {self.currency} ({self.get_state_display()})"

    @property
    def is_open(self):
        return self.state in OPEN_MOVEMENT_STATES


class OwedEmailState(models.TextChoices):
    OWED = "owed", pgettext_lazy("email state", "Owed")
    SENT = "sent", pgettext_lazy("email state", "Sent")
    DROPPED = "dropped", pgettext_lazy("email state", "No longer needed")


class OwedEmail(models.Model):
    """An email the site owes someone, recorded in the transaction of the change that owes it.

    ``kind`` names a sender registered with ``services.outbox.register_email_kind``; the related
    object is what the email is about (a registration, a usage charge...). ``dedupe_key`` is
    unique: owing the same email twice records it once, so a recipient gets it once.
    """

    kind = models.CharField(_("kind"), max_length=50)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(_("object id"), max_length=64)
    related_object = GenericForeignKey("content_type", "object_id")
    recipient = models.EmailField(_("recipient"), max_length=254)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, unique=True)
    state = models.CharField(
        _("state"), max_length=10, choices=OwedEmailState.choices, default=OwedEmailState.OWED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("owed email")
        verbose_name_plural = _("owed emails")
        ordering = ["created_at", "pk"]

    def __str__(self):
        return f"{self.kind} → {self.recipient} ({self.get_state_display()})"
