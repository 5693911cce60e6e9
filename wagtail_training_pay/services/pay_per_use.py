"""Pay-per-use: hosts pay the estimated session cost before a session goes live.

Who pays: when the site's ``TrainingPaySettings.pay_per_use_enabled`` is on, every
user who makes a session live pays, superusers included, unless they belong to one of
the settings' ``exempt_groups`` (a site that wants its administrators to publish freely
puts them in an exempt group). Publishing without a user (scheduled publishing,
scripts) counts as the revision's author: an exempt host's scheduled session goes live,
anyone else's needs the revision paid for.

What is paid for: the charges of a page add up; a revision is paid for when the
page's paid charges cover its estimate. Raising the duration or the participants
charges the difference; an equal or lower estimate charges nothing. The rates (and
currency) of a session's first paid charge stay the session's rates, so that a later
change of the site's rates does not bill a paid session again. An alias is covered by
the charges of the page it mirrors.

The gate has three layers (DESIGN section 5 item 6): the page type's permission tester
(``TrainingSessionPermissionTester``), ``TrainingSessionPage.publish()`` which calls
``publish_revision`` here, and ``guard_live_save`` which every save of a session runs.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from payments import PaymentStatus
from wagtail.log_actions import log

from ..pricing import estimate_session_cost

logger = logging.getLogger(__name__)

PAID_ACTION = "wagtail_training_pay.usage_paid"
WITHHELD_ACTION = "wagtail_training_pay.publication_withheld"
REFUNDED_ACTION = "wagtail_training_pay.usage_refunded"
STARTED_ACTION = "wagtail_training_pay.session_started"
JOIN_LINKS_CLOSED_ACTION = "wagtail_training_pay.join_links_closed"

#: Page fields whose change in a save can make new content live.
_LIVE_FIELDS = {"live", "live_revision", "live_revision_id", "alias_of", "alias_of_id", "started_at"}


class PayPerUseRequired(PermissionDenied):
    """A session would go live (or start) without its estimated cost being paid."""


@dataclass(frozen=True)
class AmountDue:
    estimate: object  # pricing.SessionCostEstimate
    already_paid: Decimal
    due: Decimal

    @property
    def currency(self):
        return self.estimate.currency


# --- who pays, and how much -------------------------------------------------------------


def charged_page_id(page):
    """The page whose charges cover ``page``: the original of an alias, else the page itself."""
    from wagtail.models import Page

    seen = set()
    page_id, alias_of_id = page.pk, page.alias_of_id
    while alias_of_id and alias_of_id not in seen:
        seen.add(alias_of_id)
        page_id = alias_of_id
        alias_of_id = Page.objects.filter(pk=page_id).values_list("alias_of_id", flat=True).first()
    return page_id


def paid_charges(page):
    from ..models import UsageCharge, UsageChargeStatus

    page_id = charged_page_id(page)
    if page_id is None:
        return UsageCharge.objects.none()
    return UsageCharge.objects.filter(page_id=page_id, status=UsageChargeStatus.PAID)


def rates_for(page):
    """``(person_minute_rate, teleconference_minute_rate, minimum_charge, currency)`` of a session."""
    first_paid = paid_charges(page).order_by("paid_at", "pk").first()
    if first_paid is not None:
        return (
            first_paid.person_minute_rate,
            first_paid.teleconference_minute_rate,
            first_paid.minimum_charge,
            first_paid.currency,
        )
    settings = page.site_settings()
    return (
        settings.person_minute_rate,
        settings.teleconference_minute_rate,
        settings.minimum_charge,
        settings.default_currency,
    )


def content_of(page, revision=None):
    """The session as ``revision`` would make it (the page object itself without one)."""
    if revision is None:
        return page
    return revision.as_object()


def estimate_for(page, revision=None):
    content = content_of(page, revision)
    return estimate_with_rates(content, rates_for(content))


def estimate_with_rates(content, rates):
    """The estimate of a session's figures at ``rates`` (as ``rates_for`` gives them)."""
    person_rate, teleconference_rate, minimum, currency = rates
    return estimate_session_cost(
        duration_minutes=content.duration_minutes or 0,
        expected_participants=content.expected_participants or 0,
        teleconference_participants=content.teleconference_participants or 0,
        person_minute_rate=person_rate,
        teleconference_minute_rate=teleconference_rate,
        minimum_charge=minimum,
        currency=currency,
    )


