"""Pay-per-use: hosts pay the estimated session cost before a session goes live.

Who pays: when the site's ``TrainingPaySettings.pay_per_use_enabled`` is on, every
user who makes a session live pays, superusers included, unless they belong to one of
the settings' ``exempt_groups`` (a site that wants its administrators to publish freely
puts them in an exempt group). Publishing without a user (scheduled publishing,
scripts) counts as the revision's author: an exempt host's scheduled session goes live,
anyone else's needs the revision paid for. Exemption is personal: a workflow approval is
paid by the host who asked for it, not the approving moderator, and the author of an older
revision exempts nobody (copies and moves are judged without exemption). A session is paid
for on the site where it is live: moving a live session into a paying site, unpaid there,
leaves it a draft there.

What is paid for: the charges of a page add up; a revision is paid for when the page's paid charges
still hold its estimate (refunded or charged-back money no longer counts). Raising the duration or
the participants charges the difference; an equal or lower estimate charges nothing. The rates (and
currency) of a session's first paid charge stay the session's rates, so that a later change of the
site's rates does not bill a paid session again. An alias is covered by the charges of the page it
mirrors.

The gate has three layers (DESIGN section 5 item 6): the page type's permission tester
(``TrainingSessionPermissionTester``), ``TrainingSessionPage.publish()`` which calls
``publish_revision`` here, and ``guard_live_save`` which every save of a session runs
(``guard_base_page_save`` for saves of a base ``Page``: Wagtail's move, code).
"""

import contextvars
import logging
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Q, Sum
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
SESSION_DELETED_ACTION = "wagtail_training_pay.session_deleted"

#: ``(page id, user)`` while ``publish_revision`` publishes that page for that user (its aliases follow it).
_publishing = contextvars.ContextVar("wagtail_training_pay_publishing", default=None)

#: ``(page id, user who asked for the review, approving moderator's id)`` between a workflow's approval
#: and the publication it triggers.
_approving = contextvars.ContextVar("wagtail_training_pay_approving", default=None)

#: Session fields the estimate is computed from.
_ESTIMATE_FIELDS = {"duration_minutes", "expected_participants", "teleconference_participants"}

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


def _money_held_by_payment():
    """What one payment of a charge still holds: a refund or a charge-back lowers it, down to nothing.

    ``captured_amount`` is what the payer still has paid (django-payments lowers it on a refund) and
    ``refunded_amount`` what went back; a confirmed payment whose capture was never recorded holds its total.
    """
    from django.db.models import Case, DecimalField, Value, When
    from django.db.models.functions import Least

    captured = Case(
        When(payments__captured_amount__gt=0, then=F("payments__captured_amount")), default=F("payments__total")
    )
    return Case(
        When(
            payments__status=PaymentStatus.CONFIRMED,
            then=Least(captured, F("payments__total") - F("payments__refunded_amount")),
        ),
        default=Value(Decimal("0")),
        output_field=DecimalField(max_digits=12, decimal_places=2),
    )


def paid_amount(page, currency):
    """What the paid charges of ``page`` still hold in ``currency``.

    A charge counts for what its payments still hold (never more than its amount): a refunded or
    charged-back host payment no longer pays for anything. A paid charge without any payment (settled
    outside the site, recorded by hand) counts for its amount.
    """
    from django.db.models import Count

    rows = (
        paid_charges(page)
        .filter(currency=currency)
        .annotate(payment_count=Count("payments"), held=Sum(_money_held_by_payment()))
        .values_list("amount", "payment_count", "held")
    )
    total = Decimal("0")
    for amount, payment_count, held in rows:
        total += min(amount, max(held or Decimal("0"), Decimal("0"))) if payment_count else amount
    return total


def rates_for(page, settings=None):
    """``(person_minute_rate, teleconference_minute_rate, minimum_charge, currency)`` of a session.

    ``settings`` is the ``TrainingPaySettings`` to price with when the session has no paid charge
    (by default its own site's).
    """
    first_paid = paid_charges(page).order_by("paid_at", "pk").first()
    if first_paid is not None:
        return (
            first_paid.person_minute_rate,
            first_paid.teleconference_minute_rate,
            first_paid.minimum_charge,
            first_paid.currency,
        )
    settings = settings or page.site_settings()
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


def estimate_for(page, revision=None, settings=None):
    content = content_of(page, revision)
    return estimate_with_rates(content, rates_for(content, settings))


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


