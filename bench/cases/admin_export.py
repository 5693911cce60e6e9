"""The admin's registrations export (CSV and XLSX): 10 rows vs 10,000 rows of the same session shape.

The baseline is the same export of a 10-row session; the check is that the 10,000-row export
costs the same number of queries and that its peak Python memory stays small (the CSV streams,
the XLSX goes through a temporary file, rows come from the database in chunks).
"""

import tracemalloc
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from bench import fixtures

#: Peak Python memory allowed while exporting the large session's rows (``fixtures.BUSY_REGISTRATIONS``).
MEMORY_LIMIT_MIB = 32


def paid_registrations(page, count):
    from payments import PaymentStatus

    from wagtail_training_pay.models import Payment

    fixtures.add_registrations(page, count)
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
            for pk in page.registrations.filter(payments__isnull=True).values_list("pk", flat=True)
        ),
        batch_size=2000,
    )


def peak_memory_mib(func):
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run(report, rounds):
    from bench.harness import compare

    small = fixtures.session_with_questions("bench-export-small", capacity=20_000)
    large = fixtures.session_with_questions("bench-export-large", capacity=20_000)
    paid_registrations(small, 10)
    rows = fixtures.BUSY_REGISTRATIONS
    paid_registrations(large, rows)
    user = get_user_model().objects.filter(username="bench-admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "unused")
    client = Client()
    client.force_login(user)

    def export(page, export_format):
        def request():
            response = client.get(reverse("training_registrations:index"), {"page": page.pk, "export": export_format})
            assert response.status_code == 200, response.status_code
            assert sum(len(chunk) for chunk in response.streaming_content) > 0

        return request

    for export_format in ("csv", "xlsx"):
        # Each large export takes seconds: a few rounds give a stable median.
        few_rounds = min(rounds, 3)
        base, plug = compare(
            export(small, export_format), export(large, export_format), rounds=few_rounds, warmup=1, counted=1
        )
        peak = peak_memory_mib(export(large, export_format))
        report.add(
            f"registrations {export_format.upper()} export, 10 vs {rows:,} rows",
            base,
            plug,
            [
                ("same queries for 10 and N rows", plug.query_count == base.query_count),
                (f"peak Python memory <= {MEMORY_LIMIT_MIB} MiB", peak <= MEMORY_LIMIT_MIB),
            ],
            rows=rows,
            rows_per_second=round(rows / (plug.median_ms / 1000)),
            peak_memory_mib=round(peak, 1),
        )
