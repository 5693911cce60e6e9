"""The Express Checkout (NVP) provider against the loopback NVP simulator."""

import logging
from decimal import Decimal

import pytest
from payments import PaymentStatus, RedirectNeeded
from payments.core import provider_factory

from tests.simulators.payer import approve_at_paypal, cancel_at_paypal, open_page, site_path
from wagtail_training_pay.models import Payment
from wagtail_training_pay.providers.base import GatewayConfigurationError, GatewayRefused
from wagtail_training_pay.providers.express_checkout import decode_nvp

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]


def make_payment(variant="express", total="45.00", currency="USD", **kwargs):
    values = {"variant": variant, "total": Decimal(total), "currency": currency, "billing_email": "host@example.com"}
    values.update(kwargs)
    return Payment.objects.create(**values)


def redirect_of(payment):
    with pytest.raises(RedirectNeeded) as redirect:
        payment.get_form()
    return str(redirect.value)


def refreshed(payment):
    return Payment.objects.get(pk=payment.pk)


def checkout(client, payment):
    """Redirect to PayPal, approve, come back; returns the site's answer to the return."""
    return client.get(site_path(approve_at_paypal(redirect_of(payment))))


def calls(simulator, method):
    return [request for request in simulator.requests if request["METHOD"] == method]


# -- checkout ----------------------------------------------------------------------------


def test_set_express_checkout_sends_the_servers_amount_and_the_locked_return_urls(nvp_simulator):
    payment = make_payment()
    redirect = redirect_of(payment)
    assert redirect.startswith(nvp_simulator.server.url + "/webscr?cmd=_express-checkout&token=EC-")
    (request,) = calls(nvp_simulator, "SetExpressCheckout")
    assert request["PAYMENTREQUEST_0_AMT"] == "45.00"
    assert request["PAYMENTREQUEST_0_CURRENCYCODE"] == "USD"
    assert request["PAYMENTREQUEST_0_PAYMENTACTION"] == "Sale"
    assert request["RETURNURL"] == f"http://testserver/training/payment/{payment.token}/process/?ec=return"
    assert request["CANCELURL"] == f"http://testserver/training/payment/{payment.token}/process/?ec=cancel"
    assert "Pay now" in open_page(redirect).text


def test_a_sale_is_confirmed_on_return_and_a_second_return_changes_nothing(client, nvp_simulator):
    payment = make_payment()
    response = checkout(client, payment)
    assert response["Location"] == payment.get_success_url()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.CONFIRMED
    assert payment.captured_amount == Decimal("45.00")
    assert payment.transaction_id == nvp_simulator.charges()[0]["id"]

    token = payment.attrs.express_checkout["token"]
    again = client.get(f"/training/payment/{payment.token}/process/?ec=return&token={token}&PayerID=X")
    assert again["Location"] == payment.get_success_url()
    assert len(calls(nvp_simulator, "DoExpressCheckoutPayment")) == 1
    assert len(nvp_simulator.charges()) == 1


def test_cancelling_at_paypal_leaves_the_payment_open(client, nvp_simulator):
    payment = make_payment()
    response = client.get(site_path(cancel_at_paypal(redirect_of(payment))))
    assert response["Location"] == payment.get_failure_url()
    assert refreshed(payment).status == PaymentStatus.INPUT
    assert nvp_simulator.ledger == []


def test_a_return_with_another_token_is_refused(client, nvp_simulator):
    payment = make_payment()
    redirect_of(payment)
    response = client.get(f"/training/payment/{payment.token}/process/?ec=return&token=EC-OTHER&PayerID=X")
    assert response.status_code == 400
    assert refreshed(payment).status == PaymentStatus.INPUT


def test_an_amount_changed_after_approval_is_not_confirmed(client, nvp_simulator):
    payment = make_payment()
    return_url = approve_at_paypal(redirect_of(payment))
    Payment.objects.filter(pk=payment.pk).update(total=Decimal("90.00"))
    client.get(site_path(return_url))
    assert refreshed(payment).status == PaymentStatus.ERROR
    assert nvp_simulator.charges() == []


