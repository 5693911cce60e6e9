"""The sweeper: the site and the gateways compared, and whatever a crash, a timeout or an outage left, finished.

``check_stale_payments`` (task ``check_stale_payments_task``, command ``check_stale_payments``), in order:

1. **Movements** (``services/money.py``) in state ``unknown``, or ``created``/``sent`` and left by a worker
   that died, are sent again with their own key: PayPal replays the first answer to a reused
   ``X-VPS-REQUEST-ID`` / ``MSGSUBID``, so a refund whose answer was lost is recorded, never made twice.
2. **Payments whose gateway side may still change** are asked about with the provider's ``check_status``:
   unfinished ones (``waiting``, ``input``, ``preauth``) older than ``STALE_PAYMENT_MINUTES``, and ones the
   site gave up on (``cancelled``, ``error``, ``rejected``) while their hosted page or checkout token could
   still be paid on (Payflow Secure Token: 30 minutes; Express Checkout token: 3 hours; a card sale typed on
   the site: asked once), until one answer after that lifetime. What the gateway reports wins: it goes
   through the one settlement path, so money found for a registration that no longer needs it is refunded.
3. Expired holds are released and money nobody needs is refunded, once (learners' and hosts').
4. Emails still owed are sent (``services/outbox.py``).

Safe to run twice at once: every movement, payment and email is taken under its row lock with
``skip_locked``, so a second sweeper passes over what the first holds, and each step is idempotent.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from payments import PaymentStatus
from payments.core import provider_factory

from ..conf import app_settings
from ..models import Payment
from ..payment_flow import settle_payment
from ..providers.base import STILL_PENDING
from . import money
from .outbox import send_owed_emails
from .pay_per_use import retry_surplus_refunds
from .registrations import PROVIDER_ERRORS, release_expired_holds

logger = logging.getLogger(__name__)

#: Statuses of a payment whose outcome is still open.
UNFINISHED_STATUSES = (PaymentStatus.WAITING, PaymentStatus.INPUT, PaymentStatus.PREAUTH)
#: Statuses of a payment the site gave up on, though the gateway may still take money for it.
GIVEN_UP_STATUSES = (PaymentStatus.CANCELLED, PaymentStatus.ERROR, PaymentStatus.REJECTED)
#: How long the gateway keeps a payment page payable (PayPal: Payflow Secure Token 30 minutes,
#: Express Checkout token 3 hours), by the key the provider keeps its token under in ``extra_data``.
TOKEN_LIFETIMES = {"payflow_secure_token": timedelta(minutes=30), "express_checkout": timedelta(hours=3)}
#: Given-up payments older than this are not looked at again (every token has expired long before).
GIVEN_UP_WINDOW = timedelta(days=1)

COUNTS = (
    "checked",
    "cancelled",
    "settled",
    "unreachable",
    "skipped",
    "pending",
    "reconciled",
    "movements_done",
    "movements_failed",
    "movements_unknown",
)


def stale_payment_ids(now=None):
    now = now or timezone.now()
    cutoff = now - timedelta(minutes=app_settings.STALE_PAYMENT_MINUTES)
    return list(
        Payment.objects.filter(
            Q(status__in=UNFINISHED_STATUSES, created__lt=cutoff)
            | Q(status__in=GIVEN_UP_STATUSES, reconciled_at__isnull=True, created__gte=now - GIVEN_UP_WINDOW)
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def check_stale_payments(now=None):
    """Run every step above once; returns the counts of what happened.

    ``checked`` (the provider answered), ``cancelled``, ``settled`` (an authorization captured or released),
    ``unreachable`` (left for the next run), ``skipped`` (another sweeper holds it), ``pending`` (the gateway
    still holds it), ``reconciled`` (a given-up payment found final), ``movements_*`` (movements sent again),
    ``expired`` holds, ``refunded`` learners' payments, ``host_refunded`` hosts' payments, ``emails`` sent.
    """
    counts = dict.fromkeys(COUNTS, 0)
    crashes = []
    for movement_id in list(money.movements_to_resend(now)):
        try:
            movement = money.send_movement(movement_id)
        except Exception as exc:  # a bug in a gateway library: this one waits, the others are still swept
            logger.exception("Money movement %s could not be sent again.", movement_id)
            crashes.append(exc)
            continue
        if movement is not None and movement.state in ("done", "failed", "unknown"):
            counts[f"movements_{movement.state}"] += 1
    for payment_id in stale_payment_ids(now):
        try:
            counts[check_stale_payment(payment_id, now=now)] += 1
        except Exception as exc:  # its transaction is rolled back; the payments after it are still checked
            logger.exception("Stale payment %s could not be checked.", payment_id)
            crashes.append(exc)
    counts["expired"], counts["refunded"] = release_expired_holds()
    counts["host_refunded"] = retry_surplus_refunds()
    counts["emails"] = send_owed_emails()
    if crashes:
        # Everything else was swept; the caller (``run_sweepers``, the task) still learns that this sweep failed.
        raise crashes[0]
    return counts


def gateway_open_until(payment):
    """Until when the gateway could still take money for this payment, or ``None`` when it never could."""
    attrs = payment.attrs if payment.extra_data else None
    for key, lifetime in TOKEN_LIFETIMES.items():
        token = getattr(attrs, key, None) if attrs is not None else None
        created = parse_datetime(token.get("created", "")) if isinstance(token, dict) else None
        if created is not None:
            return created + lifetime
    if payment.transaction_id or payment.status == PaymentStatus.REJECTED or _has_check_status(payment):
        # A card sale typed on the site (direct mode) may have gone through unanswered: ask once.
        return payment.modified
    return None


def _has_check_status(payment):
    provider = _provider(payment)
    return provider is not None and hasattr(provider, "check_status") and getattr(provider, "mode", "") == "direct"


def _provider(payment):
    try:
        return provider_factory(payment.variant, payment)
    except ValueError:
        logger.error("Payment %s uses variant %r, which is not configured.", payment.pk, payment.variant)
        return None


@transaction.atomic
def check_stale_payment(payment_id, now=None):
    """One payment, under its row lock; returns what happened to it (a key of the counts above)."""
    payment = Payment.objects.select_for_update(skip_locked=True).filter(pk=payment_id).first()
    if payment is None:
        return "skipped"  # another sweeper or a late notification is on it
    if payment.status in GIVEN_UP_STATUSES:
        return _check_given_up(payment, now or timezone.now())
    if payment.status not in UNFINISHED_STATUSES:
        return "skipped"  # it finished meanwhile
    if payment.status == PaymentStatus.PREAUTH:
        settle_payment(payment)  # captures or releases the authorization, as a notification would
        return "settled"
    provider = _provider(payment)
    answered = False
    check_status = getattr(provider, "check_status", None)
    if check_status is not None:
        try:
            answered = check_status(payment)
        except PROVIDER_ERRORS as exc:
            logger.error("Could not check stale payment %s with its provider (%s); will retry.", payment.pk, exc)
            return "unreachable"
    payment.refresh_from_db()
    if answered == STILL_PENDING:
        settle_payment(payment)  # keeps the registration's seat held while the gateway holds the money
        return "pending"
    if payment.status not in (PaymentStatus.WAITING, PaymentStatus.INPUT):
        settle_payment(payment)
        return "checked"
    if answered == STILL_PENDING:
        return "pending"  # PayPal holds it (eCheck, review): the seat stays held, asked again next run
    reason = "never paid, says the provider" if answered else "stale; the provider cannot tell"
    logger.info("Stale payment %s cancelled: %s.", payment.pk, reason)
    # Cancelled here, but still asked about while its token lives (the given-up payments above).
    payment.change_status(PaymentStatus.CANCELLED, message=f"Cancelled: {reason}"[:200])
    open_until = gateway_open_until(payment)
    if answered and (open_until is None or open_until <= (now or timezone.now())):
        Payment.objects.filter(pk=payment.pk).update(reconciled_at=now or timezone.now())
    return "cancelled"


def _check_given_up(payment, now):
    """A payment the site cancelled or marked failed: ask the gateway while it could still take money."""
    open_until = gateway_open_until(payment)
    if open_until is None:
        Payment.objects.filter(pk=payment.pk).update(reconciled_at=now)
        return "reconciled"  # the payer never reached a gateway page: nothing can arrive
    check_status = getattr(_provider(payment), "check_status", None)
    if check_status is None:
        Payment.objects.filter(pk=payment.pk).update(reconciled_at=now)
        return "reconciled"
    try:
        answered = check_status(payment)
    except PROVIDER_ERRORS as exc:
        logger.error("Could not check payment %s with its provider (%s); will retry.", payment.pk, exc)
        return "unreachable"
    payment.refresh_from_db()
    if payment.status not in GIVEN_UP_STATUSES:
        # The gateway took money after all: settle it (a registration that no longer needs it is refunded).
        logger.warning("Payment %s, given up on the site, is %s at the gateway.", payment.pk, payment.status)
        settle_payment(payment)
        Payment.objects.filter(pk=payment.pk).update(reconciled_at=now)
        return "checked"
    if answered == STILL_PENDING or now < open_until:
        return "pending"  # its page is still payable: ask again next run
    Payment.objects.filter(pk=payment.pk).update(reconciled_at=now)
    return "reconciled"
