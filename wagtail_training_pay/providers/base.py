"""What the PayPal providers share: HTTP with retries, redaction, errors, amounts.

A money-moving request carries one idempotency key (Payflow's ``X-VPS-REQUEST-ID``,
the NVP API's ``MSGSUBID``) that is derived from the payment and the operation, so
that a retry after a timeout, a second worker or a double click sends the same key
and the gateway answers with the first result instead of charging twice.
"""

import hashlib
import logging
import time
from decimal import Decimal

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.debug import sensitive_variables
from payments import PaymentError
from payments.core import BasicProvider

from .. import currencies

logger = logging.getLogger(__name__)

#: Request and response fields never written to a log in clear.
SECRET_FIELDS = frozenset({"PWD", "PASSWORD", "SIGNATURE", "CVV2", "CSC", "EXPDATE", "SWIPE", "SECURETOKEN"})
#: Fields holding a card or account number: only the last four digits are logged.
ACCOUNT_FIELDS = frozenset({"ACCT", "CARDNUM", "ACCTNUM"})
#: Personal data, masked in logs like secrets: names, addresses, emails, phones, IP addresses...
PERSONAL_FIELDS = frozenset(
    {
        "NAME",
        "FIRSTNAME",
        "LASTNAME",
        "MIDDLENAME",
        "EMAIL",
        "PHONENUM",
        "STREET",
        "STREET2",
        "CITY",
        "STATE",
        "ZIP",
        "CUSTIP",
        "PAYERID",
        "PAYERBUSINESS",
        "BUYERID",
        "BUYERUSERNAME",
        "SUBJECT",
        "COMMENT1",
        "COMMENT2",
    }
)
#: Prefixes of personal fields (``BILLTOEMAIL``, ``SHIPTOSTREET``, ``PAYMENTREQUEST_0_SHIPTONAME``...).
PERSONAL_PREFIXES = ("BILLTO", "SHIPTO", "PAYMENTREQUEST_0_SHIPTO", "L_PAYMENTREQUEST_0_NAME")


class GatewayError(PaymentError):
    """A gateway said no, or could not be reached. ``payer_message`` is safe to show."""

    payer_message = _("The payment could not be processed. Please try again or choose another payment method.")

    def __init__(self, message, code=None, gateway_message=None, payer_message=None):
        super().__init__(message, code=code, gateway_message=gateway_message)
        if payer_message is not None:
            self.payer_message = payer_message


class GatewayUnavailable(GatewayError):
    """No usable answer after the retries (timeout, dropped connection, 5xx, garbage).

    The outcome at the gateway is unknown; retrying with the same idempotency key is safe.
    """

    payer_message = _("The payment service did not answer. Nothing was charged twice; please try again in a moment.")


class GatewayConfigurationError(GatewayError):
    """The merchant's settings are wrong (credentials, partner, currency): the site administrator must act."""

    payer_message = _("Card payments are not available at the moment. Please choose another payment method.")


class GatewayDeclined(GatewayError):
    """The payer's bank or PayPal declined; the gateway's message is shown to the payer."""

    payer_message = _("The payment was declined.")


class GatewayRefused(GatewayError):
    """An operation the gateway's rules forbid: capturing too much, voiding a settled payment..."""


class MalformedResponse(ValueError):
    """The gateway's reply could not be parsed."""


def mask_value(name, value):
    name = name.upper()
    text = str(value)
    if name in ACCOUNT_FIELDS:
        return f"****{text[-4:]}" if len(text) > 4 else "****"
    if name in SECRET_FIELDS:
        return "***"
    if name in PERSONAL_FIELDS or name.startswith(PERSONAL_PREFIXES):
        return "[personal]" if text else text
    return text


def redact(params):
    """A copy of ``params`` that is safe to log: secrets masked, card numbers cut to their last four digits."""
    return {name: mask_value(name.split("[", 1)[0], value) for name, value in params.items()}


def operation_key(payment, operation, *parts, length=32):
    """A stable key for one logical operation on one payment, the same on every retry."""
    raw = ":".join([str(payment.token), operation, *(str(part) for part in parts)])
    return hashlib.sha256(raw.encode()).hexdigest()[:length]


def movement_key(payment, fallback):
    """The idempotency key of the money movement being sent (issue 14 sets ``payment.movement_key``), else
    ``fallback``: a retry of a movement whose answer was lost sends the same key, so PayPal replays it."""
    return getattr(payment, "movement_key", None) or fallback


