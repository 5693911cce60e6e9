"""Learner registrations: seats, holds, payment settlement, cancellation and refunds.

Lock order, everywhere, so that concurrent requests never deadlock:
payment row, then session page row, then registration row.
Seats are counted on every call from the session's counter of confirmed registrations plus the
pending ones whose hold has not expired (services/seats.py), so nothing depends on a background job.
Every status change goes through ``seats.set_status``, which keeps the counter in the same transaction.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings as django_settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from payments import PaymentError, PaymentStatus

from ..conf import app_settings
from ..currencies import is_expressible, quantize_money
from ..models import (
    ACTIVE_STATUSES,
    MoneyMovement,
    MovementKind,
    MovementState,
    Payment,
    Registration,
    RegistrationStatus,
    TrainingSessionPage,
)
from ..models.money import OPEN_MOVEMENT_STATES
from ..providers.base import pending_at_gateway, refused_after_pending
from . import money, seats
from .audit import log_action

logger = logging.getLogger(__name__)

#: Payment statuses after which a new attempt needs a new payment.
FAILED_PAYMENT_STATUSES = (PaymentStatus.REJECTED, PaymentStatus.ERROR, PaymentStatus.CANCELLED)
#: Payment statuses of an attempt still in progress at the provider.
OPEN_PAYMENT_STATUSES = (PaymentStatus.WAITING, PaymentStatus.INPUT, PaymentStatus.PREAUTH)
#: Exceptions a provider raises when the gateway refuses or cannot be reached: ``OSError`` covers
#: ``URLError``, socket timeouts and connection errors, and ``requests``' exceptions too.
PROVIDER_ERRORS = (PaymentError, OSError)


class RegistrationRefused(Exception):
    """The learner cannot register; ``message`` says why, for the learner."""

    code = "refused"

    def __init__(self, message, *, existing=None):
        super().__init__(str(message))
        self.message = message
        self.existing = existing


class SessionFull(RegistrationRefused):
    code = "full"


class RegistrationClosed(RegistrationRefused):
    code = "closed"


class AlreadyRegistered(RegistrationRefused):
    code = "duplicate"


class PaymentMethodNotOffered(RegistrationRefused):
    code = "payment_method"


class RefundFailed(Exception):
    """The refund cannot be made, or the gateway refused it; no money moved."""


class RefundPending(RefundFailed):
    """The gateway did not answer: the refund is recorded and the sweeper learns its outcome (same key)."""


class HoldNotExtended(Exception):
    """The seat hold cannot be extended; the message says why, for the learner."""


class CancellationRefused(Exception):
    """The registration cannot be cancelled by the learner any more."""


@dataclass
class RegistrationResult:
    registration: Registration
    payment: Payment | None = None


# --- seats -------------------------------------------------------------------------------------


def seats_taken(page, now=None):
    """Confirmed registrations plus pending ones whose hold has not expired.

    What ``Registration.objects.holding_seats()`` counts, read from the session's counter and the few live
    holds (``services/seats.py``), so that it costs the same whatever the number of registrations.
    """
    return seats.seats_taken(page, now)


def seats_left(page, now=None):
    """Free seats, or ``None`` when the session has no capacity limit."""
    if page.capacity is None:
        return None
    return max(0, page.capacity - seats_taken(page, now))


def settings_for(page):
    """The page's site settings, looked up once per page instance, that is once per request.

    The session page's view puts the request's settings there first (Wagtail already knows the site).
    """
    if "_training_pay_settings" not in page.__dict__:
        page.__dict__["_training_pay_settings"] = page.site_settings()
    return page.__dict__["_training_pay_settings"]


def offered_learner_variants(site_settings):
    """``site_settings.learner_variants()``, read once per settings instance (once per request)."""
    if "_learner_variants" not in site_settings.__dict__:
        defined = list(getattr(django_settings, "PAYMENT_VARIANTS", {}))
        # With one variant configured, learner_variants() can only answer that one: no query needed.
        only = [(defined[0], defined[0])] if len(defined) == 1 else None
        site_settings.__dict__["_learner_variants"] = only or site_settings.learner_variants()
    return site_settings.__dict__["_learner_variants"]


def requires_payment(page, site_settings=None):
    """A session is paid for when it has a fee and the site sells sessions."""
    site_settings = site_settings or page.site_settings()
    return bool(page.fee) and site_settings.fee_based_enabled


def registration_closed_reason(page, now=None):
    """Why nobody can register now (a message for the learner), or ``None`` when registration is open."""
    now = now or timezone.now()
    if page.started_at or now >= page.start_at:
        return _("Registration is closed: this session has already started.")
    if page.registration_opens_at and now < page.registration_opens_at:
        when = formats.date_format(timezone.localtime(page.registration_opens_at), "DATETIME_FORMAT")
        return _("Registration opens on %(date)s.") % {"date": when}
    if page.registration_closes_at and now >= page.registration_closes_at:
        return _("Registration for this session is closed.")
    return None


# --- registering -------------------------------------------------------------------------------


def register(
    page,
    *,
    first_name,
    last_name,
    email,
    billing=None,
    answers=None,
    variant=None,
    language="",
    user=None,
    now=None,
    browser_registrations=None,
):
    """Register one learner: a confirmed seat (free session), a held seat and a payment, or the waiting list.

    Raises a ``RegistrationRefused`` subclass with a message for the learner when it cannot.
    Amount and currency always come from the session page, never from the caller.

    ``browser_registrations`` (the tokens of the registrations the posting browser made) turns on the answer
    that tells nobody who is registered: an email address already registered for the session is refused only
    for the browser that registered it; from anywhere else it makes a second registration, like a new one,
    and the address is told by email (at most once per ``DUPLICATE_NOTICE_RATE``).
    """
    try:
        return _register(
            page,
            first_name=first_name.strip(),
            last_name=last_name.strip(),
            email=email.strip(),
            billing=billing or {},
            answers=answers or {},
            variant=variant,
            language=language or translation.get_language() or "",
            user=user,
            now=now or timezone.now(),
            browser_registrations=browser_registrations,
        )
    except IntegrityError:
        # The unique constraint caught a concurrent registration with the same email.
        existing = active_registration_for(page, email)
        if existing is None:
            raise
        raise AlreadyRegistered(_("You are already registered for this session."), existing=existing) from None


def full_message(session, now):
    """Why a full session refuses a learner: plainly full, or held by learners still paying (say until when)."""
    next_release = (
        Registration.objects.filter(page_id=session.pk, status=RegistrationStatus.PENDING, hold_expires_at__gt=now)
        .order_by("hold_expires_at")
        .values_list("hold_expires_at", flat=True)
        .first()
    )
    if next_release is None:
        return _("Sorry, this session is full.")
    minutes = max(1, -(-int((next_release - now).total_seconds()) // 60))  # rounded up
    return ngettext(
        "Every seat is taken, but one is held by someone who is paying. If they do not finish, it is free again "
        "in %(minutes)d minute: please try again then.",
        "Every seat is taken, but one is held by someone who is paying. If they do not finish, it is free again "
        "in %(minutes)d minutes: please try again then.",
        minutes,
    ) % {"minutes": minutes}


def active_registration_for(page, email):
    """The address's active first registration for the session (the one the unique constraint is about)."""
    registration_id = seats.active_registration_id(page.pk, email)
    return None if registration_id is None else Registration.objects.get(pk=registration_id)


