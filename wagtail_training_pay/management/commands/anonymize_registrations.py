from django.core.management.base import BaseCommand

from wagtail_training_pay.services.data_protection import anonymize_due_registrations


class Command(BaseCommand):
    help = (
        "Erase learners' personal data once their session is older than the site's retention period "
        "(TrainingPaySettings.anonymize_after_days). Amounts are kept. Safe to run from cron, twice at once."
    )

    def handle(self, *args, **options):
        count = anonymize_due_registrations()
        self.stdout.write(f"{count} registration(s) anonymized.")
