"""Billing information of the host, then the payment that pays the estimate."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ..pay_per_use_forms import HostBillingForm
from ..services import pay_per_use
from .pay_per_use_base import HostGoLiveView, cost_url, money


class UsageBillingView(HostGoLiveView):
    page_title = _("Billing information")
    template_name = "wagtail_training_pay/admin/usage_billing.html"

    def get_form(self):
        variants = self.page.site_settings().host_variants()
        data = self.request.POST if self.request.method == "POST" else None
        initial = pay_per_use.last_billing_details(self.request.user)
        return HostBillingForm(data, initial=initial, variants=variants)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", self.get_form())
        due = pay_per_use.amount_due(self.page, self.revision)
        context["amount"] = money(due.due, due.currency)
        context["cost_url"] = self.step_url("session_cost")
        return context

    def post(self, request, page_id):
        form = self.get_form()
        if not form.is_valid():
            return self.render_to_response(self.get_context_data(form=form))
        billing = {key: value for key, value in form.cleaned_data.items() if key != "variant"}
        try:
            payment = pay_per_use.create_usage_payment(
                self.page,
                self.revision,
                request.user,
                action=self.go_live,
                billing=billing,
                variant=form.cleaned_data["variant"],
            )
        except pay_per_use.NothingToPay:
            messages.info(request, str(_("The estimate is already paid for.")))
            return redirect(cost_url(self.page, revision=self.revision, action=self.go_live))
        return redirect(reverse("wagtail_training_pay_usage:usage_payment", kwargs={"token": payment.token}))
