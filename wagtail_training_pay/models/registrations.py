import uuid

from django.conf import settings
from django.db import models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_countries.fields import CountryField


class RegistrationStatus(models.TextChoices):
    PENDING = "pending", pgettext_lazy("registration status", "Pending payment")
    CONFIRMED = "confirmed", pgettext_lazy("registration status", "Confirmed")
    CANCELLED = "cancelled", pgettext_lazy("registration status", "Cancelled")
    EXPIRED = "expired", pgettext_lazy("registration status", "Expired")
    REFUNDED = "refunded", pgettext_lazy("registration status", "Refunded")
    WAITLISTED = "waitlisted", pgettext_lazy("registration status", "On the waiting list")


#: Statuses that block a second registration with the same email for the same session.
ACTIVE_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED, RegistrationStatus.WAITLISTED)


def holding_seat(now=None):
    """The condition of a registration that takes a seat: confirmed, or pending with its hold not expired."""
    now = now or timezone.now()
    return models.Q(status=RegistrationStatus.CONFIRMED) | models.Q(
        status=RegistrationStatus.PENDING, hold_expires_at__gt=now
    )


class RegistrationQuerySet(models.QuerySet):
    def holding_seats(self, now=None):
        """Registrations that take a seat: confirmed ones and pending ones whose hold has not expired."""
        return self.filter(holding_seat(now))

    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)