def amount_due(page, revision=None):
    """The estimate of ``revision`` (or of the page as it is), what was paid, and the difference."""
    estimate = estimate_for(page, revision)
    content = content_of(page, revision)
    paid = paid_charges(content).filter(currency=estimate.currency).aggregate(total=Sum("amount"))["total"]
    paid = paid or Decimal("0")
    return AmountDue(estimate=estimate, already_paid=paid, due=max(estimate.total - paid, Decimal("0")))


def is_paid_for(page, revision=None):
    """Whether the page's paid charges cover the estimate of ``revision`` (or of the page itself)."""
    return amount_due(page, revision).due == 0


def site_settings_for(page):
    """The ``TrainingPaySettings`` of any page's site (a session's own, or a parent's for a new session)."""
    if hasattr(page, "site_settings"):
        return page.site_settings()
    from wagtail.models import Site

    from ..models import TrainingPaySettings

    site = page.get_site() or Site.objects.filter(is_default_site=True).first()
    return TrainingPaySettings.for_site(site) if site is not None else TrainingPaySettings()


def is_enabled_for(page):
    return site_settings_for(page).pay_per_use_enabled


def is_exempt(user, page):
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    settings = site_settings_for(page)
    if settings.pk is None:
        return False
    return user.groups.filter(pk__in=settings.exempt_groups.values("pk")).exists()


def needs_payment(page, user=None, revision=None):
    """Whether ``user`` must pay before ``revision`` (or the page as it is) may go live.

    True when the site has pay-per-use on, the user is not in an exempt group and the
    page's paid charges do not cover the estimate. Superusers pay like everyone else.
    """
    content = content_of(page, revision)
    if not is_enabled_for(content) or is_exempt(user, content):
        return False
    return not is_paid_for(content)


def go_live_action(content):
    from ..models import UsageChargeAction

    if content.go_live_at and content.go_live_at > timezone.now():
        return UsageChargeAction.SCHEDULE
    return UsageChargeAction.PUBLISH


# --- layer (b): publishing a revision ------------------------------------------------------


def clear_for_publication(page):
    """Mark an in-memory page as checked by a layer that knew the publishing user."""
    page._pay_per_use_cleared = True


def publish_revision(page, revision, *, user=None, skip_permission_checks=False, **kwargs):
    """``Page.publish`` with the pay-per-use gate: an unpaid revision is withheld and logged, never raised.

    Scheduled publishing (no user) and workflow approval end here; withholding instead of
    raising keeps ``publish_scheduled`` running for the other pages and lets a moderator's
    approval complete while the session waits for its host's payment.
    """
    from wagtail.actions.publish_page_revision import PublishPageRevisionAction

    content = revision.as_object()
    # Without a user (scheduled publishing, scripts) the revision's author is the one making it live.
    if needs_payment(content, user or revision.user):
        withhold_publication(page, revision, user)
        return None
    action = PublishPageRevisionAction(revision, user=user, **kwargs)
    clear_for_publication(action.object)
    return action.execute(skip_permission_checks=skip_permission_checks)


def withhold_publication(page, revision, user=None):
    """Log why a revision did not go live and drop its schedule so that it is not retried every run."""
    due = amount_due(page, revision)
    if revision is not None and revision.approved_go_live_at is not None:
        revision.approved_go_live_at = None
        revision.save(update_fields=["approved_go_live_at"])
    logger.info("Publication of page %s withheld: %s %s due.", page.pk, due.due, due.currency)
    log(
        instance=page,
        action=WITHHELD_ACTION,
        user=user,
        revision=revision,
        data={"due": str(due.due), "currency": due.currency, "estimate": str(due.estimate.total)},
    )


# --- layer (c): the backstop on every save -------------------------------------------------


