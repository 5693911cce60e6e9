"""Concurrent host payments for one session, on PostgreSQL with real connections and row locks."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client
from payments import PaymentStatus
from wagtail.models import PageLogEntry

from wagtail_training_pay.models import Payment, UsageCharge, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import BILLING, reload

pytestmark = [pytest.mark.postgresql, pytest.mark.django_db(transaction=True)]


def run_together(*jobs):
    """Run the jobs in threads released at the same moment; return their exceptions."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def run(job):
        try:
            barrier.wait(timeout=10)
            job()
        except Exception as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.fixture
def unpaid_session(pay_per_use_on, make_session):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    return reload(page)


def test_two_hosts_paying_for_the_same_session_at_once_leave_one_paid_charge(
    unpaid_session, admin_user, django_user_model
):
    assert connection.vendor == "postgresql"
    other_host = django_user_model.objects.create_superuser("cohost", "cohost@example.com", "pw")
    revision = unpaid_session.get_latest_revision()
    payments = [
        pay_per_use.create_usage_payment(
            unpaid_session, revision, host, action="publish", billing=BILLING, variant="dummy"
        )
        for host in (admin_user, other_host)
    ]

    def confirm(payment):
        return lambda: Payment.objects.get(pk=payment.pk).change_status(PaymentStatus.CONFIRMED)

    errors = run_together(*[confirm(payment) for payment in payments])

    assert errors == []
    page = reload(unpaid_session)
    assert page.live
    charges = UsageCharge.objects.filter(page=page)
    assert charges.filter(status=UsageChargeStatus.PAID).count() == 1
    assert charges.filter(status=UsageChargeStatus.CANCELLED).count() == 1
    surplus = Payment.objects.get(usage_charge__status=UsageChargeStatus.CANCELLED)
    assert surplus.status == PaymentStatus.REFUNDED
    assert PageLogEntry.objects.filter(page=page, action=pay_per_use.PAID_ACTION).count() == 1
    assert PageLogEntry.objects.filter(page=page, action=pay_per_use.REFUNDED_ACTION).count() == 1
    assert PageLogEntry.objects.filter(page=page, action="wagtail.publish").count() == 1


def test_a_browser_return_and_a_provider_callback_racing_settle_once(unpaid_session, admin_user):
    revision = unpaid_session.get_latest_revision()
    payment = pay_per_use.create_usage_payment(
        unpaid_session, revision, admin_user, action="publish", billing=BILLING, variant="dummy"
    )
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CONFIRMED)

    def browser_return():
        assert Client().get(f"/training/payment/{payment.token}/return/").status_code == 302

    def provider_callback():
        assert Client().get(f"/training/payment/{payment.token}/process/").status_code == 302

    errors = run_together(browser_return, provider_callback, browser_return)

    assert errors == []
    page = reload(unpaid_session)
    assert page.live
    assert UsageCharge.objects.get(page=page).status == UsageChargeStatus.PAID
    assert PageLogEntry.objects.filter(page=page, action=pay_per_use.PAID_ACTION).count() == 1
    assert PageLogEntry.objects.filter(page=page, action="wagtail.publish").count() == 1
