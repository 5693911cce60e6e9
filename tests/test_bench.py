"""The benchmark runner keeps working: a tiny run of it prints one JSON line per case.

No timing is asserted (the figures are for ``make bench`` to print); query counts are, since they
do not depend on the machine.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_bench(*args):
    env = {
        key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "BENCH_DATABASE_URL")
    }
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode in (0, 1), completed.stderr[-3000:]  # 1: a target failed on this machine
    rows = [json.loads(line[len("BENCH ") :]) for line in completed.stdout.splitlines() if line.startswith("BENCH ")]
    assert any(line.startswith("case ") and line.endswith("result") for line in completed.stdout.splitlines())
    return {row["case"]: row for row in rows}


@pytest.fixture(scope="module")
def bench_rows():
    return run_bench("pages", "registration", "pay_per_use", "admin", "--rounds", "2", "--busy", "50")


def test_each_case_prints_a_json_line_with_its_figures(bench_rows):
    assert set(bench_rows) == {
        "session page GET, 0 registrations",
        "session page GET, 50 registrations",
        "registration POST, 0 registrations",
        "registration POST, 50 registrations",
        "confirmation callback, 0 registrations",
        "confirmation callback, 50 registrations",
        "estimated session cost page vs page editor GET",
        "admin registrations listing, 10 vs 50 rows",
        "registrations CSV export, 500 rows",
        "registrations CSV export, 10 vs 50 rows",
        "registrations XLSX export, 10 vs 50 rows",
    }
    for row in bench_rows.values():
        assert row["plugin_median_ms"] > 0
        assert row["result"] in ("PASS", "FAIL")
        assert row["checks"]


def test_the_session_page_costs_at_most_three_queries_more_than_a_plain_form_page(bench_rows):
    for case in ("session page GET, 0 registrations", "session page GET, 50 registrations"):
        row = bench_rows[case]
        assert row["plugin_queries"] <= row["baseline_queries"] + 3
    assert (
        bench_rows["session page GET, 0 registrations"]["plugin_queries"]
        == bench_rows["session page GET, 50 registrations"]["plugin_queries"]
    )


def test_the_admin_listing_costs_the_same_queries_for_10_and_50_rows(bench_rows):
    row = bench_rows["admin registrations listing, 10 vs 50 rows"]
    assert row["plugin_queries"] == row["baseline_queries"]


def test_registering_and_confirming_cost_the_same_queries_whatever_the_number_of_registrations(bench_rows):
    for kind in ("registration POST", "confirmation callback"):
        assert (
            bench_rows[f"{kind}, 0 registrations"]["plugin_queries"]
            == bench_rows[f"{kind}, 50 registrations"]["plugin_queries"]
        )
    # 13 since issue 14 (the sale's money record and the owed confirmation email are written with the confirmation),
    # 14 since issue 18 (the session's seat counter is updated with it, so that counting seats reads one row).
    assert bench_rows["confirmation callback, 0 registrations"]["plugin_queries"] <= 14
