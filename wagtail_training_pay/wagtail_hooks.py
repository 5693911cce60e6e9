"""Admin wiring: menus, viewsets, reports, dashboard items, page buttons, log actions."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSetGroup
from wagtail.admin.widgets.button import Button, ListingButton

from . import admin_permissions as permissions
from .services.audit import ACTION_PREFIX, REGISTRATION_ACTIONS
from .views.admin import reports, summary
from .views.admin.payments import PaymentViewSet
from .views.admin.registrations import RegistrationViewSet


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
    from .models import TrainingSessionPage
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
def register_registration_log_actions(actions):
    for verb, label in REGISTRATION_ACTIONS.items():
        actions.register_action(ACTION_PREFIX + verb, label, label)


@hooks.register("register_log_actions")
def register_admin_log_actions(actions):
    label = _("Confirmation email sent again")
    actions.register_action(ACTION_PREFIX + "resend_confirmation", label, label)