def seats_taken_and_active_registration_id(page, email, now):
    """The seats taken and the id of this email's active registration, if any, in one query.

    Registering needs both under the session's lock; one query that reads neither more rows nor more
    index entries as the session fills up keeps the POST's cost constant and low.
    """
    return seats.seats_taken_and_active_registration_id(page, email, now)


@transaction.atomic
def _register(
    page, *, first_name, last_name, email, billing, answers, variant, language, user, now, browser_registrations
):
    session = lock_session(page.pk)
    site_settings = settings_for(page)  # the request's; the settings row is not locked anyway
    closed = registration_closed_reason(session, now)
    if closed:
        raise RegistrationClosed(closed)

    taken, existing_id = seats_taken_and_active_registration_id(session, email, now)
    existing = Registration.objects.get(pk=existing_id) if existing_id is not None else None
    if existing is not None and existing.status == RegistrationStatus.PENDING and existing.hold_has_expired(now):
        _expire(existing)
        existing = None
    if existing is not None and (browser_registrations is None or str(existing.token) in browser_registrations):
        raise AlreadyRegistered(_("You are already registered for this session."), existing=existing)

    paid = requires_payment(session, site_settings)
    if paid:
        variant = validated_variant(site_settings, variant)
        if not is_expressible(session.fee, session.get_currency()):
            # Saved before the fee field refused it (0.40 JPY): no payment could ever be taken for it.
            logger.error("Session %s: its fee %s cannot be charged in %s.", session.pk, session.fee, session.currency)
            raise RegistrationClosed(_("Registration is not possible at the moment. Please contact the organiser."))

    left = None if session.capacity is None else max(0, session.capacity - taken)
    if left is not None and left <= 0:
        if not site_settings.waitlist_enabled:
            raise SessionFull(full_message(session, now))
        status = RegistrationStatus.WAITLISTED
    else:
        status = RegistrationStatus.PENDING if paid else RegistrationStatus.CONFIRMED

    currency = session.get_currency()
    registration = Registration(
        page=session,
        status=status,
        user=user if user is not None and user.is_authenticated else None,
        first_name=first_name,
        last_name=last_name,
        email=email,
        billing_address=billing.get("address", "") if paid else "",
        billing_postcode=billing.get("postcode", "") if paid else "",
        billing_city=billing.get("city", "") if paid else "",
        billing_country=billing.get("country", "") if paid else "",
        form_data=answers,
        amount=quantize_money(session.fee, currency) if paid else Decimal("0"),
        currency=currency,
        language=language[:10],
        hold_expires_at=now + timedelta(minutes=site_settings.seat_hold_minutes)
        if status == RegistrationStatus.PENDING
        else None,
        created_at=now,
        confirmed_at=now if status == RegistrationStatus.CONFIRMED else None,
        duplicate_of=existing,
    )
    registration._session_locked = True  # above: its counter moves without locking the session again
    registration.save(force_insert=True)
    # No log entry here: the registration row records its creation, and the registration POST keeps to the
    # queries the performance budget allows (docs/performance.md). Every later step is logged.
    payment = None
    if status == RegistrationStatus.PENDING:
        payment = create_payment(registration, variant)
    elif status == RegistrationStatus.CONFIRMED and existing is None:
        send_confirmation(registration)
    if existing is not None:
        # Whoever typed the address is not told it was registered; its owner is, by email, at most once an hour.
        tell_already_registered(existing)
    return RegistrationResult(registration, payment)


