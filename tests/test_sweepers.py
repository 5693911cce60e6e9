"""``manage.py run_sweepers``: every sweeper from one entry point, one line each, a failure stops no other."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.registration_helpers import register, registration_for
from wagtail_training_pay.models import OwedEmail, Payment, Registration, RegistrationStatus
from wagtail_training_pay.services import sweepers
from wagtail_training_pay.services.outbox import owe_email
from wagtail_training_pay.tasks import run_sweepers_task

pytestmark = pytest.mark.django_db


def run_command(*names):
    """``(exit code, stdout lines, stderr lines)`` of ``manage.py run_sweepers``."""
    out, err = StringIO(), StringIO()
    try:
        call_command("run_sweepers", *names, stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue().splitlines(), err.getvalue().splitlines()


def expired_hold(client, page, email):
    register(client, page, email=email)
    registration = registration_for(email)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=an_hour_ago)
    Payment.objects.filter(registration=registration).update(created=an_hour_ago - timedelta(hours=1))
    return registration


def owed_confirmation(page):
    """A confirmed registration whose confirmation email was owed but never sent (its task was lost)."""
    registration = Registration.objects.create(
        page=page, first_name="Grace", last_name="Hopper", email="grace@example.com", currency="EUR", status="confirmed"
    )
    owe_email("confirmation", registration, registration.email)  # no commit in this test: its task never runs
    return registration


def test_one_command_runs_every_sweeper_in_order_with_a_line_each(client, paid_session):
    expired = expired_hold(client, paid_session, "late@example.com")
    owed_confirmation(paid_session)

    code, out, err = run_command()

    assert code == 0 and err == []
    assert [line.split(":")[0] for line in out] == ["payments", "holds", "emails", "reminders", "retention"]
    assert all(": done in " in line for line in out), out
    expired.refresh_from_db()
    assert expired.status == RegistrationStatus.EXPIRED
    assert [message.to for message in mail.outbox] == [["grace@example.com"]]
    assert OwedEmail.objects.get().state == "sent"
    assert "1 cancelled" in out[0] and "1 expired" in out[0] and "1 emails" in out[0]


def test_a_failing_sweeper_stops_no_other_and_the_exit_code_says_so(client, make_session, settings):
    settings.PAYMENT_VARIANTS = {
        **settings.PAYMENT_VARIANTS,
        "crashing": ("tests.testapp.providers.StatusCheckCrashesProvider", {}),
    }
    crashing = expired_hold(client, make_session(), "crash@example.com")
    Payment.objects.filter(registration=crashing).update(variant="crashing")
    other = expired_hold(client, make_session(), "late@example.com")
    Registration.objects.filter(pk=other.pk).update(hold_expires_at=timezone.now() - timedelta(minutes=1))
    owed_confirmation(other.page)

    code, out, err = run_command()

    assert code == 1
    assert err[0].startswith("payments: failed in ") and "RuntimeError: the gateway library crashed" in err[0]
    assert err[-1] == "1 sweeper(s) failed: payments."
    assert [line.split(":")[0] for line in out] == ["holds", "emails", "reminders", "retention"]
    # The payments sweep went on past the crashing payment: the other stale payment was asked about and
    # cancelled, and both expired holds released, before the sweep reported its failure.
    assert Payment.objects.get(registration=other).status == "cancelled"
    assert Payment.objects.get(registration=crashing).status == "waiting"
    assert {r.status for r in Registration.objects.filter(pk__in=[crashing.pk, other.pk])} == {"expired"}
    assert out[0].startswith("holds: done in ")
    # The owed email went out once (the payments sweep sends what is owed before reporting its failure).
    assert out[1].startswith("emails: done in ")
    assert [message.to for message in mail.outbox] == [["grace@example.com"]]


def test_only_the_named_sweepers_run_and_an_unknown_name_is_refused():
    code, out, err = run_command("emails", "holds")
    assert code == 0 and [line.split(":")[0] for line in out] == ["holds", "emails"]
    with pytest.raises(CommandError, match="Unknown sweeper.*paymnets.*Known: payments, holds"):
        call_command("run_sweepers", "paymnets", stdout=StringIO())


def test_the_periodic_task_runs_the_same_sweepers(paid_session):
    owed_confirmation(paid_session)
    result = run_sweepers_task.enqueue()
    assert result.return_value == dict.fromkeys(sweepers.SWEEPERS, "done")
    assert len(mail.outbox) == 1


def test_each_sweeper_has_its_own_lock_key():
    keys = {sweepers.lock_key(name) for name in sweepers.SWEEPERS}
    assert len(keys) == len(sweepers.SWEEPERS)
    assert all(-(2**31) <= key < 2**31 for key in keys)


def test_an_email_whose_builder_fails_stays_owed_and_stops_no_other_email(paid_session, monkeypatch):
    from wagtail_training_pay.services import outbox

    def broken(owed_email):
        raise KeyError("a template variable the builder did not expect")

    monkeypatch.setitem(outbox._builders, "broken_for_test", broken)
    first = Registration.objects.create(
        page=paid_session, first_name="Ada", last_name="Lovelace", email="ada@example.com", currency="EUR"
    )
    owe_email("broken_for_test", first, first.email)  # owed first: the sweep meets it first
    owed_confirmation(paid_session)

    code, out, err = run_command("emails")

    assert code == 0 and out[0].endswith("1 owed email(s) sent"), (out, err)
    assert [message.to for message in mail.outbox] == [["grace@example.com"]]
    broken_row = OwedEmail.objects.get(kind="broken_for_test")
    assert (broken_row.state, broken_row.attempts) == ("owed", 1)
    assert broken_row.last_error.startswith("KeyError")
