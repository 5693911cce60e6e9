"""A host payment nobody needs any more is refunded, and the refund stays recorded."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from payments import PaymentStatus
from payments.core import provider_factory
from wagtail.models import PageLogEntry

from wagtail_training_pay.models import Payment, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use
from wagtail_training_pay.services.stale_payments import check_stale_payments

from .pay_per_use_support import BILLING, reload
from .registration_helpers import commit_after_each_request

pytestmark = pytest.mark.django_db


@pytest.fixture
def unpaid_session(pay_per_use_on, make_session):
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    return reload(page)


def pay_on_the_dummy_form(client, payment):
    """What the host's browser does on the payment step: the provider's form, then back to the site."""
    url = f"/admin/training/pay-per-use/payment/{payment.token}/"
    data = {"status": "confirmed", "fraud_status": "accept", "gateway_response": "3ds-disabled"}
    response = client.post(url, {**data, "verification_result": ""})
    assert response.status_code == 302
    client.get(response["Location"])


def test_a_second_host_paying_through_the_form_for_a_session_already_paid_is_refunded_for_good(
    unpaid_session, client, django_user_model, django_capture_on_commit_callbacks
):
    client = commit_after_each_request(client, django_capture_on_commit_callbacks)
    first, second = (
        django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw") for name in ("host", "cohost")
    )
    revision = unpaid_session.get_latest_revision()
    payments = [
        pay_per_use.create_usage_payment(
            unpaid_session, revision, host, action="publish", billing=BILLING, variant="dummy"
        )
        for host in (first, second)
    ]
    for host, payment in zip((first, second), payments, strict=True):
        client.force_login(host)
        pay_on_the_dummy_form(client, payment)

    paid, surplus = (Payment.objects.get(pk=payment.pk) for payment in payments)
    assert paid.usage_charge.status == UsageChargeStatus.PAID
    assert surplus.usage_charge.status == UsageChargeStatus.CANCELLED
    # The provider form saves its whole (stale) payment after settling: the refund must survive that save.
    assert surplus.status == PaymentStatus.REFUNDED
    assert surplus.refunded_amount == surplus.total
    assert surplus.captured_amount == 0
    assert (paid.status, paid.captured_amount, paid.refunded_amount) == (PaymentStatus.CONFIRMED, paid.total, 0)


@pytest.mark.usefixtures("gateway_variants")
def test_a_surplus_refund_the_gateway_refused_is_retried_by_the_sweeper_once(
    unpaid_session, payflow_simulator, django_user_model, django_capture_on_commit_callbacks, caplog
):
    """Two hosts pay by card; the gateway refuses the second one's refund; the next sweep gives it back, once."""
    hosts = [
        django_user_model.objects.create_superuser(name, f"{name}@example.com", "pw") for name in ("host", "cohost")
    ]
    revision = unpaid_session.get_latest_revision()
    payments = [
        pay_per_use.create_usage_payment(
            unpaid_session, revision, host, action="publish", billing=BILLING, variant="payflow-direct"
        )
        for host in hosts
    ]
    card = {"ACCT": "4111111111111111", "EXPDATE": f"12{(date.today().year + 2) % 100:02d}", "CVV2": "123", "NAME": "H"}
    with django_capture_on_commit_callbacks(execute=True):
        provider_factory("payflow-direct", payments[0]).charge_card(payments[0], card)
    payflow_simulator.faults.inject("pass", "5xx", "5xx", "5xx")  # the sale answers; every try of the credit fails
    with django_capture_on_commit_callbacks(execute=True):
        provider_factory("payflow-direct", payments[1]).charge_card(payments[1], card)

    surplus = Payment.objects.get(pk=payments[1].pk)
    assert surplus.usage_charge.status == UsageChargeStatus.CANCELLED
    assert (surplus.status, surplus.refunded_amount) == (PaymentStatus.CONFIRMED, 0)  # the money is still taken
    assert surplus.movements.get(kind="refund").state == "unknown"  # recorded; the gateway never answered
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "S"]

    with django_capture_on_commit_callbacks(execute=True):
        counts = check_stale_payments()

    surplus.refresh_from_db()
    assert counts["movements_done"] == 1  # sent again with the same key
    assert (surplus.status, surplus.refunded_amount) == (PaymentStatus.REFUNDED, surplus.total)
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "S", "C"]
    logged = PageLogEntry.objects.filter(page=unpaid_session, action=pay_per_use.REFUNDED_ACTION).order_by("pk")
    assert [entry.data["refunded"] for entry in logged] == [True]
    paid = Payment.objects.get(pk=payments[0].pk)
    assert (paid.status, paid.usage_charge.status) == (PaymentStatus.CONFIRMED, UsageChargeStatus.PAID)

    out = StringIO()
    call_command("check_stale_payments", stdout=out)
    assert "0 host payment(s) refunded" in out.getvalue()
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "S", "C"]  # refunded once
