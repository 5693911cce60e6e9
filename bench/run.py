#!/usr/bin/env python
"""Benchmarks of wagtail-training-pay against the plain Wagtail baseline, measured in the same run.

    make bench                     # every case
    python bench/run.py pages      # only cases whose name contains "pages"
    python bench/run.py --rounds 10

Prints one ``BENCH {json}`` line per case, then a table; exits 1 when a target fails, 2 when a case crashes.
"""

import argparse
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("only", nargs="*", help="run only the case modules whose names contain these words")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--busy", type=int, default=10_000, help="registrations on the busy sessions")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # No setup_test_environment(): its instrumented template rendering would bill every template the
    # test client renders (a signal per template), which no real server pays.
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0, interactive=False)

    from bench import cases, fixtures

    fixtures.BUSY_REGISTRATIONS = args.busy
    from bench.harness import Report

    report = Report()
    crashed = []
    for name, module in cases.all_cases():
        if args.only and not any(word in name for word in args.only):
            continue
        print(f"# {name}", flush=True)
        try:
            module.run(report, rounds=args.rounds)
        except Exception:  # noqa: BLE001 - report the broken case, run the others, exit 2
            traceback.print_exc()
            crashed.append(name)
    print()
    print(report.table())
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and os.path.exists(database["NAME"]):
        os.remove(database["NAME"])
    if crashed:
        print(f"\nCRASHED: {', '.join(crashed)}")
        return 2
    return 0 if all(row["result"] == "PASS" for row in report.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
