"""The money invariant (DESIGN section 11), checked after every test that runs a gateway simulator.

1. Per payment, the records agree with themselves: ``captured_amount`` and ``refunded_amount`` are the sums of
   the payment's done movements.
2. Per payment of a simulated gateway, what the simulator's books hold (captured minus refunded) equals what
   the database says (``captured_amount``), unless the site already knows they may differ: a movement still
   open (its answer is being learnt) or the payment marked "needs attention".
3. Every confirmed registration is paid (its paying payment holds money), free, or confirmed by hand, and
   no payment of a registration but its paying one holds money (duplicates and late payments are refunded).
4. Every cancelled, expired or refunded registration holds no money: none in any payment but its paying one,
   and in that one at most what the cancellation policy keeps.

The simulators are read as PayPal's books would be read in PayPal Manager: by the payment's reference
(Payflow ``CUSTREF``, Express Checkout ``INVNUM``), never through the provider under test.
"""

from decimal import Decimal

from django.conf import settings
from django.db.models import Q, Sum

PAYFLOW_PROVIDERS = ("PayflowProProvider", "WebsitePaymentsProUKProvider")
EXPRESS_PROVIDERS = ("ExpressCheckoutProvider",)


def payflow_holdings(simulator):
    """``{INVNUM (else CUSTREF): captured minus credited}`` of a Payflow simulator's transactions."""
    holdings = {}
    with simulator.lock:
        transactions = dict(simulator.transactions)
    for transaction in transactions.values():
        if transaction["trxtype"] == "S":
            root = transaction
        elif transaction["trxtype"] == "D":
            root = transactions.get(transaction.get("parent"), transaction)
        else:
            continue
        if transaction["voided"] or transaction["result"] not in (0, 126):
            continue
        held = transaction["captured"] - transaction["credited"]
        # A payment's attempts each carry a CUSTREF of their own, and all carry the payment's INVNUM.
        key = root.get("invnum") or root["custref"]
        holdings[key] = holdings.get(key, Decimal(0)) + held
    return holdings


def express_holdings(simulator):
    """``{INVNUM: captured minus refunded}`` of an NVP simulator's sales and captures."""
    with simulator.lock:
        tokens = [dict(state) for state in simulator.tokens.values()]
        transactions = dict(simulator.transactions)
        parents = {entry["id"]: entry["parent"] for entry in simulator.ledger if entry["kind"] == "capture"}
    invoice_of = {state["transaction_id"]: state["invnum"] for state in tokens if state.get("transaction_id")}
    holdings = {}
    for transaction_id, transaction in transactions.items():
        if transaction["kind"] == "sale":
            invoice = invoice_of.get(transaction_id)
        elif transaction["kind"] == "capture":
            invoice = invoice_of.get(parents.get(transaction_id))
        else:
            continue
        if invoice is None:
            continue
        held = transaction["captured"] - transaction["refunded"]
        holdings[invoice] = holdings.get(invoice, Decimal(0)) + held
    return holdings


def provider_name(variant):
    dotted = settings.PAYMENT_VARIANTS.get(variant, ("", {}))[0]
    return dotted.rsplit(".", 1)[-1]


def gateway_holds(payment, simulators):
    """What the simulated gateway holds for the payment, or ``None`` when no simulator runs its gateway."""
    name = provider_name(payment.variant)
    if name in PAYFLOW_PROVIDERS:
        token = str(payment.token).replace("-", "")
        books = [payflow_holdings(s) for s in simulators if s.__class__.__name__ == "PayflowSimulator"]
        return (
            sum((book.get(token[:32], book.get(token[:12], Decimal(0))) for book in books), Decimal(0))
            if books
            else None
        )
    elif name in EXPRESS_PROVIDERS:
        reference = str(payment.token)
        books = [express_holdings(s) for s in simulators if s.__class__.__name__ == "NvpSimulator"]
    else:
        return None
    if not books:
        return None
    return sum((book.get(reference, Decimal(0)) for book in books), Decimal(0))


