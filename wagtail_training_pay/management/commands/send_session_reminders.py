from django.core.management.base import BaseCommand

from ...services.emails import send_due_reminders


class Command(BaseCommand):
    help = (
        "Email confirmed learners a reminder of sessions starting within WAGTAIL_TRAINING_PAY_REMINDER_HOURS "
        "(each learner once); run it from cron, every hour for example."
    )

    def handle(self, *args, **options):
        sent = send_due_reminders()
        self.stdout.write(f"{sent} reminder(s) sent.")
