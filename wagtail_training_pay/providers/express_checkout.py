"""PayPal Express Checkout through the classic NVP API, as a django-payments provider.

Flow: ``SetExpressCheckout`` (server) -> the payer approves on PayPal -> PayPal sends
the browser back to the payment's process URL with ``token`` and ``PayerID`` ->
``GetExpressCheckoutDetails`` (amount and currency checked against the payment) ->
``DoExpressCheckoutPayment``. With ``capture=False`` the payment is an
authorization, later ``DoCapture`` (full or partial) or ``DoVoid``;
``RefundTransaction`` refunds in full or in part.

Every money-moving call carries a ``MSGSUBID`` derived from the payment and the
operation: a retry gets PayPal's first answer back (error 11607 with the original
result attached) instead of a second capture or refund.
"""

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlencode

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from payments import FraudStatus, PaymentStatus, RedirectNeeded

from .base import (
    STILL_PENDING,
    GatewayConfigurationError,
    GatewayDeclined,
    GatewayError,
    GatewayRefused,
    GatewayUnavailable,
    MalformedResponse,
    PayPalClassicProvider,
    attempt_number,
    end_pending_at_gateway,
    format_amount,
    mark_pending_at_gateway,
    movement_key,
    next_attempt,
    operation_key,
    pending_at_gateway,
    redact,
)

logger = logging.getLogger(__name__)

SUCCESS_ACKS = frozenset({"Success", "SuccessWithWarning"})
#: PayPal had a temporary problem; safe to repeat (money-moving calls carry MSGSUBID).
RETRYABLE = frozenset({10001, 10445})
#: API credentials, version or permissions: the site administrator must act.
CONFIGURATION = frozenset({10002, 10006, 10007, 10008, 10501, 10605})
#: The payer must go back to PayPal and choose another funding source.
SEND_BACK = frozenset({10486, 10422, 10485})
#: Declined: the payer should use another payment method.
DECLINED = frozenset({10417, 11084, 10537, 10538, 10539, 11611})
#: Times the payer is sent back to PayPal to choose another funding source (10486, 10422) before the
#: payment is given up and another payment method offered.
MAX_SEND_BACK = 3
TOKEN_EXPIRED = 10411
ALREADY_COMPLETED = 10415
DUPLICATE_REQUEST = 11607
FRAUD_REVIEW = 11610

#: PAYMENTSTATUS values (DoExpressCheckoutPayment's PAYMENTINFO_n_PAYMENTSTATUS, GetTransactionDetails'
#: PAYMENTSTATUS): the money reached the merchant...
COMPLETED_STATUSES = frozenset({"Completed", "Processed", "Completed-Funds-Held"})
#: ... PayPal still holds it (an eCheck clearing, a review: "In-Progress" is not a rejection) ...
OPEN_STATUSES = frozenset({"Pending", "In-Progress"})
#: ... or it never will.
FAILED_STATUSES = frozenset({"Denied", "Reversed", "Failed", "Expired", "Voided"})
#: PENDINGREASON values of an authorization, captured later: not a payment PayPal holds.
AUTHORIZATION_REASONS = frozenset({"authorization", "order"})

#: PayPal keeps an Express Checkout token three hours; reuse it a little less.
TOKEN_REUSE = timedelta(hours=2, minutes=30)


