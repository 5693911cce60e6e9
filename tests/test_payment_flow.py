"""The shared, locked settlement path that every payment notification goes through."""

import uuid
from decimal import Decimal

import pytest
from payments import PaymentStatus

from wagtail_training_pay import payment_flow
from wagtail_training_pay.models import Payment

pytestmark = pytest.mark.django_db


@pytest.fixture
def recorded_settlements(monkeypatch):
    calls = []

    def settler(payment):
        calls.append((payment.pk, payment.status))

    monkeypatch.setattr(payment_flow, "_settlers", {"registration": settler})
    monkeypatch.setattr(payment_flow, "_return_urls", {"registration": lambda p: f"/done/{p.pk}/"})
    return calls


@pytest.fixture
def registration(paid_session):
    from wagtail_training_pay.models import Registration

    return Registration.objects.create(
        page=paid_session, first_name="Ada", last_name="L", email="ada@example.com", amount=45, currency="EUR"
    )


def make_payment(registration=None, **kwargs):
    values = {"variant": "dummy", "total": Decimal("45.00"), "currency": "EUR", "registration": registration}
    values.update(kwargs)
    return Payment.objects.create(**values)


def test_callbacks_and_returns_use_the_apps_locked_views():
    payment = make_payment()
    assert payment.get_process_url() == f"/training/payment/{payment.token}/process/"
    assert payment.get_success_url() == f"http://testserver/training/payment/{payment.token}/return/"


def test_a_status_change_settles_the_payment(registration, recorded_settlements):
    payment = make_payment(registration)
    payment.change_status(PaymentStatus.CONFIRMED)
    assert recorded_settlements == [(payment.pk, PaymentStatus.CONFIRMED)]


def test_a_payment_for_nothing_known_is_left_alone(recorded_settlements):
    payment = make_payment()
    payment.change_status(PaymentStatus.CONFIRMED)
    assert recorded_settlements == []


def test_the_browser_return_settles_and_redirects_to_the_settlers_page(client, registration, recorded_settlements):
    payment = make_payment(registration, status=PaymentStatus.CONFIRMED)
    response = client.get(f"/training/payment/{payment.token}/return/")
    assert response.status_code == 302
    assert response["Location"] == f"/done/{payment.pk}/"
    assert recorded_settlements == [(payment.pk, PaymentStatus.CONFIRMED)]


def test_the_provider_callback_processes_then_settles(client, registration, recorded_settlements):
    payment = make_payment(registration, status=PaymentStatus.INPUT)
    response = client.get(f"/training/payment/{payment.token}/process/?verification_result=confirmed")
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CONFIRMED
    # Once through status_changed, once more by the view itself: settlers are idempotent.
    assert {call[1] for call in recorded_settlements} == {PaymentStatus.CONFIRMED}


@pytest.mark.parametrize("path", ["/training/payment/{token}/process/", "/training/payment/{token}/return/"])
def test_an_unknown_token_is_a_404(client, path):
    assert client.get(path.format(token=uuid.uuid4())).status_code == 404


def test_a_variant_callback_for_an_unknown_variant_is_a_404(client):
    assert client.post("/training/payment/variant/nope/process/").status_code == 404
