"""Money movements: written before the gateway is asked, sent with their own key, finished from its answer.

The one way this app moves money (DESIGN section 11, ``docs/money.md``):

1. ``record_movement`` writes a ``MoneyMovement`` (state ``created``) in the caller's transaction, next to
   the change that needs the money moved (a cancellation, a surplus found...). Nothing is sent yet.
2. After that transaction commits, ``send_movement`` marks it ``sent`` and commits again, then asks the
   gateway under the payment's row lock with ``payment.movement_key`` set to the movement's key (the
   providers send it as ``X-VPS-REQUEST-ID`` / ``MSGSUBID``).
3. The answer finishes it: ``done`` (the payment's aggregates are recomputed from its done movements),
   ``failed`` (the gateway refused: a new attempt is a new movement with a new key) or ``unknown``
   (no usable answer: the sweeper sends it again with the same key, and PayPal replays its first answer).

A worker killed between 2 and 3 leaves the movement ``sent``; the sweeper treats it as ``unknown``.
``Payment.captured_amount`` (what the payer still has paid) and ``Payment.refunded_amount`` are only ever
written here, from the movements, so every reader (reports, the pay-per-use gate) sees the records.
"""

import contextvars
import logging
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from payments import PaymentError, PaymentStatus
from payments.core import provider_factory

from ..models import MoneyMovement, MovementKind, MovementState, Payment
from ..models.money import INCOMING_KINDS, OPEN_MOVEMENT_STATES

logger = logging.getLogger(__name__)

#: After this many sends without a usable answer, a movement also asks an administrator to look.
ATTENTION_AFTER_ATTEMPTS = 5
ZERO = Decimal("0")
CENT = Decimal("0.01")


class WorkerCrash(BaseException):
    """Raised at a crash point by the test suite to act out a worker killed there (never in production)."""


#: Payments whose capture is being sent in this thread: a provider may confirm the payment (and so settle it)
#: before the capture is recorded done; that confirmation is the capture, not a sale.
_capturing = contextvars.ContextVar("wagtail_training_pay_capturing", default=frozenset())

#: name -> callbacks run at that point of ``send_movement``; the test suite registers crashes here.
crash_points = {}


def _crash_point(name, movement):
    for callback in crash_points.get(name, ()):
        callback(movement)


# --- recording ---------------------------------------------------------------------------------


def record_movement(payment, kind, amount, *, reason="", user=None, state=MovementState.CREATED, answer=""):
    """Write a movement in the caller's transaction (the payment row should be locked by the caller)."""
    return MoneyMovement.objects.create(
        payment=payment,
        kind=kind,
        amount=Decimal(amount),
        currency=payment.currency,
        reason=str(reason)[:200],
        requested_by=user if user is not None and getattr(user, "is_authenticated", False) else None,
        state=state,
        gateway_answer=answer,
        finished_at=timezone.now() if state == MovementState.DONE else None,
    )


def in_caller_transaction(using=None):
    """Whether a transaction of the caller is open (a test case's own wrapping transaction does not count)."""
    from django.db import connections, router

    connection = connections[using or router.db_for_write(MoneyMovement)]
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def send_after_commit(movement):
    """Send the movement once the caller's transaction has committed (at once when there is none)."""
    transaction.on_commit(partial(send_movement, movement.pk))


def record_sale_if_new(payment):
    """A payment the gateway reports confirmed, with no capture of ours: record the sale it made, once.

    Called with the payment row locked by every settlement (``payment_flow.settle_payment``).
    """
    if payment.status != PaymentStatus.CONFIRMED or payment.pk in _capturing.get():
        return None
    # A done sale or capture is always in the totals, so a payment holding nothing and never refunded has none:
    # the settlement path, hot, skips the query then.
    holds_something = payment.captured_amount or payment.refunded_amount
    if (
        holds_something
        and payment.movements.filter(kind__in=INCOMING_KINDS).exclude(state=MovementState.FAILED).exists()
    ):
        return None
    amount = payment.captured_amount if payment.captured_amount and not payment.refunded_amount else payment.total
    movement = record_movement(
        payment,
        MovementKind.SALE,
        amount,
        reason="Reported by the gateway",
        state=MovementState.DONE,
        answer=(payment.transaction_id or "")[:200],
    )
    if payment.refunded_amount:
        update_payment_totals(payment)
    elif payment.captured_amount != amount:
        # The first money of the payment: its totals are this sale (one UPDATE; the settlement path is hot).
        payment.captured_amount = amount
        Payment.objects.filter(pk=payment.pk).update(captured_amount=amount)
    return movement


