"""What the pay-per-use admin screens share: the session a host may act on, and where each step is."""

from babel.numbers import format_currency, format_decimal
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, ngettext, to_locale
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from ..models import TrainingSessionPage, UsageChargeAction
from ..services import pay_per_use


def session_for_host(request, page_id):
    """The session ``request.user`` may publish once it is paid for, or 403/404."""
    page = get_object_or_404(TrainingSessionPage, pk=page_id)
    if not page.permissions_for_user(request.user).can_publish_once_paid():
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
    """Translated now, in the host's admin language: a lazy message would be rendered when the response is stored,
    after Wagtail has switched back from the host's language (a French host read English)."""
    if action == UsageChargeAction.SCHEDULE:
        return str(_("Payment received: the session is scheduled."))
    if action == UsageChargeAction.START:
        return str(_("Payment received: the session has started and its join links are on."))
    return str(_("Payment received: the session is live."))


def _locale():
    return to_locale(get_language() or "en")


def money(amount, currency):
    """An amount in the viewer's language, with every significant decimal of a rate (``€0.0175``)."""
    return format_currency(amount.normalize(), currency, locale=_locale(), decimal_quantization=False)


def number(value):
    return format_decimal(value, locale=_locale())


def estimate_lines(due):
    """Every line of the estimate, in the order of the product description, as ``(key, label, value)``."""
    estimate = due.estimate
    currency = estimate.currency
    minimum = money(estimate.minimum_charge, currency)
    if estimate.minimum_charge_applied:
        minimum = _("%(amount)s (applied)") % {"amount": minimum}
    return [
        (
            "duration",
            _("Session duration"),
            ngettext("%(count)s minute", "%(count)s minutes", estimate.duration_minutes)
            % {"count": number(estimate.duration_minutes)},
        ),
        ("participants", _("Computers connected to the session"), number(estimate.expected_participants)),
        ("person-minutes", _("Person-minutes (duration × computers)"), number(estimate.person_minutes)),
        ("person-minute-rate", _("Person-minute rate"), money(estimate.person_minute_rate, currency)),
        ("person-minutes-subtotal", _("Person-minutes subtotal"), money(estimate.person_minutes_subtotal, currency)),
        (
            "teleconference-participants",
            _("Computers connected to the teleconference"),
            number(estimate.teleconference_participants),
        ),
        (
            "teleconference-minutes",
            _("Teleconference minutes (duration × computers)"),
            number(estimate.teleconference_minutes),
        ),
        (
            "teleconference-minute-rate",
            _("Teleconference-minute rate"),
            money(estimate.teleconference_minute_rate, currency),
        ),
        (
            "teleconference-subtotal",
            _("Teleconference subtotal"),
            money(estimate.teleconference_minutes_subtotal, currency),
        ),
        ("minimum-charge", _("Minimum charge"), minimum),
        ("total", _("Estimated session cost"), money(estimate.total, currency)),
        ("already-paid", _("Already paid for this session"), money(due.already_paid, currency)),
        ("due", _("To pay now"), money(due.due, currency)),
    ]
