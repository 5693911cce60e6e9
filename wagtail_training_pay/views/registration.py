"""The learner's own screens, reached by unguessable tokens."""

from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse

from ..models import Payment, Registration


def manage_registration(request, token):
    registration = get_object_or_404(Registration.objects.select_related("page"), token=token)
    return TemplateResponse(
        request,
        "wagtail_training_pay/manage_registration.html",
        {"registration": registration, "page": registration.page},
    )


def payment_return(request, token):
    payment = get_object_or_404(Payment, token=token)
    if payment.registration_id:
        return redirect(payment.registration.get_manage_url())
    return redirect("/")