def amount_due(page, revision=None, settings=None):
    """The estimate of ``revision`` (or of the page as it is), what was paid, and the difference."""
    estimate = estimate_for(page, revision, settings)
    content = content_of(page, revision)
    paid = paid_amount(content, estimate.currency)
    return AmountDue(estimate=estimate, already_paid=paid, due=max(estimate.total - paid, Decimal("0")))


def is_paid_for(page, revision=None, settings=None):
    """Whether the page's paid charges cover the estimate of ``revision`` (or of the page itself)."""
    return amount_due(page, revision, settings).due == 0


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
    # The host who asked for a review pays, not the moderator approving it; without a user
    # (scheduled publishing, scripts) the revision's author is the one making it live.
    approval = _approving.get()
    if approval is not None and approval[0] == page.pk and approval[2] == getattr(user, "pk", None):
        _approving.set(None)
        payer = approval[1]
    else:
        payer = user or revision.user
    if needs_payment(content, payer):
        withhold_publication(page, revision, user)
        return None
    action = PublishPageRevisionAction(revision, user=user, **kwargs)
    clear_for_publication(action.object)
    token = _publishing.set((page.pk, payer))
    try:
        return action.execute(skip_permission_checks=skip_permission_checks)
    finally:
        _publishing.reset(token)


def note_workflow_approval(workflow_state):
    """A workflow on a session was just approved: the publication Wagtail runs next is its requester's.

    Wagtail saves the approved ``WorkflowState`` and then publishes with the approving moderator
    as the user (``WAGTAIL_FINISH_WORKFLOW_ACTION``); the moderator's exemption must not pay for
    the host's revision. ``forget_workflow_approval`` drops the note once the approval is done.
    """
    from wagtail.models import Page

    if workflow_state.status != workflow_state.STATUS_APPROVED:
        return
    if not issubclass(workflow_state.base_content_type.model_class() or object, Page):
        return
    task_state = workflow_state.current_task_state
    moderator_id = task_state.finished_by_id if task_state is not None else None
    _approving.set((int(workflow_state.object_id), workflow_state.requested_by, moderator_id))


