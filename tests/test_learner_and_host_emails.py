"""The emails people expect beyond the confirmation: a refund by staff, the join link when the session opens,
a reminder before it, and the host's receipt for each pay-per-use charge. Each is sent once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from tests.pay_per_use_support import BILLING, pay_through_the_provider, reload
from wagtail_training_pay.models import Registration, RegistrationStatus, UsageCharge
from wagtail_training_pay.services import emails, pay_per_use
from wagtail_training_pay.services import registrations as service

pytestmark = pytest.mark.django_db


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run what a service queued for after its commit (the email tasks)."""

    def run(function, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return function(*args, **kwargs)

    return run


def test_a_refund_by_staff_tells_the_learner_in_their_language(confirmed, admin_user, commit):
    Registration.objects.filter(pk=confirmed.pk).update(language="fr")
    commit(service.refund_registration, reload_registration(confirmed), Decimal("10.00"), user=admin_user)
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject.startswith("Remboursement")
    assert "10,00\u00a0€" in message.body
    assert "/training/registration/" in message.body

    mail.outbox.clear()
    Registration.objects.filter(pk=confirmed.pk).update(language="en")
    commit(service.refund_registration, reload_registration(confirmed), user=admin_user)
    [message] = mail.outbox
    assert "We have refunded €35.00" in message.body
    assert "Refunded in all: €45.00" in message.body
    assert "your seat is released" in message.body


def test_a_cancellation_by_staff_tells_the_learner(confirmed, admin_user, commit):
    commit(service.cancel_registration, confirmed, user=admin_user)
    [message] = mail.outbox
    assert message.subject == f"Registration cancelled: {confirmed.page.title}"
    assert "We have refunded €45.00." in message.body


def learner_of(page, email, status=RegistrationStatus.CONFIRMED, **fields):
    """A learner's registration made directly (the registration flow has its own tests)."""
    return Registration.objects.create(
        page=page,
        status=status,
        first_name="Learner",
        last_name="L",
        email=email,
        amount=page.fee,
        currency=page.currency,
        confirmed_at=timezone.now() if status == RegistrationStatus.CONFIRMED else None,
        **fields,
    )


def reload_registration(registration):
    return Registration.objects.get(pk=registration.pk)


def test_opening_the_join_links_emails_each_confirmed_learner_once(confirmed, admin_user, commit):
    page = confirmed.page
    type(page).objects.filter(pk=page.pk).update(join_url="https://meet.example.com/room-42")
    pending = learner_of(
        page, "bo@example.com", RegistrationStatus.PENDING, hold_expires_at=timezone.now() + timedelta(minutes=10)
    )
    page = reload(page)
    page.started_at = timezone.now()
    type(page).objects.filter(pk=page.pk).update(started_at=page.started_at)
    commit(emails.send_join_links, page.pk)
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "https://meet.example.com/room-42" in message.body
    assert "https://meet.example.com/room-42" in message.alternatives[0][0]
    assert pending.email not in [address for sent in mail.outbox for address in sent.to]

    # Closed and opened again, or the task run twice: no second email.
    commit(pay_per_use.close_join_links, page)
    page = reload(page)
    type(page).objects.filter(pk=page.pk).update(started_at=timezone.now())
    assert commit(emails.send_join_links, page.pk) == 0
    assert commit(emails.send_join_links, page.pk) == 0
    assert len(mail.outbox) == 1


def test_start_session_sends_the_join_links_after_its_commit(draft_session_paid, commit):
    page, registration = draft_session_paid
    commit(pay_per_use.start_session, page, None)
    assert [message.to for message in mail.outbox] == [[registration.email]]


@pytest.fixture
def draft_session_paid(pay_per_use_on, make_session, admin_user):
    page = reload(make_session(join_url="https://meet.example.com/x", expected_participants=3))
    page.save_revision()
    pay_through_the_provider(reload(page), reload(page).get_latest_revision(), admin_user)
    page = reload(page)
    registration = learner_of(page, "cy@example.com")
    mail.outbox.clear()
    return page, registration


def test_a_reminder_goes_once_to_confirmed_learners_of_sessions_starting_within_a_day(make_session, settings):
    soon = make_session(title="Tomorrow", slug="tomorrow", start_at=timezone.now() + timedelta(hours=20))
    later = make_session(title="Next week", slug="next-week", start_at=timezone.now() + timedelta(days=7))
    for page, email in ((soon, "soon@example.com"), (later, "later@example.com")):
        learner_of(page, email)
    call_command("send_session_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115
    [message] = mail.outbox
    assert message.to == ["soon@example.com"]
    assert message.subject == "Reminder: Tomorrow"
    call_command("send_session_reminders", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert len(mail.outbox) == 1

    settings.WAGTAIL_TRAINING_PAY_REMINDER_HOURS = 24 * 8
    assert emails.send_due_reminders() == 1
    assert mail.outbox[-1].to == ["later@example.com"]


def test_the_host_gets_one_receipt_per_paid_charge(
    pay_per_use_on, make_session, admin_user, django_capture_on_commit_callbacks
):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    with django_capture_on_commit_callbacks(execute=True):
        pay_through_the_provider(reload(page), reload(page).get_latest_revision(), admin_user)
    charge = UsageCharge.objects.get(page=page)
    [message] = mail.outbox
    assert message.to == [BILLING["email"]]
    invoice = charge.invoices.get()
    assert message.subject == f"Receipt: pay-per-use for {page.title} (invoice {invoice.number})"
    assert f"Invoice number: {invoice.number}" in message.body
    assert "Amount paid: €27.00" in message.body
    assert "Grace Hopper, 1 Navy Yard, 75001 Paris, France" in message.body
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"invoice-{invoice.number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    # The notification replayed, the sweeper run: no second receipt, no second invoice.
    from wagtail_training_pay.payment_flow import settle_payment
    from wagtail_training_pay.services.outbox import send_owed_emails

    with django_capture_on_commit_callbacks(execute=True):
        settle_payment(charge.payments.get())
    assert send_owed_emails() == 0
    assert len(mail.outbox) == 1
    assert charge.invoices.count() == 1


def test_a_refund_the_gateway_refuses_tells_the_learner_nothing(confirmed, admin_user, commit, monkeypatch):
    """The notice follows the refund's record: sent once the gateway did it, never when it only was asked."""
    from payments.dummy import DummyProvider

    from wagtail_training_pay.models import MoneyMovement, MovementKind, MovementState
    from wagtail_training_pay.providers.base import GatewayRefused

    def refuse(self, payment, amount=None):
        raise GatewayRefused("Refund refused", code="105")

    monkeypatch.setattr(DummyProvider, "refund", refuse)
    with pytest.raises(service.RefundFailed):
        commit(service.refund_registration, reload_registration(confirmed), Decimal("10.00"), user=admin_user)
    refund = MoneyMovement.objects.get(payment__registration=confirmed, kind=MovementKind.REFUND)
    assert refund.state == MovementState.FAILED
    assert mail.outbox == []
