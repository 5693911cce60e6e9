"""PayPal Payflow Pro (Payflow Gateway name-value API) as a django-payments provider.

Wire format: ``NAME[length]=value`` pairs joined by ``&``, never URL-encoded; the
length tag lets a value hold ``&`` and ``=``. Every request carries an
``X-VPS-REQUEST-ID``: the gateway answers a repeated id with the first answer
(``DUPLICATE=1``) instead of running the transaction again, so the id is derived
from the payment and the operation and reused on every retry.

Two ways to take a card, per variant (option ``mode``):

``hosted`` (default)
    A Secure Token (``CREATESECURETOKEN=Y``) carries the amount to PayPal's hosted
    page; the payer types the card there. PayPal sends the result to the return URL
    (browser) and the silent post URL (server to server), both the payment's process
    URL; the provider does not trust the posted fields and asks the gateway
    (inquiry by Secure Token) what really happened.
``direct``
    The card form is on the site (PCI scope for the merchant); card number and CVV
    go straight to the gateway and are never stored or logged.
"""

import logging
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from payments import FraudStatus, PaymentStatus, RedirectNeeded
from payments.fields import CreditCardExpiryField, CreditCardNumberField, CreditCardVerificationField
from payments.forms import PaymentForm

from .. import __version__
from .base import (
    GatewayConfigurationError,
    GatewayDeclined,
    GatewayError,
    GatewayRefused,
    MalformedResponse,
    PayPalClassicProvider,
    card_form_allowed,
    format_amount,
    operation_key,
    redact,
)

logger = logging.getLogger(__name__)

#: RESULT values (Payflow Gateway developer guide, "Transaction responses").
APPROVED = 0
FRAUD_REVIEW = frozenset({126, 127})
#: The payer can do something about these: another card, another method.
DECLINED = frozenset({2, 12, 13, 22, 23, 24, 30, 50, 51, 112, 114, 125, 128})
#: Temporary trouble between the gateway and the processor: same request id again.
RETRYABLE = frozenset({11, 102, 103, 104, 106, 107, 109, 115, 116, 150, 151})
#: The merchant's account or settings are wrong: only the site administrator can fix them.
CONFIGURATION = frozenset({1, 5, 6, 8, 9, 25, 26, 27, 28, 29, 100, 101, 121})
#: Secure Token used, in use or expired: a new one is needed.
TOKEN_PROBLEMS = frozenset({160, 161, 162})

#: An inquiry about a token nothing was paid with.
ORIGINAL_NOT_FOUND = 19

#: Minutes a Secure Token is reused for (PayPal keeps it 30 minutes).
SECURE_TOKEN_MINUTES = 25

_NAME = re.compile(rb"([A-Za-z0-9_]+)(?:\[(\d+)\])?")
_UNSAFE = re.compile(r'["\r\n\x00-\x1f]')


def encode_payflow(params):
    """Bytes of a Payflow request: every value length-tagged, nothing URL-encoded."""
    parts = []
    for name, value in params.items():
        if value is None or value == "":
            continue
        data = _UNSAFE.sub(" ", str(value)).encode("utf-8")
        parts.append(b"%s[%d]=%s" % (name.encode("ascii"), len(data), data))
    return b"&".join(parts)