# --- aggregates --------------------------------------------------------------------------------


def movement_totals(payment_id):
    """``(collected, refunded, pending_refunds)`` of one payment, from its movements."""
    figures = MoneyMovement.objects.filter(payment_id=payment_id).aggregate(
        collected=Sum("amount", filter=Q(kind__in=INCOMING_KINDS, state=MovementState.DONE)),
        refunded=Sum("amount", filter=Q(kind=MovementKind.REFUND, state=MovementState.DONE)),
        pending=Sum("amount", filter=Q(kind=MovementKind.REFUND, state__in=OPEN_MOVEMENT_STATES)),
    )
    return tuple(Decimal(figures[name] or 0).quantize(CENT) for name in ("collected", "refunded", "pending"))


def update_payment_totals(payment):
    """Write ``captured_amount`` and ``refunded_amount`` from the done movements, and the registration's refunds."""
    collected, refunded, _pending = movement_totals(payment.pk)
    payment.captured_amount = collected - refunded
    payment.refunded_amount = refunded
    Payment.objects.filter(pk=payment.pk).update(captured_amount=payment.captured_amount, refunded_amount=refunded)
    if payment.registration_id:
        from ..models import Registration

        refunded_to_learner = MoneyMovement.objects.filter(
            payment__registration_id=payment.registration_id, kind=MovementKind.REFUND, state=MovementState.DONE
        ).aggregate(total=Sum("amount"))["total"]
        Registration.objects.filter(pk=payment.registration_id).update(refunded_amount=refunded_to_learner or ZERO)


def still_held(payment):
    """What the payment still holds at the gateway once every refund already asked for goes through."""
    collected, refunded, pending = movement_totals(payment.pk)
    return max(ZERO, collected - refunded - pending)


def has_open_movement(payment, kinds=None):
    movements = payment.movements.filter(state__in=OPEN_MOVEMENT_STATES)
    if kinds is not None:
        movements = movements.filter(kind__in=kinds)
    return movements.exists()


# --- sending -----------------------------------------------------------------------------------


def send_movement(movement_id):
    """Send one created, sent or unknown movement and record the answer; returns the movement.

    Safe to run twice at once: a movement another worker is sending is skipped (row lock, ``skip_locked``).
    Must not run inside a transaction that has not committed the movement (``send_after_commit`` sees to it).
    """
    with transaction.atomic():
        movement = (
            MoneyMovement.objects.select_for_update(skip_locked=True)
            .filter(pk=movement_id, state__in=OPEN_MOVEMENT_STATES)
            .first()
        )
        if movement is None:
            return MoneyMovement.objects.filter(pk=movement_id).first()
        movement.state = MovementState.SENT
        movement.attempts += 1
        movement.sent_at = timezone.now()
        movement.save(update_fields=["state", "attempts", "sent_at"])
    # Committed: from here on a crash leaves the movement "sent", which the sweeper sends again, same key.
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=movement.payment_id)
        movement = (
            MoneyMovement.objects.select_for_update(skip_locked=True)
            .filter(pk=movement_id, state=MovementState.SENT)
            .first()
        )
        if movement is None:
            return MoneyMovement.objects.filter(pk=movement_id).first()
        _crash_point("before_gateway", movement)
        try:
            answer = _ask_gateway(payment, movement)
        except PaymentError as exc:
            # ``GatewayUnavailable`` (providers/base.py): no usable answer, the gateway may have done it.
            unknown = exc.__class__.__name__ == "GatewayUnavailable"
            _finish(payment, movement, MovementState.UNKNOWN if unknown else MovementState.FAILED, _describe(exc))
            movement.error = exc
            return movement
        except (OSError, ValueError, NotImplementedError) as exc:
            # OSError: the network failed under the provider. ValueError/NotImplementedError: refused here.
            state = MovementState.UNKNOWN if isinstance(exc, OSError) else MovementState.FAILED
            _finish(payment, movement, state, _describe(exc))
            movement.error = exc
            return movement
        _crash_point("after_gateway", movement)
        _finish(payment, movement, MovementState.DONE, answer)
    return movement


