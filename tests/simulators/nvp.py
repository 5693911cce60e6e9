"""A loopback simulator of PayPal's classic NVP API (Express Checkout) and its approval page.

Facts it follows (PayPal's NVP API reference): URL-encoded requests and replies with
``ACK`` (``Success``, ``SuccessWithWarning``, ``Failure``) and ``L_ERRORCODEn`` /
``L_SHORTMESSAGEn`` / ``L_LONGMESSAGEn``; tokens ``EC-...`` valid three hours and
paid once (10411 expired, 10415 already completed); a successful request repeated
with the same ``MSGSUBID`` gets its first result back with warning 11607;
``DoCapture`` only against an authorization, up to its amount (10610), not after a
void (10600) or a complete capture (10602); ``DoVoid`` only on an open authorization;
``RefundTransaction`` only on a sale or capture and up to what is left (10009).
Negative testing as in PayPal's sandbox: an amount equal to an error code / 100
(104.17, 104.22, 104.86) makes ``DoExpressCheckoutPayment`` answer that code
(10422 and 10486 once per token, as a payer who then picks another funding source).

Each rule below names the passage of PayPal's documentation it follows:
"NVP API" is the *Express Checkout / NVP API reference* (developer.paypal.com/api/nvp-soap),
"DoExpressCheckoutPayment", "GetTransactionDetails", "RefundTransaction"... its operation pages;
"Error codes" its *API error codes* page; "Currency codes" PayPal's *Currency codes* page.
"""

import html
import itertools
import string
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlencode

from .server import Faults, SimulatedClock, apply_fault, read_body

TOKEN_LIFETIME = timedelta(hours=3)
ERRORS = {
    10001: ("Internal Error", "Internal Error"),
    10002: ("Security error", "Security header is not valid"),
    10004: ("Transaction refused because of an invalid argument", "Transaction id is invalid."),
    10009: ("Transaction refused", "The partial refund amount must be less than or equal to the remaining amount"),
    10406: ("Transaction refused because of an invalid argument", "The PayerID value is invalid."),
    10410: ("Invalid token", "Invalid token."),
    10411: ("This Express Checkout session has expired.", "Token value is no longer valid."),
    10413: ("Transaction refused because of an invalid argument", "The totals of the cart item amounts do not match."),
    10415: ("Transaction refused", "A successful transaction has already been completed for this token."),
    10417: ("Transaction cannot complete.", "Instruct the customer to use an alternative payment method."),
    10422: ("Customer must choose new funding sources.", "The customer must return to PayPal to select new funding."),
    10485: ("Payment not authorized", "Payment has not been authorized by the user."),
    10486: ("This transaction couldn't be completed.", "Please redirect your customer to PayPal."),
    10600: ("Authorization voided.", "Authorization is voided."),
    10602: ("Authorization completed.", "Authorization has already been completed."),
    10605: ("Currency is not supported", "Currency is not supported."),
    10609: ("Transaction id is invalid.", "Transaction id is invalid."),
    10610: ("Amount limit exceeded", "Amount specified exceeds allowable limit."),
    11607: ("Duplicate Request", "Duplicate request for specified Message Submission ID."),
}
NEGATIVE_TESTS = {Decimal("104.17"): 10417, Decimal("104.22"): 10422, Decimal("104.86"): 10486}
ONCE_PER_TOKEN = {10422, 10486}
#: Currency codes: "HUF, JPY, TWD: this currency does not support decimals; passing a decimal amount
#: is an error" (answered like any invalid amount, 10004 here).
WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
#: How the payer funds the payment on the approval page -> (PAYMENTSTATUS, PENDINGREASON, PAYMENTTYPE)
#: that DoExpressCheckoutPayment answers (DoExpressCheckoutPayment response fields
#: PAYMENTINFO_n_PAYMENTSTATUS, PAYMENTINFO_n_PENDINGREASON, PAYMENTINFO_n_PAYMENTTYPE): an eCheck stays
#: "Pending" with reason "echeck" until it clears (days); "paymentreview" while PayPal reviews the payment.
FUNDING = {
    "balance": ("Completed", "None", "instant"),
    "echeck": ("Pending", "echeck", "echeck"),
    "review": ("Pending", "paymentreview", "instant"),
    "intl": ("Pending", "intl", "instant"),
}
#: GetTransactionDetails PAYMENTSTATUS values after which no money reaches the merchant.
FAILED_STATUSES = frozenset({"Denied", "Reversed", "Failed", "Expired", "Voided"})