def decode_payflow(body):
    """Fields of a Payflow reply; values with a length tag may contain ``&`` and ``=``."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    body = body.rstrip(b"\r\n")
    fields = {}
    position = 0
    while position < len(body):
        equals = body.find(b"=", position)
        match = _NAME.fullmatch(body[position:equals]) if equals != -1 else None
        if match is None:
            raise MalformedResponse(f"bad name at offset {position}")
        start = equals + 1
        if match.group(2) is not None:
            end = start + int(match.group(2))
            if end > len(body) or (end < len(body) and body[end : end + 1] != b"&"):
                raise MalformedResponse(f"length tag of {match.group(1)!r} does not fit")
        else:
            ampersand = body.find(b"&", start)
            end = len(body) if ampersand == -1 else ampersand
        fields[match.group(1).decode("ascii").upper()] = body[start:end].decode("utf-8", errors="replace")
        position = end + 1
    if "RESULT" not in fields or not re.fullmatch(r"-?\d+", fields["RESULT"]):
        raise MalformedResponse("no RESULT")
    return fields


def payment_reference(payment):
    """The payment's ``CUSTREF``: 12 characters of its random token, unique across sites sharing an account.

    An inquiry by ``CUSTREF`` answers the last transaction sent with it, so it must never be reused by
    another payment (a database id would be, by a staging copy of the same site for one).
    """
    return str(payment.token).replace("-", "")[:12]


def result_of(fields, key="RESULT"):
    try:
        return int(fields.get(key, ""))
    except ValueError:
        return None


class CardNumberInput(forms.TextInput):
    """Never echoes the card number back into the page (after a decline, for example)."""

    def format_value(self, value):
        return None


class PayflowCardForm(PaymentForm):
    """The card fields of the ``direct`` mode; what the payer types goes to the gateway only."""

    name = forms.CharField(
        label=_("Name on card"),
        max_length=60,
        widget=forms.TextInput(attrs={"autocomplete": "cc-name"}),
    )
    number = CreditCardNumberField(
        label=_("Card number"),
        max_length=32,
        widget=CardNumberInput(attrs={"autocomplete": "cc-number", "inputmode": "numeric"}),
    )
    expiration = CreditCardExpiryField(label=_("Expiry date"))
    cvv2 = CreditCardVerificationField(
        label=_("Security code"),
        help_text=_("The three digits on the back of the card (four on the front for American Express)."),
        widget=CardNumberInput(attrs={"autocomplete": "cc-csc", "inputmode": "numeric"}),
    )

    def __init__(self, data=None, *, provider, payment):
        super().__init__(data=data, provider=provider, payment=payment, hidden_inputs=False)
        self.fields["number"].error_messages["invalid"] = _("Please enter a valid card number.")
        self.fields["cvv2"].error_messages["invalid"] = _("Enter the card's 3 or 4 digit security code.")

    def card(self):
        expiry = self.cleaned_data["expiration"]
        return {
            "ACCT": self.cleaned_data["number"],
            "EXPDATE": expiry.strftime("%m%y"),
            "CVV2": self.cleaned_data["cvv2"],
            "NAME": self.cleaned_data["name"],
        }


class PayflowProProvider(PayPalClassicProvider):
    """Payflow Pro: sale or authorization, delayed capture, void and credit.

    Options (``PAYMENT_VARIANTS``): ``partner`` (``"PayPal"``, ``"PayPalUK"``...),
    ``vendor``, ``user`` (defaults to the vendor), ``password``, ``endpoint``
    (``"live"``, ``"sandbox"`` or a URL), ``mode`` (``"hosted"`` or ``"direct"``),
    ``hosted_url`` (the hosted page; PayPal's by default), ``currencies`` (accepted
    ISO codes; any when unset), ``capture`` (``False``: authorize only),
    ``timeout``, ``connect_timeout``, ``retries``, ``retry_backoff``.
    """

    label = "Payflow Pro"
    #: A Secure Token (and so its hosted page) can be used up to 30 minutes after it was created
    #: (PayPal Payflow Gateway Developer Guide, "Secure Token"); erasure keeps the references that long.
    gateway_state_lifetime = timedelta(minutes=30)
    endpoints = {"live": "https://payflowpro.paypal.com", "sandbox": "https://pilot-payflowpro.paypal.com"}
    default_hosted_url = "https://payflowlink.paypal.com"
    default_partner = "PayPal"

    def __init__(
        self,
        *,
        vendor=None,
        password=None,
        user=None,
        partner=None,
        mode="hosted",
        hosted_url=None,
        **options,
    ):
        super().__init__(**options)
        self.partner = partner or self.default_partner
        self.vendor = vendor
        self.user = user or vendor
        self.password = password
        self.require_options(self.label, partner=self.partner, vendor=vendor, password=password)
        if mode not in ("hosted", "direct"):
            raise ImproperlyConfigured(f"{self.label}: mode must be 'hosted' or 'direct', not {mode!r}.")
        self.mode = mode
        self.hosted_url = hosted_url or self.default_hosted_url
        self.test_mode = self.endpoint_name == "sandbox"

    # -- wire -------------------------------------------------------------------------

    def call(self, params, request_id):
        """Send one transaction; ``request_id`` is the same on every retry of it."""
        full = {"PARTNER": self.partner, "VENDOR": self.vendor, "USER": self.user, "PWD": self.password}
        full.update(params)
        full.setdefault("VERBOSITY", "HIGH")
        headers = {
            "Content-Type": "text/namevalue",
            "X-VPS-REQUEST-ID": request_id,
            "X-VPS-CLIENT-TIMEOUT": str(int(self.transport.timeout[1])),
            "X-VPS-VIT-INTEGRATION-PRODUCT": "wagtail-training-pay",
            "X-VPS-VIT-INTEGRATION-VERSION": __version__,
        }
        fields = self.transport.post(
            self.endpoint,
            encode_payflow(full),
            headers,
            parse=decode_payflow,
            should_retry=lambda answer: result_of(answer) in RETRYABLE,
            log_fields={"X-VPS-REQUEST-ID": request_id, **redact(full)},
        )
        if fields.get("DUPLICATE") == "1":
            logger.info("%s replayed the first answer to request %s.", self.label, request_id)
        return fields

    def raise_for_result(self, fields, operation):
        """Turn a non-approved RESULT into the error class the caller must handle."""
        result = result_of(fields)
        message = fields.get("RESPMSG", "")
        text = f"{self.label} {operation}: RESULT {result} {message}".strip()
        if result in DECLINED:
            raise GatewayDeclined(
                text,
                code=result,
                gateway_message=message,
                payer_message=_("Your card was declined: %(reason)s") % {"reason": message or result},
            )
        if result in CONFIGURATION:
            logger.error(
                "%s. Check the partner, vendor, user, password and currencies in the variant's PAYMENT_VARIANTS "
                "options, and the account's settings in PayPal Manager.",
                text,
            )
            raise GatewayConfigurationError(text + " (check the variant's PAYMENT_VARIANTS options)", code=result)
        if result in RETRYABLE:
            raise GatewayError(text, code=result, gateway_message=message)
        raise GatewayRefused(text, code=result, gateway_message=message)

    def amount_params(self, payment, amount=None):
        return {"AMT": format_amount(payment.total if amount is None else amount), "CURRENCY": payment.currency}

    def order_params(self, payment):
        return {
            "INVNUM": str(payment.token).replace("-", "")[:32],
            "CUSTREF": payment_reference(payment),
            "COMMENT1": (payment.description or "")[:128],
            "BILLTOFIRSTNAME": payment.billing_first_name[:30],
            "BILLTOLASTNAME": payment.billing_last_name[:30],
            "BILLTOSTREET": f"{payment.billing_address_1} {payment.billing_address_2}".strip()[:150],
            "BILLTOCITY": payment.billing_city[:45],
            "BILLTOZIP": payment.billing_postcode[:10],
            "BILLTOCOUNTRY": payment.billing_country_code,
            "BILLTOEMAIL": payment.billing_email,
            "CUSTIP": payment.customer_ip_address or "",
        }

    @property
    def payment_trxtype(self):
        return "S" if self._capture else "A"

    # -- taking the card --------------------------------------------------------------

    def get_form(self, payment, data=None):
        self.check_currency(payment)
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED):
            raise RedirectNeeded(payment.get_success_url())
        if payment.status == PaymentStatus.WAITING:
            payment.change_status(PaymentStatus.INPUT)
        if self.mode == "hosted":
            raise RedirectNeeded(self.hosted_page_url(payment))
        if not card_form_allowed():
            raise GatewayConfigurationError(
                f"{self.label} variant {payment.variant!r} shows a card form, which needs HTTPS: "
                "set PAYMENT_USES_SSL = True and serve the site over HTTPS, or use mode 'hosted'."
            )
        form = PayflowCardForm(data=data, provider=self, payment=payment)
        if data is not None and form.is_valid():
            try:
                self.charge_card(payment, form.card())
            except GatewayError as exc:
                form.add_error(None, exc.payer_message)
                return form
            raise RedirectNeeded(payment.get_success_url())
        return form

    def charge_card(self, payment, card):
        """Sale or authorization with card data typed on the site (``direct`` mode)."""
        attempt = len(self.history(payment, "declined")) + 1
        params = {"TRXTYPE": self.payment_trxtype, "TENDER": "C", **card, **self.amount_params(payment)}
        params.update(self.order_params(payment))
        fields = self.call(params, operation_key(payment, "card", attempt))
        fields.setdefault("ACCT", card["ACCT"][-4:])
        self.apply_payment_result(payment, fields, self.payment_trxtype, result_of(fields), fields.get("PNREF"))
        result = result_of(fields)
        if result != APPROVED and result not in FRAUD_REVIEW:
            self.raise_for_result(fields, "card payment")

    def apply_payment_result(self, payment, fields, trxtype, result, pnref):
        """Record a sale/authorization outcome on the payment (idempotent for one PNREF)."""
        message = fields.get("RESPMSG", "")
        if result == APPROVED or result in FRAUD_REVIEW:
            if payment.transaction_id == pnref and payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
                return
            payment.transaction_id = pnref
            payment.attrs.payflow_trxtype = trxtype
            payment.attrs.card_last4 = str(fields.get("ACCT", ""))[-4:]
            if result in FRAUD_REVIEW:
                payment.change_fraud_status(FraudStatus.REVIEW, message=message or "Fraud filters", commit=False)
                status = PaymentStatus.PREAUTH
            else:
                payment.change_fraud_status(FraudStatus.ACCEPT, commit=False)
                status = PaymentStatus.CONFIRMED if trxtype == "S" else PaymentStatus.PREAUTH
            captured = payment.total if status == PaymentStatus.CONFIRMED else Decimal(0)
            self.record_capture(
                payment, captured, transaction_id=pnref, fraud_status=payment.fraud_status, fraud_message=message
            )
            payment.change_status(status, message=message)
            logger.info("%s payment %s: RESULT %s, PNREF %s.", self.label, payment.pk, result, pnref)
        elif result in RETRYABLE:
            # Outcome unknown at the processor: keep the same request id for the next try.
            logger.warning("%s payment %s: RESULT %s %s.", self.label, payment.pk, result, message)
        else:
            self.add_history(payment, "declined", result=result)
            if result in (125, 128):
                payment.change_fraud_status(FraudStatus.REJECT, message=message, commit=False)
            payment.save(update_fields=["extra_data", "fraud_status", "fraud_message"])
            status = PaymentStatus.REJECTED if result in DECLINED else PaymentStatus.ERROR
            payment.change_status(status, message=f"RESULT {result}: {message}")
            logger.info("%s payment %s: RESULT %s %s.", self.label, payment.pk, result, message)

    # -- hosted page ------------------------------------------------------------------

    def hosted_page_url(self, payment):
        token = self.secure_token(payment)
        query = {"SECURETOKEN": token["token"], "SECURETOKENID": token["id"]}
        if self.test_mode:
            query["MODE"] = "TEST"
        return f"{self.hosted_url}?{urlencode(query)}"

    def secure_token(self, payment):
        """A Secure Token for the payment's amount, reused while it is fresh and unused."""
        current = getattr(payment.attrs, "payflow_secure_token", None) if payment.extra_data else None
        if current and not current.get("spent"):
            created = parse_datetime(current["created"])
            if created and timezone.now() - created < timedelta(minutes=SECURE_TOKEN_MINUTES):
                return current
        token_id = uuid.uuid4().hex
        process_url = self.get_return_url(payment)
        params = {
            "TRXTYPE": self.payment_trxtype,
            "CREATESECURETOKEN": "Y",
            "SECURETOKENID": token_id,
            "RETURNURL": process_url,
            "ERRORURL": process_url,
            "CANCELURL": self.get_return_url(payment, {"cancel": "1"}),
            "SILENTPOSTURL": self.get_return_url(payment, {"silent": "1"}),
            **self.amount_params(payment),
            **self.order_params(payment),
        }
        fields = self.call(params, token_id)
        if result_of(fields) != APPROVED or not fields.get("SECURETOKEN"):
            self.raise_for_result(fields, "secure token")
        if fields.get("SECURETOKENID", token_id) != token_id:
            raise GatewayRefused(f"{self.label} answered a Secure Token for another id.")
        current = {"id": token_id, "token": fields["SECURETOKEN"], "created": timezone.now().isoformat()}
        payment.attrs.payflow_secure_token = current
        payment.save(update_fields=["extra_data"])
        return current

    def inquire(self, payment, secure_token):
        """What the gateway recorded for the token: the only source of truth for a hosted payment."""
        params = {"TRXTYPE": "I", "TENDER": "C", "SECURETOKEN": secure_token["token"]}
        # Read-only: a fresh id each time, so the answer is never a stale replay.
        return self.call(params, uuid.uuid4().hex)

    def inquire_by_reference(self, payment):
        """What the gateway recorded last under the payment's ``CUSTREF`` (it searches the last 30 days)."""
        params = {"TRXTYPE": "I", "TENDER": "C", "CUSTREF": payment_reference(payment)}
        return self.call(params, uuid.uuid4().hex)

    def process_data(self, payment, request):
        """Return URL (the payer's browser) and silent post (PayPal's server), both idempotent."""
        silent = request.GET.get("silent") == "1"
        if request.GET.get("cancel") == "1":
            logger.info("%s payment %s: the payer cancelled on the hosted page.", self.label, payment.pk)
            return HttpResponseRedirect(payment.get_failure_url())
        posted = request.POST if request.method == "POST" else request.GET
        secure_token = getattr(payment.attrs, "payflow_secure_token", None) if payment.extra_data else None
        if not secure_token or not constant_time_compare(posted.get("SECURETOKENID", ""), secure_token["id"]):
            logger.warning("%s payment %s: notification for an unknown Secure Token.", self.label, payment.pk)
            return HttpResponseBadRequest("Unknown secure token")
        if payment.status not in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED):
            self.apply_inquiry(payment, self.inquire(payment, secure_token), secure_token)
        if silent:
            return HttpResponse("OK", content_type="text/plain")
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
            return HttpResponseRedirect(payment.get_success_url())
        return HttpResponseRedirect(payment.get_failure_url())

    def apply_inquiry(self, payment, fields, secure_token=None):
        if result_of(fields) != APPROVED or "ORIGRESULT" not in fields:
            logger.info("%s payment %s: nothing recorded yet for the payment.", self.label, payment.pk)
            return
        if fields.get("AMT") and Decimal(fields["AMT"]) != payment.total:
            logger.error(
                "%s payment %s: the gateway recorded %s, the payment is %s; not confirmed.",
                self.label,
                payment.pk,
                fields["AMT"],
                payment.total,
            )
            payment.change_status(PaymentStatus.ERROR, message="Amount mismatch")
            return
        if secure_token is not None:
            secure_token["spent"] = True
            payment.attrs.payflow_secure_token = secure_token
        fields = {**fields, "RESPMSG": fields.get("ORIGRESPMSG", fields.get("RESPMSG", ""))}
        self.apply_payment_result(
            payment, fields, self.payment_trxtype, result_of(fields, "ORIGRESULT"), fields.get("ORIGPNREF")
        )

    def get_token_from_request(self, payment, request):
        """Payflow notifies each payment's own process URL; the per-variant URL is not used."""
        return None

    def check_status(self, payment):
        """Ask the gateway what became of an unfinished payment (the stale-payment sweeper calls this).

        A hosted payment is looked up by its Secure Token; a card typed on the site (``direct`` mode) by
        its ``CUSTREF``, so that a sale whose answer never reached the site is still found. Returns True:
        the payment then carries what the gateway recorded (paid, declined, or nothing, which means never
        paid). Raises ``GatewayError`` when the gateway could not be asked now; try again later.
        """
        secure_token = getattr(payment.attrs, "payflow_secure_token", None) if payment.extra_data else None
        if secure_token:
            fields = self.inquire(payment, secure_token)
        elif self.mode == "hosted":
            return True  # no token: the payer never reached the hosted page
        else:
            fields = self.inquire_by_reference(payment)
        if result_of(fields) == APPROVED and "ORIGRESULT" in fields:
            self.apply_inquiry(payment, fields, secure_token)
            return True
        if result_of(fields) == ORIGINAL_NOT_FOUND:
            return True  # the gateway never recorded a transaction for this payment
        self.raise_for_result(fields, "inquiry")

    # -- after the payment ------------------------------------------------------------

    def capture(self, payment, amount=None):
        amount = Decimal(amount if amount is not None else payment.total)
        if getattr(payment.attrs, "payflow_trxtype", "A") == "S":
            # A sale held by fraud review settles once accepted in PayPal Manager: nothing to send.
            self.record_capture(payment, payment.total)
            return payment.total
        params = {"TRXTYPE": "D", "TENDER": "C", "ORIGID": payment.transaction_id, "AMT": format_amount(amount)}
        fields = self.call(params, operation_key(payment, "capture", payment.transaction_id, amount))
        if result_of(fields) != APPROVED:
            self.raise_for_result(fields, "delayed capture")
        payment.attrs.payflow_capture_pnref = fields.get("PNREF", "")
        self.add_history(payment, "capture", pnref=fields.get("PNREF", ""), amount=amount)
        self.record_capture(payment, amount)
        return amount

    def release(self, payment):
        params = {"TRXTYPE": "V", "TENDER": "C", "ORIGID": payment.transaction_id}
        fields = self.call(params, operation_key(payment, "void", payment.transaction_id))
        if result_of(fields) != APPROVED:
            self.raise_for_result(fields, "void")
        self.add_history(payment, "void", pnref=fields.get("PNREF", ""))
        payment.save(update_fields=["extra_data"])

    def refund(self, payment, amount=None):
        amount = Decimal(amount if amount is not None else payment.captured_amount)
        original = getattr(payment.attrs, "payflow_capture_pnref", None) or payment.transaction_id
        number = len(self.history(payment, "refund")) + 1
        params = {"TRXTYPE": "C", "TENDER": "C", "ORIGID": original, "AMT": format_amount(amount)}
        fields = self.call(params, operation_key(payment, "refund", number, amount))
        if result_of(fields) != APPROVED:
            self.raise_for_result(fields, "credit")
        self.add_history(payment, "refund", pnref=fields.get("PNREF", ""), amount=amount)
        self.record_refund(payment, amount)
        return amount


class WebsitePaymentsProUKProvider(PayflowProProvider):
    """PayPal Website Payments Pro (UK): Payflow with ``PARTNER=PayPalUK``, in pounds sterling."""

    label = "Website Payments Pro (UK)"
    default_partner = "PayPalUK"

    def __init__(self, **options):
        options.setdefault("currencies", ("GBP",))
        super().__init__(**options)