def _describe(exc):
    parts = [exc.__class__.__name__, str(exc)]
    code = getattr(exc, "code", None)
    if code:
        parts.append(f"code {code}")
    gateway_message = getattr(exc, "gateway_message", None)
    if gateway_message:
        parts.append(str(gateway_message))
    return ": ".join(part for part in parts if part)[:1000]


def _ask_gateway(payment, movement):
    """Call the provider with the movement's key; returns a short text of what the gateway answered."""
    provider = provider_factory(payment.variant, payment)
    payment.movement_key = movement.idempotency_key  # the contract with the providers (issue 13)
    try:
        if movement.kind == MovementKind.REFUND:
            if payment.captured_amount < movement.amount:
                raise ValueError(f"Refund of {movement.amount} is more than the {payment.captured_amount} held.")
            refunded = provider.refund(payment, movement.amount)
            if refunded is not None and Decimal(refunded) != movement.amount:
                return f"refunded {refunded}"
            return "refunded"
        if movement.kind == MovementKind.CAPTURE:
            token = _capturing.set(_capturing.get() | {payment.pk})
            try:
                captured = provider.capture(payment, movement.amount)
            finally:
                _capturing.reset(token)
            return f"captured {captured}" if captured is not None else "captured"
        if movement.kind == MovementKind.VOID:
            provider.release(payment)
            return "voided"
        raise ValueError(f"A {movement.kind} is recorded, never sent.")
    finally:
        payment.__dict__.pop("movement_key", None)


def _finish(payment, movement, state, answer):
    """Record the outcome (payment and movement rows locked) and apply it to the payment."""
    movement.state = state
    movement.gateway_answer = str(answer)[:1000]
    if state in (MovementState.DONE, MovementState.FAILED):
        movement.finished_at = timezone.now()
    movement.save(update_fields=["state", "gateway_answer", "finished_at"])
    log = logger.info if state == MovementState.DONE else logger.warning
    log("Money movement %s (%s %s of payment %s): %s.", movement.pk, movement.kind, movement.amount, payment.pk, state)
    if state == MovementState.DONE:
        update_payment_totals(payment)
        if movement.kind == MovementKind.CAPTURE and payment.status == PaymentStatus.PREAUTH:
            payment.change_status(PaymentStatus.CONFIRMED)  # settles the registration or charge
        elif movement.kind == MovementKind.VOID and payment.status == PaymentStatus.PREAUTH:
            payment.change_status(PaymentStatus.REFUNDED, message="Authorization voided")
        elif (
            movement.kind == MovementKind.REFUND
            and payment.captured_amount <= 0
            and payment.status == PaymentStatus.CONFIRMED
        ):
            payment.change_status(PaymentStatus.REFUNDED)
        _after_done(payment, movement)
    elif state == MovementState.FAILED:
        flag_payment(payment, f"The gateway refused a {movement.kind} of {movement.amount}", answer)
    elif movement.attempts >= ATTENTION_AFTER_ATTEMPTS:
        flag_payment(
            payment, f"No answer from the gateway to a {movement.kind} after {movement.attempts} tries", answer
        )


#: callbacks(payment, movement) run when a movement is done, payment row locked (feature modules register)
_done_callbacks = []


def on_movement_done(callback):
    _done_callbacks.append(callback)
    return callback


def _after_done(payment, movement):
    for callback in _done_callbacks:
        callback(payment, movement)


def flag_payment(payment, reason, answer=""):
    """Mark a disagreement the site cannot settle alone, with the gateway's answer, for an administrator."""
    now = timezone.now()
    payment.needs_attention = str(reason)[:200]
    payment.gateway_answer = str(answer)[:2000]
    payment.attention_since = payment.attention_since or now
    Payment.objects.filter(pk=payment.pk).update(
        needs_attention=payment.needs_attention,
        gateway_answer=payment.gateway_answer,
        attention_since=payment.attention_since,
    )
    logger.error("Payment %s needs attention: %s (%s).", payment.pk, reason, answer)