def tell_already_registered(registration):
    """Email the link to ``registration`` to its address, unless it was sent one within ``DUPLICATE_NOTICE_RATE``."""
    from ..conf import app_settings
    from ..ratelimit import hit

    if not hit("registered-again", registration.email.lower(), app_settings.DUPLICATE_NOTICE_RATE):
        send_registration_email(registration, "manage_link")


def lock_session(page_id):
    """Lock the session's own row (not Wagtail's page row, which editors lock)."""
    return TrainingSessionPage.objects.select_for_update(of=("self",)).get(pk=page_id)


def lock_session_of(registration_id):
    """Lock the session of a registration, found through the registration in the same query."""
    return TrainingSessionPage.objects.select_for_update(of=("self",)).get(registrations__pk=registration_id)


def lock_registration(registration_id):
    return Registration.objects.select_for_update(of=("self",)).select_related("page").get(pk=registration_id)


def validated_variant(site_settings, variant):
    """The payment variant to use: the learner's choice among those offered, or the only one offered."""
    offered = [name for name, _label in offered_learner_variants(site_settings)]
    if not offered:
        raise PaymentMethodNotOffered(_("No payment method is available for this session. Please contact us."))
    if not variant and len(offered) == 1:
        return offered[0]
    if variant not in offered:
        raise PaymentMethodNotOffered(_("Please choose one of the payment methods offered."))
    return variant


def create_payment(registration, variant):
    """A new payment attempt for a pending registration, billed from what the learner typed."""
    return Payment.objects.create(
        token=str(uuid.uuid4()),  # django-payments would query for a collision a UUID4 never has
        variant=variant,
        registration=registration,
        total=registration.amount,
        currency=registration.currency,
        description=str(registration.page.title)[:255],
        billing_first_name=registration.first_name,
        billing_last_name=registration.last_name,
        billing_address_1=registration.billing_address,
        billing_city=registration.billing_city,
        billing_postcode=registration.billing_postcode,
        billing_country_code=str(registration.billing_country or ""),
        billing_email=registration.email,
    )


def current_payment(registration):
    return registration.payments.order_by("-pk").first()


@transaction.atomic
def payment_for_attempt(registration, variant=None, *, now=None):
    """The payment the learner pays now: the open attempt, or a new one after a failure or a change of method.

    Returns ``None`` when the registration no longer waits for a payment or its hold expired.
    """
    now = now or timezone.now()
    lock_payments_of(registration)
    registration = lock_registration(registration.pk)
    if registration.status != RegistrationStatus.PENDING or registration.hold_has_expired(now):
        return None
    site_settings = registration.page.site_settings()
    latest = current_payment(registration)
    if variant:
        variant = validated_variant(site_settings, variant)
    if latest is not None and latest.status in OPEN_PAYMENT_STATUSES:
        if not variant or variant == latest.variant:
            return latest
        if latest.status == PaymentStatus.PREAUTH or pending_at_gateway(latest):
            return latest  # money is reserved or held at PayPal: finish this attempt rather than start another
        _abandon(latest)
    if latest is not None and latest.status == PaymentStatus.CONFIRMED:
        return latest
    if not variant:
        variant = latest.variant if latest is not None else validated_variant(site_settings, None)
    return create_payment(registration, variant)


