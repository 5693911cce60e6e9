"""Costs that stay flat as a session fills up (issue 18): the registration POST and the session page GET of a
session with 10,000 and 100,000 registrations against the same request on an empty session, measured
alternately in the same run. Target: within 10 % (ratio <= 1.10) and the same queries.

``--busy`` scales the sizes (``busy`` and ``10 * busy``), so that the test of the runner stays small.
"""

from django.test import Client

from bench import fixtures
from bench.cases.registration import post_registration
from bench.harness import compare

#: The most a full session's request may cost more than the same request on an empty session.
FLAT_RATIO = 1.10


def sizes():
    return (fixtures.BUSY_REGISTRATIONS, fixtures.BUSY_REGISTRATIONS * 10)


def get(client, page):
    def request():
        response = client.get(page.url)
        assert response.status_code == 200, (page.url, response.status_code)

    return request


def run(report, rounds):
    client = Client()
    capacity = 1_000_000
    empty = fixtures.session_with_questions("bench-flat-empty", capacity=capacity)
    full = {}
    for count in sizes():
        full[count] = fixtures.session_with_questions(f"bench-flat-{count}", capacity=capacity)
        fixtures.add_registrations(full[count], count)
    fixtures.settle_database()

    for kind, make in (("session page GET", get), ("registration POST", post_registration)):
        for count, page in full.items():
            base, plug = compare(make(client, empty), make(client, page), rounds=rounds)
            ratio = plug.median_ms / base.median_ms
            report.add(
                f"{kind}, 0 vs {count:,} registrations",
                base,
                plug,
                [
                    (f"time ratio <= {FLAT_RATIO}", ratio <= FLAT_RATIO),
                    ("same queries with 0 and N registrations", plug.query_count == base.query_count),
                ],
                registrations=count,
            )
