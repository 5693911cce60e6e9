"""Read-only panels for the page editor."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import Panel


class SessionFiguresPanel(Panel):
    """Seats taken and revenue of a session, in its editor, for users allowed to see them.

    Editors without the registrations or payments permissions do not see the panel at all.
    """

    def __init__(self, heading="", **kwargs):
        super().__init__(heading=heading or _("Registrations and revenue"), **kwargs)

    @property
    def clean_name(self):
        return super().clean_name or "session_figures"

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_training_pay/admin/session_figures_panel.html"

        def _user(self):
            return getattr(self.request, "user", None)

        def is_shown(self):
            from . import admin_permissions as permissions

            user = self._user()
            return bool(self.instance.pk) and (
                permissions.can_view_registrations(user) or permissions.can_view_money(user)
            )

        def get_context_data(self, parent_context=None):
            from . import admin_permissions as permissions
            from . import reporting
            from .views.admin.common import format_money
            from .views.admin.registrations import registrations_url_for_session

            context = super().get_context_data(parent_context)
            user = self._user()
            page = self.instance
            if permissions.can_view_registrations(user):
                context["confirmed_seats"] = reporting.confirmed_seats(page)
                context["capacity"] = page.capacity
                context["registrations_url"] = registrations_url_for_session(page)
            if permissions.can_view_money(user):
                context["revenue"] = [
                    {
                        "gross": format_money(row["gross"], row["currency"]),
                        "refunded": format_money(row["refunded"], row["currency"]),
                        "net": format_money(row["net"], row["currency"]),
                        "payment_count": row["payment_count"],
                    }
                    for row in reporting.session_revenue(page)
                ]
                context["show_revenue"] = True
            return context


class PayPerUseEstimatePanel(Panel):
    """The pay-per-use estimate, shown live in the editor as the host changes the duration or the computers.

    The server renders the estimate of the saved figures (it is right without JavaScript);
    ``pay_per_use_estimate.js`` recomputes it with the same arithmetic on every change (exact integer
    arithmetic in ten-thousandths, rounded half up to the currency's minor unit once, at the end).
    """

    def __init__(self, heading="", **kwargs):
        super().__init__(heading=heading or _("Estimated session cost"), **kwargs)

    @property
    def clean_name(self):
        return super().clean_name or "pay_per_use_estimate"

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_training_pay/admin/pay_per_use_estimate_panel.html"

        def is_shown(self):
            from .services import pay_per_use

            return pay_per_use.is_enabled_for(self.instance)

        def get_context_data(self, parent_context=None):
            from babel.numbers import get_currency_precision

            from .services import pay_per_use

            context = super().get_context_data(parent_context)
            page = self.instance
            if page.pk is None:  # a new session: the site's rates
                settings = pay_per_use.site_settings_for(page)
                rates = (
                    settings.person_minute_rate,
                    settings.teleconference_minute_rate,
                    settings.minimum_charge,
                    settings.default_currency,
                )
            else:
                rates = pay_per_use.rates_for(page)
            person_rate, teleconference_rate, minimum, currency = rates
            try:
                estimate = pay_per_use.estimate_with_rates(page, rates)
            except ValueError:
                estimate = None
            context.update(
                estimate=estimate,
                person_minute_rate=person_rate,
                teleconference_minute_rate=teleconference_rate,
                minimum_charge=minimum,
                currency=currency,
                minor_digits=get_currency_precision(currency),
            )
            return context