# --- more time to pay (WCAG 2.2.1, Timing Adjustable) -------------------------------------------


def hold_extensions_left(registration):
    return max(0, app_settings.HOLD_MAX_EXTENSIONS - registration.hold_extensions)


def latest_hold_end(session, now):
    """How far a hold may run: the site's hold minutes from now, never past the start or the close of registration."""
    ends = [now + timedelta(minutes=settings_for(session).seat_hold_minutes), session.start_at]
    if session.registration_closes_at:
        ends.append(session.registration_closes_at)
    return min(ends)


@transaction.atomic
def extend_hold(registration, *, now=None):
    """Give a learner who is still paying more time: the hold runs the site's hold minutes from now.

    Bounded, so that nobody keeps a seat forever: only a hold still live (an expired one may have gone to
    someone else already), only while the registration waits for its payment, at most
    ``HOLD_MAX_EXTENSIONS`` times, never past the session's start or the close of registration. The session
    row is locked first, as registering locks it: a learner registering as the hold ends sees either the old
    hold or the extended one, never a seat both free and held. Raises ``HoldNotExtended``.
    """
    session = lock_session_of(registration.pk)
    registration = lock_registration(registration.pk)
    now = now or timezone.now()  # read under the locks
    if registration.status != RegistrationStatus.PENDING:
        raise HoldNotExtended(_("Your registration no longer waits for a payment."))
    if registration.hold_expires_at is None or registration.hold_has_expired(now):
        raise HoldNotExtended(_("Your seat hold has already ended, so it cannot be extended. Please register again."))
    payment = current_payment(registration)
    if payment is not None and (payment.pending_at_gateway or payment.status == PaymentStatus.CONFIRMED):
        raise HoldNotExtended(_("Your payment is already being processed: your seat stays held meanwhile."))
    if hold_extensions_left(registration) <= 0:
        raise HoldNotExtended(_("Your seat hold cannot be extended again. Please complete your payment now."))
    until = latest_hold_end(session, now)
    if registration_closed_reason(session, now) or until <= registration.hold_expires_at:
        raise HoldNotExtended(
            _("Your seat cannot be held any longer: registration closes soon. Please complete your payment now.")
        )
    registration.hold_expires_at = until
    registration.hold_extensions += 1
    registration.save(update_fields=["hold_expires_at", "hold_extensions"])
    log_action(
        registration, "hold_extended", data={"until": until.isoformat(), "extensions": registration.hold_extensions}
    )
    return registration


def lock_payments_of(registration):
    """Lock every payment of a registration, first of all (see the lock order above)."""
    return list(Payment.objects.select_for_update().filter(registration_id=registration.pk).order_by("pk"))


def _abandon(payment):
    """Cancel an unfinished attempt (its row already locked) before the learner tries another method.

    Its hosted page or checkout token may still be paid on: the sweeper keeps asking the gateway about it
    while the token lives (services/stale_payments.py), and money found then is refunded.
    """
    if payment.status == PaymentStatus.PREAUTH:
        money.request_capture_or_void(payment, MovementKind.VOID, reason="Registration no longer needs it")
        return
    if payment.status not in (PaymentStatus.WAITING, PaymentStatus.INPUT):
        return
    try:
        payment.cancel()
    except (*PROVIDER_ERRORS, ValueError, NotImplementedError) as exc:
        logger.warning("Provider could not cancel payment %s (%s); marked cancelled here.", payment.pk, exc)
        payment.change_status(PaymentStatus.CANCELLED, message=str(exc)[:200])


# --- settling payments -------------------------------------------------------------------------


def settle_registration_payment(payment):
    """Apply a payment's status to its registration; runs with the payment row locked, any number of times.

    A confirmed payment confirms a pending registration exactly once. One that arrives after
    the hold expired confirms it if a seat is still free, otherwise it is refunded. Any other
    confirmed payment of the same registration is refunded. A failed payment leaves the
    registration pending, so that the learner can try again until the hold expires.
    """
    status = payment.status
    if status == PaymentStatus.CONFIRMED and payment.refunded_amount >= payment.total:
        # A replayed notification put a refunded payment back to "confirmed": there is nothing to apply.
        logger.warning("Payment %s was refunded in full; its confirmation is ignored.", payment.pk)
    elif status == PaymentStatus.CONFIRMED:
        _apply_confirmed_payment(payment)
    elif status == PaymentStatus.PREAUTH:
        _capture_or_release(payment)
    elif status == PaymentStatus.WAITING and pending_at_gateway(payment):
        _hold_while_gateway_holds(payment)
    elif status in FAILED_PAYMENT_STATUSES:
        logger.info("Payment %s for registration %s ended %s.", payment.pk, payment.registration_id, status)
        if refused_after_pending(payment):
            _release_after_gateway_refusal(payment)


