"""Benchmark of the admin's registrations export: time, queries and peak Python memory per size.

    .venv-3.13/bin/python bench/admin_export.py [rows ...]      (default: 1000 10000)

Runs against a throw-away SQLite database (or DATABASE_URL). Prints one line per size and
format; the query count should not change with the number of rows and memory should grow
far slower than the rows (the CSV streams; the XLSX goes through a temporary file).
"""

import os
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402
from payments import PaymentStatus  # noqa: E402
from wagtail.models import Page  # noqa: E402

from wagtail_training_pay.models import (  # noqa: E402
    Payment,
    Registration,
    RegistrationStatus,
    SessionFormField,
    TrainingIndexPage,
    TrainingSessionPage,
)


def make_session(index, rows):
    page = TrainingSessionPage(
        title=f"Bench {rows}",
        slug=f"bench-{rows}",
        start_at=timezone.now() + timedelta(days=7),
        fee=Decimal("45.00"),
        currency="EUR",
    )
    index.add_child(instance=page)
    SessionFormField.objects.create(page=page, label="Company", field_type="singleline", sort_order=0)
    Registration.objects.bulk_create(
        (
            Registration(
                page=page,
                status=RegistrationStatus.CONFIRMED,
                first_name=f"Learner{i}",
                last_name="Bench",
                email=f"bench{rows}-{i}@example.com",
                amount=Decimal("45.00"),
                currency="EUR",
                billing_country="FR",
                form_data={"company": f"Company {i}"},
            )
            for i in range(rows)
        ),
        batch_size=2000,
    )
    Payment.objects.bulk_create(
        (
            Payment(
                variant="dummy",
                registration_id=pk,
                total=Decimal("45.00"),
                captured_amount=Decimal("45.00"),
                currency="EUR",
                status=PaymentStatus.CONFIRMED,
            )
            for pk in Registration.objects.filter(page=page).values_list("pk", flat=True)
        ),
        batch_size=2000,
    )
    return page


def export(client, page, export_format):
    response = client.get(reverse("training_registrations:index"), {"page": page.pk, "export": export_format})
    return sum(len(chunk) for chunk in response.streaming_content)


def measure(client, page, export_format):
    """Time and queries in one run, peak memory in a second one (tracing slows Python down several times)."""
    connection.queries_log.clear()  # a full log (9,000 entries) would hide new queries
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        size = export(client, page, export_format)
    elapsed = time.perf_counter() - started
    query_count = len(queries)  # read now: the next request clears the connection's query log
    tracemalloc.start()
    export(client, page, export_format)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, query_count, peak, size


def main(sizes):
    call_command("migrate", verbosity=0)
    home = Page.objects.get(depth=2)
    index = TrainingIndexPage(title="Bench training", slug=f"bench-training-{int(time.time())}")
    home.add_child(instance=index)
    user = get_user_model().objects.create_superuser(f"bench{int(time.time())}", "bench@example.com", "x")
    client = Client()
    client.force_login(user)
    print(f"database: {connection.vendor}")
    print(f"{'rows':>8} {'format':>6} {'seconds':>8} {'rows/s':>8} {'queries':>7} {'peak MiB':>8} {'bytes':>10}")
    for rows in sizes:
        page = make_session(index, rows)
        for export_format in ("csv", "xlsx"):
            elapsed, queries, peak, size = measure(client, page, export_format)
            print(
                f"{rows:>8} {export_format:>6} {elapsed:>8.2f} {rows / elapsed:>8.0f} {queries:>7}"
                f" {peak / 2**20:>8.1f} {size:>10}"
            )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1000, 10000])
