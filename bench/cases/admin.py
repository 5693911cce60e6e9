"""The admin registrations listing with 10 and 10,000 rows (the same queries), and the CSV export of
100,000 registrations: its time and how much the process's peak memory grows (it must stream).

``admin_export`` (issue 7) compares the CSV and XLSX exports of 10 and 10,000 rows; this module adds the
listing and the 100,000-row export.
"""

import re
import tracemalloc
from pathlib import Path

from django.test import Client
from django.urls import reverse

from bench import fixtures
from bench.harness import Measure, compare, measure_once

EXPORT_ROWS = 100_000
MEMORY_LIMIT_MB = 100
CLEAR_REFS = Path("/proc/self/clear_refs")
STATUS = Path("/proc/self/status")


def admin_client():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="bench-admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench-admin", "bench@example.com", "unused")
    client = Client()
    client.force_login(user)
    return client


def peak_rss_bytes():
    match = re.search(r"VmHWM:\s+(\d+) kB", STATUS.read_text()) if STATUS.exists() else None
    return int(match.group(1)) * 1024 if match else None


def reset_peak_rss():
    """Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM) to its current RSS."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


def current_rss_bytes():
    match = re.search(r"VmRSS:\s+(\d+) kB", STATUS.read_text()) if STATUS.exists() else None
    return int(match.group(1)) * 1024 if match else None


def listing(client, page):
    def request():
        response = client.get(reverse("training_registrations:index"), {"page": page.pk})
        assert response.status_code == 200, response.status_code

    return request


def export_csv(client, page, rows):
    def request():
        response = client.get(reverse("training_registrations:index"), {"page": page.pk, "export": "csv"})
        assert response.status_code == 200, response.status_code
        assert response.streaming, "the CSV export must stream"
        lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
        assert lines >= rows, lines

    return request


def run(report, rounds):
    from bench.cases.admin_export import paid_registrations

    client = admin_client()
    few = fixtures.session_with_questions("bench-admin-few", capacity=None)
    many = fixtures.session_with_questions("bench-admin-many", capacity=None)
    paid_registrations(few, 10)
    paid_registrations(many, fixtures.BUSY_REGISTRATIONS)
    base, plug = compare(listing(client, few), listing(client, many), rounds=rounds)
    report.add(
        f"admin registrations listing, 10 vs {fixtures.BUSY_REGISTRATIONS:,} rows",
        base,
        plug,
        [("same queries for 10 and N rows", plug.query_count == base.query_count)],
    )

    export_rows = EXPORT_ROWS if fixtures.BUSY_REGISTRATIONS >= 10_000 else fixtures.BUSY_REGISTRATIONS * 10
    huge = fixtures.session_with_questions("bench-admin-export", capacity=None)
    paid_registrations(huge, export_rows)
    request = export_csv(client, huge, export_rows)
    timing = Measure()
    measure_once(request, timing)  # warms up too
    measure_once(request, timing)
    rss_reset = reset_peak_rss()
    rss_before = current_rss_bytes()
    tracemalloc.start()
    try:
        request()
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    rss_growth = (peak_rss_bytes() - rss_before) if rss_reset and rss_before else None
    growth = rss_growth if rss_growth is not None else python_peak
    report.add(
        f"registrations CSV export, {export_rows:,} rows",
        None,
        timing,
        [(f"peak memory growth < {MEMORY_LIMIT_MB} MB (streamed)", growth < MEMORY_LIMIT_MB * 10**6)],
        rows=export_rows,
        rows_per_second=round(export_rows / (min(timing.seconds))),
        peak_rss_growth_mb=None if rss_growth is None else round(rss_growth / 10**6, 1),
        peak_python_allocations_mb=round(python_peak / 10**6, 1),
    )
