"""The payment step of a host: the provider's form, or a redirect to the provider."""

import logging

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from payments import PaymentStatus, RedirectNeeded
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ..models import Payment
from ..services.registrations import PROVIDER_ERRORS
from .pay_per_use_base import cost_url, money

logger = logging.getLogger(__name__)

PROVIDER_FAILED = _("The payment service could not process the payment. Nothing was charged; please try again.")


def host_payment(request, token):
    """A usage-charge payment the requesting user may see and pay: only someone who may publish the session.

    Paying makes the session live, so paying never lets someone publish who could not publish
    anyway: a user who may only edit the session cannot open (or complete) the host's payment.
    """
    payment = get_object_or_404(
        Payment.objects.select_related("usage_charge__page"), token=token, usage_charge__isnull=False
    )
    page = payment.usage_charge.page
    if page is None:  # the session was deleted
        raise Http404
    if not page.permissions_for_user(request.user).can_publish_once_paid():
        raise PermissionDenied
    return payment


class UsagePaymentView(WagtailAdminTemplateMixin, TemplateView):
    page_title = _("Payment")
    header_icon = "pick"
    template_name = "wagtail_training_pay/admin/usage_payment.html"

    def dispatch(self, request, token):
        self.payment = host_payment(request, token)
        if self.payment.status not in (PaymentStatus.WAITING, PaymentStatus.INPUT):
            return redirect("wagtail_training_pay_usage:payment_result", token=self.payment.token)
        return super().dispatch(request, token)

    def get_page_subtitle(self):
        return self.payment.usage_charge.page.get_admin_display_title()

    def get(self, request, token):
        return self.render_form(None)

    def post(self, request, token):
        return self.render_form(request.POST)

    def render_form(self, data):
        try:
            form = self.payment.get_form(data=data)
        except RedirectNeeded as exc:
            return redirect(str(exc))
        except PROVIDER_ERRORS as exc:
            logger.error("Payment provider failed on host payment %s: %s", self.payment.pk, exc)
            messages.error(request=self.request, message=str(getattr(exc, "payer_message", None) or PROVIDER_FAILED))
            charge = self.payment.usage_charge
            return redirect(cost_url(charge.page, revision=charge.revision, action=charge.action))
        amount = money(self.payment.total, self.payment.currency)
        return self.render_to_response(self.get_context_data(form=form, payment=self.payment, amount=amount))
