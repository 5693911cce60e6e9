"""The learner's own screens, reached by unguessable tokens."""

from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse

from ..models import Registration


def manage_registration(request, token):
    registration = get_object_or_404(Registration.objects.select_related("page"), token=token)
    return TemplateResponse(
        request,
        "wagtail_training_pay/manage_registration.html",
        {"registration": registration, "page": registration.page},
    )
