from django.core.management.base import BaseCommand, CommandError

from ...models import Payment
from ...services.money import clear_attention


class Command(BaseCommand):
    help = (
        "Mark a payment's disagreement with the gateway as settled by hand, after checking the gateway's records "
        "(see docs/money.md). The note is kept in the payment's history."
    )

    def add_arguments(self, parser):
        parser.add_argument("payment_id", type=int)
        parser.add_argument("--note", required=True, help="What was checked and done, for the audit trail.")

    def handle(self, *args, payment_id, note, **options):
        payment = Payment.objects.filter(pk=payment_id).first()
        if payment is None:
            raise CommandError(f"No payment {payment_id}.")
        if not payment.needs_attention:
            raise CommandError(f"Payment {payment_id} does not need attention.")
        clear_attention(payment, note=note)
        self.stdout.write(f"Payment {payment_id}: disagreement marked as settled.")
