"""The learner's own personal data, from the manage page: a JSON download and a request to erase it."""

import json

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..forms import EraseDataForm
from ..models import Registration
from ..services import data_protection


def _registration(token):
    return get_object_or_404(Registration.objects.select_related("page"), token=token)


def private(response):
    """Pages reached by a secret token: never cached, and the token never leaks to another site.

    ``same-origin`` rather than ``no-referrer``: with ``no-referrer`` Chromium posts the page's own forms with
    ``Origin: null``, and Django's CSRF check refuses them (the learner could not cancel nor erase)."""
    response["Cache-Control"] = "no-store, private"
    response["Referrer-Policy"] = "same-origin"
    return response


def export_my_data(request, token):
    registration = _registration(token)
    body = json.dumps(data_protection.export_learner_data(registration), cls=DjangoJSONEncoder, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="my-registration.json"'
    return private(response)


@require_POST
def request_erasure(request, token):
    registration = _registration(token)
    form = EraseDataForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Please tick the box to confirm that your personal data should be erased."))
    else:
        try:
            data_protection.erase_on_request(registration)
        except data_protection.ErasureRefused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, _("Your personal data is erased. Only the amounts remain, for accounting."))
    return redirect("wagtail_training_pay:manage_registration", token=token)
