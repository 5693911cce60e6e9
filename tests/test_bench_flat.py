"""The issue 18 benchmark cases (costs that stay flat) run and print their figures; a tiny run of each.

Timings are not asserted (``make bench`` prints them, on a quiet machine); query counts are, since they do not
depend on the machine: the same queries whatever the number of registrations, sessions or rows.
"""

import pytest

from tests.test_bench import run_bench

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rows():
    return run_bench("flat_sessions", "flat_index", "flat_backoffice", "--rounds", "2", "--busy", "50")


def test_each_flat_case_prints_its_figures(rows):
    assert set(rows) == {
        "session page GET, 0 vs 50 registrations",
        "session page GET, 0 vs 500 registrations",
        "registration POST, 0 vs 50 registrations",
        "registration POST, 0 vs 500 registrations",
        "training index GET, 10 vs 50 sessions, 10 a page",
        "training index GET, 10 vs 50 sessions, 20 a page",
        "training index .ics feed, 50 sessions",
        "admin registrations listing, 10 vs 50 rows (the page: 40 more table rows)",
        "admin registrations listing, 50 vs 250 rows",
        "admin registrations listing, 10 vs 250 rows",
        "admin registrations listing, 10 vs 250 rows, 10 a page",
        "admin registrations listing by last_name, 50 vs 250 rows",
        "admin registrations listing by -email, 50 vs 250 rows",
        "admin registrations listing by session_title, 50 vs 250 rows",
        "registrations CSV export vs plain loop, 50 rows",
        "registrations XLSX export vs plain loop, 50 rows",
    }
    for row in rows.values():
        assert row["plugin_median_ms"] > 0 and row["result"] in ("PASS", "FAIL")


def test_the_flat_cases_cost_the_same_queries_whatever_the_size(rows):
    for case, row in rows.items():
        if any(check.startswith("same queries") for check in row["checks"]):
            assert row["plugin_queries"] == row["baseline_queries"], case


def test_the_calendar_feed_holds_every_session_up_to_its_cap_in_a_few_queries(rows):
    feed = rows["training index .ics feed, 50 sessions"]
    assert feed["events"] == 50
    assert feed["plugin_queries"] <= 10
