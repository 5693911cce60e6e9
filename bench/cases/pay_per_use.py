"""The Estimated session cost page vs the page editor's own GET of the same session (Wagtail admin)."""

from decimal import Decimal

from django.test import Client
from django.urls import reverse

from bench import fixtures
from bench.harness import compare


def host():
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username="bench-host").first()
    return user or get_user_model().objects.create_superuser("bench-host", "host@example.com", "password")


def switch_pay_per_use(enabled):
    """On for this case only: with it on, new sessions could not go live without paying."""
    from wagtail.models import Site

    from wagtail_training_pay.models import TrainingPaySettings

    settings = TrainingPaySettings.for_site(Site.objects.get(is_default_site=True))
    settings.pay_per_use_enabled = enabled
    settings.person_minute_rate = Decimal("0.0200")
    settings.teleconference_minute_rate = Decimal("0.0500")
    settings.minimum_charge = Decimal("5.00")
    settings.save()


def get(client, url):
    def request():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    return request


def run(report, rounds):
    page = fixtures.session_with_questions("bench-cost")
    switch_pay_per_use(True)
    try:
        measure(report, page, rounds)
    finally:
        switch_pay_per_use(False)


def measure(report, page, rounds):
    page.expected_participants = 12
    page.teleconference_participants = 3
    page.save_revision(user=host())
    client = Client()
    client.force_login(host())
    editor = reverse("wagtailadmin_pages:edit", args=[page.pk])
    cost = reverse("wagtail_training_pay_usage:session_cost", kwargs={"page_id": page.pk})
    baseline, plugin = compare(get(client, editor), get(client, cost), rounds=rounds)
    ratio = plugin.median_ms / baseline.median_ms
    report.add(
        "estimated session cost page vs page editor GET",
        baseline,
        plugin,
        [
            ("not slower than the editor (ratio <= 1.0)", ratio <= 1.0),
            ("fewer queries than the editor", plugin.query_count <= baseline.query_count),
        ],
    )