def guard_live_save(page, update_fields=None):
    """Keep an unpaid session from going live through a route the other layers do not see.

    A page that was not live (including a new page: Wagtail's create view and copies with
    "publish copies" insert pages live) is forced to stay a draft; new content on a live
    page, or an unpaid start, is refused with ``PayPerUseRequired``. Returns the
    ``update_fields`` to use and whether the publication was withheld.
    """
    from wagtail.models import Page

    cleared = page.__dict__.pop("_pay_per_use_cleared", False)  # good for one save only
    if cleared or not (page.live or page.started_at):
        return update_fields, False
    if update_fields is not None and not (_LIVE_FIELDS & set(update_fields)):
        return update_fields, False
    previous = None
    if page.pk is not None:
        previous = Page.objects.filter(pk=page.pk).values("live", "live_revision_id", "alias_of_id").first()
    going_live = page.live and (previous is None or not previous["live"])
    new_live_content = page.live and previous is not None and previous["live_revision_id"] != page.live_revision_id
    alias_converted = page.live and previous is not None and previous["alias_of_id"] and not page.alias_of_id
    starting = page.started_at is not None and page.pk is not None and _was_not_started(page)
    if not (going_live or new_live_content or alias_converted or starting):
        return update_fields, False
    if not needs_payment(page, _acting_user(page)):
        return update_fields, False
    if going_live or alias_converted:
        page.live = False
        page.has_unpublished_changes = True
        if update_fields is not None:
            update_fields = list(set(update_fields) | {"live", "has_unpublished_changes"})
        logger.info("Unpaid session %s kept as a draft.", page.pk)
        return update_fields, True
    raise PayPerUseRequired(_("This session’s estimated cost has not been paid."))


def _was_not_started(page):
    from ..models import TrainingSessionPage

    return TrainingSessionPage.objects.filter(pk=page.pk, started_at__isnull=True).exists()


def _acting_user(page):
    """The user on whose behalf a page is saved: the permission-checked user, else the revision's author."""
    user = getattr(page, "_pay_per_use_actor", None)
    if user is not None:
        return user
    revision = page.live_revision if page.live_revision_id else None
    return revision.user if revision is not None else None


# --- charges and their settlement ----------------------------------------------------------


def last_billing_details(user):
    """Billing fields of the host's last charge, to prefill the next one."""
    from ..models import UsageCharge

    charge = UsageCharge.objects.filter(payer=user).exclude(billing_email="").order_by("-created_at").first()
    if charge is None:
        name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        return {"name": name or "", "email": getattr(user, "email", "") or ""}
    return {
        "name": charge.billing_name,
        "email": charge.billing_email,
        "address": charge.billing_address,
        "postcode": charge.billing_postcode,
        "city": charge.billing_city,
        "country": str(charge.billing_country or ""),
    }


class NothingToPay(Exception):
    """The paid charges already cover the estimate."""


@transaction.atomic
def create_usage_payment(page, revision, user, *, action, billing, variant):
    """Record a pending charge for ``revision`` and the payment that pays it, under the page's row lock.

    The amount comes from the server's estimate, never from the request.
    """
    from ..models import Payment, TrainingSessionPage, UsageCharge, UsageChargeAction

    locked = TrainingSessionPage.objects.select_for_update().get(pk=page.pk)
    if revision is None and action != UsageChargeAction.START:
        # A page created in code may have no revision yet: pay for (and later publish) what it is now.
        revision = locked.save_revision(user=user, clean=False)
    due = amount_due(locked, revision)
    if due.due == 0:
        raise NothingToPay
    unpaid = _unpaid_payment_for(locked, revision, user, action, due, variant)
    if unpaid is not None:
        return unpaid
    content = content_of(locked, revision)
    estimate = due.estimate
    charge = UsageCharge.objects.create(
        page=locked,
        revision=revision,
        payer=user,
        action=action,
        go_live_at=content.go_live_at,
        duration_minutes=estimate.duration_minutes,
        expected_participants=estimate.expected_participants,
        teleconference_participants=estimate.teleconference_participants,
        person_minute_rate=estimate.person_minute_rate,
        teleconference_minute_rate=estimate.teleconference_minute_rate,
        minimum_charge=estimate.minimum_charge,
        breakdown={**estimate.as_json(), "already_paid": str(due.already_paid)},
        estimated_total=estimate.total,
        amount=due.due,
        currency=estimate.currency,
        billing_name=billing.get("name", ""),
        billing_email=billing.get("email", ""),
        billing_address=billing.get("address", ""),
        billing_postcode=billing.get("postcode", ""),
        billing_city=billing.get("city", ""),
        billing_country=billing.get("country", ""),
    )
    first_name, _space, last_name = charge.billing_name.partition(" ")
    return Payment.objects.create(
        variant=variant,
        usage_charge=charge,
        total=charge.amount,
        currency=charge.currency,
        description=str(_("Pay-per-use: %(title)s") % {"title": locked.title})[:255],
        billing_first_name=first_name,
        billing_last_name=last_name,
        billing_address_1=charge.billing_address,
        billing_postcode=charge.billing_postcode,
        billing_city=charge.billing_city,
        billing_country_code=str(charge.billing_country or ""),
        billing_email=charge.billing_email,
    )