def money_disagreements(simulators=(), *, sweeper_pending_ok=False):
    """Every breach of the invariant, as sentences (empty when the money agrees).

    ``sweeper_pending_ok``: between two steps of a sequence, a payment the sweeper has still to ask about
    (unfinished, or given up while its page may still be paid) may disagree; at the end of a test it may not.
    """
    from wagtail.models import ModelLogEntry

    from wagtail_training_pay.models import MoneyMovement, Payment, Registration, RegistrationStatus
    from wagtail_training_pay.models.money import INCOMING_KINDS, OPEN_MOVEMENT_STATES

    problems = []
    done = Q(state="done")
    for payment in Payment.objects.order_by("pk"):
        figures = MoneyMovement.objects.filter(payment=payment).aggregate(
            collected=Sum("amount", filter=done & Q(kind__in=INCOMING_KINDS)),
            refunded=Sum("amount", filter=done & Q(kind="refund")),
        )
        collected, refunded = figures["collected"] or Decimal(0), figures["refunded"] or Decimal(0)
        if (payment.captured_amount, payment.refunded_amount) != (collected - refunded, refunded):
            problems.append(
                f"payment {payment.pk}: captured {payment.captured_amount} / refunded {payment.refunded_amount} "
                f"in the database, {collected - refunded} / {refunded} from its done movements"
            )
        held = gateway_holds(payment, simulators)
        # Known: an answer being learnt, a disagreement shown to an administrator, or money PayPal holds for
        # review (pending is not paid: DESIGN section 11).
        known = (
            (sweeper_pending_ok and _sweeper_will_ask(payment))
            or payment.needs_attention
            or payment.fraud_status == "review"
            or payment.movements.filter(state__in=OPEN_MOVEMENT_STATES).exists()
        )
        if held is not None and held != payment.captured_amount and not known:
            problems.append(
                f"payment {payment.pk} ({payment.variant}, {payment.status}): the gateway holds {held}, "
                f"the database {payment.captured_amount}"
            )
    for registration in Registration.objects.select_related("page").order_by("pk"):
        payments = list(registration.payments.all())
        if registration.status == RegistrationStatus.CONFIRMED:
            paying = next((p for p in payments if p.pk == registration.paid_by_id), None)
            by_hand = ModelLogEntry.objects.filter(
                content_type__model="registration",
                object_id=str(registration.pk),
                action="wagtail_training_pay.confirm",
                user__isnull=False,
            ).exists()
            paid = paying is not None and (paying.captured_amount > 0 or paying.needs_attention)
            if not (registration.amount == 0 or paid or by_hand):
                problems.append(f"registration {registration.pk} is confirmed but neither paid, free nor by hand")
        elif registration.status in (
            RegistrationStatus.CANCELLED,
            RegistrationStatus.EXPIRED,
            RegistrationStatus.REFUNDED,
        ):
            percentage = registration.page.site_settings().refund_percentage
            kept = (registration.amount * (100 - percentage) / 100).quantize(Decimal("0.01"))
            for payment in payments:
                pending = payment.movements.filter(kind="refund", state__in=OPEN_MOVEMENT_STATES).aggregate(
                    total=Sum("amount")
                )["total"] or Decimal(0)
                still_held = payment.captured_amount - pending
                allowed = kept if payment.pk == registration.paid_by_id else Decimal(0)
                pending_sweep = sweeper_pending_ok and _sweeper_will_ask(payment)
                if still_held > allowed and not payment.needs_attention and not pending_sweep:
                    problems.append(
                        f"registration {registration.pk} is {registration.status} but payment {payment.pk} "
                        f"still holds {still_held} (at most {allowed} may be kept)"
                    )
        # Whatever its status, money in a payment that does not pay for the registration (a duplicate, a second
        # tab, a late payment) goes back: no paid money is left without a registration or a refund.
        for payment in (
            payments if registration.status in (RegistrationStatus.CONFIRMED, "pending", "waitlisted") else ()
        ):
            if payment.pk == registration.paid_by_id or payment.needs_attention:
                continue
            if sweeper_pending_ok and _sweeper_will_ask(payment):
                continue
            pending = payment.movements.filter(kind="refund", state__in=OPEN_MOVEMENT_STATES).aggregate(
                total=Sum("amount")
            )["total"] or Decimal(0)
            if payment.captured_amount - pending > 0:
                problems.append(
                    f"registration {registration.pk} ({registration.status}): payment {payment.pk} pays for "
                    f"nothing and still holds {payment.captured_amount - pending}"
                )
    problems.extend(_host_disagreements(sweeper_pending_ok))
    return problems


def _host_disagreements(sweeper_pending_ok):
    """A usage charge's payments hold at most its amount when it is paid, nothing otherwise: a host's late or
    second payment is refunded (issue 14)."""
    from wagtail_training_pay.models import UsageCharge, UsageChargeStatus
    from wagtail_training_pay.models.money import OPEN_MOVEMENT_STATES

    problems = []
    for charge in UsageCharge.objects.prefetch_related("payments").order_by("pk"):
        allowed = charge.amount if charge.status == UsageChargeStatus.PAID else Decimal(0)
        held = Decimal(0)
        for payment in charge.payments.all():
            if payment.needs_attention or (sweeper_pending_ok and _sweeper_will_ask(payment)):
                continue
            pending = payment.movements.filter(kind="refund", state__in=OPEN_MOVEMENT_STATES).aggregate(
                total=Sum("amount")
            )["total"] or Decimal(0)
            held += payment.captured_amount - pending
        if held > allowed:
            problems.append(f"usage charge {charge.pk} ({charge.status}): its payments hold {held}, at most {allowed}")
    return problems


def _sweeper_will_ask(payment):
    from wagtail_training_pay.services.stale_payments import GIVEN_UP_STATUSES, UNFINISHED_STATUSES

    return payment.status in UNFINISHED_STATUSES or (
        payment.status in GIVEN_UP_STATUSES and payment.reconciled_at is None
    )


class MoneyInvariant:
    """Collects the simulators a test runs; ``check()`` raises on any disagreement."""

    def __init__(self):
        self.simulators = []
        self.disabled_reason = None

    def watch(self, simulator):
        self.simulators.append(simulator)

    def check(self):
        problems = money_disagreements(self.simulators)
        assert not problems, "The money invariant is broken:\n- " + "\n- ".join(problems)
