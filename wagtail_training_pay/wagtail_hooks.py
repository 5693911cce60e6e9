"""Admin wiring: URLs, log actions, and the pay-per-use gate's place in the page editor."""

from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.action_menu import ActionMenuItem
from wagtail.admin.ui.menus.pages import PageMenuItem

from . import admin_urls
from .models import TrainingSessionPage, UsageChargeAction
from .services import pay_per_use
from .services.audit import ACTION_PREFIX, REGISTRATION_ACTIONS

PAY_PER_USE_ACTION = "action-pay-per-use"


@hooks.register("register_admin_urls")
def register_pay_per_use_urls():
    return [path("training/pay-per-use/", include(admin_urls, namespace="wagtail_training_pay_usage"))]


@hooks.register("register_log_actions")
def register_pay_per_use_log_actions(actions):
    actions.register_action(pay_per_use.PAID_ACTION, _("Pay-per-use payment"), _("Pay-per-use payment received"))
    actions.register_action(
        pay_per_use.WITHHELD_ACTION,
        _("Publication withheld"),
        _("Publication withheld until the estimated session cost is paid"),
    )
    actions.register_action(
        pay_per_use.REFUNDED_ACTION, _("Pay-per-use refund"), _("Surplus pay-per-use payment refunded")
    )
    actions.register_action(pay_per_use.STARTED_ACTION, _("Start session"), _("Session started"))


# --- the editor: the pay-per-use action instead of a Publish button that would fail --------------


def _is_session_context(context):
    if context["view"] == "create":
        match = getattr(context["request"], "resolver_match", None)
        kwargs = match.kwargs if match else {}
        return (kwargs.get("content_type_app_name"), kwargs.get("content_type_model_name")) == (
            TrainingSessionPage._meta.app_label,
            TrainingSessionPage._meta.model_name,
        )
    return isinstance(context.get("page"), TrainingSessionPage)


def _context_needs_payment(context):
    user = context["request"].user
    if context["view"] == "create":
        # Nothing pays for a new session yet: it needs payment unless the site or the user says not.
        parent = context["parent_page"]
        if not parent.permissions_for_user(user).can_publish_subpage():
            return False
        return pay_per_use.is_enabled_for(parent) and not pay_per_use.is_exempt(user, parent)
    tester = context.get("user_page_permissions_tester") or context["page"].permissions_for_user(user)
    return tester.can_publish_once_paid() and pay_per_use.needs_payment(context["page"], user)


class PayPerUseMenuItem(ActionMenuItem):
    """Saves the draft and takes the host to the Estimated session cost page."""

    name = PAY_PER_USE_ACTION
    icon_name = "pick"

    def is_shown(self, context):
        if not _is_session_context(context) or context.get("locked_for_user"):
            return False
        return _context_needs_payment(context)

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        page = parent_context.get("page")
        if page is not None and pay_per_use.go_live_action(page) == UsageChargeAction.SCHEDULE:
            context["label"] = _("Schedule (estimated cost)")
        else:
            context["label"] = _("Start session (estimated cost)")
        return context


@hooks.register("register_page_action_menu_item")
def register_pay_per_use_menu_item():
    return PayPerUseMenuItem(order=25)


@hooks.register("construct_page_action_menu")
def put_pay_per_use_first(menu_items, request, context):
    """When the host has to pay, the pay-per-use action is the main button and Publish goes."""
    ours = [item for item in menu_items if isinstance(item, PayPerUseMenuItem)]
    if not ours:
        return
    menu_items[:] = ours + [item for item in menu_items if item.name not in (PAY_PER_USE_ACTION, "action-publish")]


def _redirect_to_cost_page(request, page):
    """After the editor saved a draft (or before it publishes), send an unpaid host to the cost page."""
    if not isinstance(page.specific_deferred, TrainingSessionPage):
        return None
    if not (request.POST.get(PAY_PER_USE_ACTION) or request.POST.get("action-publish")):
        return None
    page = page.specific
    if not page.permissions_for_user(request.user).can_publish_once_paid():
        return None
    revision = page.get_latest_revision()
    if not pay_per_use.needs_payment(page, request.user, revision=revision):
        return None
    url = reverse("wagtail_training_pay_usage:session_cost", kwargs={"page_id": page.pk})
    return redirect(f"{url}?revision={revision.pk}" if revision else url)


@hooks.register("before_publish_page")
def send_unpaid_publication_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


@hooks.register("after_edit_page")
def send_unpaid_draft_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


@hooks.register("after_create_page")
def send_new_unpaid_session_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


# --- Start session on a published page ----------------------------------------------------------


class StartSessionButton(PageMenuItem):
    """Start session on a published session that has not started yet."""

    label = _("Start session")
    icon_name = "pick"
    url_name = "wagtail_training_pay_usage:start_session"
    priority = 35

    def is_shown(self, user):
        page = self.page.specific_deferred
        if not isinstance(page, TrainingSessionPage) or not page.live:
            return False
        return page.specific.started_at is None and page.permissions_for_user(user).can_publish_once_paid()


@hooks.register("register_page_header_buttons")
def start_session_header_button(page, user, view_name, next_url=None):
    yield StartSessionButton(page=page)


@hooks.register("register_page_listing_buttons")
def start_session_listing_button(page, user, next_url=None):
    yield StartSessionButton(page=page)


@hooks.register("register_log_actions")
def register_registration_log_actions(actions):
    for verb, label in REGISTRATION_ACTIONS.items():
        actions.register_action(ACTION_PREFIX + verb, label, label)
