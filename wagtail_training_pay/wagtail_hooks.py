"""Admin wiring: URLs, log actions, the pay-per-use gate's place in the page editor, and the screens for
registrations, payments and reports (menus, viewsets, dashboard items, session buttons)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.action_menu import ActionMenuItem
from wagtail.admin.ui.menus.pages import PageMenuItem
from wagtail.admin.viewsets.model import ModelViewSetGroup
from wagtail.admin.widgets.button import Button, ListingButton

from . import admin_permissions as permissions
from . import admin_urls
from .models import TrainingSessionPage, UsageChargeAction
from .services import pay_per_use
from .services.audit import ACTION_PREFIX, REGISTRATION_ACTIONS
from .views.admin import reports, summary
from .views.admin.payments import PaymentViewSet
from .views.admin.registrations import RegistrationViewSet

PAY_PER_USE_ACTION = "action-pay-per-use"


@hooks.register("register_admin_urls")
def register_pay_per_use_urls():
    return [path("training/pay-per-use/", include(admin_urls, namespace="wagtail_training_pay_usage"))]


@hooks.register("filter_form_submissions_for_user")
def leave_sessions_out_of_the_forms_menu(user, form_pages):
    """A session's registrations are not form submissions: they live in its own registrations view (the page
    listing's and editor's "Registrations" button), so Wagtail's Forms menu would call every session empty."""
    return form_pages.not_type(TrainingSessionPage)


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
    actions.register_action(pay_per_use.STARTED_ACTION, _("Open the join links"), _("Join links opened"))
    actions.register_action(pay_per_use.JOIN_LINKS_CLOSED_ACTION, _("Close the join links"), _("Join links closed"))
    actions.register_action(
        pay_per_use.SESSION_DELETED_ACTION,
        _("Session deleted"),
        _("Session deleted; its pay-per-use charges and payments are kept"),
    )


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
        if request.POST.get(PAY_PER_USE_ACTION) and revision is not None:
            return _publish_what_is_paid_for(request, page, revision)
        return None
    url = reverse("wagtail_training_pay_usage:session_cost", kwargs={"page_id": page.pk})
    return redirect(f"{url}?revision={revision.pk}" if revision else url)


def _publish_what_is_paid_for(request, page, revision):
    """The host pressed "Start session (estimated cost)" (shown for an earlier, dearer draft) on changes that
    what was paid already covers: make them live as the button promised, not only save a draft, and say so."""
    pay_per_use.publish_revision(page, revision, user=request.user)
    page = type(page).objects.get(pk=page.pk)
    if page.live and not page.has_unpublished_changes:
        messages.success(request, str(_("Already paid for: the changes are live.")))
    elif revision.approved_go_live_at:
        messages.success(request, str(_("Already paid for: the changes are scheduled.")))
    else:
        messages.warning(request, str(_("The draft is saved but could not be published.")))
    return redirect("wagtailadmin_pages:edit", page.pk)


@hooks.register("before_publish_page")
def send_unpaid_publication_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


@hooks.register("after_edit_page")
def send_unpaid_draft_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


@hooks.register("after_create_page")
def send_new_unpaid_session_to_the_cost_page(request, page):
    return _redirect_to_cost_page(request, page)


# --- moves: a live session moved into a site with pay-per-use on is left a draft there -------------------


def _live_sessions_at_or_below(page):
    return set(TrainingSessionPage.objects.filter(path__startswith=page.path, live=True).values_list("pk", flat=True))


@hooks.register("before_move_page")
def remember_live_sessions_before_a_move(request, page, destination):
    request._pay_per_use_live_before_move = _live_sessions_at_or_below(page)


@hooks.register("after_move_page")
def warn_about_sessions_left_drafts_by_a_move(request, page):
    live_before = getattr(request, "_pay_per_use_live_before_move", set())
    left_drafts = TrainingSessionPage.objects.filter(pk__in=live_before, live=False).order_by("title")
    for session in left_drafts:
        messages.warning(
            request,
            _(
                "“%(title)s” is now a draft: its new site has pay-per-use on and its estimated cost is not paid. "
                "Publish it to pay for it."
            )
            % {"title": session.get_admin_display_title()},
        )


