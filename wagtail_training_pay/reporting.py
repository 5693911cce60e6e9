"""Figures for the admin: seats, revenue and payments needing attention, aggregated in the database.

Revenue counts money from the records (``MoneyMovement``, services/money.py), through the payment
aggregates kept from them: ``gross`` (collected) is what sales and captures took, ``refunded`` what
refunds gave back, ``net`` what the site keeps (``Payment.captured_amount``). A voided authorization
took nothing and is not revenue, whatever django-payments' status says (``refunded``). Amounts in
different currencies are never added together: every aggregate is grouped by currency.
"""

from datetime import timedelta

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone
from payments import FraudStatus, PaymentStatus

from .conf import app_settings
from .models import Payment, Registration, RegistrationStatus, TrainingSessionPage

#: Statuses a payment that collected money can have (not enough alone: a voided authorization ends ``refunded``).
COLLECTED_STATUSES = (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED)
#: Collected by a payment, from its done movements: what it still holds plus what it gave back.
COLLECTED = F("captured_amount") + F("refunded_amount")
#: Statuses of a payment the provider has not finished with.
UNFINISHED_STATUSES = (PaymentStatus.WAITING, PaymentStatus.INPUT, PaymentStatus.PREAUTH)

_MONEY = DecimalField(max_digits=12, decimal_places=2)
_ZERO = Value(0, output_field=_MONEY)


def _money_totals():
    """Aggregates of a payments queryset: count, gross, refunded and net."""
    return {
        "payment_count": Count("pk"),
        "gross": Coalesce(Sum(COLLECTED, output_field=_MONEY), _ZERO),
        "refunded": Coalesce(Sum("refunded_amount"), _ZERO),
    }


def _with_net(queryset):
    return queryset.annotate(net=F("gross") - F("refunded"))


def collected_payments(payments=None):
    """Payments that took money (a done sale or capture), whatever their status says."""
    payments = Payment.objects.all() if payments is None else payments
    return payments.annotate(collected=COLLECTED).filter(collected__gt=0)


def confirmed_seats_subquery(page_ref="pk"):
    """Number of confirmed registrations of the session ``page_ref`` points at."""
    return Coalesce(
        Subquery(
            Registration.objects.filter(page=OuterRef(page_ref), status=RegistrationStatus.CONFIRMED)
            .order_by()
            .values("page")
            .annotate(seats=Count("pk"))
            .values("seats")[:1]
        ),
        0,
    )


def confirmed_seats(page):
    return Registration.objects.filter(page=page, status=RegistrationStatus.CONFIRMED).count()


def session_revenue(page):
    """``[{currency, payment_count, gross, refunded, net}]`` of one session's learner payments."""
    rows = (
        collected_payments()
        .filter(registration__page=page)
        .order_by()
        .values("currency")
        .annotate(**_money_totals())
        .order_by("currency")
    )
    return list(_with_net(rows))


def revenue_by_session(payments=None):
    """One row per session and currency: learner payments collected, refunded, net, confirmed seats."""
    payments = collected_payments(payments)
    rows = (
        payments.filter(registration__isnull=False)
        .order_by()
        .values(
            "currency",
            page_id=F("registration__page_id"),
            title=F("registration__page__title"),
            start_at=F("registration__page__start_at"),
            capacity=F("registration__page__capacity"),
        )
        .annotate(**_money_totals(), seats=confirmed_seats_subquery("registration__page_id"))
    )
    return _with_net(rows).order_by("-start_at", "page_id", "currency")


def revenue_by_month(payments=None):
    """One row per month (in the current time zone) and currency, learner and host payments apart."""
    payments = collected_payments(payments)
    rows = (
        payments.annotate(month=TruncMonth("created"))
        .order_by()
        .values("month", "currency")
        .annotate(
            **_money_totals(),
            learner_gross=Coalesce(Sum(COLLECTED, filter=Q(registration__isnull=False), output_field=_MONEY), _ZERO),
            host_gross=Coalesce(Sum(COLLECTED, filter=Q(usage_charge__isnull=False), output_field=_MONEY), _ZERO),
        )
    )
    return _with_net(rows).order_by("-month", "currency")


def month_start(now=None):
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def revenue_since(start):
    """``[{currency, payment_count, gross, refunded, net}]`` of every payment collected since ``start``."""
    rows = (
        collected_payments()
        .filter(created__gte=start)
        .order_by()
        .values("currency")
        .annotate(**_money_totals())
        .order_by("currency")
    )
    return list(_with_net(rows))


def seats_sold_since(start):
    return Registration.objects.filter(status=RegistrationStatus.CONFIRMED, confirmed_at__gte=start).count()


def upcoming_sessions(now=None):
    return TrainingSessionPage.objects.live().filter(start_at__gte=now or timezone.now())


def stale_payment_cutoff(now=None):
    return (now or timezone.now()) - timedelta(minutes=app_settings.STALE_PAYMENT_MINUTES)


def attention_conditions(now=None):
    """``{reason: Q}`` over payments: why a payment needs someone to look at it."""
    now = now or timezone.now()
    # A late payment refunded automatically stays worth a look (the learner may still want a
    # seat) until the session starts.
    late_refunds = Registration.objects.filter(
        pk=OuterRef("registration_id"), late_payment_refunded=True, page__start_at__gte=now
    )
    return {
        "stale": Q(status__in=UNFINISHED_STATUSES, created__lt=stale_payment_cutoff(now)),
        "fraud": Q(fraud_status=FraudStatus.REVIEW),
        "late_refund": Q(Exists(late_refunds)),
        # A disagreement with the gateway the sweeper could not settle (docs/money.md).
        "disagreement": ~Q(needs_attention=""),
    }


def payments_needing_attention(reason=None, now=None):
    conditions = attention_conditions(now)
    if reason is not None:
        return Payment.objects.filter(conditions[reason])
    query = Q()
    for condition in conditions.values():
        query |= condition
    return Payment.objects.filter(query)


def attention_counts(now=None):
    """``{reason: count}`` in one query."""
    conditions = attention_conditions(now)
    return Payment.objects.aggregate(
        **{reason: Count("pk", filter=condition) for reason, condition in conditions.items()}
    )
