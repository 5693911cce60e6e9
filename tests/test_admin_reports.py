"""Payments listing, revenue and pay-per-use reports, and the dashboard summary items, on real rows."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from payments import FraudStatus, PaymentStatus

from wagtail_training_pay.models import Payment, Registration, UsageCharge, UsageChargeStatus

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]


def usage_charge(page, payer, amount, status=UsageChargeStatus.PAID, estimate=None):
    charge = UsageCharge.objects.create(
        page=page,
        payer=payer,
        status=status,
        duration_minutes=90,
        expected_participants=10,
        teleconference_participants=2,
        person_minute_rate=Decimal("0.0100"),
        teleconference_minute_rate=Decimal("0.0200"),
        estimated_total=estimate or Decimal(amount),
        amount=Decimal(amount),
        currency="EUR",
        paid_at=timezone.now() if status == UsageChargeStatus.PAID else None,
    )
    if status == UsageChargeStatus.PAID:
        Payment.objects.create(
            variant="dummy",
            usage_charge=charge,
            total=Decimal(amount),
            captured_amount=Decimal(amount),
            currency="EUR",
            status=PaymentStatus.CONFIRMED,
        )
    return charge


@pytest.fixture
def books(make_session, register, recording_provider, django_user_model):
    """Two sessions with paid learners, a partial refund, an unpaid learner and two hosts' charges."""
    from wagtail_training_pay.services import registrations as services

    python = make_session(title="Python basics", slug="python")
    django = make_session(title="Django deep dive", slug="django", fee=Decimal("100.00"))
    ada = register(python, first_name="Ada", variant="recording")
    register(python, first_name="Grace")
    register(django, first_name="Alan")
    register(django, first_name="Barbara", pay=False)
    services.refund_registration(ada, Decimal("15.00"))
    alice = django_user_model.objects.create_user("alice", first_name="Alice", last_name="Host")
    bob = django_user_model.objects.create_user("bob")
    usage_charge(python, alice, "13.50")
    usage_charge(django, alice, "20.00")
    usage_charge(django, bob, "7.25", status=UsageChargeStatus.PENDING)
    return {"python": python, "django": django, "ada": ada, "alice": alice, "bob": bob}


def report_rows(client, name, **params):
    response = client.get(reverse(f"training_reports:{name}"), params)
    assert response.status_code == 200
    return list(response.context["object_list"])


def test_revenue_per_session_is_collected_less_refunded_with_seats(client, manager, books):
    client.force_login(manager)
    rows = {row["title"]: row for row in report_rows(client, "revenue_by_session")}
    assert set(rows) == {"Python basics", "Django deep dive"}
    python, django = rows["Python basics"], rows["Django deep dive"]
    assert (python["payment_count"], python["gross"], python["refunded"], python["net"]) == (
        2,
        Decimal("90.00"),
        Decimal("15.00"),
        Decimal("75.00"),
    )
    assert (python["seats"], python["capacity"]) == (2, 20)
    assert (django["payment_count"], django["gross"], django["net"], django["seats"]) == (
        1,
        Decimal("100.00"),
        Decimal("100.00"),
        1,
    )


def test_revenue_per_session_costs_the_same_queries_for_more_sessions(client, manager, books, make_session, register):
    client.force_login(manager)
    client.get(reverse("training_reports:revenue_by_session"))
    with CaptureQueriesContext(connection) as before:
        client.get(reverse("training_reports:revenue_by_session"))
    for n in range(5):
        register(make_session(title=f"Extra {n}", slug=f"extra-{n}"))
    with CaptureQueriesContext(connection) as after:
        response = client.get(reverse("training_reports:revenue_by_session"))
    assert len(response.context["object_list"]) == 7
    assert len(after) == len(before)


def test_revenue_per_month_splits_months_and_learner_from_host_money(client, manager, books):
    last_month = timezone.localtime().replace(day=1) - timedelta(days=3)
    Payment.objects.filter(registration__page=books["django"]).update(created=last_month)
    client.force_login(manager)
    rows = report_rows(client, "revenue_by_month")
    assert len(rows) == 2
    this_month, previous = rows
    assert (this_month["learner_gross"], this_month["host_gross"], this_month["refunded"]) == (
        Decimal("90.00"),
        Decimal("33.50"),
        Decimal("15.00"),
    )
    assert this_month["net"] == Decimal("108.50")
    assert (previous["learner_gross"], previous["host_gross"], previous["net"]) == (
        Decimal("100.00"),
        Decimal("0"),
        Decimal("100.00"),
    )