def _hold_while_gateway_holds(payment):
    """PayPal holds the learner's money (an eCheck clearing, a review): the seat stays held meanwhile.

    The hold runs ``GATEWAY_PENDING_HOLD_HOURS`` past the last time PayPal said so; the sweeper asks
    again at every run, so the hold lasts as long as PayPal holds the payment (see docs/registration.md).
    """
    lock_session_of(payment.registration_id)
    registration = lock_registration(payment.registration_id)
    if registration.status != RegistrationStatus.PENDING:
        return
    now = timezone.now()
    if registration.hold_has_expired(now) and not _late_payment_can_take_a_seat(registration, now):
        return  # the seat went to someone else meanwhile: a payment completed later is refunded
    until = now + timedelta(hours=app_settings.GATEWAY_PENDING_HOLD_HOURS)
    if registration.hold_expires_at is None or registration.hold_expires_at < until:
        # Logged when the ordinary hold is first extended, not at every renewal by the sweeper.
        first = registration.hold_expires_at is None or registration.hold_expires_at < timezone.now() + timedelta(
            hours=1
        )
        registration.hold_expires_at = until
        registration.save(update_fields=["hold_expires_at"])
        if first:
            log_action(registration, "payment_pending", data={"payment": payment.pk, **pending_at_gateway(payment)})


def _release_after_gateway_refusal(payment):
    """PayPal refused money it had held: the seat held for it is released (the learner sees why)."""
    registration = lock_registration(payment.registration_id)
    if registration.status != RegistrationStatus.PENDING or registration.hold_has_expired():
        return
    registration.hold_expires_at = timezone.now()
    registration.save(update_fields=["hold_expires_at"])
    log_action(registration, "payment_refused", data={"payment": payment.pk})


def _payment_matches(payment, registration):
    return payment.currency == registration.currency and quantize_money(
        payment.total, payment.currency
    ) == quantize_money(registration.amount, registration.currency)


def _apply_confirmed_payment(payment):
    lock_session_of(payment.registration_id)
    registration = lock_registration(payment.registration_id)
    if registration.paid_by_id == payment.pk:
        return  # already applied: a replayed notification or the browser return after the callback
    if not _payment_matches(payment, registration):
        logger.error(
            "Payment %s (%s %s) does not match registration %s (%s %s); not confirmed.",
            payment.pk,
            payment.total,
            payment.currency,
            registration.pk,
            registration.amount,
            registration.currency,
        )
        log_action(registration, "payment_mismatch", data={"payment": payment.pk})
        return
    if registration.paid_by_id is None and registration.status == RegistrationStatus.CONFIRMED:
        # Confirmed by hand before the payment arrived: the payment is the one that pays for it.
        registration.paid_by = payment
        registration.save(update_fields=["paid_by"])
        log_action(registration, "confirm", data={"payment": payment.pk})
        return
    if registration.paid_by_id is not None or registration.status not in (
        RegistrationStatus.PENDING,
        RegistrationStatus.EXPIRED,
    ):
        logger.warning("Payment %s for registration %s is not needed; refunding it.", payment.pk, registration.pk)
        schedule_refund_of_unapplied_payment(payment)
        return
    now = timezone.now()
    late = registration.status == RegistrationStatus.EXPIRED or registration.hold_has_expired(now)
    if late and not _late_payment_can_take_a_seat(registration, now):
        if registration.status == RegistrationStatus.PENDING:
            _expire(registration)
        log_action(registration, "late_payment", data={"payment": payment.pk})
        schedule_refund_of_unapplied_payment(payment)
        return
    seats.set_status(
        registration, RegistrationStatus.CONFIRMED, confirmed_at=now, hold_expires_at=None, paid_by=payment
    )
    log_action(registration, "confirm", data={"payment": payment.pk, "late": late})
    send_confirmation(registration)


def _late_payment_can_take_a_seat(registration, now):
    if registration.anonymized_at is not None:
        return False  # the learner asked to be forgotten: their money goes back
    if active_registration_for(registration.page, registration.email) not in (None, registration):
        return False  # the learner registered again meanwhile
    left = seats_left(registration.page, now)
    return left is None or left > 0


