from decimal import Decimal

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.models import Orderable

from ..conf import app_settings
from ..validators import validate_currency_code


def default_currency():
    return app_settings.DEFAULT_CURRENCY


def default_seat_hold_minutes():
    return app_settings.SEAT_HOLD_MINUTES


def configured_variants():
    """The payment variants the Django settings define, as ``(name, name)`` choices."""
    return [(name, name) for name in getattr(django_settings, "PAYMENT_VARIANTS", {})]


@register_setting(icon="tag")
class TrainingPaySettings(ClusterableModel, BaseSiteSetting):
    """What the product description calls the site administrator's configuration."""

    fee_based_enabled = models.BooleanField(
        _("fee-based training"),
        default=True,
        help_text=_("Learners pay the session fee when they register."),
    )
    pay_per_use_enabled = models.BooleanField(
        _("pay-per-use"),
        default=False,
        help_text=_("Hosts pay the estimated session cost before a session goes live."),
    )
    default_currency = models.CharField(
        _("default currency"),
        max_length=3,
        default=default_currency,
        validators=[validate_currency_code],
        help_text=_("ISO 4217 code, for example EUR, USD or GBP."),
    )
    person_minute_rate = models.DecimalField(
        _("person-minute rate"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Price of one minute for one computer connected to the session."),
    )
    teleconference_minute_rate = models.DecimalField(
        _("teleconference-minute rate"),
        max_digits=10,
        decimal_places=4,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("Price of one minute for one computer connected to the teleconference."),
    )
    minimum_charge = models.DecimalField(
        _("minimum charge"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("The smallest amount charged for a session; 0 for none."),
    )
    seat_hold_minutes = models.PositiveIntegerField(
        _("seat hold (minutes)"),
        default=default_seat_hold_minutes,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text=_("How long a seat is kept for a learner who has not paid yet."),
    )
    waitlist_enabled = models.BooleanField(
        _("waiting list"),
        default=False,
        help_text=_("When a session is full, offer learners a place on its waiting list."),
    )
    cancellation_deadline_hours = models.PositiveIntegerField(
        _("cancellation deadline (hours before the start)"),
        default=48,
        help_text=_("Learners may cancel until this many hours before the session starts."),
    )
    refund_percentage = models.PositiveSmallIntegerField(
        _("refund on cancellation (%)"),
        default=100,
        validators=[MaxValueValidator(100)],
        help_text=_("Share of the fee refunded when a learner cancels before the deadline."),
    )
    cancellation_policy = models.TextField(
        _("cancellation policy"),
        blank=True,
        help_text=_("Shown to learners on the registration and manage pages."),
    )
    exempt_groups = ParentalManyToManyField(
        "auth.Group",
        blank=True,
        related_name="+",
        verbose_name=_("groups exempt from pay-per-use"),
        help_text=_("Members of these groups publish sessions without paying."),
    )
    anonymize_after_days = models.PositiveIntegerField(
        _("anonymize learners after (days)"),
        default=365,
        help_text=_(
            "Personal data of learners is erased this many days after the session; amounts are kept for accounting."
        ),
    )
    organisation_name = models.CharField(
        _("organisation name"),
        max_length=200,
        blank=True,
        help_text=_("The seller named on the invoices sent to hosts for pay-per-use."),
    )
    organisation_address = models.TextField(
        _("organisation address"),
        blank=True,
        help_text=_("Printed under the organisation name on invoices, one line per line."),
    )
    organisation_tax_id = models.CharField(
        _("VAT or tax number"),
        max_length=50,
        blank=True,
        help_text=_("Printed on invoices when set, for example an EU VAT number."),
    )

    general_panels = [
        MultiFieldPanel(
            [FieldPanel("fee_based_enabled"), FieldPanel("pay_per_use_enabled"), FieldPanel("default_currency")],
            heading=_("Features"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("seat_hold_minutes"),
                FieldPanel("waitlist_enabled"),
                FieldPanel("cancellation_deadline_hours"),
                FieldPanel("refund_percentage"),
                FieldPanel("cancellation_policy"),
                FieldPanel("anonymize_after_days"),
            ],
            heading=_("Fee-based training"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("person_minute_rate"),
                FieldPanel("teleconference_minute_rate"),
                FieldPanel("minimum_charge"),
                FieldPanel("exempt_groups"),
            ],
            heading=_("Pay-per-use"),
        ),
        MultiFieldPanel(
            [FieldPanel("organisation_name"), FieldPanel("organisation_address"), FieldPanel("organisation_tax_id")],
            heading=_("Invoices to hosts"),
        ),
    ]
    payment_panels = [
        InlinePanel("learner_payment_methods", heading=_("Payment methods offered to learners"), label=_("method")),
        InlinePanel("host_payment_methods", heading=_("Payment methods offered to hosts"), label=_("method")),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(general_panels, heading=_("General")),
            ObjectList(payment_panels, heading=_("Payment methods")),
        ]
    )

    class Meta:
        verbose_name = _("training payments")

    def clean(self):
        super().clean()
        self.default_currency = (self.default_currency or "").upper()

    def learner_variants(self):
        """``[(variant, label)]`` offered to learners, in the administrator's order."""
        return self._variants(self.learner_payment_methods)

    def host_variants(self):
        """``[(variant, label)]`` offered to hosts, in the administrator's order."""
        return self._variants(self.host_payment_methods)

    def _variants(self, relation):
        defined = getattr(django_settings, "PAYMENT_VARIANTS", {})
        methods = [(m.variant, m.label or m.variant) for m in relation.all() if m.variant in defined]
        if not methods and defined:
            # Nothing chosen yet: offer the first variant the developer configured.
            first = next(iter(defined))
            methods = [(first, first)]
        return methods


class PaymentMethodOption(Orderable):
    variant = models.CharField(
        _("payment variant"),
        max_length=64,
        help_text=_("A key of PAYMENT_VARIANTS in the Django settings."),
    )
    label = models.CharField(_("label"), max_length=100, blank=True)

    panels = [FieldPanel("variant"), FieldPanel("label")]

    class Meta(Orderable.Meta):
        abstract = True

    def clean(self):
        super().clean()
        if self.variant not in getattr(django_settings, "PAYMENT_VARIANTS", {}):
            raise ValidationError(
                {"variant": _("“%(variant)s” is not in PAYMENT_VARIANTS.") % {"variant": self.variant}}
            )

    def __str__(self):
        return self.label or self.variant


class LearnerPaymentMethod(PaymentMethodOption):
    settings = ParentalKey(TrainingPaySettings, related_name="learner_payment_methods", on_delete=models.CASCADE)

    class Meta(PaymentMethodOption.Meta):
        verbose_name = _("learner payment method")


class HostPaymentMethod(PaymentMethodOption):
    settings = ParentalKey(TrainingPaySettings, related_name="host_payment_methods", on_delete=models.CASCADE)

    class Meta(PaymentMethodOption.Meta):
        verbose_name = _("host payment method")