def attempt_number(payment, operation):
    """The number of the current attempt at ``operation`` on the payment (1 for the first).

    PayPal answers a repeated ``X-VPS-REQUEST-ID`` / ``MSGSUBID`` with its stored first answer (for 30
    days or more), so a key is reused only to repeat the very same request after a transport failure
    with no answer. After a definite answer (a decline, an error) the next attempt is a new request:
    ``next_attempt`` moves the counter on, and the key derived from it changes.
    """
    counters = (getattr(payment.attrs, "gateway_attempts", None) if payment.extra_data else None) or {}
    return int(counters.get(operation, 0)) + 1


def next_attempt(payment, operation):
    """Count one finished attempt at ``operation`` (unsaved; saved with ``extra_data``)."""
    counters = dict((getattr(payment.attrs, "gateway_attempts", None) if payment.extra_data else None) or {})
    counters[operation] = attempt_number(payment, operation)
    payment.attrs.gateway_attempts = counters


def card_form_allowed():
    """Card fields on the site only over HTTPS, except while developing (``DEBUG``)."""
    return settings.DEBUG or getattr(settings, "PAYMENT_USES_SSL", not settings.DEBUG)


def format_amount(amount, currency):
    """``amount`` in ``currency``'s own precision (``currencies``); one it cannot express is refused, not rounded."""
    if not currencies.is_expressible(amount, currency):
        raise GatewayRefused(
            f"{amount} cannot be charged in {currency}: it takes {currencies.decimal_places(currency)} decimals."
        )
    return currencies.format_amount(amount, currency)


class HttpTransport:
    """POST with connect/read timeouts and a bounded number of retries.

    ``parse(bytes) -> dict`` turns a body into fields (raising ``MalformedResponse``);
    ``should_retry(fields) -> bool`` asks for another attempt on a gateway-level
    "try again" answer. Every attempt sends exactly the same body and headers.
    """

    def __init__(self, *, label, timeout=30.0, connect_timeout=5.0, retries=2, retry_backoff=0.5):
        self.label = label
        self.timeout = (float(connect_timeout), float(timeout))
        self.retries = int(retries)
        self.retry_backoff = float(retry_backoff)

    @sensitive_variables("body")
    def post(self, url, body, headers, *, parse, should_retry=lambda fields: False, log_fields=None):
        attempts = self.retries + 1
        last_problem = None
        for attempt in range(1, attempts + 1):
            if attempt > 1 and self.retry_backoff:
                time.sleep(self.retry_backoff * (attempt - 1))
            logger.debug("%s request (attempt %s/%s): %s", self.label, attempt, attempts, log_fields or {})
            try:
                response = requests.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            except requests.Timeout as exc:
                last_problem = f"timeout ({exc.__class__.__name__})"
            except requests.ConnectionError as exc:
                last_problem = f"connection failed ({exc.__class__.__name__})"
            except requests.RequestException as exc:
                # Raised from requests' frames, whose locals hold the request body: not chained, never reported.
                raise GatewayError(f"{self.label}: request failed ({exc.__class__.__name__}).") from None
            else:
                if response.status_code >= 500:
                    last_problem = f"HTTP {response.status_code}"
                elif response.status_code >= 300:
                    raise GatewayConfigurationError(
                        f"{self.label} endpoint {url} answered HTTP {response.status_code}; "
                        "check the variant's endpoint option.",
                        code=response.status_code,
                    )
                else:
                    try:
                        fields = parse(response.content)
                    except MalformedResponse as exc:
                        last_problem = f"malformed reply ({exc})"
                    else:
                        logger.debug("%s response: %s", self.label, redact(fields))
                        if should_retry(fields) and attempt < attempts:
                            last_problem = "gateway asked to retry"
                            logger.warning("%s: retryable answer, retrying with the same key.", self.label)
                            continue
                        return fields
            logger.warning("%s: %s on attempt %s/%s.", self.label, last_problem, attempt, attempts)
        message = f"{self.label} did not answer usefully after {attempts} attempts: {last_problem}."
        logger.error("%s Check the gateway's status and the variant's endpoint.", message)
        raise GatewayUnavailable(message)


