"""The host's Start session on a published session: turns the join links on, once it is paid for."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from ..models import UsageChargeAction
from ..services import pay_per_use
from .pay_per_use_base import HostGoLiveMixin, cost_url, edit_url


class StartSessionView(HostGoLiveMixin, TemplateView):
    page_title = _("Start the live session")
    template_name = "wagtail_training_pay/admin/start_session.html"
    fixed_action = UsageChargeAction.START

    def get(self, request, page_id):
        if self.page.started_at is not None:
            messages.info(request, _("This session has already started."))
            return redirect(edit_url(self.page))
        if pay_per_use.needs_payment(self.page, request.user):
            return redirect(cost_url(self.page, action=UsageChargeAction.START))
        return super().get(request, page_id)

    def post(self, request, page_id):
        if not self.page.live:
            messages.error(request, _("Publish the session before starting it."))
            return redirect(edit_url(self.page))
        try:
            started = pay_per_use.start_session(self.page, request.user)
        except pay_per_use.PayPerUseRequired:
            return redirect(cost_url(self.page, action=UsageChargeAction.START))
        if started:
            messages.success(request, _("The session has started: confirmed learners now see the join link."))
        return redirect(edit_url(self.page))
