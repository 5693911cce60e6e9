"""The learner's own screens, reached by unguessable tokens: manage, calendar file, after payment."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from ..forms import CancelRegistrationForm, EraseDataForm
from ..ics import registration_calendar
from ..layout import layout_context
from ..models import Registration, RegistrationStatus
from ..services import registrations as service
from ..services.data_protection import learner_can_request_erasure
from ..services.emails import manage_url
from .learner_data import private


def _registration(token):
    return get_object_or_404(Registration.objects.select_related("page", "paid_by"), token=token)


def manage_registration(request, token):
    registration = _registration(token)
    can_cancel = service.learner_can_cancel(registration)
    form = CancelRegistrationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and can_cancel:
        if form.is_valid():
            try:
                cancelled = service.cancel_registration(registration)
            except service.CancellationRefused as exc:
                messages.error(request, str(exc))
            else:
                if cancelled.refunds_outstanding:
                    messages.warning(
                        request,
                        _(
                            "Your registration is cancelled. Your refund could not be completed yet: "
                            "our team has been told and will see to it."
                        ),
                    )
                else:
                    messages.success(request, _("Your registration is cancelled."))
            return redirect("wagtail_training_pay:manage_registration", token=token)
        messages.error(request, _("Please tick the box to confirm the cancellation."))
    page = registration.page
    current = service.current_payment(registration)
    response = TemplateResponse(
        request,
        "wagtail_training_pay/manage_registration.html",
        {
            "registration": registration,
            "page": page,
            "payment": registration.paid_by or current,
            "cancel_form": form if can_cancel else None,
            "cancellation_deadline": service.cancellation_deadline(registration),
            "refund_on_cancel": service.policy_refund_amount(registration),
            "show_join_link": registration.status == RegistrationStatus.CONFIRMED
            and page.started_at is not None
            and bool(page.join_url),
            "can_pay": registration.status == RegistrationStatus.PENDING
            and not registration.hold_has_expired()
            and not (current and current.pending_at_gateway),
            "hold_expired": registration.status == RegistrationStatus.PENDING and registration.hold_has_expired(),
            "status_label": learner_status_label(registration),
            "training_settings": page.site_settings(),
            "erase_form": EraseDataForm() if learner_can_request_erasure(registration) else None,
            **layout_context(),
        },
    )
    return private(response)


def learner_status_label(registration):
    """The status as the learner should read it: a pending registration whose hold expired holds nothing."""
    if registration.status == RegistrationStatus.PENDING and registration.hold_has_expired():
        return pgettext("registration status", "Seat hold expired")
    return registration.get_status_display()


def registration_calendar_file(request, token):
    registration = _registration(token)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise Http404("No calendar for this registration")
    response = HttpResponse(
        registration_calendar(registration, manage_url(registration)), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="session.ics"'
    return response


def registration_done(request, token):
    """Where the learner lands after paying: confirmed, still processing, failed (back to paying) or too late."""
    registration = _registration(token)
    payment = service.current_payment(registration)
    state = registration.status
    if registration.status == RegistrationStatus.PENDING:
        if registration.hold_has_expired():
            state = "expired"
        elif payment is not None and payment.pending_at_gateway:
            state = "pending_at_gateway"
        elif payment is not None and payment.status in service.FAILED_PAYMENT_STATUSES:
            messages.error(request, _("Your payment did not go through. Nothing was charged; you can try again."))
            return redirect("wagtail_training_pay:pay", token=token)
        elif request.GET.get("result") == "not-paid":
            # Back from the provider's cancel (or failure) link: nothing is being processed.
            messages.warning(
                request,
                _(
                    "You left the payment service before paying. Nothing was charged. You can pay now, "
                    "or choose another payment method if one is offered."
                ),
            )
            return redirect(reverse("wagtail_training_pay:pay", kwargs={"token": token}) + "?choose=1")
        else:
            state = "processing"
    elif registration.late_payment_refunded:
        state = "late_refunded"
    return TemplateResponse(
        request,
        "wagtail_training_pay/registration_done.html",
        {
            "registration": registration,
            "page": registration.page,
            "payment": payment,
            "state": state,
            **layout_context(),
        },
    )