def test_the_revenue_report_filters_by_payment_date(client, manager, books):
    Payment.objects.filter(registration__page=books["django"]).update(created=timezone.now() - timedelta(days=90))
    client.force_login(manager)
    since = (timezone.localdate() - timedelta(days=10)).isoformat()
    rows = report_rows(client, "revenue_by_session", created_from=since)
    assert [row["title"] for row in rows] == ["Python basics"]


def test_the_revenue_report_exports_to_csv(client, manager, books):
    client.force_login(manager)
    response = client.get(reverse("training_reports:revenue_by_session"), {"export": "csv"})
    text = b"".join(response.streaming_content).decode()
    rows = {row["Session"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows["Python basics"]["Net"] == "75.00"
    assert rows["Python basics"]["Confirmed seats"] == "2"


def test_pay_per_use_billing_lists_each_hosts_charges_and_totals(client, manager, books):
    client.force_login(manager)
    response = client.get(reverse("training_reports:usage_billing"))
    html = response.content.decode()
    totals = {row["host"]: row for row in response.context["host_totals"]}
    assert totals["Alice Host"]["paid"] == "€33.50" and totals["Alice Host"]["charges"] == 2
    assert totals["bob"]["pending"] == "€7.25" and totals["bob"]["paid"] == "€0.00"
    assert "Awaiting payment" in html and "€13.50" in html
    only_bob = client.get(reverse("training_reports:usage_billing"), {"payer": books["bob"].pk})
    assert [charge.amount for charge in only_bob.context["object_list"]] == [Decimal("7.25")]


def test_the_payments_listing_shows_learner_and_host_payments_with_amounts(client, manager, books):
    client.force_login(manager)
    response = client.get(reverse("training_payments:index"))
    html = response.content.decode()
    assert len(response.context["object_list"]) == 6
    assert "Python basics (learner)" in html and "Django deep dive (host)" in html
    assert "€30.00" in html and "€15.00" in html  # Ada's captured and refunded amounts
    hosts = client.get(reverse("training_payments:index"), {"kind": "host"})
    assert {p.usage_charge.payer.username for p in hosts.context["object_list"]} == {"alice"}
    waiting = client.get(reverse("training_payments:index"), {"status": "waiting"})
    assert [p.registration.first_name for p in waiting.context["object_list"]] == ["Barbara"]
    recording = client.get(reverse("training_payments:index"), {"variant": "recording"})
    assert [p.registration.first_name for p in recording.context["object_list"]] == ["Ada"]


def test_payments_needing_attention_are_stale_ones_fraud_reviews_and_late_refunds(client, manager, books, settings):
    settings.WAGTAIL_TRAINING_PAY_STALE_PAYMENT_MINUTES = 30
    barbara = Payment.objects.get(registration__first_name="Barbara")
    Payment.objects.filter(pk=barbara.pk).update(created=timezone.now() - timedelta(minutes=31))
    grace = Payment.objects.get(registration__first_name="Grace")
    Payment.objects.filter(pk=grace.pk).update(fraud_status=FraudStatus.REVIEW)
    Registration.objects.filter(first_name="Alan").update(late_payment_refunded=True)
    client.force_login(manager)
    dashboard = client.get(reverse("wagtailadmin_home")).content.decode()
    assert (
        "3 payments need attention (1 pending too long, 1 in fraud review, 1 late payments refunded, "
        "0 disagreeing with the gateway)"
    ) in dashboard
    for reason, name in (("stale", "Barbara"), ("fraud", "Grace"), ("late_refund", "Alan")):
        response = client.get(reverse("training_payments:index"), {"attention": reason})
        assert [p.registration.first_name for p in response.context["object_list"]] == [name]


def test_the_dashboard_counts_upcoming_sessions_seats_and_revenue_this_month(client, manager, books, make_session):
    make_session(title="Past", slug="past", start_at=timezone.now() - timedelta(days=2))
    client.force_login(manager)
    dashboard = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "2 upcoming sessions" in dashboard
    assert "3 seats sold this month" in dashboard
    assert "€208.50 revenue this month" in dashboard  # 90 + 100 + 33.50 host - 15 refunded
    assert "0 payments need attention" in dashboard


def test_the_monthly_report_exports_one_line_per_month(client, manager, books):
    client.force_login(manager)
    response = client.get(reverse("training_reports:revenue_by_month"), {"export": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["Month"], row["Net"]) for row in rows] == [(timezone.localtime().strftime("%Y-%m"), "208.50")]