def forget_workflow_approval():
    _approving.set(None)


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
    page, a higher estimate written straight onto a live page, or an unpaid start, is refused
    with ``PayPerUseRequired``. Returns the ``update_fields`` to use and whether the publication
    was withheld.
    """
    from wagtail.models import Page

    cleared = page.__dict__.pop("_pay_per_use_cleared", False)  # good for one save only
    # A base ``Page`` has no session fields: ``guard_base_page_save`` gives the session as stored.
    content = page.__dict__.pop("_pay_per_use_content", None) or page
    started_at = getattr(page, "started_at", None)
    if cleared or not (page.live or started_at):
        return update_fields, False
    if update_fields is not None and not ((_LIVE_FIELDS | _ESTIMATE_FIELDS) & set(update_fields)):
        return update_fields, False
    previous = None
    if page.pk is not None:
        previous = Page.objects.filter(pk=page.pk).values("live", "live_revision_id", "alias_of_id").first()
    going_live = page.live and (previous is None or not previous["live"])
    new_live_content = page.live and previous is not None and previous["live_revision_id"] != page.live_revision_id
    alias_converted = page.live and previous is not None and previous["alias_of_id"] and not page.alias_of_id
    starting = started_at is not None and page.pk is not None and _was_not_started(page)
    raising = page.live and previous is not None and _raises_the_estimate(content, update_fields)
    if not (going_live or new_live_content or alias_converted or starting or raising):
        return update_fields, False
    if not needs_payment(content, _acting_user(page)):
        return update_fields, False
    if going_live or alias_converted:
        page.live = False
        page.has_unpublished_changes = True
        kept = {"live", "has_unpublished_changes"}
        if started_at is not None:
            page.started_at = None
            kept.add("started_at")
        if update_fields is not None:
            update_fields = list(set(update_fields) | kept)
        logger.info("Unpaid session %s kept as a draft.", page.pk)
        return update_fields, True
    raise PayPerUseRequired(_("This session’s estimated cost has not been paid."))


def _raises_the_estimate(page, update_fields):
    """Whether a save writes a higher estimate (duration, participants) than the stored one onto the page."""
    from ..models import TrainingSessionPage

    if not isinstance(page, TrainingSessionPage) or page.pk is None:
        return False
    if update_fields is not None and not (_ESTIMATE_FIELDS & set(update_fields)):
        return False
    stored = TrainingSessionPage.objects.filter(pk=page.pk).only(*_ESTIMATE_FIELDS).first()
    if stored is None or all(getattr(stored, field) == getattr(page, field) for field in _ESTIMATE_FIELDS):
        return False
    return estimate_for(page).total > estimate_for(stored).total


def _was_not_started(page):
    from ..models import TrainingSessionPage

    return TrainingSessionPage.objects.filter(pk=page.pk, started_at__isnull=True).exists()


def _acting_user(page):
    """The user on whose behalf a page is saved; nobody when no layer knew it.

    The permission-checked user; else the one ``publish_revision`` is publishing for (its saves, and
    the updates of the page's aliases); else the author of the revision going live when it is this
    page's own latest revision (the edit and revert views save the user's revision, then publish
    it). Never the author of an older revision or of another page's (a copy "published" by a host
    carries its source's live revision): an exempt author of an older revision exempts nobody else.
    """
    user = getattr(page, "_pay_per_use_actor", None)
    if user is not None:
        return user
    publishing = _publishing.get()
    if publishing is not None and publishing[0] == charged_page_id(page):
        return publishing[1]
    if page.pk is None or not page.live_revision_id or page.live_revision_id != page.latest_revision_id:
        return None
    revision = page.live_revision
    if revision is None or str(revision.object_id) != str(page.pk):
        return None
    return revision.user


# --- layer (c) for base ``Page`` saves: moves, and code that saves a session as a plain page ---------


def site_id_for_url_path(url_path):
    """The site Wagtail serves a page with this ``url_path`` under (the one ``Page.get_site()`` finds)."""
    from wagtail.models import Site

    for root in Site.get_site_root_paths():
        if url_path.startswith(root.root_path):
            return root.site_id
    return None


def settings_for_site_id(site_id):
    from wagtail.models import Site

    from ..models import TrainingPaySettings

    site = Site.objects.filter(pk=site_id).first() if site_id else None
    return TrainingPaySettings.for_site(site) if site is not None else None


def guard_base_page_save(page, update_fields=None):
    """``pre_save`` of a base ``Page``: what ``TrainingSessionPage.save()`` would check, and moves.

    Wagtail's move saves the moved page as a base ``Page`` (the session's own ``save()`` never runs)
    after the tree paths changed but before the ``url_path`` of the page and its descendants did: the
    old ``url_path`` still in the database tells the site a session leaves, the new one the site it
    enters. A live session entering another site with pay-per-use on, not paid for there, is left a
    draft: this page now (in memory, before the save), its descendants by ``unpublish_arrivals`` once
    the save is written. Nobody is exempt here: the move does not say who moves.
    """
    from wagtail.models import Page

    from ..models import TrainingSessionPage

    if page.pk is None:
        return
    if update_fields is not None and not (({"url_path"} | _LIVE_FIELDS) & set(update_fields)):
        return
    previous = Page.objects.filter(pk=page.pk).values("url_path").first()
    if previous is None:
        return
    moved = previous["url_path"] != page.url_path and (update_fields is None or "url_path" in update_fields)
    if moved:
        arrivals = unpaid_arrivals(page, previous["url_path"])
        if arrivals:
            page._pay_per_use_arrivals = arrivals
            if page.pk in arrivals:
                _make_draft(page)
                return
    if not issubclass(page.specific_class or Page, TrainingSessionPage):
        return
    content = TrainingSessionPage.objects.filter(pk=page.pk).first()
    if content is None:
        return
    content.live, content.alias_of_id = page.live, page.alias_of_id
    page._pay_per_use_content = content
    _update_fields, withheld = guard_live_save(page, update_fields)
    if withheld:
        log(instance=content, action=WITHHELD_ACTION, data={"reason": "backstop"})


def unpaid_arrivals(page, old_url_path):
    """The ids of live sessions at or below ``page`` that a move takes into a paying site unpaid."""
    from ..models import TrainingSessionPage

    sessions = TrainingSessionPage.objects.filter(path__startswith=page.path, live=True).only(
        "pk", "url_path", "alias_of_id", "duration_minutes", "expected_participants", "teleconference_participants"
    )
    arrivals = []
    for session in sessions:
        session_old_url_path = old_url_path if session.pk == page.pk else session.url_path
        old_site = site_id_for_url_path(session_old_url_path)
        new_site = site_id_for_url_path(page.url_path + session_old_url_path[len(old_url_path) :])
        if new_site == old_site:
            continue
        settings = settings_for_site_id(new_site)
        if settings is None or not settings.pay_per_use_enabled:
            continue
        if not is_paid_for(session, settings=settings):
            arrivals.append(session.pk)
    return arrivals


def _make_draft(page):
    page.live = False
    page.has_unpublished_changes = True
    page.live_revision = None


def unpublish_arrivals(page):
    """``post_save`` of a base ``Page``: finish leaving the sessions a move took into a paying site drafts."""
    from wagtail.models import Page

    from ..models import TrainingSessionPage

    arrivals = page.__dict__.pop("_pay_per_use_arrivals", None)
    if not arrivals:
        return
    Page.objects.filter(pk__in=arrivals).update(live=False, has_unpublished_changes=True, live_revision=None)
    TrainingSessionPage.objects.filter(pk__in=arrivals).update(started_at=None)
    for session in Page.objects.filter(pk__in=arrivals):
        logger.info("Unpaid session %s moved into a site with pay-per-use on: left a draft there.", session.pk)
        log(instance=session, action=WITHHELD_ACTION, data={"reason": "moved"})


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
    held = payment_held_at_gateway(locked)
    if held is not None:
        return held  # PayPal holds a payment for this session (pending, under review): no second one
    unpaid = _unpaid_payment_for(locked, revision, user, action, due, variant)
    if unpaid is not None:
        return unpaid
    content = content_of(locked, revision)
    estimate = due.estimate
    charge = UsageCharge.objects.create(
        page=locked,
        session_title=locked.title[:255],
        session_page_id=locked.pk,
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


def payment_held_at_gateway(page):
    """A host's payment for ``page`` that PayPal holds (an eCheck clearing, a fraud review), if any."""
    from ..models import Payment, UsageChargeStatus

    waiting = Payment.objects.filter(
        usage_charge__page=page, usage_charge__status=UsageChargeStatus.PENDING, status=PaymentStatus.WAITING
    ).order_by("-pk")
    return next((payment for payment in waiting if payment.pending_at_gateway), None)


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
    page = TrainingSessionPage.objects.select_for_update().filter(pk=page_id).first() if page_id else None
    charges = UsageCharge.objects.select_for_update(of=("self",)).select_related("revision", "payer")
    charge = charges.get(pk=payment.usage_charge_id)
    if charge.status != UsageChargeStatus.PENDING:
        _refund_if_late(page, charge, payment)
        return
    if page is None and payment.status == PaymentStatus.CONFIRMED:
        # The session was deleted while its host paid: nothing to make live, give the money back.
        logger.warning("Payment %s is for deleted session %s; refunding it.", payment.pk, charge.session_page_id)
        _refund_surplus(page, charge, payment, UsageChargeStatus.CANCELLED)
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
    from .invoices import issue_invoice

    issue_invoice(charge, payment)  # its number in this transaction; the receipt is owed with it
    log(
        instance=page,
        action=PAID_ACTION,
        user=charge.payer,
        revision=charge.revision,
        data={"charge": charge.pk, "payment": payment.pk, "amount": str(charge.amount), "currency": charge.currency},
    )
    go_live(page, charge)


