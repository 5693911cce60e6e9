"""A loopback simulator of the Payflow Gateway: the name-value API and the hosted page.

A second reading of PayPal's guides, not a copy of the provider: each rule names its source.
"Gateway guide" is the *Payflow Gateway Developer Guide and Reference* (sections: "Payflow Header
Parameters" of "Posting Transactions Directly Without the Payflow SDK", "Secure Token" and
"Secure Token Errors", "Submitting Inquiry Transactions", "Transaction Responses" / "RESULT Values
and RESPMSG Text", "Credit Card Transaction Parameters"); "Fraud guide" the *Payflow Fraud
Protection Services User's Guide* ("RESULT Values Specific to Fraud Protection Services",
"Accepting or Rejecting Transactions That Trigger Filters"); "Currency codes" PayPal's currency
codes page.

Facts it follows: requests are ``NAME[len]=value`` pairs, a value without a length tag ends at the
next ``&``; every request has an ``X-VPS-REQUEST-ID`` and a repeated id gets the first answer back
with ``DUPLICATE=1``, whatever that answer was (a decline, a RESULT 104...), or RESULT 133 when the
body differs; the documented test cards; amounts up to 1000 approve, 1001-2000 answer the RESULT
``amount - 1000`` for the codes below (12 otherwise), above 2000 decline with 12; Secure Tokens live
30 minutes and serve 3 attempts, and stop at the first approval; delayed capture only against an
authorization and up to its amount; void only before settlement; credits only against a sale or
capture and up to what it captured; a transaction flagged for review (126, 127) moves no money until
the merchant accepts it.
"""

import base64
import html
import itertools
import secrets
import threading
import urllib.request
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qs, urlencode

from .server import SimulatedClock, apply_fault, read_body

TEST_CARDS = {
    "378282246310005": "amex",
    "371449635398431": "amex",
    "378734493671000": "amex",
    "30569309025904": "diners",
    "6011111111111117": "discover",
    "6011000990139424": "discover",
    "3530111333300000": "jcb",
    "3566002020360505": "jcb",
    "2221000000000009": "mastercard",
    "2223000048400011": "mastercard",
    "5555555555554444": "mastercard",
    "5105105105105100": "mastercard",
    "4111111111111111": "visa",
    "4012888888881881": "visa",
    "4222222222222": "visa",
}
#: RESULT codes an amount of 1000 + code triggers.
AMOUNT_TRIGGERS = {
    4: "Invalid amount",
    12: "Declined",
    13: "Referral",
    23: "Invalid account number",
    24: "Invalid expiration date",
    50: "Insufficient funds available",
    51: "Exceeds per transaction limit",
    112: "Failed AVS check",
    114: "CVV2 Mismatch",
    104: "Timeout waiting for processor response",
    125: "Declined by Fraud Service",
    126: "Under review by Fraud Service",
    127: "Fraud Protection Services Filter - Not processed by filters",
}
MESSAGES = {
    0: "Approved",
    1: "User authentication failed",
    3: "Invalid transaction type",
    6: "Invalid or unsupported currency code",
    7: "Field format error",
    19: "Original transaction ID not found",
    105: "Credit error",
    108: "Void error",
    111: "Capture error",
    133: "Data mismatch in HTTP retry request",
    160: "Secure Token already been used",
    161: "Transaction using secure token is already in progress",
    162: "Secure Token Expired",
    128: "Declined by merchant after being flagged for review by filters",
    **AMOUNT_TRIGGERS,
}
#: Gateway guide, RESULT values: 0 approves. Fraud guide: 126 "flagged for review by filters" and
#: 127 "not screened by filters" reach the processor but settle only once the merchant accepts them in
#: PayPal Manager; 128 is one the merchant then declined.
APPROVED_RESULTS = (0, 126, 127)
REVIEW_RESULTS = (126, 127)
#: Gateway guide, RESULT values, 112 "Failed AVS check": the processor approved, the gateway declined on
#: the address check, and an authorization may remain on the card until it is voided.
AUTHORIZATION_LEFT_BY = (112,)
#: Gateway guide, RESULT 104 (and 11, 106, 109, 150, 151): the gateway did not hear from the processor
#: in time; the transaction may or may not have happened.
UNKNOWN_OUTCOME_RESULTS = (11, 104, 106, 109, 150, 151)
#: Gateway guide, "About the Secure Token": "valid for 30 minutes"; "Secure Token Errors": it expires
#: once passed 3 times, or used in a successful transaction (the same section also says 20 minutes:
#: the provider must not count on more than 20).
SECURE_TOKEN_LIFETIME = timedelta(minutes=30)
SECURE_TOKEN_USES = 3
#: Currency codes: "HUF, JPY, TWD: this currency does not support decimals".
WHOLE_UNIT_CURRENCIES = frozenset({"HUF", "JPY", "TWD"})
#: Gateway guide, "Payflow Header Parameters": X-VPS-REQUEST-ID is "1 to 32 printable characters".
REQUEST_ID_LENGTH = 32