def decode_nvp(body):
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    try:
        parsed = parse_qs(body.strip(), keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise MalformedResponse(str(exc)) from None
    fields = {name: values[0] for name, values in parsed.items()}
    if "ACK" not in fields:
        raise MalformedResponse("no ACK")
    return fields


def error_codes(fields):
    codes = []
    index = 0
    while f"L_ERRORCODE{index}" in fields:
        try:
            codes.append(int(fields[f"L_ERRORCODE{index}"]))
        except ValueError:
            pass
        index += 1
    return codes


def error_text(fields):
    return fields.get("L_LONGMESSAGE0") or fields.get("L_SHORTMESSAGE0") or fields.get("ACK", "")


def succeeded(fields):
    return fields.get("ACK") in SUCCESS_ACKS


class ExpressCheckoutProvider(PayPalClassicProvider):
    """Express Checkout (US, Canada and elsewhere) with API signature credentials.

    Options: ``user``, ``password``, ``signature`` (API credentials from PayPal),
    ``endpoint`` (``"live"``, ``"sandbox"`` or a URL of the NVP API),
    ``approval_url`` (where the payer approves; PayPal's for live/sandbox),
    ``capture`` (``False``: authorization, captured later), ``currencies``,
    ``brand_name``, ``locale`` (``LOCALECODE``), ``timeout``, ``retries``...
    """

    label = "PayPal Express Checkout"
    #: An Express Checkout token expires after three hours (PayPal NVP API reference, SetExpressCheckout
    #: "TOKEN"); erasure keeps the references that long.
    gateway_state_lifetime = timedelta(hours=3)
    api_version = "204.0"
    endpoints = {"live": "https://api-3t.paypal.com/nvp", "sandbox": "https://api-3t.sandbox.paypal.com/nvp"}
    approval_urls = {
        "live": "https://www.paypal.com/cgi-bin/webscr",
        "sandbox": "https://www.sandbox.paypal.com/cgi-bin/webscr",
    }

    def __init__(
        self, *, user=None, password=None, signature=None, approval_url=None, brand_name="", locale="", **options
    ):
        super().__init__(**options)
        self.require_options(self.label, user=user, password=password, signature=signature)
        self.user = user
        self.password = password
        self.signature = signature
        self.approval_url = approval_url or self.approval_urls.get(self.endpoint_name)
        if not self.approval_url:
            raise ImproperlyConfigured(f"{self.label}: set approval_url when the endpoint is a URL.")
        self.brand_name = brand_name
        self.locale = locale

    # -- wire -------------------------------------------------------------------------

    def call(self, method, params, *, msgsubid=None):
        full = {
            "METHOD": method,
            "VERSION": self.api_version,
            "USER": self.user,
            "PWD": self.password,
            "SIGNATURE": self.signature,
        }
        full.update({name: value for name, value in params.items() if value not in (None, "")})
        if msgsubid:
            full["MSGSUBID"] = msgsubid
        body = urlencode(full).encode("utf-8")
        fields = self.transport.post(
            self.endpoint,
            body,
            {"Content-Type": "application/x-www-form-urlencoded"},
            parse=decode_nvp,
            # A call without MSGSUBID may be repeated after PayPal's "try again"; with one, PayPal would
            # replay the stored answer: the caller decides (a new attempt, a new key).
            should_retry=lambda answer: (
                not msgsubid and not succeeded(answer) and bool(RETRYABLE & set(error_codes(answer)))
            ),
            log_fields=redact(full),
        )
        if DUPLICATE_REQUEST in error_codes(fields):
            logger.info("%s %s: PayPal replayed the first answer to MSGSUBID %s.", self.label, method, msgsubid)
        return fields

    def raise_for_errors(self, fields, operation, answered=False):
        """Raise the error class for PayPal's failure. ``answered``: the failure is PayPal's definite answer to
        a request with a MSGSUBID (a "try again" error included): the caller counted the attempt."""
        codes = set(error_codes(fields))
        message = error_text(fields)
        text = f"{self.label} {operation}: {fields.get('ACK')} {sorted(codes)} {message}"
        if codes & CONFIGURATION:
            logger.error("%s. Check the variant's API user, password and signature.", text)
            raise GatewayConfigurationError(text, code=min(codes & CONFIGURATION), gateway_message=message)
        if codes & DECLINED:
            raise GatewayDeclined(
                text,
                code=min(codes & DECLINED),
                gateway_message=message,
                payer_message=_("PayPal declined the payment: %(reason)s") % {"reason": message},
            )
        if codes & RETRYABLE:
            error = GatewayError if answered else GatewayUnavailable
            raise error(text, code=min(codes & RETRYABLE), gateway_message=message)
        raise GatewayRefused(text, code=min(codes) if codes else None, gateway_message=message)

    # -- checkout ---------------------------------------------------------------------

    @property
    def payment_action(self):
        return "Sale" if self._capture else "Authorization"

    def approval_page(self, token):
        return f"{self.approval_url}?{urlencode({'cmd': '_express-checkout', 'token': token, 'useraction': 'commit'})}"

    def get_form(self, payment, data=None):
        self.check_currency(payment)
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED):
            raise RedirectNeeded(payment.get_success_url())
        if pending_at_gateway(payment):
            # Paid, not yet settled at PayPal: never a second checkout for the same payment.
            raise RedirectNeeded(payment.get_success_url())
        if payment.status == PaymentStatus.WAITING:
            payment.change_status(PaymentStatus.INPUT)
        raise RedirectNeeded(self.approval_page(self.checkout_token(payment)))

    def checkout_state(self, payment):
        return (getattr(payment.attrs, "express_checkout", None) if payment.extra_data else None) or {}

    def checkout_token(self, payment):
        """The payment's Express Checkout token, created with SetExpressCheckout when none is fresh."""
        state = self.checkout_state(payment)
        if state.get("token") and not state.get("spent"):
            created = parse_datetime(state.get("created", ""))
            if created and timezone.now() - created < TOKEN_REUSE:
                return state["token"]
        params = {
            "PAYMENTREQUEST_0_AMT": format_amount(payment.total, payment.currency),
            "PAYMENTREQUEST_0_CURRENCYCODE": payment.currency,
            "PAYMENTREQUEST_0_PAYMENTACTION": self.payment_action,
            "PAYMENTREQUEST_0_INVNUM": str(payment.token),
            "PAYMENTREQUEST_0_DESC": (payment.description or "")[:127],
            "RETURNURL": self.get_return_url(payment, {"ec": "return"}),
            "CANCELURL": self.get_return_url(payment, {"ec": "cancel"}),
            "NOSHIPPING": "1",
            "ALLOWNOTE": "0",
            "EMAIL": payment.billing_email,
            "BRANDNAME": self.brand_name,
            "LOCALECODE": self.locale,
        }
        params.update(self.item_params(payment))
        fields = self.call("SetExpressCheckout", params)
        if not succeeded(fields) or not fields.get("TOKEN"):
            self.raise_for_errors(fields, "SetExpressCheckout")
        state = {"token": fields["TOKEN"], "created": timezone.now().isoformat()}
        payment.attrs.express_checkout = state
        payment.save(update_fields=["extra_data"])
        return state["token"]

    def item_params(self, payment):
        """Line items when they add up to the total (PayPal refuses totals that do not)."""
        items = list(payment.get_purchased_items())
        try:
            item_total = sum((Decimal(item.price) * item.quantity for item in items), Decimal(0))
        except (InvalidOperation, TypeError):
            return {}
        if not items or item_total != payment.total:
            return {}
        params = {"PAYMENTREQUEST_0_ITEMAMT": format_amount(item_total, payment.currency)}
        for index, item in enumerate(items):
            params[f"L_PAYMENTREQUEST_0_NAME{index}"] = str(item.name)[:127]
            params[f"L_PAYMENTREQUEST_0_NUMBER{index}"] = str(item.sku)[:127]
            params[f"L_PAYMENTREQUEST_0_AMT{index}"] = format_amount(item.price, payment.currency)
            params[f"L_PAYMENTREQUEST_0_QTY{index}"] = str(item.quantity)
        return params

    def process_data(self, payment, request):
        """The payer's return from PayPal (approved or cancelled); a repeated return changes nothing."""
        state = self.checkout_state(payment)
        token = request.GET.get("token", "")
        if not state.get("token") or not constant_time_compare(token, state["token"]):
            logger.warning("%s payment %s: return with an unknown token.", self.label, payment.pk)
            return HttpResponseBadRequest("Unknown token")
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED):
            return HttpResponseRedirect(payment.get_success_url())
        if pending_at_gateway(payment):
            return HttpResponseRedirect(payment.get_success_url())  # a reload: the sweeper learns the outcome
        if request.GET.get("ec") == "cancel":
            logger.info("%s payment %s: the payer cancelled at PayPal.", self.label, payment.pk)
            return HttpResponseRedirect(payment.get_failure_url())
        try:
            return self.complete_checkout(payment, state, request.GET.get("PayerID", ""))
        except GatewayError as exc:
            logger.warning("%s payment %s: %s", self.label, payment.pk, exc)
            if isinstance(exc, GatewayConfigurationError):
                payment.change_status(PaymentStatus.ERROR, message=str(exc))
            elif isinstance(exc, GatewayDeclined):
                payment.change_status(PaymentStatus.REJECTED, message=str(exc.payer_message))
            return HttpResponseRedirect(payment.get_failure_url())

    def complete_checkout(self, payment, state, payer_id):
        token = state["token"]
        details = self.call("GetExpressCheckoutDetails", {"TOKEN": token})
        if not succeeded(details):
            if TOKEN_EXPIRED in error_codes(details):
                return self.token_expired(payment, state)
            self.raise_for_errors(details, "GetExpressCheckoutDetails")
        amount = details.get("PAYMENTREQUEST_0_AMT") or details.get("AMT")
        currency = details.get("PAYMENTREQUEST_0_CURRENCYCODE") or details.get("CURRENCYCODE")
        if amount is None or Decimal(amount) != payment.total or currency != payment.currency:
            logger.error("%s payment %s: PayPal holds %s %s; not completed.", self.label, payment.pk, amount, currency)
            payment.change_status(PaymentStatus.ERROR, message="Amount mismatch")
            return HttpResponseRedirect(payment.get_failure_url())
        if details.get("CHECKOUTSTATUS") == "PaymentActionCompleted" and details.get("PAYMENTREQUEST_0_TRANSACTIONID"):
            return self.apply_completed(payment, state, details, prefix="PAYMENTREQUEST_0_")
        payer_id = payer_id or details.get("PAYERID", "")
        if not payer_id:
            return HttpResponseRedirect(self.approval_page(token))
        params = {
            "TOKEN": token,
            "PAYERID": payer_id,
            "PAYMENTREQUEST_0_AMT": format_amount(payment.total, payment.currency),
            "PAYMENTREQUEST_0_CURRENCYCODE": payment.currency,
            "PAYMENTREQUEST_0_PAYMENTACTION": self.payment_action,
            "PAYMENTREQUEST_0_INVNUM": str(payment.token),
        }
        # One MSGSUBID per attempt: a retry after no answer (same attempt) gets PayPal's stored answer
        # back; an attempt after a definite answer (10486: the payer chose another funding source) is a
        # new request and gets a new id, or PayPal would replay the failure.
        attempt = int(state.get("attempts", 0)) + 1
        key = operation_key(payment, "express", token, attempt)
        done = self.call("DoExpressCheckoutPayment", params, msgsubid=key)
        codes = set(error_codes(done))
        if succeeded(done) or (DUPLICATE_REQUEST in codes and done.get("PAYMENTINFO_0_TRANSACTIONID")):
            return self.apply_completed(payment, state, done, prefix="PAYMENTINFO_0_")
        state["attempts"] = attempt
        payment.attrs.express_checkout = state
        payment.save(update_fields=["extra_data"])
        if codes & SEND_BACK:
            if attempt >= MAX_SEND_BACK:
                logger.warning(
                    "%s payment %s: PayPal refused %s funding sources in a row (%s); the payer is offered "
                    "another payment method.",
                    self.label,
                    payment.pk,
                    attempt,
                    sorted(codes),
                )
                state["spent"] = True
                payment.attrs.express_checkout = state
                payment.attrs.choose_another_method = True
                payment.save(update_fields=["extra_data"])
                payment.change_status(PaymentStatus.REJECTED, message=f"PayPal {sorted(codes)} {attempt} times")
                return HttpResponseRedirect(payment.get_failure_url())
            logger.info("%s payment %s: PayPal asks to send the payer back (%s).", self.label, payment.pk, codes)
            return HttpResponseRedirect(self.approval_page(token))
        if ALREADY_COMPLETED in codes:
            recovered = self.call("GetExpressCheckoutDetails", {"TOKEN": token})
            if succeeded(recovered) and recovered.get("PAYMENTREQUEST_0_TRANSACTIONID"):
                return self.apply_completed(payment, state, recovered, prefix="PAYMENTREQUEST_0_")
        if TOKEN_EXPIRED in codes:
            return self.token_expired(payment, state)
        self.raise_for_errors(done, "DoExpressCheckoutPayment")

    def token_expired(self, payment, state):
        state["spent"] = True
        payment.attrs.express_checkout = state
        payment.save(update_fields=["extra_data"])
        logger.info("%s payment %s: the checkout token expired; the payer starts again.", self.label, payment.pk)
        return HttpResponseRedirect(payment.get_failure_url())

    def apply_completed(self, payment, state, fields, *, prefix):
        """Record what DoExpressCheckoutPayment (``PAYMENTINFO_0_``) or GetExpressCheckoutDetails
        (``PAYMENTREQUEST_0_``) says of the checkout's transaction.

        GetExpressCheckoutDetails names the transaction but carries no payment status: the status then
        comes from GetTransactionDetails, never from a guess.
        """
        transaction_id = fields.get(f"{prefix}TRANSACTIONID", "")
        payment_status = fields.get(f"{prefix}PAYMENTSTATUS", "")
        pending_reason = fields.get(f"{prefix}PENDINGREASON", "")
        if not payment_status:
            details = self.transaction_details(transaction_id)
            payment_status, pending_reason = details.get("PAYMENTSTATUS", ""), details.get("PENDINGREASON", "")
        state["spent"] = True
        payment.attrs.express_checkout = state
        payment.attrs.paypal_payment_action = self.payment_action
        self.apply_status(payment, transaction_id, payment_status, pending_reason, error_codes(fields))
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH) or pending_at_gateway(payment):
            return HttpResponseRedirect(payment.get_success_url())
        return HttpResponseRedirect(payment.get_failure_url())

    def transaction_details(self, transaction_id):
        """GetTransactionDetails: PayPal's current ``PAYMENTSTATUS`` and ``PENDINGREASON`` of a transaction."""
        details = self.call("GetTransactionDetails", {"TRANSACTIONID": transaction_id})
        if not succeeded(details):
            self.raise_for_errors(details, "GetTransactionDetails")
        return details

    def apply_status(self, payment, transaction_id, payment_status, pending_reason, codes=()):
        """Apply a transaction's PAYMENTSTATUS to the payment; a status not known to mean money confirms nothing."""
        reason = (pending_reason or "").lower()
        reason = "" if reason == "none" else reason
        payment.transaction_id = transaction_id
        captured = Decimal(0)
        if payment_status in COMPLETED_STATUSES:
            status, captured = PaymentStatus.CONFIRMED, payment.total
            payment.fraud_status = FraudStatus.ACCEPT
            end_pending_at_gateway(payment, "completed")
        elif payment_status == "Pending" and reason in AUTHORIZATION_REASONS:
            status = PaymentStatus.PREAUTH
            payment.fraud_status = FraudStatus.ACCEPT
        elif payment_status in FAILED_STATUSES:
            status = PaymentStatus.REJECTED
            if pending_at_gateway(payment) and payment.fraud_status == FraudStatus.REVIEW:
                payment.fraud_status = FraudStatus.REJECT
            end_pending_at_gateway(payment, payment_status.lower())
        else:
            if payment_status not in OPEN_STATUSES:
                logger.error(
                    "%s payment %s: PayPal reports status %r for %s; left waiting, not confirmed.",
                    self.label,
                    payment.pk,
                    payment_status,
                    transaction_id,
                )
            status = PaymentStatus.WAITING
            mark_pending_at_gateway(
                payment,
                reason or payment_status.lower() or "unknown",
                status=payment_status,
                transaction=transaction_id,
            )
            if reason == "paymentreview" or FRAUD_REVIEW in codes:
                payment.fraud_status = FraudStatus.REVIEW
        self.record_capture(payment, captured, transaction_id=transaction_id, fraud_status=payment.fraud_status)
        if status != payment.status or status == PaymentStatus.WAITING:
            payment.change_status(status, message=f"PayPal: {payment_status} {reason}".strip())
        logger.info("%s payment %s: %s %s (%s).", self.label, payment.pk, payment_status, reason, transaction_id)

    def get_token_from_request(self, payment, request):
        """PayPal returns to each payment's own process URL; the per-variant URL is not used."""
        return None

    def check_status(self, payment):
        """Ask PayPal what became of an unfinished payment; the stale-payment sweeper calls this.

        This is the one place where the provider learns PayPal's truth about a payment it does not
        know the end of:

        * a payment PayPal holds (``Pending``: an eCheck, a review...) is looked up with
          GetTransactionDetails and confirmed once ``Completed``, rejected once ``Denied``,
          ``Reversed``, ``Failed``...; ``Pending`` and ``In-Progress`` leave it waiting;
        * a checkout whose return never reached the site is found with GetExpressCheckoutDetails
          and its transaction's status asked as above.

        Returns ``STILL_PENDING`` when PayPal still holds the payment (ask again later: do not
        cancel it), ``True`` when PayPal answered (the payment then carries PayPal's outcome; one
        still waiting without ``STILL_PENDING`` was never paid). Raises ``GatewayError`` when PayPal
        could not be asked now (try again later). Nothing here moves money.
        """
        if pending_at_gateway(payment) and payment.transaction_id:
            details = self.transaction_details(payment.transaction_id)
            if not self.details_match(payment, details):
                return True
            self.apply_status(
                payment, payment.transaction_id, details.get("PAYMENTSTATUS", ""), details.get("PENDINGREASON", "")
            )
            return STILL_PENDING if pending_at_gateway(payment) else True
        state = self.checkout_state(payment)
        if not state.get("token"):
            return True  # the payer never went to PayPal
        details = self.call("GetExpressCheckoutDetails", {"TOKEN": state["token"]})
        if not succeeded(details):
            if TOKEN_EXPIRED in error_codes(details):
                return True
            self.raise_for_errors(details, "GetExpressCheckoutDetails")
        completed = details.get("CHECKOUTSTATUS") == "PaymentActionCompleted"
        if completed and details.get("PAYMENTREQUEST_0_TRANSACTIONID"):
            if not self.details_match(payment, details, prefix="PAYMENTREQUEST_0_"):
                return True
            self.apply_completed(payment, state, details, prefix="PAYMENTREQUEST_0_")
        return STILL_PENDING if pending_at_gateway(payment) else True

    def details_match(self, payment, details, prefix=""):
        """PayPal's amount and currency are the payment's; otherwise the payment is an error for the admin."""
        amount = details.get(f"{prefix}AMT")
        currency = details.get(f"{prefix}CURRENCYCODE")
        try:
            matches = amount is not None and Decimal(amount) == payment.total and currency == payment.currency
        except InvalidOperation:
            matches = False
        if not matches:
            logger.error("%s payment %s: PayPal holds %s %s.", self.label, payment.pk, amount, currency)
            end_pending_at_gateway(payment, "mismatch")
            payment.save(update_fields=["extra_data"])
            payment.change_status(PaymentStatus.ERROR, message="Amount mismatch")
        return matches

    # -- after the payment ------------------------------------------------------------

    def money_call(self, payment, method, operation, params, *parts):
        """DoCapture, DoVoid, RefundTransaction: ``MSGSUBID`` is the movement's key (issue 14), else one per
        attempt here. No answer: ``GatewayUnavailable`` and the same key next time, so PayPal replays what it
        did. A failure PayPal answered: the attempt is counted, the next one is a new request with a new key
        (PayPal replays a stored failure to the same MSGSUBID)."""
        fallback = operation_key(payment, operation, attempt_number(payment, operation), *parts)
        fields = self.call(method, params, msgsubid=movement_key(payment, fallback))
        if not succeeded(fields):
            next_attempt(payment, operation)
            payment.save(update_fields=["extra_data"])
            self.raise_for_errors(fields, method, answered=True)
        return fields

    def capture(self, payment, amount=None):
        amount = Decimal(amount if amount is not None else payment.total)
        params = {
            "AUTHORIZATIONID": payment.transaction_id,
            "AMT": format_amount(amount, payment.currency),
            "CURRENCYCODE": payment.currency,
            "COMPLETETYPE": "Complete",
        }
        fields = self.money_call(payment, "DoCapture", "capture", params, payment.transaction_id, amount)
        payment.attrs.paypal_capture_id = fields.get("TRANSACTIONID", "")
        self.add_history(payment, "capture", id=fields.get("TRANSACTIONID", ""), amount=amount)
        self.record_capture(payment, amount)
        return amount

    def release(self, payment):
        params = {"AUTHORIZATIONID": payment.transaction_id}
        self.money_call(payment, "DoVoid", "void", params, payment.transaction_id)
        self.add_history(payment, "void", id=payment.transaction_id)
        payment.save(update_fields=["extra_data"])

    def refund(self, payment, amount=None):
        """Refund ``amount`` (default: all that is left). RefundTransaction: a ``Full`` refund only when
        nothing was refunded before (PayPal refuses it after a partial one, 10009); the rest is a partial."""
        earlier = self.history(payment, "refund")
        remaining = Decimal(payment.captured_amount)
        amount = remaining if amount is None else Decimal(amount)
        full = not earlier and amount == remaining and remaining == payment.total
        params = {
            "TRANSACTIONID": getattr(payment.attrs, "paypal_capture_id", None) or payment.transaction_id,
            "REFUNDTYPE": "Full" if full else "Partial",
            "AMT": None if full else format_amount(amount, payment.currency),
            "CURRENCYCODE": payment.currency,
        }
        fields = self.money_call(payment, "RefundTransaction", "refund", params, len(earlier) + 1, amount)
        refunded = Decimal(fields.get("GROSSREFUNDAMT") or amount)
        self.add_history(payment, "refund", id=fields.get("REFUNDTRANSACTIONID", ""), amount=refunded)
        self.record_refund(payment, refunded)
        return refunded