def error_codes_of(reply):
    return [name for name in reply if name.startswith("L_ERRORCODE")]


class NvpSimulator(SimulatedClock):
    """WSGI app: ``POST /nvp`` is the API, ``/webscr`` the approval page. Inspect ``ledger``."""

    def __init__(self, *, user="sim_api1.example.com", password="simpass", signature="simsignature", currencies=None):
        self.user, self.password, self.signature = user, password, signature
        self.currencies = tuple(currencies or ("USD", "CAD", "EUR", "GBP", "AUD", "JPY", "HUF", "TWD"))
        self.faults = Faults()
        self.lock = threading.RLock()
        self.tokens = {}
        self.transactions = {}
        self.message_ids = {}
        self.ledger = []
        self.requests = []
        self.faulted_requests = []
        self.clock_offset = timedelta(0)
        self.funding_always_fails = False
        self._numbers = itertools.count(1)

    # -- helpers for tests ------------------------------------------------------------

    def charges(self):
        return [e for e in self.ledger if e["kind"] in ("sale", "capture") and not e["duplicate"]]

    def entries(self, kind):
        return [e for e in self.ledger if e["kind"] == kind]

    def set_status(self, transaction_id, status, reason="None"):
        """What happens at PayPal later: an eCheck clears ("Completed") or bounces ("Denied"), a review ends."""
        with self.lock:
            transaction = self.transactions[transaction_id]
            transaction["status"], transaction["pending_reason"] = status, reason
            if status == "Completed" and transaction["kind"] == "sale":
                transaction["captured"] = transaction["amount"]
                self.record("cleared", transaction_id, transaction["amount"])

    def approve(self, token, funding="balance"):
        """What the payer's click on "Pay now" does: returns the redirect back to the merchant."""
        with self.lock:
            state = self.tokens[token]
            state["approved"] = True
            state["funding"] = funding if funding in FUNDING else "balance"
            state["payer_id"] = state.get("payer_id") or f"SIMPAYER{next(self._numbers):04d}"
            query = urlencode({"token": token, "PayerID": state["payer_id"]})
            return f"{state['RETURNURL']}{self._sep(state['RETURNURL'])}{query}"

    # -- WSGI -------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path.startswith("/webscr"):
            status, headers, body = self.approval_page(environ, path)
            start_response(status, headers)
            return [body]
        return apply_fault(self.faults, self.api, environ, start_response, coded=self._coded)

    def _coded(self, code, environ=None):
        """An ``error:N`` fault: PayPal answers N without doing the work; a request with a MSGSUBID has that
        answer stored like any other (NVP API, MSGSUBID), so repeating the same id gets it back."""
        reply = self.failure(int(code))
        fields = {k: v[0] for k, v in parse_qs(read_body(environ).decode(), keep_blank_values=True).items()}
        self.faulted_requests.append(fields)  # not in ``requests``: the handler never saw it
        key = (fields.get("METHOD"), fields.get("MSGSUBID"))
        with self.lock:
            if key[1] and key not in self.message_ids and key[0] not in ("GetExpressCheckoutDetails",):
                self.message_ids[key] = {"reply": reply, "ledger_index": None}
        return "200 OK", [("Content-Type", "text/plain")], self.encode(reply)

    @staticmethod
    def encode(fields):
        return urlencode(fields).encode()

    def envelope(self, ack="Success"):
        return {
            "ACK": ack,
            "TIMESTAMP": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "CORRELATIONID": f"{next(self._numbers):013x}",
            "VERSION": "204.0",
            "BUILD": "000000",
        }

    def failure(self, code, long_message=None):
        short, long_text = ERRORS.get(code, ("Error", "Error"))
        return {
            **self.envelope("Failure"),
            "L_ERRORCODE0": str(code),
            "L_SHORTMESSAGE0": short,
            "L_LONGMESSAGE0": long_message or long_text,
            "L_SEVERITYCODE0": "Error",
        }

    def api(self, environ):
        fields = {k: v[0] for k, v in parse_qs(read_body(environ).decode(), keep_blank_values=True).items()}
        self.requests.append(fields)
        with self.lock:
            reply = self.dispatch(fields)
        return "200 OK", [("Content-Type", "text/plain; charset=utf-8")], self.encode(reply)

    def dispatch(self, fields):
        if (fields.get("USER"), fields.get("PWD"), fields.get("SIGNATURE")) != (
            self.user,
            self.password,
            self.signature,
        ):
            return self.failure(10002)
        method = fields.get("METHOD")
        message_id = fields.get("MSGSUBID")
        if message_id and (method, message_id) in self.message_ids:
            first = self.message_ids[(method, message_id)]
            reply = dict(first["reply"])
            if first["ledger_index"] is not None:
                self.ledger.append({**self.ledger[first["ledger_index"]], "duplicate": True})
            index = len(error_codes_of(reply)) if reply["ACK"] == "Failure" else 0
            if reply["ACK"] != "Failure":
                reply["ACK"] = "SuccessWithWarning"
            reply.update(
                {
                    f"L_ERRORCODE{index}": "11607",
                    f"L_SHORTMESSAGE{index}": ERRORS[11607][0],
                    f"L_LONGMESSAGE{index}": ERRORS[11607][1],
                    f"L_SEVERITYCODE{index}": "Warning",
                }
            )
            return reply
        handler = {
            "SetExpressCheckout": self.set_express_checkout,
            "GetExpressCheckoutDetails": self.get_details,
            "DoExpressCheckoutPayment": self.do_payment,
            "DoCapture": self.do_capture,
            "DoVoid": self.do_void,
            "RefundTransaction": self.refund,
            "GetTransactionDetails": self.transaction_details,
        }.get(method)
        if handler is None:
            return self.failure(10004, f"Unknown method {method}")
        ledger_size = len(self.ledger)
        reply = handler(fields)
        # NVP API, MSGSUBID: "a message ID used for idempotence ... used later to request the latest
        # results for a previous request without generating a new request"; the first answer, success or
        # failure, is what a repeated MSGSUBID gets back.
        if message_id and method not in ("GetExpressCheckoutDetails", "GetTransactionDetails"):
            recorded = reply["ACK"] != "Failure" and ledger_size < len(self.ledger)
            self.message_ids[(method, message_id)] = {
                "reply": reply,
                "ledger_index": len(self.ledger) - 1 if recorded else None,
            }
        return reply

    @staticmethod
    def money(value):
        try:
            amount = Decimal(value)
        except (InvalidOperation, TypeError):
            return None
        return amount if amount > 0 else None

    @staticmethod
    def amount_fits(value, currency):
        """Currency codes: HUF, JPY and TWD take whole amounts; the others at most two decimals."""
        decimals = 0 if currency in WHOLE_UNIT_CURRENCIES else 2
        text = str(value or "")
        return "." not in text or (decimals > 0 and len(text.split(".", 1)[1]) <= decimals)

    def new_id(self, prefix=""):
        digits = string.digits + string.ascii_uppercase
        number, text = next(self._numbers) * 7919, ""
        while number:
            number, rest = divmod(number, 36)
            text = digits[rest] + text
        return prefix + text.rjust(17, "0")[-17:]

    def record(self, kind, transaction_id, amount, parent=None):
        self.ledger.append({"kind": kind, "id": transaction_id, "amount": amount, "parent": parent, "duplicate": False})

    # -- Express Checkout -------------------------------------------------------------

    def set_express_checkout(self, fields):
        """SetExpressCheckout: PAYMENTREQUEST_0_AMT required and positive, RETURNURL and CANCELURL required,
        a supported currency (10605); the TOKEN answered is valid three hours (Express Checkout guide,
        "How Express Checkout works": the token expires after three hours)."""
        amount = self.money(fields.get("PAYMENTREQUEST_0_AMT"))
        currency = fields.get("PAYMENTREQUEST_0_CURRENCYCODE", "USD")
        if amount is None:
            return self.failure(10004, "Order total is missing or invalid.")
        if currency not in self.currencies:
            return self.failure(10605)
        if not self.amount_fits(fields.get("PAYMENTREQUEST_0_AMT"), currency):
            return self.failure(10004, "Decimal amounts are not supported for this currency.")
        if not fields.get("RETURNURL") or not fields.get("CANCELURL"):
            return self.failure(10004, "ReturnURL and CancelURL are required.")
        token = "EC-" + self.new_id()[-17:]
        self.tokens[token] = {
            "amount": amount,
            "currency": currency,
            "action": fields.get("PAYMENTREQUEST_0_PAYMENTACTION", "Sale"),
            "RETURNURL": fields["RETURNURL"],
            "CANCELURL": fields["CANCELURL"],
            "invnum": fields.get("PAYMENTREQUEST_0_INVNUM", ""),
            "created": self.now(),
            "approved": False,
            "payer_id": None,
            "transaction_id": None,
            "triggered": set(),
        }
        return {**self.envelope(), "TOKEN": token}

    def token_problem(self, token):
        """Error codes: 10410 invalid token, 10411 "this Express Checkout session has expired"."""
        state = self.tokens.get(token)
        if state is None:
            return None, 10410
        if self.now() - state["created"] > TOKEN_LIFETIME:
            return None, 10411
        return state, None

    def get_details(self, fields):
        """GetExpressCheckoutDetails: CHECKOUTSTATUS (PaymentActionNotInitiated, PaymentActionCompleted...) and
        PAYMENTREQUEST_0_TRANSACTIONID once paid; it carries no payment status: that is GetTransactionDetails'."""
        state, problem = self.token_problem(fields.get("TOKEN", ""))
        if problem:
            return self.failure(problem)
        reply = {
            **self.envelope(),
            "TOKEN": fields["TOKEN"],
            "CHECKOUTSTATUS": "PaymentActionCompleted" if state["transaction_id"] else "PaymentActionNotInitiated",
            "PAYMENTREQUEST_0_AMT": f"{state['amount']:.2f}",
            "PAYMENTREQUEST_0_CURRENCYCODE": state["currency"],
            "PAYMENTREQUEST_0_INVNUM": state["invnum"],
        }
        if state["approved"]:
            reply.update(PAYERID=state["payer_id"], EMAIL="buyer@example.com", PAYERSTATUS="verified")
        if state["transaction_id"]:
            reply["PAYMENTREQUEST_0_TRANSACTIONID"] = state["transaction_id"]
        return reply

    def do_payment(self, fields):
        """DoExpressCheckoutPayment: 10415 once the token paid, 10485 before the payer approved, 10406 a wrong
        PAYERID; the answer's PAYMENTINFO_0_PAYMENTSTATUS depends on how the payer funded it (``FUNDING``)."""
        state, problem = self.token_problem(fields.get("TOKEN", ""))
        if problem:
            return self.failure(problem)
        if state["transaction_id"]:
            return self.failure(10415)
        if not state["approved"]:
            return self.failure(10485)
        if fields.get("PAYERID") != state["payer_id"]:
            return self.failure(10406)
        amount = self.money(fields.get("PAYMENTREQUEST_0_AMT"))
        if amount is None or amount > state["amount"]:
            return self.failure(10413)
        code = NEGATIVE_TESTS.get(amount)
        # Error codes, 10486: "redirect your customer to PayPal" to choose another funding source; a payer
        # whose other sources fail as well meets it again (``self.funding_always_fails``).
        repeat = code == 10486 and self.funding_always_fails
        if code and (repeat or not (code in ONCE_PER_TOKEN and code in state["triggered"])):
            state["triggered"].add(code)
            return self.failure(code)
        action = fields.get("PAYMENTREQUEST_0_PAYMENTACTION", state["action"])
        transaction_id = self.new_id()
        kind = "sale" if action == "Sale" else "authorization"
        if kind == "sale":
            status, reason, payment_type = FUNDING[state.get("funding", "balance")]
        else:
            # DoExpressCheckoutPayment: an authorization is "Pending" with PENDINGREASON "authorization".
            status, reason, payment_type = "Pending", "authorization", "instant"
        self.transactions[transaction_id] = {
            "kind": kind,
            "amount": amount,
            "currency": state["currency"],
            "captured": amount if status == "Completed" else Decimal(0),
            "refunded": Decimal(0),
            "voided": False,
            "completed": kind == "sale",
            "status": status,
            "pending_reason": reason,
            "payment_type": payment_type,
            "invnum": state["invnum"],
        }
        state["transaction_id"] = transaction_id
        self.record(kind, transaction_id, amount)
        return {
            **self.envelope(),
            "TOKEN": fields["TOKEN"],
            "PAYMENTINFO_0_TRANSACTIONID": transaction_id,
            "PAYMENTINFO_0_TRANSACTIONTYPE": "expresscheckout",
            "PAYMENTINFO_0_PAYMENTTYPE": payment_type,
            "PAYMENTINFO_0_AMT": self.format(amount, state["currency"]),
            "PAYMENTINFO_0_CURRENCYCODE": state["currency"],
            "PAYMENTINFO_0_PAYMENTSTATUS": status,
            "PAYMENTINFO_0_PENDINGREASON": reason,
            "PAYMENTINFO_0_ACK": "Success",
            "PAYMENTINFO_0_ERRORCODE": "0",
        }

    def transaction_details(self, fields):
        """GetTransactionDetails: the transaction's current PAYMENTSTATUS and PENDINGREASON.

        GetTransactionDetails API operation: the request names TRANSACTIONID (10004 "Transaction id is
        invalid" when PayPal has no such transaction); the response carries PAYMENTSTATUS (Completed,
        Pending, In-Progress, Denied, Reversed, Failed...), PENDINGREASON, PAYMENTTYPE, AMT, CURRENCYCODE,
        INVNUM. It is the documented way to learn what became of a pending payment.
        """
        transaction = self.transactions.get(fields.get("TRANSACTIONID", ""))
        if transaction is None:
            return self.failure(10004)
        return {
            **self.envelope(),
            "TRANSACTIONID": fields["TRANSACTIONID"],
            "TRANSACTIONTYPE": "expresscheckout" if transaction["kind"] in ("sale", "authorization") else "",
            "PAYMENTTYPE": transaction.get("payment_type", "instant"),
            "PAYMENTSTATUS": transaction.get("status", "Completed"),
            "PENDINGREASON": transaction.get("pending_reason", "None"),
            "AMT": self.format(transaction["amount"], transaction["currency"]),
            "CURRENCYCODE": transaction["currency"],
            "INVNUM": transaction.get("invnum", ""),
        }

    @staticmethod
    def format(amount, currency):
        return f"{amount:.0f}" if currency in WHOLE_UNIT_CURRENCIES else f"{amount:.2f}"

    def authorization(self, fields):
        """DoCapture / DoVoid name an open authorization: 10609 invalid id, 10600 voided, 10602 completed."""
        transaction = self.transactions.get(fields.get("AUTHORIZATIONID", ""))
        if transaction is None or transaction["kind"] != "authorization":
            return None, self.failure(10609)
        if transaction["voided"]:
            return None, self.failure(10600)
        if transaction["completed"]:
            return None, self.failure(10602)
        return transaction, None

    def do_capture(self, fields):
        """DoCapture: up to the authorized amount (10610); COMPLETETYPE=Complete closes the authorization."""
        authorization, problem = self.authorization(fields)
        if problem:
            return problem
        amount = self.money(fields.get("AMT"))
        if amount is None or authorization["captured"] + amount > authorization["amount"]:
            return self.failure(10610)
        if fields.get("CURRENCYCODE", authorization["currency"]) != authorization["currency"]:
            return self.failure(10605)
        authorization["captured"] += amount
        if fields.get("COMPLETETYPE") == "Complete" or authorization["captured"] == authorization["amount"]:
            authorization["completed"] = True
        capture_id = self.new_id()
        self.transactions[capture_id] = {
            "kind": "capture",
            "amount": amount,
            "currency": authorization["currency"],
            "captured": amount,
            "refunded": Decimal(0),
            "voided": False,
            "completed": True,
        }
        self.record("capture", capture_id, amount, parent=fields["AUTHORIZATIONID"])
        return {
            **self.envelope(),
            "AUTHORIZATIONID": fields["AUTHORIZATIONID"],
            "TRANSACTIONID": capture_id,
            "PAYMENTSTATUS": "Completed",
            "AMT": f"{amount:.2f}",
            "CURRENCYCODE": authorization["currency"],
        }

    def do_void(self, fields):
        authorization, problem = self.authorization(fields)
        if problem:
            return problem
        authorization["voided"] = True
        self.record("void", fields["AUTHORIZATIONID"], None)
        return {**self.envelope(), "AUTHORIZATIONID": fields["AUTHORIZATIONID"]}

    def refund(self, fields):
        """RefundTransaction: REFUNDTYPE Full only when nothing was refunded (10009 after a partial refund);
        Partial up to what is left (10009); only a sale or a capture can be refunded."""
        transaction = self.transactions.get(fields.get("TRANSACTIONID", ""))
        if transaction is None:
            return self.failure(10004)
        if transaction["kind"] not in ("sale", "capture"):
            return self.failure(10009, "You can not refund this type of transaction.")
        remaining = transaction["captured"] - transaction["refunded"]
        if fields.get("REFUNDTYPE", "Full") == "Full":
            if transaction["refunded"]:
                return self.failure(10009, "Can not do a full refund after a partial refund.")
            amount = remaining
        else:
            amount = self.money(fields.get("AMT"))
            if amount is None or amount > remaining:
                return self.failure(10009)
        transaction["refunded"] += amount
        refund_id = self.new_id()
        self.record("refund", refund_id, amount, parent=fields["TRANSACTIONID"])
        return {
            **self.envelope(),
            "REFUNDTRANSACTIONID": refund_id,
            "GROSSREFUNDAMT": f"{amount:.2f}",
            "NETREFUNDAMT": f"{amount:.2f}",
            "FEEREFUNDAMT": "0.00",
            "TOTALREFUNDEDAMOUNT": f"{transaction['refunded']:.2f}",
            "CURRENCYCODE": transaction["currency"],
            "REFUNDSTATUS": "Instant",
        }

    # -- approval page ----------------------------------------------------------------

    @staticmethod
    def _sep(url):
        return "&" if "?" in url else "?"

    def approval_page(self, environ, path):
        if environ["REQUEST_METHOD"] == "POST":
            query = {k: v[0] for k, v in parse_qs(read_body(environ).decode(), keep_blank_values=True).items()}
        else:
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        token = query.get("token", "")
        with self.lock:
            state, problem = self.token_problem(token)
            if problem:
                return self.page(f"<p>{html.escape(ERRORS[problem][1])}</p>", "400 Bad Request")
            if path == "/webscr/approve":
                return "302 Found", [("Location", self.approve(token, query.get("funding", "balance")))], b""
            if path == "/webscr/cancel":
                target = f"{state['CANCELURL']}{self._sep(state['CANCELURL'])}{urlencode({'token': token})}"
                return "302 Found", [("Location", target)], b""
        amount = f"{state['amount']:.2f} {state['currency']}"
        return self.page(
            f"<h1>PayPal simulator: pay {html.escape(amount)}</h1>"
            "<form method='post' action='/webscr/approve'>"
            f"<input type='hidden' name='token' value='{html.escape(token)}'>"
            "<label>Pay with <select name='funding'><option value='balance'>PayPal balance</option>"
            "<option value='echeck'>eCheck (bank account)</option></select></label>"
            "<button type='submit'>Pay now</button></form>"
            f"<p><a href='/webscr/cancel?{urlencode({'token': token})}'>Cancel and return to the merchant</a></p>"
        )

    @staticmethod
    def page(content, status="200 OK"):
        body = (
            f"<!doctype html><html lang='en'><head><title>PayPal simulator</title></head><body>{content}</body></html>"
        )
        return status, [("Content-Type", "text/html; charset=utf-8")], body.encode()