def parse_payflow(body):
    """The simulator's own reading of a length-tagged request (independent of the provider's parser)."""
    fields, index = {}, 0
    while index < len(body):
        equals = body.index(b"=", index)
        name = body[index:equals].decode("ascii")
        if name.endswith("]") and "[" in name:
            name, length = name[:-1].split("[")
            end = equals + 1 + int(length)
        else:
            end = body.find(b"&", equals + 1)
            end = len(body) if end == -1 else end
        fields[name.upper()] = body[equals + 1 : end].decode("utf-8")
        index = end + 1
    return fields


def encode_reply(fields):
    parts = []
    for name, value in fields.items():
        value = str(value)
        if any(char in value for char in "&="):
            parts.append(f"{name}[{len(value.encode('utf-8'))}]={value}")
        else:
            parts.append(f"{name}={value}")
    return "&".join(parts).encode("utf-8")


class PayflowSimulator(SimulatedClock):
    """WSGI app: ``POST /`` is the API, ``/hosted`` the hosted page. Inspect ``ledger``."""

    def __init__(self, *, vendor="simvendor", user=None, password="simpass", partner="PayPal", currencies=None):
        from .server import Faults

        self.vendor, self.user, self.password, self.partner = vendor, user or vendor, password, partner
        self.currencies = tuple(currencies or ("USD", "CAD", "EUR", "GBP", "AUD", "JPY", "HUF", "TWD"))
        self.faults = Faults()
        self.headers = []
        #: Requests still to be run whose answer is then replaced by RESULT 104: the processor did the
        #: transaction, the gateway timed out waiting for it (Gateway guide, RESULT 104).
        self.lost_processor_answers = 0
        self.lock = threading.RLock()
        self.transactions = {}
        self.tokens = {}
        self.replies = {}
        self.ledger = []
        self.raw_requests = []
        self.request_ids = []
        self.silent_posts = []
        self.deliver_silent_posts = False
        self.clock_offset = timedelta(0)
        self._numbers = itertools.count(1)

    # -- helpers for tests ------------------------------------------------------------

    def settle(self):
        """Settle every transaction, as PayPal's nightly batch does."""
        with self.lock:
            for transaction in self.transactions.values():
                transaction["settled"] = True

    def charges(self):
        """Sales and captures that took money: approved, or accepted after a fraud review; one per transaction."""
        taken = []
        for entry in self.ledger:
            if entry["trxtype"] not in ("S", "D") or entry["duplicate"] or entry["result"] not in APPROVED_RESULTS:
                continue
            transaction = self.transactions.get(entry["pnref"], {})
            if transaction.get("review") in ("pending", "rejected"):
                continue
            taken.append(entry)
        return taken

    def accept_review(self, pnref):
        """The merchant accepts a transaction the filters held (Fraud guide, "Acting on transactions...")."""
        with self.lock:
            transaction = self.transactions[pnref]
            transaction["review"] = "accepted"
            if transaction["trxtype"] == "S":
                transaction["captured"] = transaction["amount"]

    def reject_review(self, pnref):
        """The merchant rejects it: RESULT 128, no money taken (Fraud guide, "Rejecting transactions")."""
        with self.lock:
            transaction = self.transactions[pnref]
            transaction["review"] = "rejected"
            transaction["captured"] = Decimal(0)
            transaction["voided"] = True

    def entries(self, trxtype):
        return [e for e in self.ledger if e["trxtype"] == trxtype]

    # -- WSGI -------------------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path.startswith("/hosted"):
            status, headers, body = self.hosted(environ, path)
            start_response(status, headers)
            return [body]
        self.request_ids.append(environ.get("HTTP_X_VPS_REQUEST_ID", ""))
        self.headers.append({key[5:]: value for key, value in environ.items() if key.startswith("HTTP_X_VPS")})
        return apply_fault(self.faults, self.api, environ, start_response, coded=self._coded)

    def _coded(self, code, environ):
        """A ``result:N`` fault: the gateway answers N without running the transaction, and stores that
        answer under the request id like any other (a retry with the same id gets it back)."""
        code = int(code)
        reply = {"RESULT": code, "RESPMSG": MESSAGES.get(code, "Processor error")}
        body = read_body(environ)
        request_id = environ.get("HTTP_X_VPS_REQUEST_ID", "")
        with self.lock:
            if request_id and request_id not in self.replies:
                self.replies[request_id] = (body, reply)
            elif request_id:
                reply = {**self.replies[request_id][1], "DUPLICATE": "1"}
        return "200 OK", [("Content-Type", "text/namevalue")], encode_reply(reply)

    def api(self, environ):
        body = read_body(environ)
        self.raw_requests.append(body)
        request_id = environ.get("HTTP_X_VPS_REQUEST_ID", "")
        with self.lock:
            if not request_id or len(request_id) > REQUEST_ID_LENGTH:
                reply = self.error(7, "Field format error: X-VPS-REQUEST-ID missing or too long")
            elif request_id in self.replies:
                # Gateway guide, "Payflow Header Parameters": a used id is a retry; the response to the
                # original request comes back with DUPLICATE=1 (stored 30 days or more), whatever the
                # new data. RESULT 133 "Data mismatch in HTTP retry request" when the data differs.
                first_body, first_reply = self.replies[request_id]
                if first_body == body:
                    reply = {**first_reply, "DUPLICATE": "1"}
                    self.ledger.append({**self.ledger_entry(first_reply, parse_payflow(body)), "duplicate": True})
                else:
                    reply = self.error(133)
            else:
                fields = parse_payflow(body)
                reply = self.dispatch(fields)
                if self.lost_processor_answers and fields.get("TRXTYPE") != "I":
                    self.lost_processor_answers -= 1
                    reply = self.error(104)
                # Every answer is stored, a RESULT 104 as well: the same id never runs the request again.
                self.replies[request_id] = (body, reply)
        return "200 OK", [("Content-Type", "text/namevalue")], encode_reply(reply)

    def error(self, result, message=None):
        return {"RESULT": result, "RESPMSG": message or MESSAGES.get(result, "Error")}

    def ledger_entry(self, reply, fields):
        return {
            "trxtype": fields.get("TRXTYPE"),
            "pnref": reply.get("PNREF"),
            "origid": fields.get("ORIGID"),
            "amount": reply.get("AMT"),
            "result": int(reply["RESULT"]),
            "duplicate": False,
        }

    def dispatch(self, fields):
        if (fields.get("VENDOR"), fields.get("USER"), fields.get("PWD"), fields.get("PARTNER")) != (
            self.vendor,
            self.user,
            self.password,
            self.partner,
        ):
            return self.error(1)
        trxtype = fields.get("TRXTYPE")
        if fields.get("CREATESECURETOKEN") == "Y":
            return self.create_secure_token(fields)
        handler = {
            "S": self.card_transaction,
            "A": self.card_transaction,
            "D": self.delayed_capture,
            "V": self.void,
            "C": self.credit,
            "I": self.inquiry,
        }.get(trxtype)
        if handler is None:
            return self.error(3)
        reply = handler(fields)
        if trxtype != "I":
            self.ledger.append(self.ledger_entry(reply, fields))
        return reply

    def new_pnref(self):
        return f"V{next(self._numbers):011X}"

    def amount(self, fields, default=None):
        try:
            value = Decimal(fields["AMT"]) if fields.get("AMT") else default
        except InvalidOperation:
            return None
        return value if value is None or value > 0 else None

    # -- transactions -----------------------------------------------------------------

    def card_transaction(self, fields, secure_token=None):
        amount = self.amount(fields)
        if amount is None:
            return self.error(4)
        if not self.custref_is_valid(fields):
            return self.error(7, "Field format error: CUSTREF")
        if fields.get("CURRENCY", "USD") not in self.currencies:
            return self.error(6)
        if not self.amount_fits(fields):
            return self.error(4, "Invalid amount: this currency takes no decimals")
        if not self.custip_is_valid(fields):
            return self.error(7, "Field format error: CUSTIP")
        account = fields.get("ACCT", "")
        if account not in TEST_CARDS:
            return self.error(23)
        if not self.expiry_is_valid(fields.get("EXPDATE", "")):
            return self.error(24)
        if amount <= 1000:
            result = 0
        elif amount <= 2000:
            result = int(amount) - 1000
            result = result if result in AMOUNT_TRIGGERS else 12
        else:
            result = 12
        pnref = self.new_pnref()
        self.transactions[pnref] = {
            "pnref": pnref,
            "trxtype": fields["TRXTYPE"],
            "amount": amount,
            "currency": fields.get("CURRENCY", "USD"),
            "result": result,
            "captured": amount if fields["TRXTYPE"] == "S" and result in APPROVED_RESULTS else Decimal(0),
            "credited": Decimal(0),
            "closed": False,
            "voided": False,
            "settled": False,
            "secure_token": secure_token,
            "custref": fields.get("CUSTREF", ""),
            "invnum": fields.get("INVNUM", ""),
            "created": self.now(),
            "respmsg": MESSAGES.get(result, "Declined"),
            "review": "pending" if result in REVIEW_RESULTS else None,
            # RESULT 112: the processor's authorization stays on the card until voided.
            "open_authorization": result in AUTHORIZATION_LEFT_BY,
        }
        if result in REVIEW_RESULTS:
            self.transactions[pnref]["captured"] = Decimal(0)
        reply = {
            "RESULT": result,
            "PNREF": pnref,
            "RESPMSG": MESSAGES.get(result, "Declined"),
            "AMT": self.format(amount, fields.get("CURRENCY", "USD")),
        }
        if result in APPROVED_RESULTS:
            reply.update({"AUTHCODE": "010101", "AVSADDR": "Y", "AVSZIP": "Y", "CVV2MATCH": "Y"})
        if result == 126:
            reply["PREFPSMSG"] = "Review: More than one rule was triggered for Review"
        reply["ACCT"] = account[-4:]
        return reply

    def expiry_is_valid(self, expiry):
        if len(expiry) != 4 or not expiry.isdigit():
            return False
        month, year = int(expiry[:2]), 2000 + int(expiry[2:])
        if not 1 <= month <= 12:
            return False
        return (year, month) >= (date.today().year, date.today().month)

    @staticmethod
    def format(amount, currency):
        return f"{amount:.0f}" if currency in WHOLE_UNIT_CURRENCIES else f"{amount:.2f}"

    @staticmethod
    def amount_fits(fields):
        """Currency codes: HUF, JPY and TWD take no decimals; the others at most two."""
        text = fields.get("AMT", "")
        decimals = 0 if fields.get("CURRENCY", "USD") in WHOLE_UNIT_CURRENCIES else 2
        return "." not in text or (decimals > 0 and len(text.split(".", 1)[1]) <= decimals)

    @staticmethod
    def custip_is_valid(fields):
        """Gateway guide, "Credit Card Transaction Parameters", CUSTIP: the browser's IP address in the
        form xxx.xxx.xxx.xxx, at most 15 characters: an IPv4 dotted quad, nothing else."""
        value = fields.get("CUSTIP", "")
        if not value:
            return True
        parts = value.split(".")
        return len(value) <= 15 and len(parts) == 4 and all(p.isdigit() and int(p) <= 255 for p in parts)

    @staticmethod
    def custref_is_valid(fields):
        """The guide's limit: up to 12 alphanumeric characters."""
        custref = fields.get("CUSTREF", "")
        return len(custref) <= 12 and (custref == "" or custref.isalnum())

    def original(self, fields):
        return self.transactions.get(fields.get("ORIGID", ""))

    def delayed_capture(self, fields):
        """Gateway guide, "Submitting Delayed Capture Transactions": TRXTYPE=D against an approved
        authorization (ORIGID), once, up to its amount (RESULT 111 "Capture error" otherwise)."""
        authorization = self.original(fields)
        if authorization is None:
            return self.error(19)
        if authorization["trxtype"] != "A" or authorization["result"] not in APPROVED_RESULTS:
            return self.error(111, "Capture error: not an approved authorization")
        if authorization.get("review") in ("pending", "rejected"):
            # Fraud guide: a transaction held for review goes no further until the merchant accepts it.
            return self.error(111, "Capture error: transaction under review or rejected")
        if authorization["voided"] or authorization["closed"]:
            return self.error(111, "Capture error: authorization already captured or voided")
        amount = self.amount(fields, default=authorization["amount"])
        if amount is None or amount > authorization["amount"]:
            return self.error(111, "Capture error: amount exceeds the authorization")
        authorization["closed"] = True
        authorization["captured"] = amount
        pnref = self.new_pnref()
        self.transactions[pnref] = {
            **authorization,
            "pnref": pnref,
            "trxtype": "D",
            "amount": amount,
            "result": 0,
            "captured": amount,
            "credited": Decimal(0),
            "parent": authorization["pnref"],
            "custref": fields.get("CUSTREF", ""),  # only what this request sent
            "created": self.now(),
            "review": None,
            "respmsg": "Approved",
        }
        return {
            "RESULT": 0,
            "PNREF": pnref,
            "RESPMSG": "Approved",
            "AMT": self.format(amount, authorization["currency"]),
        }

    def void(self, fields):
        """Gateway guide, "Submitting Void Transactions": only before settlement, once (RESULT 108)."""
        transaction = self.original(fields)
        if transaction is None:
            return self.error(19)
        if transaction["settled"]:
            return self.error(108, "Void error: transaction already settled")
        if transaction["voided"] or transaction["closed"]:
            return self.error(108, "Void error: transaction already voided or captured")
        transaction["voided"] = True
        transaction["open_authorization"] = False
        return self.follow_up(transaction, fields, "V", None)

    def credit(self, fields):
        """Gateway guide, "Submitting Credit Transactions": a reference credit against a sale or a delayed
        capture, up to what it captured (RESULT 105 "Credit error" otherwise)."""
        transaction = self.original(fields)
        if transaction is None:
            return self.error(19)
        if transaction["trxtype"] not in ("S", "D") or transaction["result"] not in APPROVED_RESULTS:
            return self.error(3, "Invalid transaction type: cannot credit this transaction")
        if transaction["voided"]:
            return self.error(105, "Credit error: transaction voided")
        if transaction.get("review") == "pending":
            return self.error(105, "Credit error: transaction under review")
        remaining = transaction["captured"] - transaction["credited"]
        amount = self.amount(fields, default=remaining)
        if amount is None or amount > remaining:
            return self.error(105, "Credit error: amount exceeds what is left to refund")
        transaction["credited"] += amount
        return self.follow_up(transaction, fields, "C", amount)

    def follow_up(self, original, fields, trxtype, amount):
        """A void or credit: its own PNREF, found again by an inquiry on its ORIGID or CUSTREF."""
        pnref = self.new_pnref()
        self.transactions[pnref] = {
            **original,
            "pnref": pnref,
            "trxtype": trxtype,
            "amount": amount if amount is not None else original["amount"],
            "result": 0,
            "captured": Decimal(0),
            "credited": Decimal(0),
            "parent": original["pnref"],
            "custref": fields.get("CUSTREF", ""),
            "created": self.now(),
            "review": None,
            "respmsg": "Approved",
            "open_authorization": False,
        }
        reply = {"RESULT": 0, "PNREF": pnref, "RESPMSG": "Approved"}
        if amount is not None:
            reply["AMT"] = self.format(amount, original["currency"])
        return reply

    def inquiry(self, fields):
        """Gateway guide, "Submitting Inquiry Transactions": by ORIGID, by SECURETOKEN, or by CUSTREF (the
        last transaction sent with that CUSTREF within 30 days); RESULT 19 when none."""
        if fields.get("SECURETOKEN"):
            token = next((t for t in self.tokens.values() if t["token"] == fields["SECURETOKEN"]), None)
            transaction = self.transactions.get(token["last_pnref"]) if token and token.get("last_pnref") else None
        elif fields.get("CUSTREF"):
            # The last transaction sent with that CUSTREF (the guide's rule), within the last 30 days.
            since = self.now() - timedelta(days=30)
            matches = [
                t for t in self.transactions.values() if t["custref"] == fields["CUSTREF"] and t["created"] >= since
            ]
            transaction = matches[-1] if matches else None
        else:
            transaction = self.original(fields)
        if transaction is None:
            return self.error(19)
        # Gateway guide, "Submitting Inquiry Transactions": ORIGRESULT is the original transaction's
        # RESULT. Fraud guide: one held for review answers 126/127 until the merchant acts; accepted, it
        # proceeds as approved (0); rejected, it is "declined by merchant after being flagged" (128).
        result, message = transaction["result"], transaction["respmsg"]
        if transaction.get("review") == "accepted":
            result, message = 0, "Approved"
        elif transaction.get("review") == "rejected":
            result, message = 128, MESSAGES[128]
        if transaction["settled"]:
            state = 8
        elif transaction["voided"]:
            state = 3
        else:
            state = 6 if result in APPROVED_RESULTS else 1
        return {
            "RESULT": 0,
            "PNREF": self.new_pnref(),
            "ORIGRESULT": result,
            "ORIGPNREF": transaction["pnref"],
            "RESPMSG": message,
            "TRANSSTATE": state,
            "AMT": self.format(transaction["amount"], transaction["currency"]),
        }

    # -- Secure Token and hosted page -------------------------------------------------

    def create_secure_token(self, fields):
        """Gateway guide, "Secure Token": CREATESECURETOKEN=Y with a unique SECURETOKENID of up to 36
        characters; a reused id is refused."""
        token_id = fields.get("SECURETOKENID", "")
        if not token_id or len(token_id) > 36:
            return self.error(7, "Field format error: SECURETOKENID")
        if token_id in self.tokens:
            return self.error(7, "Field format error: Secure Token ID already been used")
        if fields.get("TRXTYPE") not in ("S", "A") or self.amount(fields) is None:
            return self.error(7, "Field format error: TRXTYPE and AMT")
        if fields.get("CURRENCY", "USD") not in self.currencies:
            return self.error(6)
        token = base64.b64encode(secrets.token_bytes(17)).decode()
        self.tokens[token_id] = {
            "id": token_id,
            "token": token,
            "fields": fields,
            "created": self.now(),
            "uses": 0,
            "spent": False,
            "last_pnref": None,
        }
        return {"RESULT": 0, "RESPMSG": "Approved", "SECURETOKEN": token, "SECURETOKENID": token_id}

    def usable_token(self, query):
        """Gateway guide, "Secure Token Errors": a token passed 3 times, used in an approved transaction or
        past its lifetime no longer works (160 used, 162 expired)."""
        token = self.tokens.get(query.get("SECURETOKENID", ""))
        if token is None or token["token"] != query.get("SECURETOKEN"):
            return None, 7
        if token["spent"] or token["uses"] >= SECURE_TOKEN_USES:
            return None, 160
        if self.now() - token["created"] > SECURE_TOKEN_LIFETIME:
            return None, 162
        return token, 0

    def hosted(self, environ, path):
        if environ["REQUEST_METHOD"] == "POST":
            query = {k: v[0] for k, v in parse_qs(read_body(environ).decode(), keep_blank_values=True).items()}
        else:
            query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        with self.lock:
            token, problem = self.usable_token(query)
            if token is None:
                return self.page(f"<p>RESULT={problem}: {html.escape(MESSAGES.get(problem, 'Error'))}</p>", "400")
            if path == "/hosted/cancel":
                return self.redirect(token["fields"].get("CANCELURL"), {"SECURETOKENID": token["id"]})
            if path == "/hosted/pay":
                return self.pay_on_hosted_page(token, query)
        return self.page(self.card_page(token, query.get("error", "")))

    def pay_on_hosted_page(self, token, query):
        fields = {
            **token["fields"],
            "ACCT": query.get("ACCT", "").replace(" ", ""),
            "EXPDATE": query.get("EXPDATE", ""),
        }
        fields.pop("CREATESECURETOKEN", None)
        token["uses"] += 1
        reply = self.card_transaction(fields, secure_token=token["id"])
        self.ledger.append({**self.ledger_entry(reply, fields), "hosted": True})
        if "PNREF" in reply:
            token["last_pnref"] = reply["PNREF"]
        result = int(reply["RESULT"])
        if result in APPROVED_RESULTS:
            token["spent"] = True
        posted = {
            **{key: value for key, value in reply.items() if key != "ACCT"},
            "ACCT": query.get("ACCT", "")[-4:],
            "TRXTYPE": fields["TRXTYPE"],
            "SECURETOKEN": token["token"],
            "SECURETOKENID": token["id"],
            "INVNUM": fields.get("INVNUM", ""),
        }
        silent_url = token["fields"].get("SILENTPOSTURL")
        if silent_url:
            self.silent_posts.append((silent_url, posted))
            if self.deliver_silent_posts:
                threading.Thread(target=self.post_silently, args=(silent_url, posted), daemon=True).start()
        if result in APPROVED_RESULTS or token["uses"] >= SECURE_TOKEN_USES:
            target = token["fields"]["RETURNURL"] if result in APPROVED_RESULTS else token["fields"].get("ERRORURL")
            return self.redirect(target or token["fields"]["RETURNURL"], posted)
        query = {"SECURETOKEN": token["token"], "SECURETOKENID": token["id"], "error": reply["RESPMSG"]}
        return "303 See Other", [("Location", f"/hosted?{urlencode(query)}")], b""

    @staticmethod
    def post_silently(url, fields):
        request = urllib.request.Request(url, data=urlencode(fields).encode(), method="POST")
        try:
            urllib.request.urlopen(request, timeout=10).read()
        except OSError:
            pass

    @staticmethod
    def redirect(url, fields):
        separator = "&" if "?" in url else "?"
        return "302 Found", [("Location", f"{url}{separator}{urlencode(fields)}")], b""

    @staticmethod
    def page(content, status="200"):
        body = (
            f"<!doctype html><html lang='en'><head><title>Payflow simulator</title></head><body>{content}</body></html>"
        )
        reason = "OK" if status == "200" else "Bad Request"
        return f"{status} {reason}", [("Content-Type", "text/html; charset=utf-8")], body.encode()

    def card_page(self, token, error):
        fields = token["fields"]
        hidden = "".join(
            f"<input type='hidden' name='{name}' value='{html.escape(token[key])}'>"
            for name, key in (("SECURETOKEN", "token"), ("SECURETOKENID", "id"))
        )
        cancel = f"/hosted/cancel?{urlencode({'SECURETOKEN': token['token'], 'SECURETOKENID': token['id']})}"
        return (
            f"<h1>Payflow simulator: pay {html.escape(fields['AMT'])} {html.escape(fields.get('CURRENCY', 'USD'))}</h1>"
            + (f"<p role='alert'>{html.escape(error)}</p>" if error else "")
            + "<form method='post' action='/hosted/pay'>"
            + hidden
            + "<label>Card number <input name='ACCT' value='4111111111111111'></label>"
            + "<label>Expiry (MMYY) <input name='EXPDATE' value='1230'></label>"
            + "<label>CVV2 <input name='CVV2' value='123'></label>"
            + "<button type='submit'>Pay now</button></form>"
            + f"<p><a href='{html.escape(cancel)}'>Cancel and return to the merchant</a></p>"
        )
