"""The payment step of a pending registration: the provider's form or a redirect to the provider."""

import logging

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from payments import RedirectNeeded

from ..forms import PaymentMethodForm
from ..layout import layout_context
from ..models import Registration, RegistrationStatus
from ..payment_flow import lock_payment, settle_payment
from ..services import registrations as service
from ..templatetags.training_pay import moment_text

logger = logging.getLogger(__name__)

CHOOSE_METHOD = "choose_payment_method"


def gateway_asks_for_another_method(payment):
    return (
        payment is not None
        and payment.status in service.FAILED_PAYMENT_STATUSES
        and bool(payment.extra_data)
        and bool(getattr(payment.attrs, "choose_another_method", False))
    )


@sensitive_post_parameters("number", "cvv2", "expiration_0", "expiration_1", "name", "ACCT", "CVV2", "EXPDATE")
def pay(request, token):
    registration = get_object_or_404(Registration.objects.select_related("page"), token=token)
    if registration.status != RegistrationStatus.PENDING or registration.hold_has_expired():
        return redirect("wagtail_training_pay:registration_done", token=token)
    methods = registration.page.site_settings().learner_variants()
    choosing = request.method == "POST" and CHOOSE_METHOD in request.POST
    method_form = PaymentMethodForm(request.POST if choosing else None, payment_methods=methods)
    variant = None
    if choosing:
        if method_form.is_valid():
            variant = method_form.cleaned_data["payment_method"]
        else:
            messages.error(request, _("Please choose one of the payment methods offered."))
    latest = service.current_payment(registration)
    if not choosing and request.method == "GET" and gateway_asks_for_another_method(latest):
        # PayPal refused every funding source the payer tried: offer the methods rather than PayPal again.
        messages.error(
            request,
            _("PayPal could not take this payment. Please choose another payment method, or try PayPal again."),
        )
        return TemplateResponse(
            request,
            "wagtail_training_pay/payment_step.html",
            {
                "registration": registration,
                "page": registration.page,
                "payment": latest,
                "form": None,
                "method_form": PaymentMethodForm(payment_methods=methods),
                "choose_method_name": CHOOSE_METHOD,
                "retry_url": None,
                **hold_context(registration),
                **layout_context(),
            },
        )
    payment = service.payment_for_attempt(registration, variant)
    if payment is None or payment.pending_at_gateway:
        # A payment PayPal holds (pending, under review) is never offered for payment again.
        return redirect("wagtail_training_pay:registration_done", token=token)
    method_form = PaymentMethodForm(payment_methods=methods, initial={"payment_method": payment.variant})

    if request.method == "GET" and request.GET.get("choose") and not choosing:
        # Back from the provider without paying: offer the methods again instead of sending the learner
        # straight back to the same hosted page.
        return render_step(request, registration, payment, None, method_form, retry_url=request.path)
    provider_data = request.POST if request.method == "POST" and not choosing else None
    form, redirect_to, failed = provider_step(payment, provider_data)
    if redirect_to:
        return redirect(redirect_to)
    if failed and not registration_still_waits(registration):
        # The gateway erred after the payment went through (settled above): the learner is registered, and
        # "Nothing was charged" would be false. The error is logged for the administrator.
        return redirect("wagtail_training_pay:registration_done", token=token)
    if failed:
        messages.error(
            request,
            _(
                "The payment service could not process your payment. Nothing was charged. "
                "Please try again, or choose another payment method if one is offered."
            ),
        )
        if request.method == "POST":
            return redirect("wagtail_training_pay:pay", token=token)
        # A GET failed (the provider is asked on every visit): show the message here, because
        # redirecting to this step would ask the failing provider again, in a loop.
    return render_step(
        request,
        registration,
        payment,
        form,
        method_form if len(methods) > 1 else None,
        retry_url=request.path if failed else None,
    )


def render_step(request, registration, payment, form, method_form, retry_url):
    return TemplateResponse(
        request,
        "wagtail_training_pay/payment_step.html",
        {
            "registration": registration,
            "page": registration.page,
            "payment": payment,
            "form": form,
            "method_form": method_form,
            "choose_method_name": CHOOSE_METHOD,
            "retry_url": retry_url,
            **hold_context(registration),
            **layout_context(),
        },
    )


#: Seconds before the hold ends when the payment step warns the learner (WCAG 2.2.1 asks for at least 20).
HOLD_WARNING_SECONDS = 120


def hold_context(registration):
    """The seat-hold countdown of the payment step: seconds left (the browser counts from its own clock) and
    whether the learner may ask for more time."""
    left = max(0, int((registration.hold_expires_at - timezone.now()).total_seconds()))
    return {
        "hold_seconds_left": left,
        "hold_warning_seconds": HOLD_WARNING_SECONDS,
        "hold_extensions_left": service.hold_extensions_left(registration),
        "hold_minutes": service.settings_for(registration.page).seat_hold_minutes,
    }


@require_POST
def extend_hold(request, token):
    """ "More time, please": the learner's answer to the countdown (a POST with Django's CSRF check)."""
    registration = get_object_or_404(Registration.objects.select_related("page"), token=token)
    try:
        registration = service.extend_hold(registration)
    except service.HoldNotExtended as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            _("Your seat is now held until %(time)s.") % {"time": moment_text(registration.hold_expires_at, "time")},
        )
    return redirect("wagtail_training_pay:pay", token=token)


def registration_still_waits(registration):
    registration.refresh_from_db(fields=["status"])
    return registration.status == RegistrationStatus.PENDING


def provider_step(payment, data):
    """Let the provider render, take or redirect the payment under its row lock, then settle it.

    Returns ``(form, redirect_url, failed)``; a provider failure leaves the registration pending.
    """
    form = redirect_to = None
    failed = False
    with transaction.atomic():
        payment = lock_payment(pk=payment.pk)
        try:
            form = payment.get_form(data=data)
        except RedirectNeeded as needed:
            redirect_to = str(needed)
        except service.PROVIDER_ERRORS as exc:
            logger.error("Payment provider failed on payment %s: %s", payment.pk, exc)
            failed = True
        settle_payment(payment)
    return form, redirect_to, failed
