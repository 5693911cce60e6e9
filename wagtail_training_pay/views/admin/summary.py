"""Dashboard summary items: sessions, seats and money at a glance, for those allowed to see them."""

from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.site_summary import SummaryItem

from ... import admin_permissions as permissions
from ... import reporting
from .common import format_money


class TrainingSummaryItem(SummaryItem):
    template_name = "wagtail_training_pay/admin/summary_item.html"
    icon = "calendar"

    def is_shown(self):
        return permissions.can_view_registrations(self.request.user)

    def get_text(self):
        raise NotImplementedError

    def get_url(self):
        return reverse("training_registrations:index")

    def get_context_data(self, parent_context):
        return {"icon": self.icon, "url": self.get_url(), "text": self.get_text()}


class UpcomingSessionsSummaryItem(TrainingSummaryItem):
    order = 400
    icon = "calendar-alt"

    def get_text(self):
        count = reporting.upcoming_sessions().count()
        return ngettext("%(count)s upcoming session", "%(count)s upcoming sessions", count) % {"count": count}

    def get_url(self):
        # The list of exactly the sessions counted (the revenue report lists sessions with payments, past ones too).
        return reverse("training_reports:upcoming_sessions")


class SeatsSoldSummaryItem(TrainingSummaryItem):
    order = 410
    icon = "group"

    def get_text(self):
        count = reporting.seats_sold_since(reporting.month_start())
        return ngettext("%(count)s seat sold this month", "%(count)s seats sold this month", count) % {"count": count}

    def get_url(self):
        return reverse("training_registrations:index") + "?status=confirmed"


class RevenueSummaryItem(TrainingSummaryItem):
    order = 420
    icon = "form"

    def is_shown(self):
        return permissions.can_view_money(self.request.user)

    @cached_property
    def rows(self):
        return reporting.revenue_since(reporting.month_start())

    def get_text(self):
        if not self.rows:
            return _("No revenue this month yet")
        amounts = ", ".join(format_money(row["net"], row["currency"]) for row in self.rows)
        return _("%(amounts)s revenue this month") % {"amounts": amounts}

    def get_url(self):
        return reverse("training_reports:revenue_by_month")


class PaymentsNeedingAttentionSummaryItem(TrainingSummaryItem):
    order = 430
    icon = "warning"

    def is_shown(self):
        return permissions.can_view_money(self.request.user)

    @cached_property
    def counts(self):
        return reporting.attention_counts()

    def get_text(self):
        count = reporting.payments_needing_attention().count()
        text = ngettext("%(count)s payment needs attention", "%(count)s payments need attention", count) % {
            "count": count
        }
        if count:
            details = _(
                "%(stale)s pending too long, %(fraud)s in fraud review, %(late_refund)s late payments refunded, "
                "%(disagreement)s disagreeing with the gateway"
            )
            text = f"{text} ({details % self.counts})"
        return text

    def get_url(self):
        counts = self.counts
        reason = next((reason for reason, count in counts.items() if count), None)
        url = reverse("training_payments:index")
        return f"{url}?attention={reason}" if reason else url


def add_summary_items(request, items):
    items.extend(
        [
            UpcomingSessionsSummaryItem(request),
            SeatsSoldSummaryItem(request),
            RevenueSummaryItem(request),
            PaymentsNeedingAttentionSummaryItem(request),
        ]
    )
