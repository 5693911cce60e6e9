"""Issue 14: a host's payment the gateway took after the site gave it up, or after another payment paid the
session, is refunded once, logged on the session, and the host is told; through the real admin flow and the
real providers against the simulators."""

from datetime import timedelta

import pytest
from django.utils import timezone
from payments import PaymentStatus
from wagtail.models import PageLogEntry

from tests.money_invariant import express_holdings, payflow_holdings
from tests.registration_helpers import card_data, commit_after_each_request, messages_of
from tests.simulators.payer import approve_at_paypal, site_path
from wagtail_training_pay.models import HostPaymentMethod, Payment, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use
from wagtail_training_pay.services.stale_payments import check_stale_payments

from .pay_per_use_support import BILLING, reload

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]

#: When the sweeper runs: every unfinished payment is stale (60 minutes), within a day of the given-up ones.
LATER = timedelta(minutes=90)


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    for order, variant in enumerate(("payflow-direct", "express")):
        HostPaymentMethod.objects.create(settings=pay_per_use_on, variant=variant, label=variant, sort_order=order)
    return reload(page)


@pytest.fixture
def host(client, admin_user, django_capture_on_commit_callbacks):
    client = commit_after_each_request(client, django_capture_on_commit_callbacks)
    client.force_login(admin_user)
    return client


def start_paying(client, page, variant):
    """The billing step of the cost page: the host's payment step URL."""
    page = reload(page)
    url = f"/admin/training/pay-per-use/{page.pk}/billing/?revision={page.latest_revision_id}&action=publish"
    response = client.post(url, {**BILLING, "variant": variant})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def card_fails_after_a_lost_sale(client, page, payflow_simulator):
    """The host's card sale goes through at the gateway but every answer is lost; the host retypes another card:
    RESULT 133, the payment is marked ``error`` and its charge failed. Returns the payment."""
    payment_url = start_paying(client, page, "payflow-direct")
    payflow_simulator.faults.inject("timeout", "timeout", "timeout")
    client.post(payment_url, card_data())
    client.post(payment_url, card_data(number="5555555555554444"))
    payment = Payment.objects.get(variant="payflow-direct")
    assert (payment.status, payment.usage_charge.status) == (PaymentStatus.ERROR, UsageChargeStatus.FAILED)
    assert len(payflow_simulator.charges()) == 1  # the gateway holds the first sale
    return payment


def pays_with_paypal(client, page):
    at_paypal = client.get(start_paying(client, page, "express"))["Location"]
    client.get(site_path(approve_at_paypal(at_paypal)))
    payment = Payment.objects.get(variant="express")
    assert (payment.status, payment.usage_charge.status) == (PaymentStatus.CONFIRMED, UsageChargeStatus.PAID)
    return payment


def late_refund_log(page):
    return [
        entry.data
        for entry in PageLogEntry.objects.filter(page=page, action=pay_per_use.REFUNDED_ACTION).order_by("pk")
        if entry.data.get("late")
    ]


def test_a_host_card_payment_marked_error_after_a_timeout_and_found_paid_late_is_refunded_once(
    draft_session, host, payflow_simulator, nvp_simulator, django_capture_on_commit_callbacks
):
    failed = card_fails_after_a_lost_sale(host, draft_session, payflow_simulator)
    assert not Payment.objects.get(pk=failed.pk).needs_attention  # a failed attempt, not money in another amount
    pays_with_paypal(host, draft_session)  # the session is paid for and live
    assert reload(draft_session).live

    with django_capture_on_commit_callbacks(execute=True):
        counts = check_stale_payments(now=timezone.now() + LATER)

    failed.refresh_from_db()
    assert counts["checked"] == 1
    assert (failed.status, failed.captured_amount, failed.refunded_amount) == (
        PaymentStatus.REFUNDED,
        0,
        failed.total,
    )
    assert not failed.needs_attention
    assert list(failed.movements.values_list("kind", "state")) == [("sale", "done"), ("refund", "done")]
    assert sum(payflow_holdings(payflow_simulator).values()) == 0
    assert sum(express_holdings(nvp_simulator).values()) == failed.total  # the payment that paid is kept
    assert late_refund_log(draft_session) == [
        {
            "charge": failed.usage_charge_id,
            "payment": failed.pk,
            "amount": str(failed.total),
            "currency": "EUR",
            "refunded": True,
            "late": True,
        }
    ]
    told = host.get(f"/admin/training/pay-per-use/payment/{failed.token}/result/", follow=True)
    assert "This payment reached us when it was no longer needed; it is refunded." in messages_of(told)
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(failed.usage_charge.payer)
    profile.preferred_language = "fr"
    profile.save()
    in_french = host.get(f"/admin/training/pay-per-use/payment/{failed.token}/result/", follow=True)
    assert "Ce paiement nous est parvenu alors qu’il n’était plus nécessaire ; il est remboursé." in messages_of(
        in_french
    )

    with django_capture_on_commit_callbacks(execute=True):
        again = check_stale_payments(now=timezone.now() + LATER + timedelta(minutes=5))
    assert (again["checked"], again["host_refunded"]) == (0, 0)
    assert len([entry for entry in payflow_simulator.entries("C") if not entry["duplicate"]]) == 1


