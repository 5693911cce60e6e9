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

import ipaddress
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
from django.views.decorators.debug import sensitive_variables
from payments import FraudStatus, PaymentStatus, RedirectNeeded
from payments.fields import CreditCardExpiryField, CreditCardNumberField, CreditCardVerificationField
from payments.forms import PaymentForm

from .. import __version__
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
    card_form_allowed,
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

#: RESULT values (Payflow Gateway Developer Guide, "RESULT Values and RESPMSG Text"; Fraud Protection
#: Services User's Guide, "RESULT Values Specific to Fraud Protection Services").
APPROVED = 0
#: Held by the fraud filters: the merchant must accept it in PayPal Manager before it settles.
FRAUD_REVIEW = frozenset({126, 127})
#: Declined by the merchant after a review.
REVIEW_REJECTED = frozenset({125, 128})
#: RESULT 112 (AVS failed): the processor's authorization may remain on the card; void it.
AUTHORIZATION_LEFT = frozenset({112})
#: The payer can do something about these: another card, another method.
DECLINED = frozenset({2, 12, 13, 22, 23, 24, 30, 50, 51, 112, 114, 125, 128})
#: The gateway did not hear from the processor: the transaction may or may not have happened. PayPal stores
#: this answer under the request id too, so the same id would get it again: inquire, then use a new id.
UNKNOWN_OUTCOME = frozenset({11, 102, 103, 104, 106, 107, 109, 115, 116, 150, 151})
#: The merchant's account or settings are wrong: only the site administrator can fix them.
CONFIGURATION = frozenset({1, 5, 6, 8, 9, 25, 26, 27, 28, 29, 100, 101, 121})
#: Secure Token used, in use or expired: a new one is needed.
TOKEN_PROBLEMS = frozenset({160, 161, 162})

#: An inquiry about a token nothing was paid with.
ORIGINAL_NOT_FOUND = 19

#: Minutes a Secure Token is reused for. The guide gives it 30 minutes ("About the Secure Token") or 20
#: ("Secure Token Errors"): reused for 10, the payer keeps at least 10 minutes on the hosted page.
SECURE_TOKEN_MINUTES = 10
#: Minutes after which a Secure Token can no longer be used on the hosted page, at the latest.
SECURE_TOKEN_LIFETIME_MINUTES = 30
#: X-VPS-CLIENT-TIMEOUT, seconds ("Payflow Header Parameters": the recommended value is 45).
CLIENT_TIMEOUT = 45

_NAME = re.compile(rb"([A-Za-z0-9_]+)(?:\[(\d+)\])?")
_UNSAFE = re.compile(r'["\r\n\x00-\x1f]')


@sensitive_variables()
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


def card_reference(payment, attempt):
    """The ``CUSTREF`` of a card payment's attempt: the payment's reference first, then one per attempt,
    so that an inquiry after an unknown outcome (RESULT 104) finds this attempt and no earlier one."""
    if attempt <= 1:
        return payment_reference(payment)
    return operation_key(payment, "card-reference", attempt, length=12)


def ipv4_or_blank(address):
    """``CUSTIP`` takes an IPv4 dotted quad (``xxx.xxx.xxx.xxx``, 15 characters): anything else is left out."""
    try:
        return str(ipaddress.IPv4Address(str(address or "").strip()))
    except ValueError:
        return ""


