"""The learner's manage page: token only, receipt, calendar file, cancellation per the site's policy, join link."""

import uuid
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from payments import PaymentStatus

from tests.registration_helpers import register, registration_for
from wagtail_training_pay.models import RegistrationStatus

pytestmark = pytest.mark.django_db


def manage_url(registration):
    return f"/training/registration/{registration.token}/"


@pytest.mark.parametrize(
    "path",
    [
        "/training/registration/{token}/",
        "/training/registration/{token}/done/",
        "/training/registration/{token}/pay/",
        "/training/registration/{token}/session.ics",
    ],
)
def test_a_wrong_token_is_a_404(client, confirmed, path):
    assert client.get(path.format(token=uuid.uuid4())).status_code == 404
    assert client.get(path.format(token="not-a-token").replace("//", "/")).status_code == 404


def test_the_manage_page_shows_status_receipt_and_calendar_link(client, confirmed):
    response = client.get(manage_url(confirmed))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Confirmed" in html
    assert "€45.00" in html
    assert "12 rue des Archives" in html
    assert f"/training/registration/{confirmed.token}/session.ics" in html
    assert 'name="confirm"' in html  # cancellation offered before the deadline


def test_the_calendar_file_is_valid_icalendar(client, confirmed):
    response = client.get(f"/training/registration/{confirmed.token}/session.ics")
    body = response.content.decode()
    assert response["Content-Type"].startswith("text/calendar")
    assert body.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert body.endswith("END:VCALENDAR\r\n")
    start = confirmed.page.start_at.astimezone(UTC)
    assert f"DTSTART:{start:%Y%m%dT%H%M%SZ}" in body
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))


def test_the_join_link_appears_only_once_the_session_is_live(client, confirmed):
    page = confirmed.page
    page.join_url = "https://meet.example.com/room-42"
    page.save()
    assert "room-42" not in client.get(manage_url(confirmed)).content.decode()
    page.started_at = timezone.now()
    page.save()
    assert "room-42" in client.get(manage_url(confirmed)).content.decode()


def test_a_pending_learner_never_sees_the_join_link(learner_client, paid_session):
    paid_session.join_url = "https://meet.example.com/room-42"
    paid_session.started_at = timezone.now()
    paid_session.save()
    paid_session.started_at = None
    paid_session.save()
    register(learner_client, paid_session)
    registration = registration_for()
    type(paid_session).objects.filter(pk=paid_session.pk).update(started_at=timezone.now())
    html = learner_client.get(manage_url(registration)).content.decode()
    assert "room-42" not in html
    assert f"/training/registration/{registration.token}/pay/" in html


def test_cancelling_before_the_deadline_refunds_per_the_policy(learner_client, confirmed, training_settings):
    training_settings.refund_percentage = 50
    training_settings.save()
    assert "€22.50" in learner_client.get(manage_url(confirmed)).content.decode()

    response = learner_client.post(manage_url(confirmed), {"confirm": "on"})
    assert response.status_code == 302
    confirmed.refresh_from_db()
    payment = confirmed.paid_by
    assert confirmed.status == RegistrationStatus.CANCELLED
    assert confirmed.refunded_amount == Decimal("22.50")
    assert payment.refunded_amount == Decimal("22.50")
    assert payment.captured_amount == Decimal("22.50")
    assert payment.status == PaymentStatus.CONFIRMED
    assert len(mail.outbox) == 1 and "cancelled" in mail.outbox[0].subject.lower()
    # A second click changes nothing.
    learner_client.post(manage_url(confirmed), {"confirm": "on"})
    confirmed.refresh_from_db()
    assert confirmed.refunded_amount == Decimal("22.50")


def test_cancelling_needs_the_confirmation_box(client, confirmed):
    response = client.post(manage_url(confirmed), {})
    assert response.status_code == 200
    assert 'id="id_confirm_error"' in response.content.decode()
    confirmed.refresh_from_db()
    assert confirmed.status == RegistrationStatus.CONFIRMED


def test_after_the_deadline_the_learner_cannot_cancel(client, confirmed, training_settings):
    training_settings.cancellation_deadline_hours = 24 * 30
    training_settings.save()
    html = client.get(manage_url(confirmed)).content.decode()
    assert 'name="confirm"' not in html
    client.post(manage_url(confirmed), {"confirm": "on"})
    confirmed.refresh_from_db()
    assert confirmed.status == RegistrationStatus.CONFIRMED


def test_a_refund_the_provider_refuses_is_recorded_for_staff_and_the_learner_told(client, confirmed, monkeypatch):
    """The cancellation and the refund it owes are one record; a refusal leaves the payment "needs attention"."""
    from payments import PaymentError
    from payments.dummy import DummyProvider

    def refuse(self, payment, amount=None):
        raise PaymentError("refund window closed")

    monkeypatch.setattr(DummyProvider, "refund", refuse)
    response = client.post(manage_url(confirmed), {"confirm": "on"}, follow=True)
    assert "Your refund could not be completed yet" in response.content.decode()
    confirmed.refresh_from_db()
    assert confirmed.status == RegistrationStatus.CANCELLED
    assert confirmed.refunded_amount == 0
    payment = confirmed.paid_by
    payment.refresh_from_db()
    assert payment.movements.get(kind="refund").state == "failed"
    assert "refund window closed" in payment.gateway_answer
    assert payment.needs_attention


def test_the_confirmation_page_says_when_the_payment_is_still_being_processed(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    learner_client.get(f"/training/registration/{registration.token}/pay/")  # the provider's form is shown
    response = learner_client.get(f"/training/registration/{registration.token}/done/")
    html = response.content.decode()
    assert "Your payment is being processed" in html
    assert f'href="/training/registration/{registration.token}/done/">Check again' in html


def test_the_confirmation_page_of_an_expired_hold_invites_to_register_again(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    type(registration).objects.update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    step = learner_client.get(f"/training/registration/{registration.token}/pay/")
    assert step["Location"] == f"/training/registration/{registration.token}/done/"
    assert "Your seat hold has expired" in learner_client.get(step["Location"]).content.decode()


def test_the_manage_page_of_an_expired_hold_says_so_and_offers_no_cancellation(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    type(registration).objects.update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    html = learner_client.get(manage_url(registration)).content.decode()
    assert "Pending payment" not in html
    assert "Status: Seat hold expired" in html
    assert "Cancel my registration" not in html
    assert "Complete your payment" not in html
    assert f'href="{paid_session.url}">Register again' in html
    # Posting the old cancellation form anyway changes nothing and says why.
    response = learner_client.post(manage_url(registration), {"confirm": "on"}, follow=True)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert "Your registration is cancelled." not in response.content.decode()