def _capture_or_release(payment):
    """A pre-authorized payment is captured when its registration can be confirmed, released otherwise."""
    lock_session_of(payment.registration_id)
    registration = lock_registration(payment.registration_id)
    if registration.paid_by_id == payment.pk:
        return  # already captured and applied: a replayed "pre-authorized" notification
    now = timezone.now()
    wanted = (
        registration.paid_by_id is None
        and _payment_matches(payment, registration)
        and (
            (registration.status == RegistrationStatus.PENDING and not registration.hold_has_expired(now))
            or (
                registration.status in (RegistrationStatus.PENDING, RegistrationStatus.EXPIRED)
                and _late_payment_can_take_a_seat(registration, now)
            )
        )
    )
    # Recorded now, sent once this transaction commits; a done capture confirms the payment, which settles
    # it again through status_changed.
    if wanted:
        money.request_capture_or_void(payment, MovementKind.CAPTURE, reason="Registration confirmed")
    else:
        money.request_capture_or_void(payment, MovementKind.VOID, reason="Registration no longer needs it")


def _expire(registration):
    """A pending registration whose hold expired (the session is locked)."""
    if registration.status == RegistrationStatus.PENDING:
        seats.set_status(registration, RegistrationStatus.EXPIRED)


# --- refunds -----------------------------------------------------------------------------------


def schedule_refund_of_unapplied_payment(payment):
    from ..tasks import enqueue, refund_unapplied_payment_task

    transaction.on_commit(partial(enqueue, refund_unapplied_payment_task, payment.pk))


def is_unapplied(payment, registration):
    """A confirmed payment that paid for nothing: late after the session filled up, a duplicate, or one made
    for a registration that was cancelled or expired meanwhile."""
    if payment.status != PaymentStatus.CONFIRMED or registration is None:
        return False
    if not _payment_matches(payment, registration):
        return False  # left for an administrator, who sees the logged error
    if registration.paid_by_id == payment.pk:
        return False
    return registration.paid_by_id is not None or registration.status not in (
        RegistrationStatus.PENDING,
        RegistrationStatus.CONFIRMED,
    )


@transaction.atomic
def refund_unapplied_payment(payment_id):
    """Refund, in full and once, a payment that :func:`is_unapplied`; tell the learner when it came too late.

    Once: the refund is a record written under the payment's lock, and a payment whose held money is all
    asked back already is left alone.
    """
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.registration_id is None:
        return False
    lock_session_of(payment.registration_id)
    registration = lock_registration(payment.registration_id)
    if not is_unapplied(payment, registration):
        return False
    money.record_sale_if_new(payment)
    amount = money.still_held(payment)
    if amount <= 0:
        return False
    money.request_refund(payment, amount, reason="Not needed by the registration (duplicate or late)")
    if registration.paid_by_id is None and registration.status == RegistrationStatus.EXPIRED:
        seats.set_status(registration, RegistrationStatus.REFUNDED, late_payment_refunded=True)
        send_registration_email(registration, "late_refund")
    log_action(registration, "refund", data={"payment": payment.pk, "amount": str(amount), "automatic": True})
    return True


def unapplied_payments():
    """Confirmed payments of registrations that did not keep them, still holding money nobody asked back."""
    # A refund the gateway refused is asked again (a new movement, a new key) on the next sweep.
    open_refund = MoneyMovement.objects.filter(
        payment=OuterRef("pk"), kind=MovementKind.REFUND, state__in=OPEN_MOVEMENT_STATES
    )
    return (
        Payment.objects.filter(status=PaymentStatus.CONFIRMED, registration__isnull=False, captured_amount__gt=0)
        .exclude(registration__paid_by=F("pk"))
        .exclude(
            registration__status__in=[RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED],
            registration__paid_by__isnull=True,
        )
        .exclude(Exists(open_refund))
    )


def refundable_amount(registration):
    """What is left to refund of what the registration paid: what its own paying payment still holds.

    Refunds of its other payments (a duplicate, a second tab) never reduce it.
    """
    if registration.paid_by_id is None:
        return Decimal("0")
    paying = Payment.objects.filter(pk=registration.paid_by_id).first()
    return money.still_held(paying) if paying is not None else Decimal("0")


def _send_now(movement):
    """Send a movement the caller's transaction has just committed, and return it with its answer."""
    if money.in_caller_transaction():
        return movement  # sent by the on_commit callback of that transaction
    return money.send_movement(movement.pk)


def _raise_unless_done(movement):
    if movement.state == MovementState.FAILED:
        raise RefundFailed(_("The payment provider did not accept the refund. Please try again later."))
    if movement.state != MovementState.DONE:
        raise RefundPending(
            _("The payment provider did not answer. The refund is recorded and will be checked automatically.")
        )