def _refund_if_late(page, charge, payment):
    """A payment the gateway took after its charge was settled otherwise: its page or checkout was paid after the
    site gave it up (``failed`` after a timeout or a retyped card, ``cancelled``), or after another payment paid
    the charge. Nothing needs it: all it holds is refunded at once, once (``still_held`` counts the refunds
    already asked for), logged on the session, and the host's payment page says so."""
    from ..models import UsageChargeStatus
    from .money import still_held

    if payment.status != PaymentStatus.CONFIRMED:
        return False
    if charge.status == UsageChargeStatus.PAID and not _another_payment_paid(charge, payment):
        return False  # this payment is what paid the charge
    if still_held(payment) <= 0:
        return False
    logger.warning(
        "Host payment %s reached the gateway after charge %s was %s; refunding it.",
        payment.pk,
        charge.pk,
        charge.status,
    )
    return _give_back(page, charge, payment, late=True)


def _another_payment_paid(charge, payment):
    """Whether another payment of ``charge`` paid it first: its money reached the gateway before this payment's
    (its first done sale or capture is older) and it still holds money. Deterministic, so a replayed
    notification of the paying payment never takes it for the late one, even while the late one's refund is
    still open."""
    from django.db.models import Min

    from ..models import MoneyMovement, MovementState, Payment
    from ..models.money import INCOMING_KINDS
    from .money import still_held

    first_money = dict(
        MoneyMovement.objects.filter(payment__usage_charge=charge, kind__in=INCOMING_KINDS, state=MovementState.DONE)
        .values("payment_id")
        .annotate(first=Min("pk"))
        .values_list("payment_id", "first")
    )
    mine = first_money.get(payment.pk)
    earlier = [pk for pk, first in first_money.items() if pk != payment.pk and (mine is None or first < mine)]
    others = Payment.objects.filter(pk__in=earlier, status=PaymentStatus.CONFIRMED)
    return any(still_held(other) > 0 for other in others)


