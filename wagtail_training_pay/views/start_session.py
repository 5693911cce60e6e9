"""Open the join links of a published session (once it is paid for), or close them again.

Named apart from the editor's "Start session", which publishes: this screen says when the session starts, so
opening the links weeks early is a choice made knowingly, and closing them undoes it."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView

from ..models import UsageChargeAction
from ..services import pay_per_use
from .pay_per_use_base import HostGoLiveMixin, cost_url, edit_url


class StartSessionView(HostGoLiveMixin, TemplateView):
    template_name = "wagtail_training_pay/admin/start_session.html"
    fixed_action = UsageChargeAction.START

    def get_page_title(self):
        if self.page.started_at is not None:
            return _("Close the join links")
        return _("Open the join links")

    def get(self, request, page_id):
        if self.page.started_at is None and pay_per_use.needs_payment(self.page, request.user):
            return redirect(cost_url(self.page, action=UsageChargeAction.START))
        return super().get(request, page_id)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        start = self.page.start_at
        context.update(
            session=self.page,
            started=self.page.started_at is not None,
            days_until_start=(start - timezone.now()).days if start else None,
            edit_url=edit_url(self.page),
        )
        return context

    def post(self, request, page_id):
        if request.POST.get("join_links") == "close":
            if pay_per_use.close_join_links(self.page, request.user):
                messages.success(request, str(_("The join links are closed: learners no longer see them.")))
            return redirect(edit_url(self.page))
        if not self.page.live:
            messages.error(request, str(_("Publish the session before opening its join links.")))
            return redirect(edit_url(self.page))
        if self.page.started_at is not None:
            messages.info(request, str(_("The join links are already open.")))
            return redirect(edit_url(self.page))
        try:
            pay_per_use.start_session(self.page, request.user)
        except pay_per_use.PayPerUseRequired:
            return redirect(cost_url(self.page, action=UsageChargeAction.START))
        messages.success(request, str(_("The join links are open: confirmed learners now see them.")))
        return redirect(edit_url(self.page))
