"""Refund, cancel, confirm by hand, resend and admit from the admin: confirmation first, money right, logged."""

from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse
from payments import PaymentStatus
from wagtail.models import ModelLogEntry

from wagtail_training_pay.models import Payment, RegistrationStatus

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]


def action_url(name, registration):
    return reverse(f"training_registrations:{name}", args=[registration.pk])


def log_entries(registration, verb):
    return ModelLogEntry.objects.filter(object_id=str(registration.pk), action=f"wagtail_training_pay.{verb}").order_by(
        "pk"
    )


@pytest.fixture
def paid(register, paid_session, recording_provider):
    return register(paid_session, first_name="Ada", last_name="Lovelace", variant="recording")


def test_the_refund_page_asks_first_and_moves_no_money(client, manager, paid, recording_provider):
    client.force_login(manager)
    response = client.get(action_url("refund", paid))
    assert response.status_code == 200
    assert "Up to €45.00 can be refunded." in response.content.decode()
    assert recording_provider.refunds == []
    assert Payment.objects.get(pk=paid.paid_by_id).refunded_amount == 0


def test_a_partial_refund_reaches_the_provider_and_leaves_the_amounts_right(client, manager, paid, recording_provider):
    client.force_login(manager)
    response = client.post(action_url("refund", paid), {"amount": "15.00"})
    assert response.status_code == 302
    payment = Payment.objects.get(pk=paid.paid_by_id)
    assert recording_provider.refunds == [(payment.pk, Decimal("15.00"))]
    assert payment.status == PaymentStatus.CONFIRMED
    assert payment.captured_amount == Decimal("30.00")
    assert payment.refunded_amount == Decimal("15.00")
    paid.refresh_from_db()
    assert paid.refunded_amount == Decimal("15.00")
    assert paid.status == RegistrationStatus.CONFIRMED
    (entry,) = log_entries(paid, "refund")
    assert entry.user == manager
    assert entry.data["amount"] == "15.00"

    # The rest, leaving the amount blank: everything left, and the seat is given up.
    client.post(action_url("refund", paid), {"amount": ""})
    payment.refresh_from_db()
    paid.refresh_from_db()
    assert recording_provider.refunds[-1] == (payment.pk, Decimal("30.00"))
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.REFUNDED,
        Decimal("0.00"),
        Decimal("45.00"),
    )
    assert (paid.status, paid.refunded_amount) == (RegistrationStatus.REFUNDED, Decimal("45.00"))
    assert [entry.data["amount"] for entry in log_entries(paid, "refund")] == ["15.00", "30.00"]


def test_the_detail_page_shows_the_refund_in_the_history(client, manager, paid):
    client.force_login(manager)
    client.post(action_url("refund", paid), {"amount": "15.00"})
    response = client.get(reverse("training_registrations:inspect", args=[paid.pk]))
    html = response.content.decode()
    assert "Registration refunded" in html
    assert "Amount: €15.00" in html
    assert "€30.00" in html  # captured after the refund


def test_a_refund_above_what_is_left_is_refused_and_nothing_moves(client, manager, paid, recording_provider):
    client.force_login(manager)
    response = client.post(action_url("refund", paid), {"amount": "45.01"})
    assert response.status_code == 200
    assert "At most €45.00 can be refunded." in response.content.decode()
    assert recording_provider.refunds == []
    assert not log_entries(paid, "refund").exists()


def test_a_refund_the_gateway_declines_shows_why_and_changes_nothing(
    client, manager, register, paid_session, refusing_provider
):
    registration = register(paid_session, variant="refusing")
    client.force_login(manager)
    response = client.post(action_url("refund", registration), {"amount": "10.00"})
    assert response.status_code == 200
    assert "The payment provider did not accept the refund" in response.content.decode()
    payment = Payment.objects.get(pk=registration.paid_by_id)
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.CONFIRMED,
        Decimal("45.00"),
        Decimal("0.00"),
    )
    registration.refresh_from_db()
    assert registration.refunded_amount == 0
    assert not log_entries(registration, "refund").exists()