def _unpaid_payment_for(page, revision, user, action, due, variant):
    """The payment a host already started for the same amount (a double click, a reload), if any."""
    from ..models import Payment, UsageChargeStatus

    return (
        Payment.objects.filter(
            usage_charge__page=page,
            usage_charge__revision=revision,
            usage_charge__payer=user,
            usage_charge__action=action,
            usage_charge__status=UsageChargeStatus.PENDING,
            usage_charge__amount=due.due,
            usage_charge__currency=due.currency,
            variant=variant,
            status__in=[PaymentStatus.WAITING, PaymentStatus.INPUT],
        )
        .order_by("-pk")
        .first()
    )


def settle_usage_payment(payment):
    """Apply a host's payment to its charge, exactly once (``payment_flow`` holds the payment's row lock).

    A confirmed payment marks the charge paid, logs it and publishes (or schedules, or
    starts) exactly the revision it paid for. A payment that arrives when other charges
    already cover the estimate (two hosts paying at once) is refunded, so one charge is
    paid. A rejected payment fails the charge and leaves the draft as it was.
    """
    from ..models import TrainingSessionPage, UsageCharge, UsageChargeStatus

    page_id = UsageCharge.objects.values_list("page_id", flat=True).get(pk=payment.usage_charge_id)
    page = TrainingSessionPage.objects.select_for_update().get(pk=page_id)
    charges = UsageCharge.objects.select_for_update(of=("self",)).select_related("revision", "payer")
    charge = charges.get(pk=payment.usage_charge_id)
    if charge.status != UsageChargeStatus.PENDING:
        return
    if payment.status in (PaymentStatus.REJECTED, PaymentStatus.ERROR):
        charge.status = UsageChargeStatus.FAILED
        charge.save(update_fields=["status"])
        return
    if payment.status != PaymentStatus.CONFIRMED:
        return
    if payment.total != charge.amount or payment.currency != charge.currency:
        logger.error("Payment %s does not match usage charge %s; refunding it.", payment.pk, charge.pk)
        _refund_surplus(page, charge, payment, UsageChargeStatus.FAILED)
        return
    if amount_due(page, charge.revision).due == 0:
        _refund_surplus(page, charge, payment, UsageChargeStatus.CANCELLED)
        return
    charge.status = UsageChargeStatus.PAID
    charge.paid_at = timezone.now()
    charge.save(update_fields=["status", "paid_at"])
    _send_host_receipt(charge)
    log(
        instance=page,
        action=PAID_ACTION,
        user=charge.payer,
        revision=charge.revision,
        data={"charge": charge.pk, "payment": payment.pk, "amount": str(charge.amount), "currency": charge.currency},
    )
    go_live(page, charge)


def _refund_surplus(page, charge, payment, status):
    """Give back a payment the session does not need; a refused refund is retried by ``check_stale_payments``."""
    charge.status = status
    charge.save(update_fields=["status"])
    _give_back(page, charge, payment)


