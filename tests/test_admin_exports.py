"""CSV and XLSX exports of registrations and payments: real rows, permissions, and a flat query count."""

import csv
import io
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook
from payments import PaymentStatus

from wagtail_training_pay.models import Payment, Registration, RegistrationStatus, SessionFormField
from wagtail_training_pay.services import seats

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]

INDEX = "training_registrations:index"


def csv_rows(response):
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming, "the CSV export streams"
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_rows(response):
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.fixture
def session_with_questions(make_session, register):
    page = make_session(title="Export session", slug="export")
    SessionFormField.objects.create(page=page, label="Company", field_type="singleline", sort_order=0)
    SessionFormField.objects.create(page=page, label="Diet", field_type="checkboxes", choices="veg,fish", sort_order=1)
    register(page, first_name="Ada", last_name="Lovelace", email="ada@example.com", answers={"company": "ACME"})
    register(page, first_name="Grace", last_name="Hopper", pay=False, answers={"diet": ["veg", "fish"]})
    return page


def test_the_csv_export_has_one_row_per_registration_with_answers_per_question(client, manager, session_with_questions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"page": session_with_questions.pk, "export": "csv"})
    rows = sorted(csv_rows(response), key=lambda row: row["First name"])
    assert [row["Last name"] for row in rows] == ["Lovelace", "Hopper"]
    ada, grace = rows
    assert ada["Email"] == "ada@example.com"
    assert ada["Session"] == "Export session"
    assert ada["Status"] == "Confirmed"
    assert ada["Company"] == "ACME"
    assert ada["Amount"] == "45.00" and ada["Paid"] == "45.00" and ada["Payment status"] == "Confirmed"
    assert grace["Diet"] == "veg, fish"
    assert grace["Status"] == "Pending payment" and grace["Paid"] == "0.00"
    assert ada["Country"] == "France"


def test_the_xlsx_export_matches_the_filtered_listing(client, manager, session_with_questions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"status": "confirmed", "export": "xlsx"})
    rows = xlsx_rows(response)
    assert [(row["First name"], row["Last name"]) for row in rows] == [("Ada", "Lovelace")]
    assert rows[0]["Amount"] == 45
    assert "Company: ACME" in rows[0]["Answers"]


def test_the_search_applies_to_the_export(client, manager, session_with_questions):
    client.force_login(manager)
    response = client.get(reverse(INDEX), {"q": "hopper", "export": "csv"})
    assert [row["Last name"] for row in csv_rows(response)] == ["Hopper"]


def test_an_export_without_personal_data_permission_has_no_personal_columns(client, make_staff, session_with_questions):
    client.force_login(make_staff("registrations"))
    rows = csv_rows(client.get(reverse(INDEX), {"export": "csv"}))
    assert len(rows) == 2
    assert not {"First name", "Last name", "Email", "Answers", "Company"} & set(rows[0])
    assert not {"Amount", "Paid", "Payment status"} & set(rows[0])
    response = client.get(reverse(INDEX), {"export": "csv"})
    assert b"ada@example.com" not in b"".join(response.streaming_content)


def test_the_payments_export_lists_learner_payments_with_amounts(client, manager, session_with_questions):
    client.force_login(manager)
    response = client.get(reverse("training_payments:index"), {"export": "csv"})
    rows = csv_rows(response)
    statuses = sorted(row["Status"] for row in rows)
    assert statuses == ["Confirmed", "Waiting for confirmation"]
    assert {row["Total"] for row in rows} == {"45.00"}
    assert {row["For"] for row in rows} == {"Export session (learner)"}


def bulk_registrations(page, count):
    """``count`` confirmed, paid registrations, created in bulk (the export is under test, not registering)."""
    registrations = Registration.objects.bulk_create(
        Registration(
            page=page,
            status=RegistrationStatus.CONFIRMED,
            first_name=f"Learner{i}",
            last_name="Bulk",
            email=f"bulk{i}@example.com",
            amount=Decimal("45.00"),
            currency="EUR",
            billing_country="FR",
            form_data={"company": f"Company {i}"},
        )
        for i in range(count)
    )
    if connection.vendor != "postgresql":
        # SQLite may not return the primary keys of bulk-created rows on every version.
        registrations = list(Registration.objects.filter(page=page, last_name="Bulk"))
    Payment.objects.bulk_create(
        Payment(
            variant="dummy",
            registration=registration,
            total=Decimal("45.00"),
            captured_amount=Decimal("45.00"),
            currency="EUR",
            status=PaymentStatus.CONFIRMED,
        )
        for registration in registrations
    )
    seats.fix(page.pk)  # bulk_create went past the seat counter


