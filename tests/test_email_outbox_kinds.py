"""The refund notice, the join link, the reminder and the host's receipt go through the outbox: owed with the
event that owes them, sent after the commit, sent by the sweeper after an SMTP outage or a worker killed before
sending, once per recipient and event, never to a cancelled or erased registration."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from tests.email_backends import closed_smtp_port
from tests.pay_per_use_support import BILLING, pay_through_the_provider, reload
from tests.test_learner_and_host_emails import learner_of
from wagtail_training_pay.models import OwedEmail, OwedEmailState, Registration, RegistrationStatus
from wagtail_training_pay.services import emails, pay_per_use, seats
from wagtail_training_pay.services import registrations as service
from wagtail_training_pay.services.data_protection import anonymize_registration
from wagtail_training_pay.services.outbox import send_owed_emails

pytestmark = pytest.mark.django_db

LOCMEM = "django.core.mail.backends.locmem.EmailBackend"


class MailServer:
    """``down()``: Django's real SMTP backend, pointed at a loopback port where nothing listens (connection
    refused); ``up()``: the test outbox again."""

    def __init__(self, settings):
        self.settings = settings

    def down(self):
        self.settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        self.settings.EMAIL_HOST = "127.0.0.1"
        self.settings.EMAIL_PORT = closed_smtp_port()
        self.settings.EMAIL_TIMEOUT = 5

    def up(self):
        self.settings.EMAIL_BACKEND = LOCMEM


@pytest.fixture
def mail_server(settings):
    return MailServer(settings)


def start_with_join_link(page):
    type(page).objects.filter(pk=page.pk).update(join_url="https://meet.example.com/room-7")
    pay_per_use.start_session(reload(page))


# Each event that owes one of the four emails, and who is owed it.
def refund_by_staff(request):
    confirmed = request.getfixturevalue("confirmed")
    admin_user = request.getfixturevalue("admin_user")
    service.refund_registration(Registration.objects.get(pk=confirmed.pk), Decimal("10.00"), user=admin_user)
    return "refunded", confirmed.email


def session_started(request):
    confirmed = request.getfixturevalue("confirmed")
    start_with_join_link(confirmed.page)
    return "session_started", confirmed.email


def reminder_due(request):
    confirmed = request.getfixturevalue("confirmed")
    request.getfixturevalue("settings").WAGTAIL_TRAINING_PAY_REMINDER_HOURS = 24 * 8
    emails.send_due_reminders()
    return "reminder", confirmed.email


def host_paid(request):
    request.getfixturevalue("pay_per_use_on")
    page = reload(request.getfixturevalue("make_session")(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    pay_through_the_provider(reload(page), reload(page).get_latest_revision(), request.getfixturevalue("admin_user"))
    return "host_receipt", BILLING["email"]


EVENTS = [refund_by_staff, session_started, reminder_due, host_paid]


@pytest.mark.parametrize("event", EVENTS, ids=lambda event: event.__name__)
def test_an_email_owed_while_smtp_is_down_is_sent_once_by_the_sweeper(
    event, request, mail_server, django_capture_on_commit_callbacks, sweep
):
    if event is not host_paid:
        request.getfixturevalue("confirmed")  # confirmed (and its confirmation sent) before the outage
    mail_server.down()
    with django_capture_on_commit_callbacks(execute=True):
        kind, recipient = event(request)
    owed = OwedEmail.objects.get(kind=kind)
    assert (owed.state, owed.recipient, owed.attempts) == (OwedEmailState.OWED, recipient, 1)
    assert "ConnectionRefusedError" in owed.last_error
    assert mail.outbox == []

    assert send_owed_emails() == 0  # still down: kept owed, tried again
    assert OwedEmail.objects.get(kind=kind).attempts == 2

    mail_server.up()
    sweep()
    assert [message.to for message in mail.outbox] == [[recipient]]
    sweep()
    assert send_owed_emails() == 0
    assert len(mail.outbox) == 1
    assert OwedEmail.objects.get(kind=kind).state == OwedEmailState.SENT


@pytest.mark.parametrize("event", [refund_by_staff, session_started, host_paid], ids=lambda event: event.__name__)
def test_a_worker_killed_between_owing_and_sending_leaves_the_email_to_the_sweeper(
    event, request, django_capture_on_commit_callbacks, sweep
):
    """The event committed (with the email owed), then the worker died before its after-commit work ran."""
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        kind, recipient = event(request)
    assert after_commit, "the event queued its after-commit work"
    if kind == "refunded":
        # The refund itself is sent after the commit: let it go through, then lose the email's task.
        with django_capture_on_commit_callbacks(execute=False):
            after_commit[0]()
    assert OwedEmail.objects.filter(kind=kind, state=OwedEmailState.OWED).count() == 1
    assert [message for message in mail.outbox if message.to == [recipient]] == []
    sweep()
    assert [message.to for message in mail.outbox] == [[recipient]]
    sweep()
    assert len(mail.outbox) == 1


def test_the_join_link_and_the_reminder_skip_cancelled_and_erased_learners(
    confirmed, settings, django_capture_on_commit_callbacks
):
    page = confirmed.page
    learner_of(page, "cancelled@example.com", RegistrationStatus.CANCELLED)
    erased = learner_of(page, "erased@example.com")
    anonymize_registration(erased)
    settings.WAGTAIL_TRAINING_PAY_REMINDER_HOURS = 24 * 8
    assert emails.send_due_reminders() == 1
    with django_capture_on_commit_callbacks(execute=True):
        start_with_join_link(page)
    assert [(message.to, message.subject.split(":")[0]) for message in mail.outbox] == [
        ([confirmed.email], "Reminder"),
        ([confirmed.email], mail.outbox[1].subject.split(":")[0]),
    ]
    assert "https://meet.example.com/room-7" in mail.outbox[1].body
    assert emails.send_due_reminders() == 0
    assert OwedEmail.objects.exclude(kind="confirmation").count() == 2


def test_a_learner_erased_or_cancelled_after_the_email_was_owed_gets_nothing(
    confirmed, django_capture_on_commit_callbacks, sweep
):
    page = confirmed.page
    other = learner_of(page, "other@example.com")
    with django_capture_on_commit_callbacks(execute=False):
        start_with_join_link(page)
    assert OwedEmail.objects.filter(kind="session_started").count() == 2
    anonymize_registration(Registration.objects.get(pk=confirmed.pk))
    seats.set_status(Registration.objects.get(pk=other.pk), RegistrationStatus.CANCELLED)
    sweep()
    assert mail.outbox == []
    assert set(OwedEmail.objects.filter(kind="session_started").values_list("state", flat=True)) == {
        OwedEmailState.DROPPED
    }


def test_a_join_link_dropped_while_the_links_were_closed_is_sent_when_they_open_again(
    confirmed, django_capture_on_commit_callbacks, sweep
):
    page = confirmed.page
    with django_capture_on_commit_callbacks(execute=False):
        start_with_join_link(page)  # owed; the worker is slow...
    pay_per_use.close_join_links(reload(page))  # ...and the host closes the links before it runs
    sweep()
    assert mail.outbox == []
    assert OwedEmail.objects.get(kind="session_started").state == OwedEmailState.DROPPED
    with django_capture_on_commit_callbacks(execute=True):
        pay_per_use.start_session(reload(page))
    assert [message.to for message in mail.outbox] == [[confirmed.email]]
    with django_capture_on_commit_callbacks(execute=True):
        pay_per_use.close_join_links(reload(page))
        pay_per_use.start_session(reload(page))
    assert len(mail.outbox) == 1


def test_each_refund_by_staff_is_told_once(confirmed, admin_user, django_capture_on_commit_callbacks, sweep):
    from wagtail_training_pay.models import MoneyMovement, MovementKind

    for amount in ("10.00", "5.00"):
        with django_capture_on_commit_callbacks(execute=True):
            service.refund_registration(Registration.objects.get(pk=confirmed.pk), Decimal(amount), user=admin_user)
    assert ["€10.00" in m.body for m in mail.outbox] == [True, False]
    assert "We have refunded €5.00" in mail.outbox[1].body
    # The done hook replayed (a duplicate event): nothing more is owed.
    for movement in MoneyMovement.objects.filter(kind=MovementKind.REFUND):
        emails.owe_refund_notice(Registration.objects.get(pk=confirmed.pk), movement)
    sweep()
    assert len(mail.outbox) == 2


def test_a_refund_notice_owed_to_a_learner_erased_before_it_went_out_is_dropped(
    confirmed, admin_user, django_capture_on_commit_callbacks, sweep
):
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        service.refund_registration(Registration.objects.get(pk=confirmed.pk), Decimal("10.00"), user=admin_user)
    with django_capture_on_commit_callbacks(execute=False):
        after_commit[0]()  # the refund is done; its notice owed, not sent yet
    owed = OwedEmail.objects.get(kind="refunded")
    assert owed.recipient == confirmed.email
    seats.set_status(Registration.objects.get(pk=confirmed.pk), RegistrationStatus.CANCELLED)
    anonymize_registration(Registration.objects.get(pk=confirmed.pk))
    owed.refresh_from_db()
    assert owed.recipient == ""
    sweep()
    assert mail.outbox == []
    owed.refresh_from_db()
    assert owed.state == OwedEmailState.DROPPED


def test_reminders_are_not_owed_for_sessions_outside_the_window_or_started(make_session):
    soon = make_session(title="Soon", slug="soon", start_at=timezone.now() + timedelta(hours=3))
    started = make_session(title="Started", slug="started", start_at=timezone.now() + timedelta(hours=2))
    type(started).objects.filter(pk=started.pk).update(started_at=timezone.now())
    later = make_session(title="Later", slug="later", start_at=timezone.now() + timedelta(days=3))
    for page in (soon, started, later):
        learner_of(page, f"{page.slug}@example.com")
    assert emails.send_due_reminders() == 1
    assert [message.to for message in mail.outbox] == [["soon@example.com"]]


def test_a_refund_notice_queued_by_an_earlier_version_tells_each_untold_refund_once(
    confirmed, admin_user, django_capture_on_commit_callbacks
):
    """``send_refund_notice_task(registration_id, amount)`` of the versions before the outbox: two refunds by
    staff of the same amount made before the upgrade (no owed email recorded for them), two old tasks queued, each
    run twice: each refund is told once, the newest first, and a third run finds nothing left to tell."""
    from wagtail_training_pay.models import MoneyMovement, MovementKind

    for _refund in range(2):
        with django_capture_on_commit_callbacks(execute=False):
            service.refund_registration(Registration.objects.get(pk=confirmed.pk), Decimal("10.00"), user=admin_user)
    OwedEmail.objects.filter(kind="refunded").delete()  # what an earlier version left: no outbox row
    refunds = list(MoneyMovement.objects.filter(kind=MovementKind.REFUND).order_by("-pk").values_list("pk", flat=True))
    assert len(refunds) == 2

    sent = [emails.send_for_earlier_refund_notice_task(confirmed.pk, "10.00") for _run in range(3)]
    assert sent[2] is False
    assert len(mail.outbox) == 2 and all("We have refunded €10.00" in m.body for m in mail.outbox)
    assert [[confirmed.email]] * 2 == [m.to for m in mail.outbox]
    told = OwedEmail.objects.filter(kind="refunded").order_by("pk").values_list("object_id", flat=True)
    assert list(told) == [str(pk) for pk in refunds]
    assert emails.send_for_earlier_refund_notice_task(confirmed.pk, "5.00") is False  # no refund of that amount