def _give_back(page, charge, payment):
    """Refund the whole of a locked, confirmed host payment and log it; returns whether the gateway took it."""
    refunded = False
    try:
        with transaction.atomic():
            payment.refund(payment.captured_amount or payment.total)  # some providers refund 0 when not told
            payment.refunded_amount = payment.total
            payment.save(update_fields=["refunded_amount"])
        refunded = True
    except Exception:
        logger.exception("Refund of surplus payment %s failed; check_stale_payments will try again.", payment.pk)
    log(
        instance=page,
        action=REFUNDED_ACTION,
        user=charge.payer,
        data={
            "charge": charge.pk,
            "payment": payment.pk,
            "amount": str(payment.total),
            "currency": payment.currency,
            "refunded": refunded,
        },
    )
    return refunded


def unrefunded_surplus_payments():
    """Confirmed host payments of charges that were cancelled or failed, not refunded yet (for the sweeper)."""
    from ..models import Payment, UsageChargeStatus

    return Payment.objects.filter(
        status=PaymentStatus.CONFIRMED,
        usage_charge__status__in=[UsageChargeStatus.CANCELLED, UsageChargeStatus.FAILED],
    ).exclude(refunded_amount__gte=F("total"))


def retry_surplus_refunds():
    """Refund what ``unrefunded_surplus_payments`` finds, each under its payment's lock; returns how many.

    Safe to run twice at once: a payment another sweeper holds is skipped, and one already refunded no longer
    matches once its lock is taken.
    """
    refunded = 0
    for payment_id in unrefunded_surplus_payments().values_list("pk", flat=True):
        refunded += _retry_surplus_refund(payment_id)
    return refunded


@transaction.atomic
def _retry_surplus_refund(payment_id):
    from ..models import TrainingSessionPage

    payment = (
        unrefunded_surplus_payments()
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("usage_charge__payer")
        .filter(pk=payment_id)
        .first()
    )
    if payment is None:
        return False
    page = TrainingSessionPage.objects.select_for_update().get(pk=payment.usage_charge.page_id)
    return _give_back(page, payment.usage_charge, payment)


def go_live(page, charge):
    """Publish, schedule or start what ``charge`` paid for.

    A failure here must not undo the payment: the charge stays paid (so the host can
    publish from the editor without paying again) and the error is logged.
    """
    from ..models import UsageChargeAction

    try:
        with transaction.atomic():
            if charge.action == UsageChargeAction.START:
                start_session(page, charge.payer)
            elif charge.revision is not None:
                publish_revision(page, charge.revision, user=charge.payer)
    except Exception:
        logger.exception("Paid charge %s could not make page %s live.", charge.pk, page.pk)


def start_session(page, user=None):
    """Turn the join links on. Raises ``PayPerUseRequired`` while the session is not paid for."""
    if page.started_at is not None:
        return False
    if needs_payment(page, user):
        raise PayPerUseRequired(_("This session’s estimated cost has not been paid."))
    page.started_at = timezone.now()
    clear_for_publication(page)
    page.save(update_fields=["started_at"], clean=False)
    log(instance=page, action=STARTED_ACTION, user=user)
    _send_join_links(page)
    return True


def _send_join_links(page):
    """Email confirmed learners their join link once the start is committed (each learner at most once)."""
    from functools import partial

    from ..tasks import enqueue, send_join_links_task

    transaction.on_commit(partial(enqueue, send_join_links_task, page.pk))


def _send_host_receipt(charge):
    from functools import partial

    from ..tasks import enqueue, send_host_receipt_task

    transaction.on_commit(partial(enqueue, send_host_receipt_task, charge.pk))


def close_join_links(page, user=None):
    """Undo ``start_session``: the join links are hidden again (the charge that paid for them still counts)."""
    if page.started_at is None:
        return False
    page.started_at = None
    page.save(update_fields=["started_at"], clean=False)
    log(instance=page, action=JOIN_LINKS_CLOSED_ACTION, user=user)
    return True


def payment_return_url(payment):
    from django.urls import reverse

    return reverse("wagtail_training_pay_usage:payment_result", kwargs={"token": payment.token})