def test_error_10486_sends_the_payer_back_to_paypal_then_the_payment_completes(client, nvp_simulator):
    payment = make_payment(total="104.86")
    redirect = redirect_of(payment)
    response = client.get(site_path(approve_at_paypal(redirect)))
    assert response["Location"].startswith(nvp_simulator.server.url + "/webscr?cmd=_express-checkout&token=EC-")
    assert refreshed(payment).status == PaymentStatus.INPUT

    client.get(site_path(approve_at_paypal(response["Location"])))
    assert refreshed(payment).status == PaymentStatus.CONFIRMED
    assert len(nvp_simulator.charges()) == 1


def test_error_10417_rejects_the_payment_with_paypals_message(client, nvp_simulator):
    payment = make_payment(total="104.17")
    response = checkout(client, payment)
    assert response["Location"] == payment.get_failure_url()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.REJECTED
    assert "alternative payment method" in payment.message


def test_an_expired_token_makes_the_payer_start_again_with_a_new_one(client, nvp_simulator):
    payment = make_payment()
    first = redirect_of(payment)
    return_url = approve_at_paypal(first)
    nvp_simulator.advance(hours=4)
    response = client.get(site_path(return_url))
    assert response["Location"] == payment.get_failure_url()
    assert refreshed(payment).status == PaymentStatus.INPUT
    assert redirect_of(refreshed(payment)) != first


def test_a_lost_reply_to_do_express_checkout_payment_is_recovered_without_paying_twice(client, nvp_simulator):
    payment = make_payment()
    return_url = approve_at_paypal(redirect_of(payment))
    nvp_simulator.faults.inject("pass", "drop", "drop", "drop")  # details fine; every payment reply lost
    response = client.get(site_path(return_url))
    assert response["Location"] == payment.get_failure_url()
    assert refreshed(payment).status == PaymentStatus.INPUT

    client.get(site_path(return_url))  # the payer reloads: PayPal says it is done (10415 / details)
    assert refreshed(payment).status == PaymentStatus.CONFIRMED
    assert len(nvp_simulator.charges()) == 1


def test_a_timeout_on_do_express_checkout_payment_is_retried_with_the_same_msgsubid(client, nvp_simulator):
    payment = make_payment()
    return_url = approve_at_paypal(redirect_of(payment))
    nvp_simulator.faults.inject("pass", "timeout")
    client.get(site_path(return_url))
    assert refreshed(payment).status == PaymentStatus.CONFIRMED
    payments = calls(nvp_simulator, "DoExpressCheckoutPayment")
    assert len(payments) == 2 and payments[0]["MSGSUBID"] == payments[1]["MSGSUBID"]
    assert len(nvp_simulator.charges()) == 1


def test_an_internal_error_is_retried(client, nvp_simulator):
    nvp_simulator.faults.inject("error:10001")
    payment = make_payment()
    assert redirect_of(payment).startswith(nvp_simulator.server.url)
    assert len(calls(nvp_simulator, "SetExpressCheckout")) == 1  # the faulty answer never reached the handler


def test_wrong_api_credentials_are_a_clear_error_for_the_administrator(settings, caplog):
    from payments import core

    settings.PAYMENT_VARIANTS["express"][1]["signature"] = "wrong"
    core.PROVIDER_CACHE.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(GatewayConfigurationError, match="10002"):
        make_payment().get_form()
    assert "signature" in caplog.text
    assert "wrong" not in caplog.text


def test_the_reply_parser_needs_an_ack():
    assert decode_nvp(b"ACK=Success&TOKEN=EC-1")["TOKEN"] == "EC-1"
    with pytest.raises(ValueError):
        decode_nvp(b"<html>502</html>")


