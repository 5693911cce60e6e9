"""Issue 13, points 2, 3, 5 and 8 (Payflow): fraud reviews, every Secure Token, request ids, protocol details.

Real provider classes against the loopback Payflow simulator (a second reading of the Payflow Gateway
Developer Guide and the Fraud Protection Services User's Guide), inside the real registration flow.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone
from payments import FraudStatus, PaymentStatus

from tests.gateway_helpers import make_payment, pay_by_card, redirect_of, refreshed, sweep
from tests.registration_helpers import (
    card_data,
    offer_methods,
    pay_step,
    register,
    registration_for,
)
from tests.simulators.payer import open_page, pay_on_hosted_page, site_path
from tests.simulators.payflow import parse_payflow
from wagtail_training_pay.models import MoneyMovement, MovementKind, MovementState, Payment, RegistrationStatus
from wagtail_training_pay.providers.base import GatewayError, GatewayUnavailable, pending_at_gateway
from wagtail_training_pay.services import money
from wagtail_training_pay.services.registrations import seats_left

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]

DECLINED_CARD = "4000000000000002"  # not a test card: RESULT 23


def requests_of(simulator, trxtype=None):
    fields = [parse_payflow(body) for body in simulator.raw_requests]
    return [f for f in fields if trxtype is None or f.get("TRXTYPE") == trxtype]


# -- point 2: RESULT 126/127 is a review, not a sale --------------------------------------------------


@pytest.mark.parametrize("result", [126, 127])
def test_a_sale_held_for_review_is_not_captured_nor_confirmed(client, payflow_simulator, result):
    payment = make_payment("payflow", total=f"{1000 + result}.00")
    answer = pay_on_hosted_page(redirect_of(payment))
    client.get(site_path(answer.headers["Location"]))
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.WAITING
    assert payment.fraud_status == FraudStatus.REVIEW
    assert payment.captured_amount == 0
    assert pending_at_gateway(payment)["reason"] == "fraud review"
    assert payflow_simulator.charges() == []
    with pytest.raises((GatewayError, ValueError)):
        payment.capture()  # a held sale is not "captured" by sending nothing


def test_a_reviewed_sale_is_confirmed_once_accepted_by_the_sweeper(client, payflow_simulator):
    payment = make_payment("payflow", total="1126.00")
    client.get(site_path(pay_on_hosted_page(redirect_of(payment)).headers["Location"]))
    counts = sweep()
    assert (counts["pending"], counts["cancelled"]) == (1, 0)
    assert refreshed(payment).status == PaymentStatus.WAITING

    payflow_simulator.accept_review(refreshed(payment).transaction_id)
    sweep()
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("1126.00"))
    assert payment.fraud_status == FraudStatus.ACCEPT
    assert pending_at_gateway(payment) is None
    assert len(payflow_simulator.charges()) == 1


def test_a_reviewed_authorization_is_captured_once_accepted(payflow_simulator):
    payment = make_payment("payflow-direct-auth", total="1126.00")
    pay_by_card(payment)
    assert refreshed(payment).status == PaymentStatus.WAITING
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["A"]
    payflow_simulator.accept_review(refreshed(payment).transaction_id)
    sweep()
    assert refreshed(payment).status == PaymentStatus.PREAUTH  # a payment for nothing: left to its owner


def test_a_learner_held_for_review_keeps_the_seat_then_is_confirmed_or_released(
    learner_client, make_session, training_settings, payflow_simulator, django_capture_on_commit_callbacks
):
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    page = make_session(fee=Decimal("1126.00"), capacity=1)
    register(learner_client, page, payment_method="payflow-direct")
    registration = registration_for()
    response = learner_client.post(pay_step(registration), card_data())
    done = learner_client.get(response["Location"], follow=True)
    assert "payment is pending at PayPal" in done.content.decode()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert seats_left(page, now=timezone.now() + timedelta(hours=20)) == 0
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S"]  # nothing "captured"
    assert mail.outbox == []

    payment = Payment.objects.get(registration=registration)
    payflow_simulator.reject_review(payment.transaction_id)
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    registration.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REJECTED
    assert payment.fraud_status == FraudStatus.REJECT
    assert registration.status != RegistrationStatus.CONFIRMED
    assert seats_left(page) == 1
    manage = learner_client.get(f"/training/registration/{registration.token}/").content.decode()
    assert "PayPal did not accept the payment" in manage
    assert payflow_simulator.charges() == []


def test_an_accepted_review_confirms_the_learner(
    learner_client, make_session, training_settings, payflow_simulator, django_capture_on_commit_callbacks
):
    offer_methods(training_settings, **{"payflow-direct": "Card"})
    register(learner_client, make_session(fee=Decimal("1126.00")), payment_method="payflow-direct")
    registration = registration_for()
    learner_client.post(pay_step(registration), card_data())
    payflow_simulator.accept_review(Payment.objects.get(registration=registration).transaction_id)
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert len(mail.outbox) == 1


def test_the_admin_lists_payments_under_review(admin_client, payflow_simulator):
    held = make_payment("payflow-direct", total="1126.00")
    pay_by_card(held)
    make_payment("payflow-direct")
    listing = admin_client.get("/admin/training_payments/", {"attention": "fraud"})
    assert listing.status_code == 200
    text = listing.content.decode()
    assert f"Payment #{held.pk}" in text
    assert len(re.findall(r"Payment #\d+", text)) == 1


# -- point 3: every Secure Token issued for a payment stays recognised ---------------------------------


def two_tokens(payment):
    """The payer opens the hosted page, then (15 minutes later, another tab) the payment step again."""
    first = redirect_of(payment)
    payment = refreshed(payment)
    tokens = payment.attrs.payflow_secure_tokens
    tokens[0]["created"] = (timezone.now() - timedelta(minutes=15)).isoformat()
    payment.attrs.payflow_secure_tokens = tokens
    payment.attrs.payflow_secure_token = tokens[0]
    payment.save()
    second = redirect_of(refreshed(payment))
    assert second != first
    return first, second


def test_paying_on_the_first_hosted_page_after_a_second_token_is_recorded(client, payflow_simulator):
    payment = make_payment("payflow")
    first, _ = two_tokens(payment)
    answer = pay_on_hosted_page(first)
    response = client.get(site_path(answer.headers["Location"]))
    assert response.status_code == 302
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))

    silent_url, fields = payflow_simulator.silent_posts[0]
    assert client.post(site_path(silent_url), fields).status_code == 200
    assert len(payflow_simulator.charges()) == 1


def test_the_silent_post_of_an_older_token_alone_records_the_payment(client, payflow_simulator):
    payment = make_payment("payflow")
    first, _ = two_tokens(payment)
    pay_on_hosted_page(first)
    silent_url, fields = payflow_simulator.silent_posts[0]
    assert client.post(site_path(silent_url), fields).status_code == 200
    assert refreshed(payment).status == PaymentStatus.CONFIRMED


def test_a_forged_post_naming_an_older_token_confirms_nothing(client, payflow_simulator):
    payment = make_payment("payflow")
    two_tokens(payment)
    token_id = refreshed(payment).attrs.payflow_secure_tokens[0]["id"]
    forged = {"RESULT": "0", "PNREF": "VFORGED00001", "SECURETOKENID": token_id, "AMT": "45.00"}
    assert client.post(f"/training/payment/{payment.token}/process/?silent=1", forged).status_code == 200
    assert refreshed(payment).status == PaymentStatus.INPUT


def test_the_sweeper_inquires_on_every_token_and_finds_a_payment_whose_notices_were_lost(payflow_simulator):
    payment = make_payment("payflow")
    first, _ = two_tokens(payment)
    pay_on_hosted_page(first)  # neither the return nor the silent post reaches the site
    counts = sweep()
    payment = refreshed(payment)
    assert counts["checked"] == 1
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
    inquired = {f["SECURETOKEN"] for f in requests_of(payflow_simulator, "I")}
    assert inquired <= {t["token"] for t in payment.attrs.payflow_secure_tokens}
    assert len(payflow_simulator.charges()) == 1


def test_a_payment_never_paid_with_any_token_is_cancelled_and_its_tokens_closed(payflow_simulator):
    payment = make_payment("payflow")
    two_tokens(payment)
    payflow_simulator.advance(minutes=31)
    assert sweep()["cancelled"] == 1
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.CANCELLED
    assert len(requests_of(payflow_simulator, "I")) == 2


# -- point 5: X-VPS-REQUEST-ID follows the guide ----------------------------------------------------


def test_after_a_result_104_nothing_done_the_learner_can_pay_again_with_a_new_id(payflow_simulator):
    payment = make_payment("payflow-direct")
    payflow_simulator.faults.inject("result:104")
    form = pay_by_card(payment)
    assert not isinstance(form, str) and form.non_field_errors()
    inquiries = requests_of(payflow_simulator, "I")
    assert [f.get("CUSTREF") for f in inquiries] == [str(payment.token).replace("-", "")[:12]]
    assert pay_by_card(refreshed(payment)) == payment.get_success_url()
    assert len(set(payflow_simulator.request_ids)) == 3  # the sale, the inquiry, a new sale
    assert len(payflow_simulator.charges()) == 1
    assert refreshed(payment).status == PaymentStatus.CONFIRMED


def test_after_a_result_104_the_sale_the_processor_did_is_found_by_inquiry_not_charged_again(payflow_simulator):
    payment = make_payment("payflow-direct")
    payflow_simulator.lost_processor_answers = 1
    assert pay_by_card(payment) == payment.get_success_url()
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))
    assert len(requests_of(payflow_simulator, "S")) == 1
    assert len(payflow_simulator.charges()) == 1


@pytest.mark.parametrize("answer", ["result:12", "result:133", "result:1"])
def test_after_a_definite_failure_the_next_attempt_gets_a_new_request_id(payflow_simulator, answer):
    payment = make_payment("payflow-direct")
    payflow_simulator.faults.inject(answer)
    pay_by_card(payment)
    assert pay_by_card(refreshed(payment)) == payment.get_success_url()
    assert len(set(payflow_simulator.request_ids)) == 2


def authorized(simulator):
    payment = make_payment("payflow-direct-auth")
    pay_by_card(payment)
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.PREAUTH
    return payment


def test_a_failed_capture_can_be_retried(payflow_simulator):
    payment = authorized(payflow_simulator)
    payflow_simulator.faults.inject("result:111")
    with pytest.raises(GatewayError):
        payment.capture()
    # An automatic capture the gateway refused waits for an administrator (issue 14's records): one retries it.
    administrator = get_user_model().objects.create(username="retrying-administrator")
    money.move_now(refreshed(payment), MovementKind.CAPTURE, reason="retried", user=administrator)
    assert refreshed(payment).captured_amount == Decimal("45.00")
    assert len(payflow_simulator.entries("D")) == 1


def test_a_failed_refund_can_be_retried(payflow_simulator):
    payment = make_payment("payflow-direct")
    pay_by_card(payment)
    payflow_simulator.faults.inject("result:105")
    with pytest.raises(GatewayError):
        refreshed(payment).refund(Decimal("10.00"))
    refreshed(payment).refund(Decimal("10.00"))
    assert [e["amount"] for e in payflow_simulator.entries("C") if e["result"] == 0] == ["10.00"]
    assert refreshed(payment).refunded_amount == Decimal("10.00")


def test_the_movement_key_is_the_request_id_and_a_lost_answer_is_replayed(payflow_simulator):
    """The contract with issue 14: the movement's key is its X-VPS-REQUEST-ID, and a lost answer is learnt by
    sending the same request with the same key again."""
    payment = make_payment("payflow-direct")
    pay_by_card(payment)
    payment = refreshed(payment)
    payflow_simulator.faults.inject("drop", "drop", "drop")
    with pytest.raises(GatewayUnavailable):
        payment.refund(Decimal("10.00"))
    (movement,) = MoneyMovement.objects.filter(payment=payment, kind=MovementKind.REFUND)
    assert movement.state == MovementState.UNKNOWN
    money.send_movement(movement.pk)  # what the sweeper does with an unknown movement: the same key again
    assert payflow_simulator.request_ids[-4:] == [movement.idempotency_key] * 4
    credits = payflow_simulator.entries("C")
    assert [e["duplicate"] for e in credits] == [False, True, True, True]
    assert refreshed(payment).refunded_amount == Decimal("10.00")


def test_a_result_104_on_a_movement_not_done_is_a_definite_failure(payflow_simulator):
    payment = make_payment("payflow-direct")
    pay_by_card(payment)
    payment = refreshed(payment)
    payflow_simulator.faults.inject("result:104")
    with pytest.raises(GatewayError) as failure:
        payment.refund(Decimal("10.00"))
    assert not isinstance(failure.value, GatewayUnavailable)
    (movement,) = MoneyMovement.objects.filter(payment=payment, kind=MovementKind.REFUND)
    assert [f.get("CUSTREF") for f in requests_of(payflow_simulator, "I")] == [movement.idempotency_key[:12]]


# -- point 8 (Payflow) ------------------------------------------------------------------------------


def test_custip_carries_only_an_ipv4_address(payflow_simulator):
    v6 = make_payment("payflow-direct", customer_ip_address="2001:db8::1")
    assert pay_by_card(v6) == v6.get_success_url()
    v4 = make_payment("payflow-direct", customer_ip_address="192.0.2.7")
    assert pay_by_card(v4) == v4.get_success_url()
    sales = requests_of(payflow_simulator, "S")
    assert [sale.get("CUSTIP") for sale in sales] == [None, "192.0.2.7"]


def test_the_headers_follow_the_guide(payflow_simulator):
    pay_by_card(make_payment("payflow-direct"))
    (headers,) = payflow_simulator.headers
    assert headers["X_VPS_CLIENT_TIMEOUT"] == "45"
    assert re.fullmatch(r"\d+\.\d+", headers["X_VPS_VIT_INTEGRATION_VERSION"])


def test_a_secure_token_is_not_reused_for_more_than_ten_minutes(payflow_simulator):
    payment = make_payment("payflow")
    first = redirect_of(payment)
    payment = refreshed(payment)
    tokens = payment.attrs.payflow_secure_tokens
    tokens[0]["created"] = (timezone.now() - timedelta(minutes=19)).isoformat()
    payment.attrs.payflow_secure_tokens = tokens
    payment.save()
    assert redirect_of(payment) != first
    open_page(first)  # still payable at PayPal: the old page keeps working


def test_an_avs_failure_voids_the_authorization_it_left(payflow_simulator):
    payment = make_payment("payflow-direct-auth", total="1112.00")
    form = pay_by_card(payment)
    assert "declined" in str(form.non_field_errors()).lower()
    (authorization,) = payflow_simulator.entries("A")
    (void,) = payflow_simulator.entries("V")
    assert (void["origid"], void["result"]) == (authorization["pnref"], 0)
    assert refreshed(payment).status == PaymentStatus.REJECTED


def test_a_decline_on_one_page_then_a_payment_on_another_is_found_by_the_sweeper(client, payflow_simulator):
    """The silent post of a decline does not end the payment; the sweeper prefers the token that paid."""
    payment = make_payment("payflow")
    first, second = two_tokens(payment)
    pay_on_hosted_page(second, card=DECLINED_CARD)
    silent_url, fields = payflow_simulator.silent_posts[0]
    client.post(site_path(silent_url), fields)  # delivered: the decline on the second page
    assert refreshed(payment).status == PaymentStatus.INPUT
    pay_on_hosted_page(first)  # paid in the first tab; this notice is lost
    sweep()
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("45.00"))


def test_each_sweep_renews_the_hold_while_the_review_lasts(
    learner_client, make_session, training_settings, payflow_simulator
):
    from wagtail_training_pay.models import Registration

    offer_methods(training_settings, **{"payflow-direct": "Card"})
    register(learner_client, make_session(fee=Decimal("1126.00"), capacity=1), payment_method="payflow-direct")
    registration = registration_for()
    learner_client.post(pay_step(registration), card_data())
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=timezone.now() + timedelta(minutes=5))
    sweep()
    registration.refresh_from_db()
    assert registration.hold_expires_at > timezone.now() + timedelta(days=2)
