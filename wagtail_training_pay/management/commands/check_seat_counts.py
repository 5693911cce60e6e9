from django.core.management.base import BaseCommand

from ...services import seats


class Command(BaseCommand):
    help = (
        "Recount the confirmed registrations of every session and report each seat counter that disagrees "
        "(exit status 1); --fix writes the recount, under the session's lock."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="correct the counters that disagree")
        parser.add_argument("--session", type=int, action="append", dest="sessions", help="only this session id")

    def handle(self, *args, fix=False, sessions=None, **options):
        found = seats.drift(sessions)
        for page_id, (counter, recount) in sorted(found.items()):
            self.stdout.write(f"Session {page_id}: counter says {counter} confirmed seat(s), recount {recount}.")
            if fix:
                _old, new = seats.fix(page_id)
                self.stdout.write(f"Session {page_id}: counter set to {new}.")
        if not found:
            self.stdout.write("Every seat counter agrees with a recount.")
            return
        if not fix:
            self.stderr.write(f"{len(found)} seat counter(s) disagree; run with --fix to correct them.")
            raise SystemExit(1)
        self.stdout.write(f"{len(found)} seat counter(s) corrected.")
