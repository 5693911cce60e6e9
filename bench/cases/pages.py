"""GET a paid session page with a 6-question form vs a plain Wagtail form page with the same 6 fields."""

from django.test import Client

from bench import fixtures


def run(report, rounds):
    plain = fixtures.plain_form_page()
    empty = fixtures.session_with_questions("bench-empty", capacity=20_000)
    busy = fixtures.session_with_questions("bench-busy", capacity=20_000)
    fixtures.add_registrations(busy, fixtures.BUSY_REGISTRATIONS)
    client = Client()

    def get(url):
        def request():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return request

    from bench.harness import compare

    base, plug_empty = compare(get(plain.url), get(empty.url), rounds=rounds)
    base_busy, plug_busy = compare(get(plain.url), get(busy.url), rounds=rounds)
    for case, baseline, plugin, registrations in (
        ("session page GET, 0 registrations", base, plug_empty, 0),
        (
            f"session page GET, {fixtures.BUSY_REGISTRATIONS:,} registrations",
            base_busy,
            plug_busy,
            fixtures.BUSY_REGISTRATIONS,
        ),
    ):
        ratio = plugin.median_ms / baseline.median_ms
        report.add(
            case,
            baseline,
            plugin,
            [
                ("time ratio <= 1.25", ratio <= 1.25),
                ("queries <= baseline + 3", plugin.query_count <= baseline.query_count + 3),
                ("same queries with 0 and N registrations", plug_busy.query_count == plug_empty.query_count),
            ],
            registrations=registrations,
        )
