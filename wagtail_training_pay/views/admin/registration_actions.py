"""Actions on one registration, each behind a confirmation page, each leaving an audit log entry.

The views only check permissions, ask for confirmation and call the registration services
(``wagtail_training_pay.services.registrations``), which lock the rows, move the money and
write the log entry (with the acting user).
"""

from decimal import Decimal

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _gettext
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ... import admin_permissions as permissions
from ...models import Registration, RegistrationStatus
from ...services import registrations as services
from .common import format_money

INSPECT_URL_NAME = "training_registrations:inspect"


def refundable_amount(registration):
    return services.refundable_amount(registration)


def action_errors():
    """Exceptions the services raise with a message meant for the user."""
    return (services.RefundFailed, services.CancellationRefused, services.RegistrationRefused, ValueError)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the registration's history, for example the bank transfer reference."),
    )

    def __init__(self, *args, registration, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.registration = registration
        self.user = user


class EmptyForm(ReasonForm):
    reason = None


class RefundForm(EmptyForm):
    amount = forms.DecimalField(
        label=_("Amount to refund"),
        min_value=Decimal("0.01"),
        decimal_places=2,
        required=False,
        help_text=_("Leave blank to refund everything that can still be refunded."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable = refundable_amount(self.registration)
        self.fields["amount"].widget.attrs["max"] = str(self.refundable)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        if amount is not None and amount > self.refundable:
            raise ValidationError(
                _("At most %(amount)s can be refunded.")
                % {"amount": format_money(self.refundable, self.registration.currency)}
            )
        return amount


class CancelForm(EmptyForm):
    refund = forms.BooleanField(
        label=_("Refund the learner"),
        required=False,
        initial=True,
        help_text=_("Refund what the learner paid, through the payment provider."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not (permissions.can_refund(self.user) and refundable_amount(self.registration) > 0):
            del self.fields["refund"]


class RegistrationAction:
    """One thing an administrator can do to a registration."""

    name = ""
    label = ""
    #: The shorter label of its button on a listing row (the row names the learner).
    row_label = ""
    icon = ""
    form_class = EmptyForm
    question = ""
    submit_label = _("Yes, go ahead")
    success_message = ""
    log_verb = ""

    def url_for(self, registration):
        return reverse(f"training_registrations:{self.name}", args=[registration.pk])

    def user_may(self, user):
        return permissions.can_change_registrations(user)

    def applies_to(self, registration):
        return True

    def may_apply_to_row(self, registration):
        """``applies_to`` from what a listing row already holds, without a query; the action's page checks
        ``applies_to`` itself before doing anything."""
        return self.applies_to(registration)

    def perform(self, registration, user, data):
        """Do the action through the services; return the amount refunded, if any."""
        raise NotImplementedError

    def describe(self, registration):
        return self.question

    def success_text(self, registration, refunded):
        refund_message = getattr(self, "refund_message", None)
        if refunded and refund_message:
            return refund_message % {"amount": format_money(refunded, registration.currency)}
        return self.success_message


class RefundAction(RegistrationAction):
    name = "refund"
    label = _("Refund")
    row_label = _("Refund")
    icon = "rotate"
    form_class = RefundForm
    question = _("Refund this registration through its payment provider?")
    submit_label = _("Yes, refund")
    success_message = _("Nothing was refunded.")
    refund_message = _("%(amount)s refunded.")

    def user_may(self, user):
        return permissions.can_refund(user)

    def applies_to(self, registration):
        return refundable_amount(registration) > 0

    def may_apply_to_row(self, registration):
        # The listing's rows carry what the registration's payments collected (``paid_total``).
        paid = getattr(registration, "paid_total", None)
        if paid is None:
            return self.applies_to(registration)
        return registration.paid_by_id is not None and paid > registration.refunded_amount

    def perform(self, registration, user, data):
        before = registration.refunded_amount
        registration = services.refund_registration(registration, data.get("amount"), user=user)
        return registration.refunded_amount - before

    def describe(self, registration):
        return _("Refund this registration through its payment provider? Up to %(amount)s can be refunded.") % {
            "amount": format_money(refundable_amount(registration), registration.currency)
        }


class CancelAction(RegistrationAction):
    name = "cancel"
    label = _("Cancel registration")
    row_label = pgettext_lazy("registration action", "Cancel")
    icon = "cross"
    form_class = CancelForm
    question = _("Cancel this registration? Its seat is given up.")
    submit_label = _("Yes, cancel it")
    success_message = _("Registration cancelled.")
    refund_message = _("Registration cancelled; %(amount)s refunded.")

    def applies_to(self, registration):
        return registration.status in (
            RegistrationStatus.PENDING,
            RegistrationStatus.CONFIRMED,
            RegistrationStatus.WAITLISTED,
        )

    def perform(self, registration, user, data):
        refund = bool(data.get("refund")) and permissions.can_refund(user)
        before = registration.refunded_amount
        registration = services.cancel_registration(registration, user=user, refund=refund)
        return registration.refunded_amount - before


class ConfirmAction(RegistrationAction):
    name = "confirm"
    label = _("Confirm by hand")
    row_label = pgettext_lazy("registration action", "Confirm")
    icon = "tick"
    form_class = ReasonForm
    question = _(
        "Confirm this registration without an online payment, for example after a bank transfer? "
        "It takes a seat even when the session is full."
    )
    submit_label = _("Yes, confirm it")
    success_message = _("Registration confirmed.")

    def applies_to(self, registration):
        return registration.status in (RegistrationStatus.PENDING, RegistrationStatus.EXPIRED)

    def perform(self, registration, user, data):
        services.confirm_registration(registration, user=user, reason=data["reason"])


class ResendConfirmationAction(RegistrationAction):
    name = "resend"
    label = _("Resend confirmation email")
    row_label = _("Resend email")
    icon = "mail"
    question = _("Send the confirmation email to the learner again?")
    submit_label = _("Yes, send it")
    success_message = _("The confirmation email is on its way.")

    def applies_to(self, registration):
        return registration.status == RegistrationStatus.CONFIRMED

    def perform(self, registration, user, data):
        services.resend_confirmation(registration, user=user)


class AdmitAction(RegistrationAction):
    name = "admit"
    label = _("Move in from the waiting list")
    row_label = pgettext_lazy("registration action", "Move in")
    icon = "arrow-right"
    question = _("Give this learner on the waiting list a seat? They are asked to pay if the session has a fee.")
    submit_label = _("Yes, move them in")
    success_message = _("The learner was moved in from the waiting list.")

    def applies_to(self, registration):
        return registration.status == RegistrationStatus.WAITLISTED

    def perform(self, registration, user, data):
        services.admit_from_waitlist(registration, user=user)


class RegistrationActionView(WagtailAdminTemplateMixin, FormView):
    action = None
    template_name = "wagtail_training_pay/admin/registration_action.html"
    header_icon = "group"

    def dispatch(self, request, *args, **kwargs):
        self.registration = get_object_or_404(Registration.objects.select_related("page"), pk=kwargs["pk"])
        if not (permissions.can_view_registrations(request.user) and self.action.user_may(request.user)):
            raise PermissionDenied
        if not self.action.applies_to(self.registration):
            messages.error(request, str(_("This action does not apply to this registration any more.")))
            return redirect(self.inspect_url)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def inspect_url(self):
        return reverse(INSPECT_URL_NAME, args=[self.registration.pk])

    def get_page_title(self):
        return self.action.label

    def get_page_subtitle(self):
        if permissions.can_view_personal_data(self.request.user):
            return self.registration.full_name
        return _gettext("Registration #%(id)s") % {"id": self.registration.pk}

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("training_registrations:index"), "label": _("Registrations")},
            {"url": self.inspect_url, "label": self.get_page_subtitle()},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "registration": self.registration, "user": self.request.user}

    def get_form_class(self):
        return self.action.form_class

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            action=self.action,
            question=self.action.describe(self.registration),
            registration=self.registration,
            cancel_url=self.inspect_url,
        )
        return context

    def form_valid(self, form):
        try:
            refunded = self.action.perform(self.registration, self.request.user, form.cleaned_data)
        except action_errors() as exc:
            form.add_error(None, _("It could not be done: %(reason)s") % {"reason": str(exc)})
            return self.form_invalid(form)
        messages.success(self.request, str(self.action.success_text(self.registration, refunded)))
        return redirect(self.inspect_url)


for _action_class in (RefundAction, CancelAction, ConfirmAction, ResendConfirmationAction, AdmitAction):
    _action_class.view_class = RegistrationActionView

ACTIONS = [RefundAction(), CancelAction(), ConfirmAction(), ResendConfirmationAction(), AdmitAction()]


def available_actions(registration, user):
    return [action for action in ACTIONS if action.user_may(user) and action.applies_to(registration)]
