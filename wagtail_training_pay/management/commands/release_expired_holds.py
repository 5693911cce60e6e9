from django.core.management.base import BaseCommand

from ...services.registrations import release_expired_holds


class Command(BaseCommand):
    help = "Expire unpaid registrations whose seat hold ran out and refund payments that arrived too late."

    def handle(self, *args, **options):
        expired, refunded = release_expired_holds()
        self.stdout.write(f"{expired} hold(s) released, {refunded} late payment(s) refunded.")
