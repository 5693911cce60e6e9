from django.core.management.base import BaseCommand

from ...services.stale_payments import check_stale_payments


class Command(BaseCommand):
    help = (
        "Check unfinished payments older than WAGTAIL_TRAINING_PAY_STALE_PAYMENT_MINUTES with their provider, "
        "cancel the unpaid ones, release expired holds, refund late payments and hosts' payments nobody needed. "
        "Safe to run twice at once."
    )

    def handle(self, *args, **options):
        counts = check_stale_payments()
        self.stdout.write(
            "{checked} checked with the provider, {cancelled} cancelled, {settled} authorizations settled, "
            "{unreachable} left for later (provider unreachable), {skipped} skipped; "
            "{expired} hold(s) released, {refunded} late payment(s) refunded, "
            "{host_refunded} host payment(s) refunded.".format(**counts)
        )