def test_cancel_with_refund_gives_the_money_back_and_logs_who_did_it(
    client, manager, paid, recording_provider, django_capture_on_commit_callbacks
):
    client.force_login(manager)
    assert "Refund the learner" in client.get(action_url("cancel", paid)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action_url("cancel", paid), {"refund": "on"})
    assert response.status_code == 302
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (RegistrationStatus.CANCELLED, Decimal("45.00"))
    assert recording_provider.refunds == [(paid.paid_by_id, Decimal("45.00"))]
    (entry,) = log_entries(paid, "cancel")
    assert entry.user == manager
    assert [message.to for message in mail.outbox] == [[paid.email]]


def test_cancel_by_someone_who_may_not_refund_keeps_the_money(client, make_staff, paid, recording_provider):
    clerk = make_staff("registrations", "change")
    client.force_login(clerk)
    form = client.get(action_url("cancel", paid)).context["form"]
    assert "refund" not in form.fields
    client.post(action_url("cancel", paid), {"refund": "on"})
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == (RegistrationStatus.CANCELLED, Decimal("0"))
    assert recording_provider.refunds == []
    assert log_entries(paid, "cancel").get().user == clerk


def test_confirm_by_hand_needs_a_reason_confirms_and_sends_the_confirmation(
    client, manager, register, paid_session, django_capture_on_commit_callbacks
):
    pending = register(paid_session, pay=False)
    client.force_login(manager)
    response = client.post(action_url("confirm", pending), {"reason": ""})
    assert response.status_code == 200 and response.context["form"].errors["reason"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(action_url("confirm", pending), {"reason": "Bank transfer 2024-117"})
    pending.refresh_from_db()
    assert pending.status == RegistrationStatus.CONFIRMED
    assert pending.confirmation_sent_at is not None
    entry = log_entries(pending, "confirm").get()
    assert (entry.user, entry.data["reason"]) == (manager, "Bank transfer 2024-117")
    assert len(mail.outbox) == 1


def test_resend_sends_the_confirmation_again(client, manager, paid, django_capture_on_commit_callbacks):
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(action_url("resend", paid))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(action_url("resend", paid))
    assert [message.to for message in mail.outbox] == [[paid.email], [paid.email]]
    assert [entry.user for entry in log_entries(paid, "resend_confirmation")] == [manager, manager]


def test_admit_moves_a_waitlisted_learner_in_with_a_seat_held_for_payment(
    client, manager, register, make_session, training_settings, django_capture_on_commit_callbacks
):
    training_settings.waitlist_enabled = True
    training_settings.save()
    page = make_session(title="Tiny", slug="tiny", capacity=1)
    register(page)
    waiting = register(page, pay=False)
    assert waiting.status == RegistrationStatus.WAITLISTED
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(action_url("admit", waiting))
    assert response.status_code == 302
    waiting.refresh_from_db()
    assert waiting.status == RegistrationStatus.PENDING and waiting.hold_expires_at is not None
    assert waiting.payments.get().total == Decimal("45.00")
    assert log_entries(waiting, "admit").get().user == manager
    assert [message.to for message in mail.outbox] == [[waiting.email]]


@pytest.mark.parametrize(
    "action, status",
    [
        ("refund", RegistrationStatus.PENDING),
        ("resend", RegistrationStatus.PENDING),
        ("admit", RegistrationStatus.CONFIRMED),
        ("confirm", RegistrationStatus.CONFIRMED),
        ("cancel", RegistrationStatus.CANCELLED),
    ],
)
def test_an_action_that_does_not_apply_sends_back_with_a_message(
    client, manager, register, paid_session, action, status
):
    registration = register(paid_session, pay=status == RegistrationStatus.CONFIRMED)
    type(registration).objects.filter(pk=registration.pk).update(status=status)
    client.force_login(manager)
    response = client.post(action_url(action, registration), {"reason": "x"}, follow=True)
    assert "This action does not apply to this registration any more." in response.content.decode()
    assert not ModelLogEntry.objects.filter(action=f"wagtail_training_pay.{action}", user=manager).exists()
