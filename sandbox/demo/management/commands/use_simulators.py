"""Offer the simulator-backed PayPal variants to learners and hosts (run with WTP_SIMULATORS=1)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Site

from wagtail_training_pay.models import TrainingPaySettings

LEARNER_METHODS = [("payflow-card", "Card (PayPal hosted page)"), ("paypal-express", "PayPal"), ("dummy", "Dummy")]
HOST_METHODS = [("paypal-express", "PayPal"), ("payflow-card", "Card"), ("dummy", "Dummy")]


class Command(BaseCommand):
    help = "Offer the Payflow and Express Checkout simulator variants in the sandbox's training settings."

    def handle(self, *args, **options):
        if "paypal-express" not in settings.PAYMENT_VARIANTS:
            raise CommandError("Start the sandbox with WTP_SIMULATORS=1 to define the simulator variants.")
        site = Site.objects.get(is_default_site=True)
        training = TrainingPaySettings.for_site(site)
        for relation, methods in (
            (training.learner_payment_methods, LEARNER_METHODS),
            (training.host_payment_methods, HOST_METHODS),
        ):
            relation.set(
                [
                    relation.model(variant=variant, label=label, sort_order=n)
                    for n, (variant, label) in enumerate(methods)
                ]
            )
        training.save()
        self.stdout.write("Learners and hosts are offered: " + ", ".join(v for v, _ in LEARNER_METHODS))