# -- authorization, capture, void, refund ----------------------------------------------


def authorized_payment(client, total="45.00"):
    payment = make_payment("express-auth", total=total)
    checkout(client, payment)
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.PREAUTH
    assert payment.captured_amount == 0
    return payment


def test_a_partial_capture_then_a_partial_refund_leave_captured_amount_and_status_right(client, nvp_simulator):
    payment = authorized_payment(client)
    payment.capture(Decimal("30.00"))
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount) == (PaymentStatus.CONFIRMED, Decimal("30.00"))

    payment.refund(Decimal("10.00"))
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.CONFIRMED,
        Decimal("20.00"),
        Decimal("10.00"),
    )
    payment.refund(Decimal("20.00"))
    payment = refreshed(payment)
    assert (payment.status, payment.captured_amount, payment.refunded_amount) == (
        PaymentStatus.REFUNDED,
        0,
        Decimal("30.00"),
    )
    for method in ("DoCapture", "RefundTransaction"):
        assert all(len(request["MSGSUBID"]) <= 38 for request in calls(nvp_simulator, method))
    refunds = calls(nvp_simulator, "RefundTransaction")
    assert [r["REFUNDTYPE"] for r in refunds] == ["Partial", "Partial"]
    assert refunds[0]["MSGSUBID"] != refunds[1]["MSGSUBID"]


def test_a_full_refund_of_a_sale(client, nvp_simulator):
    payment = make_payment()
    checkout(client, payment)
    refreshed(payment).refund()
    payment = refreshed(payment)
    assert (payment.status, payment.refunded_amount) == (PaymentStatus.REFUNDED, Decimal("45.00"))
    assert calls(nvp_simulator, "RefundTransaction")[0]["REFUNDTYPE"] == "Full"


def test_capturing_more_than_the_authorization_is_refused(client):
    payment = authorized_payment(client)
    with pytest.raises(GatewayRefused, match="10610"):
        payment.capture(Decimal("50.00"))
    assert refreshed(payment).status == PaymentStatus.PREAUTH


def test_a_void_releases_the_authorization_and_nothing_can_be_captured_after(client, nvp_simulator):
    payment = authorized_payment(client)
    payment.release()
    payment = refreshed(payment)
    assert payment.status == PaymentStatus.REFUNDED
    assert calls(nvp_simulator, "DoVoid")[0]["MSGSUBID"]
    with pytest.raises(GatewayRefused, match="10600"):
        provider_factory(payment.variant).capture(payment, Decimal("10.00"))


def test_a_captured_authorization_cannot_be_voided(client):
    payment = authorized_payment(client)
    payment.capture()
    with pytest.raises(GatewayRefused, match="10602"):
        provider_factory(payment.variant).release(refreshed(payment))


def test_paypal_refuses_to_refund_more_than_is_left(client):
    payment = make_payment()
    checkout(client, payment)
    payment = refreshed(payment)
    with pytest.raises(GatewayRefused, match="10009"):
        provider_factory(payment.variant).refund(payment, Decimal("50.00"))
    assert refreshed(payment).refunded_amount == 0


def test_a_timeout_on_capture_and_on_refund_moves_money_once(client, nvp_simulator):
    payment = authorized_payment(client)
    nvp_simulator.faults.inject("timeout")
    payment.capture(Decimal("45.00"))
    nvp_simulator.faults.inject("timeout")
    refreshed(payment).refund(Decimal("5.00"))
    assert len([e for e in nvp_simulator.entries("capture") if not e["duplicate"]]) == 1
    assert len([e for e in nvp_simulator.entries("refund") if not e["duplicate"]]) == 1
    assert len(nvp_simulator.entries("refund")) == 2  # the retry was answered from the MSGSUBID
    payment = refreshed(payment)
    assert (payment.captured_amount, payment.refunded_amount) == (Decimal("40.00"), Decimal("5.00"))