# --- deleting: a session's charges are kept (pay_per_use.record_deleted_session); registrations keep it


@hooks.register("before_delete_page")
def refuse_to_delete_sessions_with_registrations(request, page):
    """Learners' registrations (and their payments) keep their session: say so instead of failing."""
    from .models import Registration

    sessions = TrainingSessionPage.objects.filter(path__startswith=page.path)
    if not Registration.objects.filter(page__in=sessions).exists():
        return None
    messages.error(
        request,
        _(
            "“%(title)s” cannot be deleted: learners have registered for it. Cancel and refund their "
            "registrations, or unpublish the session instead."
        )
        % {"title": page.get_admin_display_title()},
    )
    return redirect("wagtailadmin_pages:edit", page.pk)


# --- Start session on a published page ----------------------------------------------------------


class StartSessionButton(PageMenuItem):
    """Open (or close) the join links of a published session: named apart from "Start session", which publishes.

    It leads to a confirmation page that says when the session starts; nothing changes in one click."""

    icon_name = "pick"
    url_name = "wagtail_training_pay_usage:start_session"
    priority = 35

    @property
    def label(self):
        page = self.page.specific_deferred
        if isinstance(page, TrainingSessionPage) and page.started_at is not None:
            return _("Close the join links")
        return _("Open the join links")

    def is_shown(self, user):
        page = self.page.specific_deferred
        if not isinstance(page, TrainingSessionPage) or not page.live:
            return False
        return page.permissions_for_user(user).can_publish_once_paid()


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


# --- registrations, payments and reports (issue 7) -------------------------------------------------


class TrainingAdminGroup(ModelViewSetGroup):
    menu_label = _("Training")
    menu_icon = "group"
    menu_order = 250
    items = (RegistrationViewSet, PaymentViewSet)


@hooks.register("register_admin_viewset")
def register_training_viewsets():
    return [TrainingAdminGroup(), reports.TrainingReportsViewSet()]


@hooks.register("register_reports_menu_item")
def register_revenue_by_session_report():
    return reports.revenue_by_session_menu_item()


@hooks.register("register_reports_menu_item")
def register_revenue_by_month_report():
    return reports.revenue_by_month_menu_item()


@hooks.register("register_reports_menu_item")
def register_usage_billing_report():
    return reports.usage_billing_menu_item()


@hooks.register("construct_homepage_summary_items")
def add_training_summary_items(request, items):
    summary.add_summary_items(request, items)


def _registrations_button_args(page, user):
    """``(label, url)`` of a session's "Registrations (confirmed/capacity)" button, or None."""
    from .reporting import confirmed_seats_subquery
    from .views.admin.registrations import registrations_url_for_session

    if not permissions.can_view_registrations(user) or not issubclass(page.specific_class, TrainingSessionPage):
        return None
    figures = (
        TrainingSessionPage.objects.filter(pk=page.pk)
        .annotate(seats=confirmed_seats_subquery())
        .values("capacity", "seats")
        .first()
    )
    if figures is None:
        return None
    if figures["capacity"]:
        label = _("Registrations (%(confirmed)s/%(capacity)s)") % {
            "confirmed": figures["seats"],
            "capacity": figures["capacity"],
        }
    else:
        label = _("Registrations (%(confirmed)s)") % {"confirmed": figures["seats"]}
    return label, registrations_url_for_session(page)


@hooks.register("register_page_listing_buttons")
def session_registrations_listing_button(page, user, next_url=None):
    args = _registrations_button_args(page, user)
    if args:
        label, url = args
        yield ListingButton(label, url=url, icon_name="group", priority=45)


@hooks.register("register_page_header_buttons")
def session_registrations_header_button(page, user, view_name=None, next_url=None):
    args = _registrations_button_args(page, user)
    if args:
        label, url = args
        yield Button(label, url=url, icon_name="group", priority=45)


@hooks.register("register_log_actions")
def register_admin_log_actions(actions):
    label = _("Confirmation email sent again")
    actions.register_action(ACTION_PREFIX + "resend_confirmation", label, label)
    cleared = _("Disagreement with the gateway settled by hand")
    actions.register_action(ACTION_PREFIX + "attention_cleared", cleared, cleared)