def integration_version():
    """``X-VPS-VIT-INTEGRATION-VERSION`` in the "major.minor" form the header asks for."""
    numbers = re.findall(r"\d+", __version__)
    return ".".join((numbers + ["0", "0"])[:2])


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
    ``timeout``, ``connect_timeout``, ``retries``, ``retry_backoff``, ``client_timeout``
    (``X-VPS-CLIENT-TIMEOUT``, 45 seconds as PayPal recommends; ``timeout`` defaults to 15 more).
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
        client_timeout=CLIENT_TIMEOUT,
        **options,
    ):
        self.client_timeout = int(client_timeout)
        options.setdefault("timeout", self.client_timeout + 15)
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

    @sensitive_variables()
    def call(self, params, request_id):
        """Send one request. ``request_id`` is the same only on the transport's retries of this very request
        (no answer came back): PayPal replays its stored answer to a used id for 30 days or more."""
        full = {"PARTNER": self.partner, "VENDOR": self.vendor, "USER": self.user, "PWD": self.password}
        full.update(params)
        full.setdefault("VERBOSITY", "HIGH")
        headers = {
            "Content-Type": "text/namevalue",
            "X-VPS-REQUEST-ID": request_id,
            "X-VPS-CLIENT-TIMEOUT": str(self.client_timeout),
            "X-VPS-VIT-INTEGRATION-PRODUCT": "wagtail-training-pay",
            "X-VPS-VIT-INTEGRATION-VERSION": integration_version(),
        }
        fields = self.transport.post(
            self.endpoint,
            encode_payflow(full),
            headers,
            parse=decode_payflow,
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
        if result in UNKNOWN_OUTCOME:
            raise GatewayError(text, code=result, gateway_message=message)
        raise GatewayRefused(text, code=result, gateway_message=message)

    @sensitive_variables("params")
    def transact(self, payment, operation, params, key, custref):
        """One money-moving request, sent with its own ``X-VPS-REQUEST-ID`` and ``CUSTREF``.

        * No answer after the transport's retries: ``GatewayUnavailable``; the next try sends the same
          key, and PayPal answers with what it did.
        * A RESULT whose outcome is unknown (104...): PayPal stored that answer under the key, so the
          same key would get it forever. An inquiry by ``CUSTREF`` tells what happened: found, its
          result is the answer; not found, the request never ran (``GatewayError``) and the next
          attempt gets a new key; no answer to the inquiry either, ``GatewayUnavailable``.
        * Any other answer but approval counts the attempt: the next one is a new request, new key.
        """
        fields = self.call({**params, "CUSTREF": custref}, key)
        result = result_of(fields)
        if result in UNKNOWN_OUTCOME:
            logger.warning(
                "%s payment %s: %s answered RESULT %s; inquiring.", self.label, payment.pk, operation, result
            )
            found = self.inquire_by_reference(custref)
            if result_of(found) == APPROVED and "ORIGRESULT" in found:
                fields = {
                    **found,
                    "RESULT": found["ORIGRESULT"],
                    "PNREF": found.get("ORIGPNREF", ""),
                    "RESPMSG": found.get("ORIGRESPMSG") or found.get("RESPMSG", ""),
                    "INQUIRED": "1",
                }
                result = result_of(fields)
            elif result_of(found) == ORIGINAL_NOT_FOUND:
                next_attempt(payment, operation)
                payment.save(update_fields=["extra_data"])
                raise GatewayError(
                    f"{self.label} {operation}: RESULT {result}; the gateway has no such transaction.",
                    code=result,
                    gateway_message=fields.get("RESPMSG", ""),
                )
            else:
                raise GatewayUnavailable(f"{self.label} {operation}: RESULT {result}, and the inquiry failed.")
        if result != APPROVED and result not in FRAUD_REVIEW:
            next_attempt(payment, operation)
            payment.save(update_fields=["extra_data"])
        return fields

    def amount_params(self, payment, amount=None):
        amount = payment.total if amount is None else amount
        return {"AMT": format_amount(amount, payment.currency), "CURRENCY": payment.currency}

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
            "CUSTIP": ipv4_or_blank(payment.customer_ip_address),
        }

    @property
    def payment_trxtype(self):
        return "S" if self._capture else "A"

    # -- taking the card --------------------------------------------------------------

    def get_form(self, payment, data=None):
        self.check_currency(payment)
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED):
            raise RedirectNeeded(payment.get_success_url())
        if pending_at_gateway(payment):
            # Held by the fraud filters: paid, not settled; never a second payment for it.
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

    @sensitive_variables("card", "params", "fields")
    def charge_card(self, payment, card):
        """Sale or authorization with card data typed on the site (``direct`` mode)."""
        attempt = attempt_number(payment, "card")
        params = {"TRXTYPE": self.payment_trxtype, "TENDER": "C", **card, **self.amount_params(payment)}
        params.update(self.order_params(payment))
        params.pop("CUSTREF")
        custref = card_reference(payment, attempt)
        fields = self.transact(payment, "card", params, operation_key(payment, "card", attempt), custref)
        fields.setdefault("ACCT", card["ACCT"][-4:])
        result = result_of(fields)
        self.apply_payment_result(payment, fields, self.payment_trxtype, result, fields.get("PNREF"))
        if result != APPROVED and result not in FRAUD_REVIEW:
            self.raise_for_result(fields, "card payment")

    def apply_payment_result(self, payment, fields, trxtype, result, pnref):
        """Record a sale/authorization outcome on the payment (idempotent for one PNREF)."""
        message = fields.get("RESPMSG", "")
        if result == APPROVED:
            if payment.transaction_id == pnref and payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH):
                return
            payment.transaction_id = pnref
            payment.attrs.payflow_trxtype = trxtype
            payment.attrs.card_last4 = str(fields.get("ACCT", ""))[-4:] or getattr(payment.attrs, "card_last4", "")
            payment.change_fraud_status(FraudStatus.ACCEPT, commit=False)
            end_pending_at_gateway(payment, "completed")
            status = PaymentStatus.CONFIRMED if trxtype == "S" else PaymentStatus.PREAUTH
            captured = payment.total if status == PaymentStatus.CONFIRMED else Decimal(0)
            self.record_capture(
                payment, captured, transaction_id=pnref, fraud_status=payment.fraud_status, fraud_message=message
            )
            payment.change_status(status, message=message)
            logger.info("%s payment %s: RESULT %s, PNREF %s.", self.label, payment.pk, result, pnref)
        elif result in FRAUD_REVIEW:
            # Fraud guide: held for the merchant's review in PayPal Manager. Not a sale yet: nothing is
            # captured or confirmed; the sweeper inquires until the merchant accepts or rejects it.
            payment.transaction_id = pnref
            payment.attrs.payflow_trxtype = trxtype
            payment.attrs.card_last4 = str(fields.get("ACCT", ""))[-4:] or getattr(payment.attrs, "card_last4", "")
            mark_pending_at_gateway(payment, "fraud review", result=result, pnref=pnref)
            payment.change_fraud_status(FraudStatus.REVIEW, message=message or "Fraud filters", commit=False)
            self.record_capture(
                payment, Decimal(0), transaction_id=pnref, fraud_status=payment.fraud_status, fraud_message=message
            )
            payment.change_status(PaymentStatus.WAITING, message=f"RESULT {result}: {message}")
            logger.warning(
                "%s payment %s: RESULT %s, held for review in PayPal Manager (PNREF %s).",
                self.label,
                payment.pk,
                result,
                pnref,
            )
        elif result in UNKNOWN_OUTCOME:
            logger.warning("%s payment %s: RESULT %s %s.", self.label, payment.pk, result, message)
        else:
            self.add_history(payment, "declined", result=result)
            if result in REVIEW_REJECTED:
                payment.change_fraud_status(FraudStatus.REJECT, message=message, commit=False)
            end_pending_at_gateway(payment, "rejected")
            payment.save(update_fields=["extra_data", "fraud_status", "fraud_message"])
            if result in AUTHORIZATION_LEFT and pnref:
                self.void_left_authorization(payment, pnref)
            status = PaymentStatus.REJECTED if result in DECLINED else PaymentStatus.ERROR
            payment.change_status(status, message=f"RESULT {result}: {message}")
            logger.info("%s payment %s: RESULT %s %s.", self.label, payment.pk, result, message)

    def void_left_authorization(self, payment, pnref):
        """RESULT 112: the processor authorized before the address check failed; void what it left."""
        if any(entry.get("pnref") == pnref for entry in self.history(payment, "void-left")):
            return
        params = {"TRXTYPE": "V", "TENDER": "C", "ORIGID": pnref}
        try:
            fields = self.call(params, operation_key(payment, "void-left", pnref))
        except GatewayError as exc:
            logger.error("%s payment %s: could not void authorization %s: %s", self.label, payment.pk, pnref, exc)
            return
        if result_of(fields) == APPROVED:
            self.add_history(payment, "void-left", pnref=pnref)
            payment.save(update_fields=["extra_data"])
        else:
            logger.error("%s payment %s: void of %s: RESULT %s.", self.label, payment.pk, pnref, result_of(fields))

    # -- hosted page ------------------------------------------------------------------

    def hosted_page_url(self, payment):
        token = self.secure_token(payment)
        query = {"SECURETOKEN": token["token"], "SECURETOKENID": token["id"]}
        if self.test_mode:
            query["MODE"] = "TEST"
        return f"{self.hosted_url}?{urlencode(query)}"

    @staticmethod
    def issued_tokens(payment):
        """Every Secure Token issued for the payment, oldest first: any of them may still be paid with."""
        if not payment.extra_data:
            return []
        tokens = list(getattr(payment.attrs, "payflow_secure_tokens", None) or [])
        legacy = getattr(payment.attrs, "payflow_secure_token", None)
        if legacy and all(token["id"] != legacy["id"] for token in tokens):
            tokens.insert(0, legacy)
        return tokens

    @staticmethod
    def save_tokens(payment, tokens):
        payment.attrs.payflow_secure_tokens = tokens
        payment.attrs.payflow_secure_token = tokens[-1] if tokens else None

    def secure_token(self, payment):
        """A Secure Token for the payment's amount, reused while fresh and unused; every one issued is kept."""
        tokens = self.issued_tokens(payment)
        current = tokens[-1] if tokens else None
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
        self.save_tokens(payment, [*tokens, current])
        payment.save(update_fields=["extra_data"])
        return current

    def inquire(self, payment, secure_token):
        """What the gateway recorded for the token: the only source of truth for a hosted payment."""
        params = {"TRXTYPE": "I", "TENDER": "C", "SECURETOKEN": secure_token["token"]}
        # Read-only: a fresh id each time, so the answer is never a stale replay.
        return self.call(params, uuid.uuid4().hex)

    def inquire_by_reference(self, custref):
        """What the gateway recorded last under a ``CUSTREF`` (it searches the last 30 days)."""
        params = {"TRXTYPE": "I", "TENDER": "C", "CUSTREF": custref}
        return self.call(params, uuid.uuid4().hex)

    def inquire_by_pnref(self, pnref):
        params = {"TRXTYPE": "I", "TENDER": "C", "ORIGID": pnref}
        return self.call(params, uuid.uuid4().hex)

    def process_data(self, payment, request):
        """Return URL (the payer's browser) and silent post (PayPal's server), both idempotent.

        The notification may name any Secure Token issued for this payment (a payer who kept the first
        hosted page open in another tab pays there): the gateway is asked about that token.
        """
        silent = request.GET.get("silent") == "1"
        if request.GET.get("cancel") == "1":
            logger.info("%s payment %s: the payer cancelled on the hosted page.", self.label, payment.pk)
            return HttpResponseRedirect(payment.get_failure_url())
        posted = request.POST if request.method == "POST" else request.GET
        posted_id = posted.get("SECURETOKENID", "")
        secure_token = None
        for token in self.issued_tokens(payment):
            if constant_time_compare(posted_id, token["id"]):
                secure_token = token
        if secure_token is None:
            logger.warning("%s payment %s: notification for an unknown Secure Token.", self.label, payment.pk)
            return HttpResponseBadRequest("Unknown secure token")
        finished = (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH, PaymentStatus.REFUNDED)
        if payment.status not in finished and not pending_at_gateway(payment):
            # The silent post of a decline comes while the payer may still retry on PayPal's page: only the
            # browser's return (ERRORURL, once the payer left the page) ends the payment.
            self.apply_inquiry(payment, self.inquire(payment, secure_token), secure_token, final=not silent)
        if silent:
            return HttpResponse("OK", content_type="text/plain")
        if payment.status in (PaymentStatus.CONFIRMED, PaymentStatus.PREAUTH) or pending_at_gateway(payment):
            return HttpResponseRedirect(payment.get_success_url())
        return HttpResponseRedirect(payment.get_failure_url())

    def apply_inquiry(self, payment, fields, secure_token=None, *, final=True):
        """Apply what an inquiry found. ``final=False``: a decline is recorded but does not end the payment,
        because the payer is still on PayPal's hosted page, which lets them try again with the same token
        ("Secure Token Errors": a token serves up to 3 attempts)."""
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
            end_pending_at_gateway(payment, "mismatch")
            payment.save(update_fields=["extra_data"])
            payment.change_status(PaymentStatus.ERROR, message="Amount mismatch")
            return
        if secure_token is not None:
            tokens = self.issued_tokens(payment)
            for token in tokens:
                if token["id"] == secure_token["id"]:
                    token["spent"] = True
            self.save_tokens(payment, tokens)
        fields = {**fields, "RESPMSG": fields.get("ORIGRESPMSG", fields.get("RESPMSG", ""))}
        trxtype = getattr(payment.attrs, "payflow_trxtype", None) or self.payment_trxtype
        result = result_of(fields, "ORIGRESULT")
        if not final and result != APPROVED and result not in FRAUD_REVIEW:
            self.add_history(payment, "declined-on-page", result=result, pnref=fields.get("ORIGPNREF", ""))
            payment.save(update_fields=["extra_data"])
            logger.info(
                "%s payment %s: RESULT %s on the hosted page; the payer may retry.", self.label, payment.pk, result
            )
            return
        self.apply_payment_result(payment, fields, trxtype, result, fields.get("ORIGPNREF"))

    def get_token_from_request(self, payment, request):
        """Payflow notifies each payment's own process URL; the per-variant URL is not used."""
        return None

    def check_status(self, payment):
        """Ask the gateway what became of an unfinished payment; the stale-payment sweeper calls this.

        The one place where the provider learns the gateway's truth about a payment:

        * held by the fraud filters (RESULT 126/127): an inquiry on its PNREF; accepted in PayPal
          Manager, it is applied as approved (a sale confirms, an authorization is then captured);
          rejected (125/128), the payment is rejected; still under review, it stays waiting;
        * hosted page: an inquiry on every Secure Token issued for it that may still have been paid
          with (a token found unpaid after its lifetime is not asked about again);
        * card typed on the site (``direct``): an inquiry by the ``CUSTREF`` of each attempt, so a
          sale whose answer never reached the site (or was a RESULT 104) is still found.

        Returns ``STILL_PENDING`` when the gateway holds the payment (under review: ask again later,
        do not cancel it); ``True`` when the gateway answered (the payment then carries what it
        recorded: paid, declined, or nothing, which means never paid). Raises ``GatewayError`` when
        the gateway could not be asked now; try again later.
        """
        held = pending_at_gateway(payment)
        if held and payment.transaction_id:
            fields = self.inquire_by_pnref(payment.transaction_id)
            if result_of(fields) != APPROVED or "ORIGRESULT" not in fields:
                self.raise_for_result(fields, "inquiry")
            if result_of(fields, "ORIGRESULT") in FRAUD_REVIEW:
                # Still under review: said again through ``status_changed``, so that what it pays for
                # keeps its seat held (the settlers renew the hold), whoever runs this.
                payment.change_status(PaymentStatus.WAITING, message=f"RESULT {fields['ORIGRESULT']}: under review")
                return STILL_PENDING
            self.apply_inquiry(payment, fields)
            return STILL_PENDING if pending_at_gateway(payment) else True
        if self.mode == "hosted" or self.issued_tokens(payment):
            return self.check_tokens(payment)
        # Every attempt has its own CUSTREF: a sale whose answer was lost may sit under an earlier one than
        # the last (the learner typed another card after it), so each is asked, the newest first, and a
        # sale found under any of them wins over a decline under another.
        recorded = []
        for attempt in range(attempt_number(payment, "card"), 0, -1):
            fields = self.inquire_by_reference(card_reference(payment, attempt))
            if result_of(fields) == APPROVED and "ORIGRESULT" in fields:
                recorded.append(fields)
            elif result_of(fields) != ORIGINAL_NOT_FOUND:
                self.raise_for_result(fields, "inquiry")
        if not recorded:
            return True  # the gateway never recorded a transaction for this payment
        paid = [
            f for f in recorded if result_of(f, "ORIGRESULT") == APPROVED or result_of(f, "ORIGRESULT") in FRAUD_REVIEW
        ]
        self.apply_inquiry(payment, (paid or recorded)[0])
        return STILL_PENDING if pending_at_gateway(payment) else True

    def check_tokens(self, payment):
        """Inquire on every Secure Token not yet found unpaid after its lifetime; a payment made with any of
        them wins over a decline on another (the payer may have paid in a second tab)."""
        tokens = self.issued_tokens(payment)
        lifetime = timedelta(minutes=SECURE_TOKEN_LIFETIME_MINUTES)
        found = []
        for token in tokens:
            if token.get("closed"):
                continue
            fields = self.inquire(payment, token)
            if result_of(fields) == APPROVED and "ORIGRESULT" in fields:
                found.append((token, fields))
            elif result_of(fields) == ORIGINAL_NOT_FOUND:
                created = parse_datetime(token["created"])
                if created is None or timezone.now() - created > lifetime:
                    token["closed"] = True  # expired unpaid: nothing can be paid with it any more
            else:
                self.raise_for_result(fields, "inquiry")
        closed = {token["id"] for token in tokens if token.get("closed")}
        if closed:
            current = self.issued_tokens(payment)
            for token in current:
                token["closed"] = token["id"] in closed or token.get("closed", False)
            self.save_tokens(payment, current)
            payment.save(update_fields=["extra_data"])
        paid = [
            (t, f)
            for t, f in found
            if result_of(f, "ORIGRESULT") == APPROVED or result_of(f, "ORIGRESULT") in FRAUD_REVIEW
        ]
        for token, fields in paid or found[-1:]:
            self.apply_inquiry(payment, fields, token)
            break
        return STILL_PENDING if pending_at_gateway(payment) else True

    # -- after the payment ------------------------------------------------------------

    def follow_up(self, payment, operation, params, *parts):
        """A capture, void or credit: its key is the movement's (issue 14) or one per attempt here."""
        key = movement_key(payment, operation_key(payment, operation, attempt_number(payment, operation), *parts))
        return self.transact(payment, operation, params, key, key[:12])

    def capture(self, payment, amount=None):
        amount = Decimal(amount if amount is not None else payment.total)
        if pending_at_gateway(payment):
            raise GatewayRefused(f"{self.label} payment {payment.pk}: held for review in PayPal Manager.")
        if getattr(payment.attrs, "payflow_trxtype", "A") == "S":
            # A sale is settled by PayPal; its review is over (check_status confirmed it): nothing to send.
            self.record_capture(payment, payment.total)
            return payment.total
        params = {
            "TRXTYPE": "D",
            "TENDER": "C",
            "ORIGID": payment.transaction_id,
            "AMT": format_amount(amount, payment.currency),
        }
        fields = self.follow_up(payment, "capture", params, payment.transaction_id, amount)
        if result_of(fields) != APPROVED:
            self.raise_for_result(fields, "delayed capture")
        payment.attrs.payflow_capture_pnref = fields.get("PNREF", "")
        self.add_history(payment, "capture", pnref=fields.get("PNREF", ""), amount=amount)
        self.record_capture(payment, amount)
        return amount

    def release(self, payment):
        params = {"TRXTYPE": "V", "TENDER": "C", "ORIGID": payment.transaction_id}
        fields = self.follow_up(payment, "void", params, payment.transaction_id)
        if result_of(fields) != APPROVED:
            self.raise_for_result(fields, "void")
        self.add_history(payment, "void", pnref=fields.get("PNREF", ""))
        payment.save(update_fields=["extra_data"])

    def refund(self, payment, amount=None):
        amount = Decimal(amount if amount is not None else payment.captured_amount)
        original = getattr(payment.attrs, "payflow_capture_pnref", None) or payment.transaction_id
        number = len(self.history(payment, "refund")) + 1
        params = {"TRXTYPE": "C", "TENDER": "C", "ORIGID": original, "AMT": format_amount(amount, payment.currency)}
        fields = self.follow_up(payment, "refund", params, number, amount)
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
