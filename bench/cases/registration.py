"""Registration POST (up to the redirect to the payment step) vs a POST to the plain form page;
and the payment confirmation callback. Both with 0 and with 10,000 registrations on the session."""

import itertools

from django.test import Client
from django.urls import reverse

from bench import fixtures
from bench.harness import compare, repeat

_numbers = itertools.count()


def answers():
    """The 6 questions' answers, the same for both pages."""
    return {
        "organisation": "University of Example",
        "job_title": "Lecturer",
        "phone": "+33 1 23 45 67 89",
        "experience_level": "Intermediate",
        "dietary_needs": "None",
        "accept_the_terms": "on",
    }


def registration_data():
    number = next(_numbers)
    return {
        **answers(),
        "first_name": "Ada",
        "last_name": f"Learner {number}",
        "email": f"bench-post-{number}@example.com",
        "billing_address": "1 rue de la Paix",
        "billing_postcode": "75002",
        "billing_city": "Paris",
        "billing_country": "FR",
        "payment_method": "dummy",
    }


def post_registration(client, page):
    def request():
        response = client.post(page.url, registration_data())
        assert response.status_code == 302 and "/pay/" in response["Location"], (
            page.url,
            response.status_code,
            response.get("Location"),
        )

    return request


def post_plain(client, page):
    def request():
        response = client.post(page.url, answers())
        assert response.status_code == 200, response.status_code

    return request


def pending_payment(page):
    """A fresh pending registration and its payment, made by the service (not measured)."""
    from wagtail_training_pay.services import registrations as service

    data = registration_data()
    result = service.register(
        page,
        first_name=data["first_name"],
        last_name=data["last_name"],
        email=data["email"],
        billing={"address": "1 rue de la Paix", "postcode": "75002", "city": "Paris", "country": "FR"},
        answers=answers(),
        variant="dummy",
    )
    return result.payment


def callback(client, page):
    """The provider's confirmation of a new payment each round (a replay would be a cheaper no-op)."""
    state = {}

    def prepare():
        state["url"] = reverse("wagtail_training_pay:process_payment", kwargs={"token": pending_payment(page).token})

    def request():
        response = client.get(state["url"], {"verification_result": "confirmed"})
        assert response.status_code == 302, response.status_code

    return prepare, request


def run(report, rounds):
    plain = fixtures.plain_form_page()
    empty = fixtures.session_with_questions("bench-post-empty", capacity=1_000_000)
    busy = fixtures.session_with_questions("bench-post-busy", capacity=1_000_000)
    fixtures.add_registrations(busy, fixtures.BUSY_REGISTRATIONS)
    client = Client()

    posts = {}
    many = fixtures.BUSY_REGISTRATIONS
    for registrations, page in ((0, empty), (many, busy)):
        posts[registrations] = compare(post_plain(client, plain), post_registration(client, page), rounds=rounds)
    for registrations, (baseline, plugin) in posts.items():
        ratio = plugin.median_ms / baseline.median_ms
        report.add(
            f"registration POST, {registrations:,} registrations",
            baseline,
            plugin,
            [
                ("time ratio <= 2.0", ratio <= 2.0),
                ("queries <= baseline + 5", plugin.query_count <= baseline.query_count + 5),
                (
                    "same queries with 0 and N registrations",
                    posts[0][1].query_count == posts[many][1].query_count,
                ),
            ],
            registrations=registrations,
        )

    callbacks = {}
    for registrations, page in ((0, fixtures.session_with_questions("bench-callback-empty")), (many, busy)):
        prepare, request = callback(client, page)
        callbacks[registrations] = repeat(request, rounds=rounds, prepare=prepare)
    for registrations, measure in callbacks.items():
        report.add(
            f"confirmation callback, {registrations:,} registrations",
            None,
            measure,
            [
                ("queries <= 14", measure.query_count <= 14),
                (
                    "same queries with 0 and N registrations",
                    callbacks[0].query_count == callbacks[many].query_count,
                ),
            ],
            registrations=registrations,
        )