def refund_registration(registration, amount=None, *, user=None):
    """Refund all or part of what a registration's paying payment holds, through the provider.

    The refund is recorded first, then sent; a full refund of a confirmed registration frees its seat
    (status ``refunded``) once the gateway has done it. Raises ``RefundFailed`` (``RefundPending`` when the
    gateway did not answer: the sweeper finishes it).
    """
    movement = _record_registration_refund(registration, amount, user=user)
    movement = _send_now(movement)
    _raise_unless_done(movement)
    registration.refresh_from_db()
    data = {"payment": movement.payment_id, "amount": str(movement.amount)}
    log_action(registration, "refund", user=user, data=data)
    return registration


@transaction.atomic
def _record_registration_refund(registration, amount, *, user):
    payments = {payment.pk: payment for payment in lock_payments_of(registration)}
    lock_session(registration.page_id)
    registration = lock_registration(registration.pk)
    if registration.paid_by_id not in payments:
        raise RefundFailed(_("This registration has no payment to refund."))
    payment = payments[registration.paid_by_id]
    money.record_sale_if_new(payment)
    remaining = money.still_held(payment)
    amount = remaining if amount is None else quantize_money(Decimal(amount), registration.currency)
    if amount <= 0 or amount > remaining:
        raise RefundFailed(_("The refund must be more than zero and at most what is left to refund."))
    return money.request_refund(payment, amount, reason=ADMIN_REFUND_REASON, user=user)


#: The reason recorded on refunds staff make from the admin; the learner is told once such a refund is done.
ADMIN_REFUND_REASON = "Refund by an administrator"


@money.on_movement_done
def _refund_done(payment, movement):
    """A refund staff made is told to the learner once the gateway did it (not when it is only asked for, since
    the gateway may refuse it); a confirmed registration whose paying payment was refunded in full gives up
    its seat."""
    if movement.kind != MovementKind.REFUND or not payment.registration_id:
        return
    if movement.reason == ADMIN_REFUND_REASON:
        send_refund_notice(payment.registration, movement)
    if payment.captured_amount > 0:
        return
    # The payment row is locked; then the session (the lock order), whose counter loses the seat.
    lock_session_of(payment.registration_id)
    registration = lock_registration(payment.registration_id)
    if registration.paid_by_id == payment.pk and registration.status == RegistrationStatus.CONFIRMED:
        seats.set_status(registration, RegistrationStatus.REFUNDED)


# --- confirming, cancelling, waiting list ------------------------------------------------------


@transaction.atomic
def confirm_registration(registration, *, user=None, reason=""):
    """Confirm by hand (an administrator), for example after an offline payment."""
    lock_session(registration.page_id)
    registration = lock_registration(registration.pk)
    if registration.status == RegistrationStatus.CONFIRMED:
        return registration
    if registration.status not in (RegistrationStatus.PENDING, RegistrationStatus.EXPIRED):
        # Checked again under the locks: the admin's page read the status before the learner cancelled (and
        # was refunded) or the registration was refunded; confirming it now would give away a seat.
        raise ValueError(
            _("This registration is %(status)s now: only a pending or expired registration can be confirmed by hand.")
            % {"status": registration.get_status_display().lower()}
        )
    again = active_registration_for(registration.page, registration.email)
    if again not in (None, registration):
        raise AlreadyRegistered(
            _("The learner registered again for this session: confirm that registration instead."), existing=again
        )
    seats.set_status(registration, RegistrationStatus.CONFIRMED, confirmed_at=timezone.now(), hold_expires_at=None)
    log_action(registration, "confirm", user=user, data={"reason": reason})
    send_confirmation(registration)
    return registration


def cancellation_deadline(registration):
    site_settings = registration.page.site_settings()
    return registration.page.start_at - timedelta(hours=site_settings.cancellation_deadline_hours)


def learner_can_cancel(registration, now=None):
    now = now or timezone.now()
    if registration.status not in ACTIVE_STATUSES:
        return False
    if registration.status == RegistrationStatus.PENDING and registration.hold_has_expired(now):
        return False  # nothing left to cancel: the seat is no longer held
    return now < cancellation_deadline(registration)


def policy_refund_amount(registration):
    """What the site's cancellation policy gives back to a learner who cancels in time."""
    if registration.paid_by_id is None:
        return Decimal("0")
    percentage = registration.page.site_settings().refund_percentage
    return quantize_money(refundable_amount(registration) * percentage / 100, registration.currency)


def cancel_registration(registration, *, user=None, refund=True, now=None):
    """Cancel a registration; the learner (``user=None``) only before the deadline, refunded per the policy.

    One transaction cancels and records the refunds it owes (the paying payment per the policy, in full when
    staff cancel; any other payment in full); they are sent once it commits. A refund the gateway refuses
    leaves the payment "needs attention" for an administrator (docs/money.md), the cancellation stands.
    """
    registration, movements = _cancel(registration, user=user, refund=refund, now=now)
    sent = [_send_now(movement) for movement in movements]
    registration.refresh_from_db()
    #: refunds the gateway has not done (yet): the caller tells the person; the payment needs attention
    registration.refunds_outstanding = [movement for movement in sent if movement.state != MovementState.DONE]
    return registration


