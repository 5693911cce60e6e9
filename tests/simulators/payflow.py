"""A loopback simulator of the Payflow Gateway: the name-value API and the hosted page.

Facts it follows (PayPal's Payflow Gateway developer guide): requests are
``NAME[len]=value`` pairs, a value without a length tag ends at the next ``&``;
every request has an ``X-VPS-REQUEST-ID`` and a repeated id gets the first answer
back with ``DUPLICATE=1``; the documented test cards; amounts up to 1000 approve,
1001-2000 answer the RESULT ``amount - 1000`` for the codes below (12 otherwise),
above 2000 decline with 12; Secure Tokens live 30 minutes and pay once; delayed
capture only against an authorization and up to its amount; void only before
settlement; credits only against a sale or capture and up to what it captured.
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
    125: "Declined by Fraud Service",
    126: "Under review by Fraud Service",
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
    **AMOUNT_TRIGGERS,
}
APPROVED_RESULTS = (0, 126)
SECURE_TOKEN_LIFETIME = timedelta(minutes=30)


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
        self.currencies = tuple(currencies or ("USD", "CAD", "EUR", "GBP", "AUD"))
        self.faults = Faults()
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
        """Approved sales and captures: the money taken, one entry per real transaction."""
        return [
            e
            for e in self.ledger
            if e["trxtype"] in ("S", "D") and e["result"] in APPROVED_RESULTS and not e["duplicate"]
        ]

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
        return apply_fault(self.faults, self.api, environ, start_response, coded=self._coded)

    def _coded(self, code):
        code = int(code)
        reply = {"RESULT": code, "RESPMSG": MESSAGES.get(code, "Processor error")}
        return "200 OK", [("Content-Type", "text/namevalue")], encode_reply(reply)

    def api(self, environ):
        body = read_body(environ)
        self.raw_requests.append(body)
        request_id = environ.get("HTTP_X_VPS_REQUEST_ID", "")
        with self.lock:
            if not request_id:
                reply = self.error(7, "Field format error: X-VPS-REQUEST-ID missing")
            elif request_id in self.replies:
                first_body, first_reply = self.replies[request_id]
                if first_body == body:
                    reply = {**first_reply, "DUPLICATE": "1"}
                    self.ledger.append({**self.ledger_entry(first_reply, parse_payflow(body)), "duplicate": True})
                else:
                    reply = self.error(133)
            else:
                reply = self.dispatch(parse_payflow(body))
                if request_id and int(reply["RESULT"]) not in (104, 106, 109):
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
            "created": self.now(),
            "respmsg": MESSAGES.get(result, "Declined"),
        }
        reply = {"RESULT": result, "PNREF": pnref, "RESPMSG": MESSAGES.get(result, "Declined"), "AMT": f"{amount:.2f}"}
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
    def custref_is_valid(fields):
        """The guide's limit: up to 12 alphanumeric characters."""
        custref = fields.get("CUSTREF", "")
        return len(custref) <= 12 and (custref == "" or custref.isalnum())

    def original(self, fields):
        return self.transactions.get(fields.get("ORIGID", ""))

    def delayed_capture(self, fields):
        authorization = self.original(fields)
        if authorization is None:
            return self.error(19)
        if authorization["trxtype"] != "A" or authorization["result"] not in APPROVED_RESULTS:
            return self.error(111, "Capture error: not an approved authorization")
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
        }
        return {"RESULT": 0, "PNREF": pnref, "RESPMSG": "Approved", "AMT": f"{amount:.2f}"}

    def void(self, fields):
        transaction = self.original(fields)
        if transaction is None:
            return self.error(19)
        if transaction["settled"]:
            return self.error(108, "Void error: transaction already settled")
        if transaction["voided"] or transaction["closed"]:
            return self.error(108, "Void error: transaction already voided or captured")
        transaction["voided"] = True
        return {"RESULT": 0, "PNREF": self.new_pnref(), "RESPMSG": "Approved"}

    def credit(self, fields):
        transaction = self.original(fields)
        if transaction is None:
            return self.error(19)
        if transaction["trxtype"] not in ("S", "D") or transaction["result"] not in APPROVED_RESULTS:
            return self.error(3, "Invalid transaction type: cannot credit this transaction")
        if transaction["voided"]:
            return self.error(105, "Credit error: transaction voided")
        remaining = transaction["captured"] - transaction["credited"]
        amount = self.amount(fields, default=remaining)
        if amount is None or amount > remaining:
            return self.error(105, "Credit error: amount exceeds what is left to refund")
        transaction["credited"] += amount
        return {"RESULT": 0, "PNREF": self.new_pnref(), "RESPMSG": "Approved", "AMT": f"{amount:.2f}"}

    def inquiry(self, fields):
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
        if transaction["settled"]:
            state = 8
        elif transaction["voided"]:
            state = 3
        else:
            state = 6 if transaction["result"] in APPROVED_RESULTS else 1
        return {
            "RESULT": 0,
            "PNREF": self.new_pnref(),
            "ORIGRESULT": transaction["result"],
            "ORIGPNREF": transaction["pnref"],
            "RESPMSG": transaction["respmsg"],
            "TRANSSTATE": state,
            "AMT": f"{transaction['amount']:.2f}",
        }

    # -- Secure Token and hosted page -------------------------------------------------

    def create_secure_token(self, fields):
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
        token = self.tokens.get(query.get("SECURETOKENID", ""))
        if token is None or token["token"] != query.get("SECURETOKEN"):
            return None, 7
        if token["spent"] or token["uses"] >= 3:
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
        if result in APPROVED_RESULTS or token["uses"] >= 3:
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
