"""Layer (a) of the pay-per-use gate: what the admin offers a host for a session."""

from wagtail.models import PagePermissionTester


class TrainingSessionPermissionTester(PagePermissionTester):
    """Publishing needs the session paid for (or an exempt user, or pay-per-use off).

    With ``can_publish()`` false the editor offers the pay-per-use action instead of a
    Publish button that would fail, bulk publish skips the page and the admin API
    refuses to publish it.
    """

    def can_publish(self):
        from .services.pay_per_use import needs_payment

        return self.can_publish_once_paid() and not needs_payment(self.page, self.user)

    def can_set_view_restrictions(self):
        """Privacy makes nothing live: Wagtail's own answer, paid for or not."""
        return self.can_publish_once_paid()

    def can_unschedule(self):
        """Cancelling a scheduled publication makes nothing live."""
        return self.can_publish_once_paid()

    def can_publish_once_paid(self):
        """Wagtail's own answer: paying never lets a user publish who could not publish anyway."""
        return super().can_publish()