def count_export_queries(client, page, export_format):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(INDEX), {"page": page.pk, "export": export_format})
        body = b"".join(response.streaming_content)
    return len(queries), body


@pytest.mark.slow
@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_an_export_of_10000_registrations_costs_the_same_queries_as_one_of_10(
    client, manager, make_session, export_format, django_assert_max_num_queries
):
    small = make_session(title="Small", slug="small")
    large = make_session(title="Large", slug="large", capacity=None)
    for page in (small, large):
        SessionFormField.objects.create(page=page, label="Company", field_type="singleline", sort_order=0)
    bulk_registrations(small, 10)
    bulk_registrations(large, 10_000)
    client.force_login(manager)
    count_export_queries(client, small, export_format)  # warm the caches (content types, sessions)

    small_queries, small_body = count_export_queries(client, small, export_format)
    started = time.perf_counter()
    with django_assert_max_num_queries(small_queries):
        response = client.get(reverse(INDEX), {"page": large.pk, "export": export_format})
        large_body = b"".join(response.streaming_content)
    elapsed = time.perf_counter() - started
    print(f"\n{export_format}: 10 rows in {small_queries} queries; 10,000 rows, same bound, in {elapsed:.2f}s")

    if export_format == "csv":
        rows = list(csv.DictReader(io.StringIO(large_body.decode("utf-8"))))
        assert len(list(csv.DictReader(io.StringIO(small_body.decode("utf-8"))))) == 10
    else:
        rows = xlsx_rows_from_bytes(large_body)
    assert len(rows) == 10_000
    assert {row["Company"] for row in rows} >= {"Company 0", "Company 9999"}


def xlsx_rows_from_bytes(content):
    sheet = load_workbook(io.BytesIO(content), read_only=True).active
    header, *body = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.parametrize("export_format", ["csv", "xlsx"])
def test_the_fast_export_writes_the_file_wagtails_own_writer_writes(
    client, manager, session_with_questions, register, export_format, monkeypatch
):
    """The export's own row writer (``row_writer``, rows in chunks) against Wagtail's generic one
    (``to_row_dict`` then ``preprocess_field_value`` per cell, a chunk per row) on the same view and rows:
    formula starts in names and answers, empty dates, a cancelled registration, more rows than a chunk."""
    from wagtail.admin.views.mixins import SpreadsheetExportMixin

    from wagtail_training_pay.views.admin.registrations import CSV_ROWS_PER_CHUNK, RegistrationIndexView

    page = session_with_questions
    register(page, first_name="=HYPERLINK(1)", last_name="+33", email="-x@example.com", answers={"company": "@SUM(A1)"})
    cancelled = register(page, first_name="Cancelled", pay=False)
    seats.set_status(cancelled, RegistrationStatus.CANCELLED)
    bulk_registrations(page, CSV_ROWS_PER_CHUNK + 3)
    client.force_login(manager)

    def export():
        response = client.get(reverse(INDEX), {"page": page.pk, "export": export_format})
        assert response.status_code == 200
        content = b"".join(response.streaming_content)
        if export_format == "csv":
            return list(csv.reader(io.StringIO(content.decode("utf-8"))))
        sheet = load_workbook(io.BytesIO(content)).active
        return [[(cell.value, cell.number_format, cell.data_type) for cell in row] for row in sheet.iter_rows()]

    ours = export()
    monkeypatch.setattr(RegistrationIndexView, "stream_csv", SpreadsheetExportMixin.stream_csv)
    monkeypatch.setattr(RegistrationIndexView, "write_xlsx", SpreadsheetExportMixin.write_xlsx)
    wagtails = export()
    assert len(ours) == 1 + 2 + 2 + CSV_ROWS_PER_CHUNK + 3
    assert ours == wagtails
    flat = [str(cell[0] if export_format == "xlsx" else cell) for row in ours for cell in row]
    assert "'=HYPERLINK(1)" in flat and "'@SUM(A1)" in flat and "=HYPERLINK(1)" not in flat
