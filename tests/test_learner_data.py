"""The learner's own data from the manage page: a JSON download, and erasure on request."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from wagtail.models import ModelLogEntry

from wagtail_training_pay.models import Payment, RegistrationStatus, TrainingSessionPage

pytestmark = pytest.mark.django_db


def manage(registration):
    return f"/training/registration/{registration.token}/"


def session_is_over(registration):
    TrainingSessionPage.objects.filter(pk=registration.page_id).update(start_at=timezone.now() - timedelta(days=2))


def erase(client, registration, confirm=True):
    return client.post(manage(registration) + "erase/", {"erase-confirm": "on"} if confirm else {}, follow=True)


def test_the_learner_downloads_their_own_data_as_json(client, confirmed):
    page = client.get(manage(confirmed)).content.decode()
    assert f'href="/training/registration/{confirmed.token}/my-data.json"' in page

    response = client.get(manage(confirmed) + "my-data.json")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"] == 'attachment; filename="my-registration.json"'
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["registration"]["email"] == "ada@example.com"
    assert data["registration"]["billing_city"] == "Paris"
    assert [payment["amount"] for payment in data["payments"]] == ["45.00"]


def test_a_guessed_token_exports_and_erases_nothing(client, confirmed):
    guessed = f"/training/registration/{uuid.uuid4()}/"
    assert client.get(guessed + "my-data.json").status_code == 404
    assert client.post(guessed + "erase/", {"erase-confirm": "on"}).status_code == 404
    confirmed.refresh_from_db()
    assert confirmed.anonymized_at is None


def test_token_pages_are_never_cached_nor_leak_their_address(client, confirmed):
    response = client.get(manage(confirmed))
    assert "no-store" in response["Cache-Control"]
    # same-origin, not no-referrer: the address never leaves the site, and the browser still sends the Origin
    # of the page's own forms (no-referrer makes Chromium post ``Origin: null``, which CSRF refuses).
    assert response["Referrer-Policy"] == "same-origin"


def test_an_active_registration_for_a_coming_session_is_not_erased(client, confirmed):
    assert "erase-confirm" not in client.get(manage(confirmed)).content.decode()

    response = erase(client, confirmed)

    assert "Your registration is still active: cancel it first" in response.content.decode()
    confirmed.refresh_from_db()
    assert confirmed.email == "ada@example.com"
    assert confirmed.anonymized_at is None


def test_after_the_session_the_learner_erases_their_data_and_the_amounts_stay(client, confirmed):
    session_is_over(confirmed)
    assert 'name="erase-confirm"' in client.get(manage(confirmed)).content.decode()

    response = erase(client, confirmed)

    assert "Your personal data is erased." in response.content.decode()
    confirmed.refresh_from_db()
    payment = Payment.objects.get(registration=confirmed)
    assert confirmed.anonymized_at is not None
    assert (confirmed.email, confirmed.first_name, confirmed.billing_city) == ("", "—", "")
    assert (confirmed.amount, confirmed.status) == (Decimal("45.00"), RegistrationStatus.CONFIRMED)
    assert (payment.billing_email, payment.total) == ("", Decimal("45.00"))
    labels = ModelLogEntry.objects.filter(object_id=str(confirmed.pk)).values_list("label", flat=True)
    assert not any("Lovelace" in label for label in labels)  # not in the history either
    assert "wagtail_training_pay.erase" in ModelLogEntry.objects.values_list("action", flat=True)
    exported = json.loads(client.get(manage(confirmed) + "my-data.json").content)
    assert exported["registration"]["email"] == ""


def test_a_cancelled_registration_can_be_erased_at_once(client, confirmed):
    client.post(manage(confirmed), {"confirm": "on"})
    confirmed.refresh_from_db()
    assert confirmed.status == RegistrationStatus.CANCELLED

    erase(client, confirmed)

    confirmed.refresh_from_db()
    assert confirmed.anonymized_at is not None


def test_erasing_needs_the_confirmation_box(client, confirmed):
    session_is_over(confirmed)
    response = erase(client, confirmed, confirm=False)
    assert "Please tick the box" in response.content.decode()
    confirmed.refresh_from_db()
    assert confirmed.anonymized_at is None


def test_erasing_is_a_post_only(client, confirmed):
    session_is_over(confirmed)
    assert client.get(manage(confirmed) + "erase/").status_code == 405
