from django.core.management.base import BaseCommand, CommandError

from ...services.sweepers import SWEEPERS, run_sweepers


class Command(BaseCommand):
    help = (
        "Run the sweepers, in order: payments (stale payments and reconciliation with the gateway), holds, "
        "emails, reminders, retention. One line per sweeper; exits 1 when one failed (the others still ran). "
        "On PostgreSQL a sweeper another run is busy with is skipped. Run it from cron every few minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "sweepers", nargs="*", metavar="sweeper", help=f"only these ({', '.join(SWEEPERS)}); all by default"
        )

    def handle(self, *args, sweepers, **options):
        try:
            results = run_sweepers(sweepers)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for result in results:
            (self.stderr if result.state == "failed" else self.stdout).write(result.line)
        failed = [result.name for result in results if result.state == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} sweeper(s) failed: {', '.join(failed)}.", returncode=1)
