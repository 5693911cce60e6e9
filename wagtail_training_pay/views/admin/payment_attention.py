"""An administrator marks a payment's disagreement with the gateway settled ("needs attention", docs/money.md).

Behind a confirmation page that shows the reason, the gateway's answer and the payment's money movements; the
administrator's note goes into the payment's history (``services.money.clear_attention``). Needs the permission
to change payments (``admin_permissions.can_settle_payments``); a POST needs Django's CSRF token.
"""

from django import forms
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin import messages
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ... import admin_permissions as permissions
from ...models import Payment
from ...services.money import clear_attention

SETTLED_ACTION = "wagtail_training_pay.attention_cleared"


class SettleForm(forms.Form):
    note = forms.CharField(
        label=_("What you checked and did"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Kept in the payment's history, for example “refunded 45.00 in PayPal Manager, PNREF …”."),
    )


class SettlePaymentView(WagtailAdminTemplateMixin, FormView):
    form_class = SettleForm
    template_name = "wagtail_training_pay/admin/payment_settle.html"
    header_icon = "form"
    page_title = _("Mark as settled")

    def dispatch(self, request, *args, **kwargs):
        if not permissions.can_settle_payments(request.user):
            raise PermissionDenied
        self.payment = get_object_or_404(Payment, pk=kwargs["pk"])
        if not self.payment.needs_attention:
            messages.info(request, str(_("This payment does not need attention.")))
            return redirect(self.inspect_url)
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def inspect_url(self):
        return reverse("training_payments:inspect", args=[self.payment.pk])

    def get_page_subtitle(self):
        return _("Payment #%(id)s") % {"id": self.payment.pk}

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": reverse("training_payments:index"), "label": _("Payments")},
            {"url": self.inspect_url, "label": self.get_page_subtitle()},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        from .payments import movements_table  # noqa: PLC0415 - payments imports this module

        context = super().get_context_data(**kwargs)
        context.update(payment=self.payment, movements=movements_table(self.payment), cancel_url=self.inspect_url)
        return context

    def form_valid(self, form):
        if clear_attention(self.payment, user=self.request.user, note=form.cleaned_data["note"]) is None:
            messages.info(self.request, str(_("This payment does not need attention.")))  # settled meanwhile
            return redirect(self.inspect_url)
        messages.success(self.request, str(_("The disagreement with the gateway is marked as settled.")))
        return redirect(self.inspect_url)