@transaction.atomic
def clear_attention(payment, *, user=None, note=""):
    """An administrator settled the disagreement by hand (see docs/money.md). Returns the payment, or ``None``
    when it no longer needs attention (another administrator settled it meanwhile): nothing is logged then."""
    from wagtail.log_actions import log

    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if not payment.needs_attention:
        return None
    log(
        instance=payment,
        action="wagtail_training_pay.attention_cleared",
        user=user,
        data={"reason": payment.needs_attention, "note": str(note)[:500]},
    )
    payment.needs_attention = ""
    payment.attention_since = None
    payment.save(update_fields=["needs_attention", "attention_since"])
    return payment


# --- the usual requests ------------------------------------------------------------------------


def request_refund(payment, amount, *, reason, user=None):
    """Record a refund of a locked payment and send it after the commit; returns the movement.

    Refuses (``ValueError``) more than the payment still holds once the refunds already asked for go through.
    """
    record_sale_if_new(payment)  # a payment confirmed before any settlement ran (set by hand, an old row)
    amount = Decimal(amount)
    if amount <= 0 or amount > still_held(payment):
        raise ValueError(f"Cannot refund {amount}: the payment holds {still_held(payment)}.")
    movement = record_movement(payment, MovementKind.REFUND, amount, reason=reason, user=user)
    send_after_commit(movement)
    return movement


def request_capture_or_void(payment, kind, *, reason, user=None, amount=None):
    """Record the capture (of ``amount``, the whole authorization by default) or the void of a locked,
    pre-authorized payment, once: a second request while one is open or done records nothing."""
    asked = payment.movements.filter(kind__in=(MovementKind.CAPTURE, MovementKind.VOID))
    if asked.exclude(state=MovementState.FAILED).exists():
        return None
    if asked.filter(requested_by__isnull=True).exists() and user is None:
        return None  # the gateway refused an automatic one: waiting for an administrator (needs attention)
    amount = payment.total if amount is None else Decimal(amount)
    movement = record_movement(payment, kind, amount, reason=reason, user=user)
    send_after_commit(movement)
    return movement


def move_now(payment, kind, amount=None, *, reason, user=None):
    """Record a movement of ``payment`` and send it as soon as it is committed: at once when the caller has no
    transaction open (then the gateway's error, if any, is raised as django-payments' methods do), else
    after the caller's commit. Returns the movement. What ``Payment.capture/refund/release`` do."""
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if kind == MovementKind.REFUND:
            if locked.status not in (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED):
                raise ValueError("Only charged payments can be refunded.")
            movement = request_refund(
                locked, still_held(locked) if amount is None else amount, reason=reason, user=user
            )
        else:
            if locked.status != PaymentStatus.PREAUTH:
                raise ValueError("Only pre-authorized payments can be captured or released.")
            movement = request_capture_or_void(locked, kind, reason=reason, user=user, amount=amount)
    if movement is None or in_caller_transaction():
        return movement
    movement = send_movement(movement.pk)
    error = getattr(movement, "error", None)
    if error is not None:
        raise error
    _refresh_payment(payment)
    return movement


def _refresh_payment(payment):
    fresh = Payment.objects.get(pk=payment.pk)
    for field in ("status", "captured_amount", "refunded_amount", "extra_data", "transaction_id", "message"):
        setattr(payment, field, getattr(fresh, field))


def movements_to_resend(now=None, *, created_grace_seconds=60, sent_grace_seconds=120):
    """Movements the sweeper sends (again): unknown ones, and created/sent ones nobody finished."""
    now = now or timezone.now()
    return (
        MoneyMovement.objects.filter(
            Q(state=MovementState.UNKNOWN)
            | Q(state=MovementState.CREATED, created_at__lt=now - timezone.timedelta(seconds=created_grace_seconds))
            | Q(state=MovementState.SENT, sent_at__lt=now - timezone.timedelta(seconds=sent_grace_seconds))
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
