from django.core.management.base import BaseCommand

from ...services.stale_payments import check_stale_payments


class Command(BaseCommand):
    help = (
        "Compare the site with the gateways: send again money movements whose answer was lost, ask the gateway "
        "about unfinished payments and about payments given up while their payment page could still be paid, "
        "release expired holds, refund money nobody needs, send owed emails. Safe to run twice at once."
    )

    def handle(self, *args, **options):
        counts = check_stale_payments()
        self.stdout.write(
            "{checked} checked with the provider, {cancelled} cancelled, {settled} authorizations settled, "
            "{pending} still open at the gateway, {reconciled} given-up payments found final, "
            "{unreachable} left for later (provider unreachable), {skipped} skipped; "
            "money movements sent again: {movements_done} done, {movements_failed} refused, "
            "{movements_unknown} still unanswered; "
            "{expired} hold(s) released, {refunded} late payment(s) refunded, "
            "{host_refunded} host payment(s) refunded, {emails} owed email(s) sent.".format(**counts)
        )