def test_a_host_paypal_payment_whose_answer_was_lost_and_paid_by_card_meanwhile_is_refunded_once(
    draft_session, host, payflow_simulator, nvp_simulator, django_capture_on_commit_callbacks
):
    """PayPal took the money but DoExpressCheckoutPayment's answers were lost; the host paid by card instead."""
    at_paypal = host.get(start_paying(host, draft_session, "express"))["Location"]
    back = approve_at_paypal(at_paypal)
    nvp_simulator.faults.inject("pass", "timeout", "timeout", "timeout")  # the details answer; the payment's do not
    host.get(site_path(back))
    lost = Payment.objects.get(variant="express")
    assert lost.status in (PaymentStatus.WAITING, PaymentStatus.INPUT)
    assert sum(express_holdings(nvp_simulator).values()) == lost.total
    host.post(start_paying(host, draft_session, "payflow-direct"), card_data())
    paid = Payment.objects.get(variant="payflow-direct")
    assert (paid.status, paid.usage_charge.status) == (PaymentStatus.CONFIRMED, UsageChargeStatus.PAID)

    with django_capture_on_commit_callbacks(execute=True):
        check_stale_payments(now=timezone.now() + LATER)
    with django_capture_on_commit_callbacks(execute=True):
        check_stale_payments(now=timezone.now() + LATER + timedelta(minutes=5))

    lost.refresh_from_db()
    assert (lost.status, lost.refunded_amount) == (PaymentStatus.REFUNDED, lost.total)
    assert sum(express_holdings(nvp_simulator).values()) == 0
    assert sum(payflow_holdings(payflow_simulator).values()) == paid.total
    assert [m.reason for m in lost.movements.filter(kind="refund")] == [pay_per_use.NOT_NEEDED_REASON]


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_refund_a_late_host_payment_once_even_when_the_refunds_answer_is_lost(
    draft_session, client, admin_user, payflow_simulator, nvp_simulator
):
    """Two sweepers find the late card payment together; the credit's answers are lost (the gateway did refund).
    The next two sweepers together resend it with its key: recorded once, refunded once."""
    from .test_stale_payments_concurrency import sweep_twice_at_once

    client.force_login(admin_user)
    failed = card_fails_after_a_lost_sale(client, draft_session, payflow_simulator)
    pays_with_paypal(client, draft_session)
    # The inquiries (one per card attempt) answer; the credit reaches the gateway but its three answers are lost.
    payflow_simulator.faults.inject("pass", "pass", "timeout", "timeout", "timeout")

    first = sweep_twice_at_once(now=timezone.now() + LATER)

    assert sum(result["checked"] for result in first) == 1
    (refund,) = Payment.objects.get(pk=failed.pk).movements.filter(kind="refund")
    assert refund.state == "unknown"
    assert sum(payflow_holdings(payflow_simulator).values()) == 0  # the gateway did refund

    second = sweep_twice_at_once(now=timezone.now() + LATER + timedelta(minutes=5))

    assert sum(result["movements_done"] for result in second) == 1
    refund.refresh_from_db()
    failed.refresh_from_db()
    assert refund.state == "done"
    assert (failed.status, failed.refunded_amount) == (PaymentStatus.REFUNDED, failed.total)
    assert len([entry for entry in payflow_simulator.entries("C") if not entry["duplicate"]]) == 1
    assert payflow_simulator.request_ids.count(refund.idempotency_key) == 4  # 3 lost tries + the resend
    assert len(late_refund_log(draft_session)) == 1


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("crash_point", ["before_gateway", "after_gateway"])
def test_a_sweeper_killed_with_sigkill_around_the_late_refund_leaves_it_to_the_next_sweep_once(
    draft_session, client, admin_user, payflow_simulator, nvp_simulator, gateway_variants, crash_point
):
    """kill -9 of the sweeper's process after the refund's record was committed, before the gateway was asked or
    after it refunded: the movement stays "sent"; the next sweep sends it again with its key, refunded once."""
    import json
    import os
    import signal
    import subprocess
    import sys

    from django.db import connection

    client.force_login(admin_user)
    failed = card_fails_after_a_lost_sale(client, draft_session, payflow_simulator)
    pays_with_paypal(client, draft_session)
    settings_dict = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
        f"{settings_dict['NAME']}",
        "WTP_PAYMENT_VARIANTS": json.dumps(gateway_variants),
    }
    killed = subprocess.run(
        [sys.executable, "-m", "tests.killed_sweeper", crash_point, str(int(LATER.total_seconds() // 60))],
        env=env,
        capture_output=True,
        timeout=120,
    )

    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    (refund,) = Payment.objects.get(pk=failed.pk).movements.filter(kind="refund")
    assert refund.state == "sent"  # committed before the gateway was asked
    credits = [entry for entry in payflow_simulator.entries("C") if not entry["duplicate"]]
    assert len(credits) == (1 if crash_point == "after_gateway" else 0)

    counts = check_stale_payments(now=timezone.now() + LATER + timedelta(minutes=5))

    assert counts["movements_done"] == 1
    refund.refresh_from_db()
    failed.refresh_from_db()
    assert refund.state == "done"
    assert (failed.status, failed.refunded_amount) == (PaymentStatus.REFUNDED, failed.total)
    assert len([entry for entry in payflow_simulator.entries("C") if not entry["duplicate"]]) == 1
    assert len(late_refund_log(draft_session)) == 1


def test_a_second_payment_of_a_charge_already_paid_is_refunded_once_and_the_paying_one_kept(
    draft_session, host, payflow_simulator, nvp_simulator, django_capture_on_commit_callbacks
):
    """No screen of the plugin makes two payments for one charge; code may (a project's own payment step): the
    one that reaches the gateway after the charge was paid by the other pays for nothing."""
    from payments.core import provider_factory

    from wagtail_training_pay.payment_flow import settle_payment

    paid = pays_with_paypal(host, draft_session)
    second = Payment.objects.create(
        variant="payflow-direct", usage_charge=paid.usage_charge, total=paid.total, currency=paid.currency
    )
    card = {"ACCT": "4111111111111111", "EXPDATE": f"12{(timezone.now().year + 2) % 100:02d}", "CVV2": "123"}
    with django_capture_on_commit_callbacks() as refund_to_send:
        provider_factory("payflow-direct", second).charge_card(second, card)
    assert second.movements.get(kind="refund").state == "created"  # recorded, sent once committed
    # Meanwhile a replayed notification of the paying payment: it still paid first, it keeps its money.
    with django_capture_on_commit_callbacks(execute=True):
        settle_payment(Payment.objects.get(pk=paid.pk))
    assert not paid.movements.filter(kind="refund").exists()
    with django_capture_on_commit_callbacks(execute=True):
        for send in refund_to_send:
            send()
    with django_capture_on_commit_callbacks(execute=True):
        check_stale_payments(now=timezone.now() + LATER)

    second.refresh_from_db()
    paid.refresh_from_db()
    assert (second.status, second.refunded_amount) == (PaymentStatus.REFUNDED, second.total)
    assert (paid.status, paid.captured_amount) == (PaymentStatus.CONFIRMED, paid.total)
    assert paid.usage_charge.status == UsageChargeStatus.PAID
    assert sum(payflow_holdings(payflow_simulator).values()) == 0
    assert sum(express_holdings(nvp_simulator).values()) == paid.total
    assert [entry["payment"] for entry in late_refund_log(draft_session)] == [second.pk]
    assert len([entry for entry in payflow_simulator.entries("C") if not entry["duplicate"]]) == 1
