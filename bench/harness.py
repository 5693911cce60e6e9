"""Measure a plugin case against its baseline in the same process: alternating rounds, medians."""

import json
import statistics
import time
from dataclasses import dataclass, field

from django.db import connection
from django.test.utils import CaptureQueriesContext


@dataclass
class Measure:
    seconds: list = field(default_factory=list)
    queries: list = field(default_factory=list)

    @property
    def median_ms(self):
        return statistics.median(self.seconds) * 1000

    @property
    def query_count(self):
        return max(self.queries) if self.queries else 0


#: Transaction control: logged on SQLite, not on PostgreSQL (psycopg begins and commits implicitly).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def count_queries(captured):
    """SQL statements that read or write data; transaction control is left out on every database."""
    return sum(1 for query in captured if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL))


def measure_once(func, measure, prepare=None):
    """Time one call of ``func``; ``prepare()`` runs first, unmeasured. No query is captured meanwhile."""
    if prepare is not None:
        prepare()
    start = time.perf_counter()
    func()
    measure.seconds.append(time.perf_counter() - start)


def count_once(func, measure, prepare=None):
    """Count the queries of one call of ``func``, untimed.

    Capturing queries turns on Django's debug cursor, which formats and stores every statement: a cost per
    query that no production server pays and that would bill the side with more queries. So the calls that
    count are not the calls that are timed.
    """
    if prepare is not None:
        prepare()
    with CaptureQueriesContext(connection) as captured:
        func()
    measure.queries.append(count_queries(captured.captured_queries))


def repeat(func, rounds=30, warmup=3, prepare=None, counted=3):
    """Run one case with no baseline (a callback, an export): a warm-up, ``counted`` calls that count queries,
    then ``rounds`` timed calls."""
    measure = Measure()
    for _ in range(warmup):
        if prepare is not None:
            prepare()
        func()
    for _ in range(counted):
        count_once(func, measure, prepare)
    for _ in range(rounds):
        measure_once(func, measure, prepare)
    return measure


def compare(baseline, plugin, rounds=30, warmup=3, counted=3):
    """Run ``baseline`` and ``plugin`` alternately: a warm-up, ``counted`` calls each that count queries, then
    ``rounds`` timed calls each."""
    base, plug = Measure(), Measure()
    for _ in range(warmup):
        baseline()
        plugin()
    for _ in range(counted):
        count_once(baseline, base)
        count_once(plugin, plug)
    for round_number in range(rounds):
        # Alternate which goes first so drift and caches favour neither.
        pair = [(baseline, base), (plugin, plug)]
        if round_number % 2:
            pair.reverse()
        for func, measure in pair:
            measure_once(func, measure)
    return base, plug


class Report:
    def __init__(self):
        self.rows = []

    def add(self, case, base, plug, checks, **extra):
        """``checks``: list of (label, passed) pairs; the case passes when all do."""
        ratio = plug.median_ms / base.median_ms if base and base.median_ms else None
        row = {
            "case": case,
            "baseline_median_ms": round(base.median_ms, 3) if base else None,
            "plugin_median_ms": round(plug.median_ms, 3),
            "ratio": round(ratio, 3) if ratio else None,
            "baseline_queries": base.query_count if base and base.queries else None,
            "plugin_queries": plug.query_count if plug.queries else None,
            "checks": {label: passed for label, passed in checks},
            "result": "PASS" if all(passed for _, passed in checks) else "FAIL",
            **extra,
        }
        self.rows.append(row)
        print("BENCH " + json.dumps(row, sort_keys=True), flush=True)
        return row

    def table(self):
        head = f"{'case':<52} {'base ms':>9} {'plugin ms':>10} {'ratio':>6} {'q base':>6} {'q plug':>6}  result"
        lines = [head, "-" * len(head)]
        for row in self.rows:
            base = "-" if row["baseline_median_ms"] is None else f"{row['baseline_median_ms']:.2f}"
            ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
            qbase = "-" if row["baseline_queries"] is None else str(row["baseline_queries"])
            qplug = "-" if row["plugin_queries"] is None else str(row["plugin_queries"])
            lines.append(
                f"{row['case']:<52} {base:>9} {row['plugin_median_ms']:>10.2f} {ratio:>6} {qbase:>6} "
                f"{qplug:>6}  {row['result']}"
            )
            failed = [label for label, passed in row["checks"].items() if not passed]
            if failed:
                lines.append(f"{'':<52} failed: {', '.join(failed)}")
        return "\n".join(lines)
