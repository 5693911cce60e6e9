"""The Estimated session cost page: every line of the estimate, Change, and Start session / Schedule."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from ..services import pay_per_use
from ..services.invoices import invoices_visible_to
from .invoice_pdf import invoice_url
from .pay_per_use_base import HostGoLiveView, edit_url, estimate_lines


class SessionCostView(HostGoLiveView):
    page_title = _("Estimated session cost")
    template_name = "wagtail_training_pay/admin/session_cost.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["due"] = pay_per_use.amount_due(self.page, self.revision)
        context["estimate"] = context["due"].estimate
        context["lines"] = estimate_lines(context["due"])
        context["billing_url"] = self.step_url("usage_billing")
        context["invoices"] = [
            (invoice, invoice_url(invoice))
            for invoice in invoices_visible_to(self.request.user).filter(charge__page=self.page).order_by("number")
        ]
        return context

    def post(self, request, page_id):
        """Nothing (more) to pay: make the revision live at once; otherwise go on to billing."""
        if pay_per_use.amount_due(self.page, self.revision).due > 0:
            return redirect(self.step_url("usage_billing"))
        if self.revision is None:
            pay_per_use.start_session(self.page, request.user)
        else:
            pay_per_use.publish_revision(self.page, self.revision, user=request.user)
        messages.success(request, str(_("The estimate is already paid for: done.")))
        return redirect(edit_url(self.page))
