"""A host payment nobody needs any more is refunded, and the refund stays recorded."""

import pytest
from payments import PaymentStatus

from wagtail_training_pay.models import Payment, UsageChargeStatus
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import BILLING, reload

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
    unpaid_session, client, django_user_model
):
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