def _refund_surplus(page, charge, payment, status):
    """Give back a payment the session does not need; a refused refund is retried by ``check_stale_payments``."""
    charge.status = status
    charge.save(update_fields=["status"])
    _give_back(page, charge, payment)


#: The reason of the refund movement of a host payment nobody needs (the sweeper retries those refused).
NOT_NEEDED_REASON = "Host payment not needed"


def _give_back(page, charge, payment, *, late=False):
    """Record the refund of all a locked, confirmed host payment still holds and log it; it is sent after the
    commit (services/money.py). Returns whether a refund was recorded."""
    from .money import request_refund, still_held

    amount = still_held(payment)
    refunded = False
    if amount > 0:
        request_refund(payment, amount, reason=NOT_NEEDED_REASON)
        refunded = True
    if page is None:
        return refunded
    data = {
        "charge": charge.pk,
        "payment": payment.pk,
        "amount": str(amount),
        "currency": payment.currency,
        "refunded": refunded,
    }
    if late:
        data["late"] = True
    log(instance=page, action=REFUNDED_ACTION, user=charge.payer, data=data)
    return refunded


def unrefunded_surplus_payments():
    """Confirmed host payments of charges that were cancelled or failed, not refunded yet (for the sweeper)."""
    from django.db.models import Exists, OuterRef

    from ..models import MoneyMovement, MovementKind, MovementState, Payment, UsageChargeStatus
    from ..models.money import OPEN_MOVEMENT_STATES

    open_refund = MoneyMovement.objects.filter(
        payment=OuterRef("pk"), kind=MovementKind.REFUND, state__in=OPEN_MOVEMENT_STATES
    )
    # A late payment of a paid charge has no charge status of its own to say it is not needed: its refused
    # refund (a failed "not needed" refund movement) does.
    refused_not_needed = MoneyMovement.objects.filter(
        payment=OuterRef("pk"), kind=MovementKind.REFUND, state=MovementState.FAILED, reason=NOT_NEEDED_REASON
    )
    return (
        Payment.objects.filter(status=PaymentStatus.CONFIRMED, captured_amount__gt=0, usage_charge__isnull=False)
        .filter(
            Q(usage_charge__status__in=[UsageChargeStatus.CANCELLED, UsageChargeStatus.FAILED])
            | Q(Exists(refused_not_needed))
        )
        .exclude(Exists(open_refund))
    )


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
    page_id = payment.usage_charge.page_id
    page = TrainingSessionPage.objects.select_for_update().filter(pk=page_id).first() if page_id else None
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
    # Owed with the start (each learner at most once), sent after the commit: services/emails.py.
    from .emails import owe_join_links

    owe_join_links(page)
    return True


def close_join_links(page, user=None):
    """Undo ``start_session``: the join links are hidden again (the charge that paid for them still counts)."""
    if page.started_at is None:
        return False
    page.started_at = None
    page.save(update_fields=["started_at"], clean=False)
    log(instance=page, action=JOIN_LINKS_CLOSED_ACTION, user=user)
    return True


def record_deleted_session(page):
    """``pre_delete`` of a session: its charges keep its title and id, and the deletion is logged.

    The charges and their payments stay for the accounts (``UsageCharge.page`` becomes null).
    """
    from ..models import Payment, UsageCharge

    charges = UsageCharge.objects.filter(page_id=page.pk)
    charge_ids = list(charges.values_list("pk", flat=True))
    if not charge_ids:
        return
    charges.update(session_title=page.title[:255], session_page_id=page.pk)
    payment_ids = list(Payment.objects.filter(usage_charge_id__in=charge_ids).values_list("pk", flat=True))
    logger.info(
        "Session %s (%s) deleted; its usage charges %s and payments %s are kept.",
        page.pk,
        page.title,
        charge_ids,
        payment_ids,
    )
    log(
        instance=page,
        action=SESSION_DELETED_ACTION,
        data={"title": page.title, "page": page.pk, "charges": charge_ids, "payments": payment_ids},
    )


def payment_return_url(payment):
    from django.urls import reverse

    return reverse("wagtail_training_pay_usage:payment_result", kwargs={"token": payment.token})


def not_needed_refund(payment):
    """The refund movement of a host payment nobody needed (late, or a second payment), if any: the newest."""
    from ..models import MovementKind

    return payment.movements.filter(kind=MovementKind.REFUND, reason=NOT_NEEDED_REASON).order_by("-pk").first()
