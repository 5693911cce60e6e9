"""Emails link to where learners really reach the site, and come from a sender the site chose."""

import pytest
from django.core import mail
from django.core.checks import run_checks
from wagtail.models import Site

from tests.registration_helpers import pay_with_dummy, register, registration_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock_default_site(site):
    """The default site as `wagtail start` leaves it: localhost, port 80."""
    site.hostname = "localhost"
    site.port = 80
    site.save()
    return site


@pytest.fixture
def dev_payment_host(monkeypatch):
    """The README's development value. django-payments reads PAYMENT_HOST once, at import."""
    monkeypatch.setattr("payments.core.PAYMENT_HOST", "127.0.0.1:8000")
    monkeypatch.setattr("payments.core.PAYMENT_USES_SSL", False)


def confirmation_of(learner_client, page, email="ada@example.com"):
    register(learner_client, page, email=email)
    registration = registration_for(email)
    mail.outbox.clear()
    pay_with_dummy(learner_client, registration)
    (message,) = [m for m in mail.outbox if m.to == [registration.email]]
    return registration, message


def bodies(message):
    return message.body + "".join(content for content, _type in message.alternatives)


def test_links_go_to_the_payment_host_not_the_default_sites_localhost(
    learner_client, stock_default_site, dev_payment_host, paid_session
):
    registration, message = confirmation_of(learner_client, paid_session)
    text = bodies(message)
    assert f"http://127.0.0.1:8000/training/registration/{registration.token}/" in text
    assert "//localhost" not in text
    calendar = message.attachments[0][1]
    calendar = calendar.decode() if isinstance(calendar, bytes) else calendar
    assert "127.0.0.1:8000" in calendar.replace("\r\n ", "") and "//localhost" not in calendar


def test_a_session_on_another_wagtail_site_links_to_that_sites_host(
    learner_client, stock_default_site, dev_payment_host, index_page, paid_session
):
    Site.objects.create(hostname="courses.example.org", port=443, root_page=index_page, is_default_site=False)
    registration, message = confirmation_of(learner_client, paid_session)
    text = bodies(message)
    assert f"https://courses.example.org/training/registration/{registration.token}/" in text
    assert "127.0.0.1" not in text


def test_the_base_url_setting_wins(settings, learner_client, stock_default_site, dev_payment_host, paid_session):
    settings.WAGTAIL_TRAINING_PAY_BASE_URL = "https://training.example.edu/"
    registration, message = confirmation_of(learner_client, paid_session)
    assert f"https://training.example.edu/training/registration/{registration.token}/" in bodies(message)
    assert "127.0.0.1" not in bodies(message)


def test_the_calendar_files_link_to_the_same_address(client, stock_default_site, dev_payment_host, paid_session):
    for path in (f"sessions/{paid_session.pk}/session.ics", f"index/{paid_session.get_parent().pk}/sessions.ics"):
        content = client.get(f"/training/{path}").content.decode().replace("\r\n ", "")
        assert f"http://127.0.0.1:8000{paid_session.url}" in content and "//localhost" not in content, path


def test_the_sender_is_default_from_email_or_the_apps_own(settings, learner_client, paid_session):
    settings.DEFAULT_FROM_EMAIL = "Institute <info@example.edu>"
    _registration, message = confirmation_of(learner_client, paid_session)
    assert message.from_email == "Institute <info@example.edu>"

    settings.WAGTAIL_TRAINING_PAY_FROM_EMAIL = "Training desk <training@example.edu>"
    _registration, message = confirmation_of(learner_client, paid_session, email="grace@example.com")
    assert message.from_email == "Training desk <training@example.edu>"


def sender_warnings():
    return [m for m in run_checks() if m.id == "wagtail_training_pay.W005"]


def test_a_localhost_sender_in_production_is_reported(settings):
    settings.DEBUG = False
    settings.DEFAULT_FROM_EMAIL = "webmaster@localhost"
    assert sender_warnings()
    settings.WAGTAIL_TRAINING_PAY_FROM_EMAIL = "training@example.edu"
    assert not sender_warnings()
    del settings.WAGTAIL_TRAINING_PAY_FROM_EMAIL
    settings.DEBUG = True
    assert not sender_warnings()