class PayPalClassicProvider(BasicProvider):
    """Common options of the providers: endpoint by name or URL, timeouts, retries."""

    #: endpoint name -> URL
    endpoints = {}
    label = "PayPal"

    def __init__(
        self,
        *,
        endpoint="sandbox",
        timeout=30,
        connect_timeout=5,
        retries=2,
        retry_backoff=0.5,
        currencies=None,
        capture=True,
    ):
        super().__init__(capture=capture)
        self.endpoint_name = endpoint
        self.endpoint = self.endpoints.get(endpoint, endpoint)
        if not str(self.endpoint).startswith(("https://", "http://")):
            raise ImproperlyConfigured(
                f"{self.label}: endpoint must be one of {sorted(self.endpoints)} or a URL, not {endpoint!r}."
            )
        self.currencies = tuple(currencies) if currencies else None
        self.transport = HttpTransport(
            label=self.label,
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            retry_backoff=retry_backoff,
        )

    @staticmethod
    def require_options(label, **options):
        missing = [name for name, value in options.items() if not value]
        if missing:
            raise ImproperlyConfigured(f"{label}: set {', '.join(missing)} in the variant's PAYMENT_VARIANTS options.")

    def check_currency(self, payment):
        if self.currencies and payment.currency not in self.currencies:
            raise GatewayConfigurationError(
                f"{self.label} variant {payment.variant!r} accepts {', '.join(self.currencies)}, "
                f"not {payment.currency}.",
            )

    # Amounts: django-payments' BasePayment.capture() does not save captured_amount.
    @staticmethod
    def record_capture(payment, amount, **fields):
        payment.captured_amount = Decimal(amount)
        for name, value in fields.items():
            setattr(payment, name, value)
        payment.save(update_fields=["captured_amount", "extra_data", *fields])

    @staticmethod
    def record_refund(payment, amount):
        """Keep the refund in the payment's history; django-payments lowers ``captured_amount`` itself.

        (The plugin's ``Payment.refund()`` adds it to ``refunded_amount`` for every provider.)
        """
        payment.save(update_fields=["extra_data"])

    @staticmethod
    def history(payment, operation=None):
        entries = getattr(payment.attrs, "gateway_history", None) if payment.extra_data else None
        entries = entries or []
        return [entry for entry in entries if operation is None or entry["op"] == operation]

    @classmethod
    def add_history(cls, payment, operation, **details):
        entries = cls.history(payment)
        entries.append({"op": operation, **{key: str(value) for key, value in details.items()}})
        payment.attrs.gateway_history = entries

    def cancel(self, payment):
        """A payment not yet paid holds nothing at the gateway: tokens simply expire."""
        return None


# -- a payment the gateway holds --------------------------------------------------------------------
#
# PayPal may take money without settling it at once: an Express Checkout eCheck or review ("Pending"),
# a Payflow sale held by the fraud filters (RESULT 126/127). Such a payment keeps django-payments'
# status ``waiting`` and carries ``attrs.gateway_pending``; the stale-payment sweeper asks the gateway
# about it through the provider's ``check_status`` until the gateway settles it one way or the other.

#: ``check_status`` answer: the gateway still holds the payment (pending, under review); ask again later.
STILL_PENDING = "pending"


def pending_at_gateway(payment):
    """What the gateway reported while it holds the payment (``{"reason": ..., "since": ...}``), or ``None``."""
    if not payment.extra_data:
        return None
    return getattr(payment.attrs, "gateway_pending", None) or None


def mark_pending_at_gateway(payment, reason, **details):
    """Record (unsaved) that the gateway holds the payment for ``reason`` (``echeck``, ``fraud review``...)."""
    current = pending_at_gateway(payment) or {}
    payment.attrs.gateway_pending = {
        "reason": str(reason),
        "since": current.get("since") or timezone.now().isoformat(),
        **{key: str(value) for key, value in details.items()},
    }


def end_pending_at_gateway(payment, outcome):
    """Record (unsaved) how the gateway settled a payment it held: ``completed``, ``denied``, ``rejected``..."""
    held = pending_at_gateway(payment)
    payment.attrs.gateway_pending = None
    if held:
        payment.attrs.gateway_outcome = {**held, "outcome": str(outcome), "at": timezone.now().isoformat()}


def refused_after_pending(payment):
    """The gateway held the payment, then refused it (an eCheck that bounced, a review rejected)."""
    outcome = getattr(payment.attrs, "gateway_outcome", None) if payment.extra_data else None
    return bool(outcome) and outcome.get("outcome") != "completed"
