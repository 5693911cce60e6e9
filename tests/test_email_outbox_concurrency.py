"""The outbox on PostgreSQL, each thread on its own connection: a mail server that hangs holds up no payment
notification, two senders at once send each email once, and invoice numbers never repeat nor skip."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.email_backends import StalledBackend
from tests.pay_per_use_support import pay_through_the_provider, reload
from tests.registration_helpers import learner
from wagtail_training_pay.models import Invoice, InvoiceSequence, OwedEmail, Registration, RegistrationStatus
from wagtail_training_pay.services import emails, outbox, pay_per_use

from .test_registration_concurrency import run_together

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]

#: how long a payment notification may take while the mail server hangs (it takes well under a second)
NOTIFICATION_WAIT_SECONDS = 15


def in_thread(function, *args):
    errors = []

    def run():
        try:
            function(*args)
        except BaseException as exc:  # reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.errors = errors
    thread.start()
    return thread


@pytest.fixture
def stalled_mail_server(settings):
    StalledBackend.reset()
    settings.EMAIL_BACKEND = "tests.email_backends.StalledBackend"
    yield StalledBackend
    StalledBackend.release.set()


def notify(payment):
    """The provider's callback for ``payment``, replayed (django-payments' dummy provider's wire format)."""
    return Client().get(f"/training/payment/{payment.token}/process/?verification_result=confirmed").status_code


def notification_finishes_while_mail_hangs(payment, stalled_mail_server):
    """Whether a payment notification completes while the mail server holds a message; then lets it answer."""
    statuses = []
    notification = in_thread(lambda: statuses.append(notify(payment)))
    notification.join(timeout=NOTIFICATION_WAIT_SECONDS)
    finished = not notification.is_alive()
    stalled_mail_server.release.set()
    notification.join(timeout=60)
    assert notification.errors == []
    assert statuses == [302]
    return finished


def confirmed_learner(page):
    Client().post(page.url, learner())
    registration = Registration.objects.get()
    payment = registration.payments.get()
    Client().get(f"/training/payment/{payment.token}/process/?verification_result=confirmed")
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    mail.outbox.clear()
    return registration, payment


def test_a_payment_notification_completes_while_the_join_link_of_its_registration_is_stuck_at_the_mail_server(
    make_session, stalled_mail_server
):
    page = make_session(join_url="https://meet.example.com/room-9")
    registration, payment = confirmed_learner(page)
    type(page).objects.filter(pk=page.pk).update(started_at=timezone.now())

    sender = in_thread(emails.send_join_links, page.pk)
    assert stalled_mail_server.entered.wait(timeout=30), "the join link reached the mail server"
    assert notification_finishes_while_mail_hangs(payment, stalled_mail_server), (
        "the notification waited for the mail server"
    )
    sender.join(timeout=60)
    assert sender.errors == []
    assert [message.to for message in mail.outbox] == [[registration.email]]


def test_a_host_payment_notification_completes_while_its_receipt_is_stuck_at_the_mail_server(
    pay_per_use_on, make_session, admin_user, stalled_mail_server
):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    payments = []

    def pay():
        payments.append(pay_through_the_provider(reload(page), reload(page).get_latest_revision(), admin_user))

    payer = in_thread(pay)  # settles, commits, then sends the receipt after the commit
    assert stalled_mail_server.entered.wait(timeout=30), "the receipt reached the mail server"
    [payment] = payments or [page.usage_charges.get().payments.get()]
    assert notification_finishes_while_mail_hangs(payment, stalled_mail_server), (
        "the notification waited for the mail server"
    )
    payer.join(timeout=60)
    assert payer.errors == []
    assert len(mail.outbox) == 1
    assert page.usage_charges.get().invoices.count() == 1


def test_two_senders_at_once_send_each_owed_email_once(make_session, settings):
    settings.EMAIL_BACKEND = "tests.email_backends.SlowBackend"
    settings.WAGTAIL_TRAINING_PAY_REMINDER_HOURS = 24 * 8
    page = make_session(join_url="https://meet.example.com/room-1", start_at=timezone.now() + timedelta(days=2))
    learners = [
        Registration.objects.create(
            page=page,
            status=RegistrationStatus.CONFIRMED,
            first_name="L",
            last_name=str(index),
            email=f"learner{index}@example.com",
            amount=page.fee,
            currency=page.currency,
        )
        for index in range(4)
    ]
    outbox.owe_emails("reminder", [(r, r.email) for r in learners], send_after_commit=False)
    type(page).objects.filter(pk=page.pk).update(started_at=timezone.now())
    emails.owe_join_links(reload(page), send_after_commit=False)
    assert OwedEmail.objects.filter(state="owed").count() == 8

    sent = run_together(2, lambda index: outbox.send_owed_emails())

    # The reminders are no longer due (the session started): dropped; each join link went out once.
    assert sum(sent) == 4
    assert sorted(message.to[0] for message in mail.outbox) == sorted(r.email for r in learners)
    assert set(OwedEmail.objects.filter(kind="session_started").values_list("state", flat=True)) == {"sent"}
    assert set(OwedEmail.objects.filter(kind="reminder").values_list("state", flat=True)) == {"dropped"}


def test_six_hosts_paying_at_once_get_invoice_numbers_one_to_six(pay_per_use_on, make_session, django_user_model):
    pages, payments = [], []
    for index in range(6):
        host = django_user_model.objects.create_superuser(f"host{index}", f"host{index}@example.com", "password")
        page = reload(make_session(title=f"Session {index}", slug=f"session-{index}", expected_participants=3))
        page.save_revision()
        revision = reload(page).get_latest_revision()
        action = pay_per_use.go_live_action(pay_per_use.content_of(page, revision))
        payments.append(
            pay_per_use.create_usage_payment(
                page, revision, host, action=action, billing={"email": f"host{index}@example.com"}, variant="dummy"
            )
        )
        pages.append(page)

    statuses = run_together(6, lambda index: notify(payments[index]))

    assert statuses == [302] * 6
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [1, 2, 3, 4, 5, 6]
    assert InvoiceSequence.objects.get().last_number == 6
    assert len(mail.outbox) == 6
