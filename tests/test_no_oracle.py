"""No oracle on who registered: a duplicate email is answered exactly like a new one; one email per hour at most."""

import re

import pytest
from django.core import mail
from django.test import Client

from tests.registration_helpers import commit_after_each_request, learner
from wagtail_training_pay.models import Registration, RegistrationStatus

pytestmark = pytest.mark.django_db

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


#: The seconds left on the seat hold move with the clock between two requests, not with who registered.
HOLD_SECONDS = re.compile(r'data-hold-seconds="\d+"')


def normalised(html):
    return HOLD_SECONDS.sub("<seconds>", CSRF.sub("<csrf>", UUID.sub("<token>", html)))


@pytest.fixture(autouse=True)
def lenient_rate_limit(settings):
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "1000/h"


@pytest.fixture
def browser(django_capture_on_commit_callbacks):
    def factory():
        return commit_after_each_request(Client(), django_capture_on_commit_callbacks)

    return factory


def seen_from_outside(client, page, email):
    """What a stranger sees after posting the form: status, where it leads, and that page's status and text."""
    response = client.post(page.url, learner(email=email, first_name="Eve", last_name="Stranger"))
    location = response.headers.get("Location", "")
    followed = client.get(location) if location else None
    body = normalised(followed.content.decode() if followed else response.content.decode())
    return response.status_code, UUID.sub("<token>", location), followed and followed.status_code, body


@pytest.mark.parametrize("fixture", ["paid_session", "free_session"])
def test_a_registered_email_is_answered_exactly_like_a_new_one(request, browser, fixture):
    page = request.getfixturevalue(fixture)
    owner = browser()
    owner.post(page.url, learner(email="ada@example.com"))
    mail.outbox.clear()

    taken = seen_from_outside(browser(), page, "Ada@Example.com")
    fresh = seen_from_outside(browser(), page, "nobody-yet@example.com")
    assert taken[:3] == fresh[:3]
    assert taken[3].replace("Ada@Example.com", "<email>") == fresh[3].replace("nobody-yet@example.com", "<email>")
    assert "already registered" not in taken[3]
    # The person learns the rest by email.
    assert [message.to for message in mail.outbox if "ada@example.com" in [a.lower() for a in message.to]]


def test_twenty_three_attempts_send_the_owner_one_email_in_the_hour(browser, make_session):
    paid_session = make_session(capacity=50)
    browser().post(paid_session.url, learner(email="ada@example.com"))
    mail.outbox.clear()
    for _ in range(23):
        assert browser().post(paid_session.url, learner(email="ada@example.com")).status_code == 302
    assert len([message for message in mail.outbox if message.to == ["ada@example.com"]]) == 1


def test_the_browser_that_registered_is_still_told_and_shown_its_registration(browser, paid_session):
    owner = browser()
    owner.post(paid_session.url, learner(email="ada@example.com"))
    response = owner.post(paid_session.url, learner(email="ada@example.com"))
    assert response.status_code == 200
    registration = Registration.objects.get(email="ada@example.com")
    assert f"/training/registration/{registration.token}/" in response.content.decode()
    assert Registration.objects.count() == 1


def test_a_second_registration_is_marked_and_keeps_the_first_one_untouched(browser, paid_session):
    browser().post(paid_session.url, learner(email="ada@example.com"))
    first = Registration.objects.get()
    browser().post(paid_session.url, learner(email="ADA@example.com"))
    second = Registration.objects.exclude(pk=first.pk).get()
    assert second.duplicate_of == first
    assert second.status == RegistrationStatus.PENDING
    first.refresh_from_db()
    assert first.status == RegistrationStatus.PENDING and first.duplicate_of is None
