"""Stale work: payments nobody finished, holds that ran out, money that came too late.

A payment still waiting after ``WAGTAIL_TRAINING_PAY_STALE_PAYMENT_MINUTES`` is asked about at
its provider when the provider can tell (``check_status``): what the gateway recorded is applied
through the one settlement path (a late payment confirms if a seat is free, else it is refunded).
One the gateway never saw, or whose provider cannot tell, is cancelled. When the gateway cannot be
reached the payment is left for the next run: an unknown outcome is never taken for "unpaid". A host's
payment that nobody needed and whose refund the gateway refused is refunded again.

Safe to run twice at once: each payment is taken under its row lock with ``skip_locked``, so a
second sweeper passes over what the first is checking, and the settlement path is idempotent.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from payments import PaymentStatus
from payments.core import provider_factory

from ..conf import app_settings
from ..models import Payment
from ..payment_flow import settle_payment
from ..providers.base import STILL_PENDING
from .pay_per_use import retry_surplus_refunds
from .registrations import PROVIDER_ERRORS, release_expired_holds

logger = logging.getLogger(__name__)

#: Statuses of a payment whose outcome is still open.
UNFINISHED_STATUSES = (PaymentStatus.WAITING, PaymentStatus.INPUT, PaymentStatus.PREAUTH)


def stale_payment_ids(now=None):
    cutoff = (now or timezone.now()) - timedelta(minutes=app_settings.STALE_PAYMENT_MINUTES)
    return list(
        Payment.objects.filter(status__in=UNFINISHED_STATUSES, created__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def check_stale_payments(now=None):
    """Check, settle or cancel every stale payment, then release expired holds and refund late payments.

    Returns the counts: ``checked`` (the provider answered), ``cancelled``, ``settled`` (an
    authorization captured or released again), ``unreachable`` (left for the next run),
    ``skipped`` (another sweeper holds it), ``pending`` (the gateway still holds the money: an eCheck
    clearing, a fraud review; left waiting, its seat still held), ``expired`` holds, ``refunded``
    payments of learners, and
    ``host_refunded``: hosts' payments nobody needed whose refund the gateway had refused.
    """
    counts = dict.fromkeys(("checked", "cancelled", "settled", "unreachable", "skipped", "pending"), 0)
    for payment_id in stale_payment_ids(now):
        counts[check_stale_payment(payment_id)] += 1
    counts["expired"], counts["refunded"] = release_expired_holds()
    counts["host_refunded"] = retry_surplus_refunds()
    return counts


@transaction.atomic
def check_stale_payment(payment_id):
    """One stale payment, under its row lock; returns what happened to it (a key of the counts above)."""
    payment = (
        Payment.objects.select_for_update(skip_locked=True)
        .filter(pk=payment_id, status__in=UNFINISHED_STATUSES)
        .first()
    )
    if payment is None:
        return "skipped"  # another sweeper or a late notification is on it, or it just finished
    if payment.status == PaymentStatus.PREAUTH:
        settle_payment(payment)  # captures or releases the authorization, as a notification would
        return "settled"
    try:
        provider = provider_factory(payment.variant, payment)
    except ValueError:
        logger.error("Stale payment %s uses variant %r, which is not configured.", payment.pk, payment.variant)
        provider = None
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
    reason = "never paid, says the provider" if answered else "stale; the provider cannot tell"
    logger.info("Stale payment %s cancelled: %s.", payment.pk, reason)
    payment.change_status(PaymentStatus.CANCELLED, message=f"Cancelled: {reason}"[:200])
    return "cancelled"