class Registration(models.Model):
    """One learner's registration for one session."""

    page = models.ForeignKey(
        "wagtail_training_pay.TrainingSessionPage",
        on_delete=models.PROTECT,
        related_name="registrations",
        verbose_name=_("session"),
    )
    token = models.UUIDField(_("token"), default=uuid.uuid4, unique=True, editable=False)
    status = models.CharField(
        _("status"), max_length=20, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=100)
    email = models.EmailField(_("email"), max_length=254)
    billing_address = models.CharField(_("address"), max_length=255, blank=True)
    billing_postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    billing_city = models.CharField(_("city"), max_length=100, blank=True)
    billing_country = CountryField(_("country"), blank=True)
    form_data = models.JSONField(_("answers"), default=dict, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=9, decimal_places=2, default=0)
    currency = models.CharField(_("currency"), max_length=3)
    refunded_amount = models.DecimalField(_("refunded amount"), max_digits=9, decimal_places=2, default=0)
    language = models.CharField(_("language"), max_length=10, blank=True)
    hold_expires_at = models.DateTimeField(_("seat held until"), null=True, blank=True)
    hold_extensions = models.PositiveSmallIntegerField(
        _("seat hold extensions"), default=0, help_text=_("Times the learner asked for more time to pay.")
    )
    created_at = models.DateTimeField(_("registered at"), default=timezone.now, db_index=True)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent at"), null=True, blank=True)
    late_payment_refunded = models.BooleanField(
        _("late payment refunded"),
        default=False,
        help_text=_("The payment arrived after the hold expired and the session was full."),
    )
    anonymized_at = models.DateTimeField(_("anonymized at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        "wagtail_training_pay.Payment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("paid by"),
        help_text=_("The payment applied to this registration; any other confirmed payment of it is refunded."),
    )

    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("second registration of"),
        help_text=_(
            "Made with an email address already registered for the session, from another browser: taken like any "
            "new registration so that the form tells nobody who is registered."
        ),
    )

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["page", "status", "hold_expires_at"]),
            # The admin listing of one session, newest first (the default) or by learner or email, with the id
            # that breaks ties: read in index order, it stops after a page of rows instead of sorting every
            # registration of the session (issue 18). Read backwards for the descending orders.
            models.Index(fields=["page", "-created_at", "-id"], name="wtp_registration_page_newest"),
            models.Index(fields=["page", "last_name", "first_name", "id"], name="wtp_registration_page_name"),
            models.Index(fields=["page", "email", "id"], name="wtp_registration_page_email"),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                "page",
                # An erased registration keeps its status (for the accounts) but no email any more; a second
                # registration from another browser is allowed on purpose (see ``duplicate_of``).
                condition=models.Q(
                    status__in=[s.value for s in ACTIVE_STATUSES], anonymized_at__isnull=True, duplicate_of__isnull=True
                ),
                name="wtp_one_active_registration_per_email",
            ),
            models.CheckConstraint(condition=models.Q(amount__gte=0), name="wtp_registration_amount_not_negative"),
        ]
        permissions = [
            ("view_registration_personal_data", _("Can view learners' personal data")),
            ("refund_registration", _("Can refund registrations")),
        ]

    def __str__(self):
        return f"{self.first_name} {self.last_name} – {self.page_id}"

    def save(self, *args, **kwargs):
        """Save, and move the session's seat counter when the status saved takes or frees a seat.

        The services change statuses through ``services.seats.set_status`` (a conditional UPDATE); this keeps
        the counter right for a registration created or saved directly (a data import, the shell, a test).
        """
        from ..services import seats

        update_fields = kwargs.get("update_fields")
        fields = None if update_fields is None else set(update_fields)
        saves_status = "status" in self.__dict__ and (fields is None or "status" in fields)
        saves_page = "page_id" in self.__dict__ and (fields is None or bool({"page", "page_id"} & fields))
        if self._state.adding:
            change = seats.delta(None, self.status)
            if not change:
                super().save(*args, **kwargs)
            else:
                with transaction.atomic(using=kwargs.get("using")):
                    # The session's lock first, like every other change of its counter: an insert holding the
                    # counter row until its commit (where PostgreSQL checks the deferred foreign key against the
                    # session row) deadlocked with a cancellation or ``check_seat_counts --fix`` of the session.
                    # The services hold it already and say so.
                    if not getattr(self, "_session_locked", False):
                        seats.lock_session(self.page_id)
                    super().save(*args, **kwargs)
                    seats.adjust(self.page_id, change)
        elif not (saves_status or saves_page):
            super().save(*args, **kwargs)
        else:
            # The copy being saved may have been loaded before another process changed its status (or its
            # session): the counters move by what the database says, read under the sessions' locks and the
            # row's (the lock order of services/registrations.py). Two copies saved as cancelled free one seat;
            # a copy saved after the payment confirmed it leaves the counter equal to a recount.
            with transaction.atomic(using=kwargs.get("using")):
                old_status, old_page = seats.lock_for_save(self)
                super().save(*args, **kwargs)
                new_status = self.status if saves_status else old_status
                new_page = self.page_id if saves_page else old_page
                if old_page == new_page:
                    seats.adjust(new_page, seats.delta(old_status, new_status))
                else:  # moved to another session (or its row was gone and has just been inserted again)
                    if old_page is not None:
                        seats.adjust(old_page, seats.delta(old_status, None))
                    seats.adjust(new_page, seats.delta(None, new_status))
        if "status" in self.__dict__:
            self._loaded_status = self.status

    @classmethod
    def from_db(cls, *args, **kwargs):
        instance = super().from_db(*args, **kwargs)
        # The status as read, so that a save() that changes it moves the session's seat counter.
        instance._loaded_status = instance.__dict__.get("status")
        return instance

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_manage_url(self):
        return reverse("wagtail_training_pay:manage_registration", kwargs={"token": self.token})

    def hold_has_expired(self, now=None):
        return self.hold_expires_at is not None and self.hold_expires_at <= (now or timezone.now())


class SessionSeats(models.Model):
    """The confirmed seats of one session, kept so that counting seats never reads every registration.

    A row of its own rather than a field of the session page: publishing a page revision writes every field
    of the page from the revision, which would put an old count back. Changed only under the session's lock,
    in the transaction that changes a registration's status (``services/seats.py``); live holds are counted
    apart (a few pending rows, by index). ``manage.py check_seat_counts`` recounts and reports any drift.
    """

    page = models.OneToOneField(
        "wagtail_training_pay.TrainingSessionPage",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="seat_count",
        verbose_name=_("session"),
    )
    confirmed = models.PositiveIntegerField(_("confirmed seats"), default=0)

    class Meta:
        verbose_name = _("seat count")
        verbose_name_plural = _("seat counts")

    def __str__(self):
        return f"{self.page_id}: {self.confirmed}"
