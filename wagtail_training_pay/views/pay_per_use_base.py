"""What the pay-per-use admin screens share: the session a host may act on, and where each step is."""

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ..models import TrainingSessionPage, UsageChargeAction
from ..services import pay_per_use


def session_for_host(request, page_id):
    """The session ``request.user`` may edit, or 403/404."""
    page = get_object_or_404(TrainingSessionPage, pk=page_id)
    if not page.permissions_for_user(request.user).can_edit():
        raise PermissionDenied
    return page


def step_url(name, page, *, revision=None, action=None):
    url = reverse(f"wagtail_training_pay_usage:{name}", kwargs={"page_id": page.pk})
    query = {}
    if revision is not None:
        query["revision"] = revision.pk
    if action:
        query["action"] = action
    return f"{url}?{urlencode(query)}" if query else url


def cost_url(page, *, revision=None, action=None):
    return step_url("session_cost", page, revision=revision, action=action)


def edit_url(page):
    return reverse("wagtailadmin_pages:edit", args=[page.pk])


class HostGoLiveMixin(WagtailAdminTemplateMixin):
    """Resolves the session, the revision to make live and the action (publish, schedule, start)."""

    header_icon = "pick"
    #: set by a screen that always does one thing (the start view)
    fixed_action = None

    def dispatch(self, request, page_id):
        self.page = session_for_host(request, page_id)
        requested = self.fixed_action or request.GET.get("action") or request.POST.get("action")
        if requested == UsageChargeAction.START:
            self.go_live = UsageChargeAction.START
            self.revision = None
            self.content = self.page
        else:
            self.revision = self._revision(request)
            self.content = pay_per_use.content_of(self.page, self.revision)
            self.go_live = pay_per_use.go_live_action(self.content)
        return super().dispatch(request, page_id)

    def _revision(self, request):
        revision_id = request.GET.get("revision") or request.POST.get("revision")
        if revision_id:
            try:
                return get_object_or_404(self.page.revisions, pk=int(revision_id))
            except ValueError:
                raise PermissionDenied from None
        return self.page.get_latest_revision()

    def get_page_subtitle(self):
        return self.page.get_admin_display_title()

    def get_breadcrumbs_items(self):
        return self.breadcrumbs_items + [
            {"url": edit_url(self.page), "label": self.page.get_admin_display_title()},
            {"url": "", "label": self.get_page_title()},
        ]

    def step_url(self, name):
        return step_url(name, self.page, revision=self.revision, action=self.go_live)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            page=self.page,
            content=self.content,
            revision=self.revision,
            go_live=self.go_live,
            go_live_label=UsageChargeAction(self.go_live).label,
            edit_url=edit_url(self.page),
        )
        return context


class HostGoLiveView(HostGoLiveMixin, TemplateView):
    pass


def go_live_message(action):
    if action == UsageChargeAction.SCHEDULE:
        return _("Payment received: the session is scheduled.")
    if action == UsageChargeAction.START:
        return _("Payment received: the session has started and its join links are on.")
    return _("Payment received: the session is live.")
