"""A sweeper in its own process that is killed with SIGKILL at a crash point of ``services.money.send_movement``.

Run by tests/test_late_host_payments.py: ``python -m tests.killed_sweeper <crash point> <minutes later>`` with
``DATABASE_URL`` naming the test database and ``WTP_PAYMENT_VARIANTS`` (JSON) the variants against the test's
simulators. Exits by SIGKILL when the crash point is reached, else 0.
"""

import json
import os
import signal
import sys
from datetime import timedelta


def main(crash_point, minutes_later):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.utils import timezone

    settings.PAYMENT_VARIANTS = json.loads(os.environ["WTP_PAYMENT_VARIANTS"])
    settings.PAYMENT_USES_SSL = True
    from wagtail_training_pay.services import money
    from wagtail_training_pay.services.stale_payments import check_stale_payments

    money.crash_points[crash_point] = [lambda movement: os.kill(os.getpid(), signal.SIGKILL)]
    check_stale_payments(now=timezone.now() + timedelta(minutes=minutes_later))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