@transaction.atomic
def _cancel(registration, *, user, refund, now):
    now = now or timezone.now()
    payments = lock_payments_of(registration)
    lock_session(registration.page_id)
    registration = lock_registration(registration.pk)
    if registration.status not in ACTIVE_STATUSES:
        return registration, []
    if user is None and not learner_can_cancel(registration, now):
        raise CancellationRefused(_("The cancellation deadline has passed."))
    movements = []
    owed = Decimal("0")
    if refund and registration.paid_by_id:
        owed = policy_refund_amount(registration) if user is None else refundable_amount(registration)
    for payment in payments:
        if payment.pk == registration.paid_by_id:
            if owed > 0:
                reason = "Cancelled by the learner" if user is None else "Cancelled by an administrator"
                movements.append(money.request_refund(payment, owed, reason=reason, user=user))
        elif payment.status == PaymentStatus.CONFIRMED and money.still_held(payment) > 0:
            movements.append(money.request_refund(payment, money.still_held(payment), reason="Registration cancelled"))
        else:
            _abandon(payment)
    seats.set_status(registration, RegistrationStatus.CANCELLED, cancelled_at=now, hold_expires_at=None)
    log_action(registration, "cancel", user=user, data={"refunded": str(owed)})
    send_registration_email(registration, "cancelled")
    return registration, movements


@transaction.atomic
def admit_from_waitlist(registration, *, user=None, now=None):
    """Offer a waiting learner a seat: confirmed at once when free, otherwise held for payment."""
    now = now or timezone.now()
    session = lock_session(registration.page_id)
    registration = lock_registration(registration.pk)
    if registration.status != RegistrationStatus.WAITLISTED:
        return registration
    left = seats_left(session, now)
    if left is not None and left <= 0 and user is None:
        raise SessionFull(_("Sorry, this session is full."))
    site_settings = session.site_settings()
    if requires_payment(session, site_settings):
        seats.set_status(
            registration,
            RegistrationStatus.PENDING,
            hold_expires_at=now + timedelta(minutes=site_settings.seat_hold_minutes),
        )
        create_payment(registration, validated_variant(site_settings, None))
        send_registration_email(registration, "seat_offered")
    else:
        seats.set_status(registration, RegistrationStatus.CONFIRMED, confirmed_at=now)
        send_confirmation(registration)
    log_action(registration, "admit", user=user)
    return registration


# --- holds -------------------------------------------------------------------------------------


def release_expired_holds(now=None):
    """Mark pending registrations whose hold expired as expired and refund stray payments.

    Safe to run concurrently: each row changes in one conditional UPDATE. Counting seats
    never needs this to have run.
    """
    now = now or timezone.now()
    expired = seats.expire_holds(now)
    refunded = 0
    for payment_id in unapplied_payments().values_list("pk", flat=True):
        try:
            refunded += bool(refund_unapplied_payment(payment_id))
        except RefundFailed:
            logger.error("Stray payment %s could not be refunded yet; will retry.", payment_id)
    return expired, refunded


# --- emails ------------------------------------------------------------------------------------


def send_confirmation(registration):
    """Owe the confirmation email, once, in the caller's transaction (services/outbox.py sends it)."""
    from .outbox import owe_email

    owe_email("confirmation", registration, registration.email)


@transaction.atomic
def resend_confirmation(registration, *, user=None):
    """Send the confirmation email of a confirmed registration again (an administrator asked for it)."""
    from .outbox import owe_email

    registration = lock_registration(registration.pk)
    if registration.status != RegistrationStatus.CONFIRMED:
        raise ValueError(_("Only a confirmed registration has a confirmation to send."))
    registration.confirmation_sent_at = None
    registration.save(update_fields=["confirmation_sent_at"])
    log_action(registration, "resend_confirmation", user=user)
    owe_email("confirmation", registration, registration.email, once=False)
    return registration


#: Emails a learner may ask for again; every other one is owed once per registration.
REPEATABLE_EMAILS = ("manage_link",)


def send_refund_notice(registration, movement):
    """Owe the learner the notice of a refund staff made (``movement``, done), sent after the commit."""
    from .emails import owe_refund_notice

    owe_refund_notice(registration, movement)


def send_registration_email(registration, kind):
    """Owe one of the other emails to the learner (``late_refund``, ``cancelled``, ``seat_offered``...)."""
    from .outbox import owe_email

    owe_email(kind, registration, registration.email, once=kind not in REPEATABLE_EMAILS)
