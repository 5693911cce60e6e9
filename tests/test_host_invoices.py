"""The host's invoice for each paid pay-per-use charge, and the credit note of a refund of it: numbered per site
without gaps, with the seller's and the host's details and the breakdown, in the host's language (English and
French), attached to the receipt and downloadable from the admin by that host and by those who may see money."""

from decimal import Decimal
from io import BytesIO

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse
from pypdf import PdfReader
from wagtail.models import Site

from tests.pay_per_use_support import BILLING, pay_through_the_provider, reload
from wagtail_training_pay.models import HostPaymentMethod, Invoice, InvoiceKind, UsageCharge
from wagtail_training_pay.services import invoices

pytestmark = pytest.mark.django_db


def pdf_text(content):
    """The text a PDF reader extracts, with its runs of spaces made one."""
    assert content.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)
    return " ".join(text.replace("\u00a0", " ").split())


@pytest.fixture
def seller(pay_per_use_on):
    pay_per_use_on.organisation_name = "Académie Numérique"
    pay_per_use_on.organisation_address = "12 rue de l’École\n75005 Paris"
    pay_per_use_on.organisation_tax_id = "FR12345678901"
    pay_per_use_on.save()
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="dummy", label="Carte (essai)")
    return pay_per_use_on


def host_pays(make_session, user, **session):
    page = reload(make_session(expected_participants=10, teleconference_participants=2, **session))
    page.save_revision()
    payment = pay_through_the_provider(reload(page), reload(page).get_latest_revision(), user)
    return UsageCharge.objects.get(page=page), payment


def speaks(user, language):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(user)
    profile.preferred_language = language
    profile.save()


def test_the_receipt_carries_the_invoice_in_english(
    seller, make_session, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        charge, _payment = host_pays(make_session, admin_user, title="Python for beginners")
    [message] = mail.outbox
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == ("invoice-1.pdf", "application/pdf")
    text = pdf_text(content)
    for expected in (
        "Invoice 1",
        "Seller Billed to",
        "Académie Numérique 12 rue de l’École 75005 Paris VAT or tax number: FR12345678901",
        "Grace Hopper 1 Navy Yard 75001 Paris France grace@example.com",
        "Session Python for beginners",
        "Person-minutes (duration × computers) 900",
        "Person-minute rate €0.02",
        "Person-minutes subtotal €18.00",
        "Teleconference minutes (duration × computers) 180",
        "Teleconference-minute rate €0.05",
        "Teleconference subtotal €9.00",
        "Estimated session cost €27.00",
        "Already paid for this session €0.00",
        "Total paid €27.00",
        "Payment method Carte (essai)",
        "Central European Standard Time",  # the site's zone (TIME_ZONE Europe/Paris), said in the host's language
    ):
        assert expected in text, expected
    assert "Paid on" in text and "Date of issue" in text
    assert charge.invoices.get().seller_tax_id == "FR12345678901"


def test_a_french_host_gets_the_receipt_and_the_invoice_in_french(
    seller, make_session, admin_user, django_capture_on_commit_callbacks
):
    speaks(admin_user, "fr")
    with django_capture_on_commit_callbacks(execute=True):
        host_pays(make_session, admin_user, title="Python pour débutants")
    [message] = mail.outbox
    assert message.subject == "Reçu : facturation à l’usage pour Python pour débutants (facture 1)"
    assert "Montant payé: 27,00\u00a0€" in message.body
    text = pdf_text(message.attachments[0][1])
    for expected in (
        "Facture 1",
        "Vendeur Facturé à",
        "Académie Numérique 12 rue de l’École 75005 Paris Numéro de TVA ou d’identification fiscale : FR12345678901",
        "Grace Hopper 1 Navy Yard 75001 Paris France",
        "Session Python pour débutants",
        "Tarif par minute-personne 0,02 €",
        "Coût estimé de la session 27,00 €",
        "Total payé 27,00 €",
        "Moyen de paiement Carte (essai)",
        "heure normale d’Europe centrale",
    ):
        assert expected in text, expected


def test_invoice_numbers_follow_each_other_per_site_and_a_rolled_back_one_is_given_back(
    seller, make_session, admin_user, site
):
    first, _payment = host_pays(make_session, admin_user)
    assert first.invoices.get().number == 1

    # A transaction that issued number 2 and then failed: 2 is given back, not skipped.
    page = reload(make_session(title="Rolled back", slug="rolled-back", expected_participants=3))
    charge = UsageCharge.objects.create(
        page=page, status="paid", duration_minutes=90, expected_participants=3, teleconference_participants=0,
        person_minute_rate=Decimal("0.02"), teleconference_minute_rate=Decimal("0.05"), estimated_total=Decimal("5.40"),
        amount=Decimal("5.40"), currency="EUR",
    )  # fmt: skip
    with pytest.raises(RuntimeError), transaction.atomic():
        assert invoices.issue_invoice(charge, None).number == 2
        raise RuntimeError("the worker failed after the number was taken")
    assert not charge.invoices.exists()

    second, _payment = host_pays(make_session, admin_user, title="Second", slug="second")
    assert second.invoices.get().number == 2

    # Another site has its own numbers.
    other_root = site.root_page.add_sibling(instance=type(site.root_page)(title="Other", slug="other"))
    other = Site.objects.create(hostname="other.example", root_page=other_root)
    assert invoices.next_invoice_number(other) == 1
    assert invoices.next_invoice_number(site) == 3


def test_a_refund_of_the_invoiced_payment_sends_a_credit_note(
    seller, make_session, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        charge, payment = host_pays(make_session, admin_user)
    mail.outbox.clear()
    payment.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        payment.refund(Decimal("7.00"))
    credit_note = charge.invoices.get(kind=InvoiceKind.CREDIT_NOTE)
    assert (credit_note.number, credit_note.amount) == (2, Decimal("7.00"))
    [message] = mail.outbox
    assert message.to == [BILLING["email"]]
    assert message.subject == f"Credit note 2: pay-per-use for {charge.page.title}"
    assert "We have refunded €7.00" in message.body
    [(filename, content, _mimetype)] = message.attachments
    assert filename == "credit-note-2.pdf"
    text = pdf_text(content)
    assert "Credit note 2" in text
    assert "Credits invoice 1 of" in text
    assert "Refunded €7.00" in text
    assert "Total refunded €7.00" in text


def test_a_surplus_payment_given_back_gets_no_invoice_nor_credit_note(
    seller, make_session, admin_user, django_capture_on_commit_callbacks
):
    """Two payments for one session: the second is refunded in full, never invoiced."""
    from tests.pay_per_use_support import record_paid_charge

    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    revision = reload(page).get_latest_revision()
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay_through_the_provider(reload(page), revision, admin_user, action="schedule")
        record_paid_charge(reload(page), revision)  # meanwhile another charge covered the estimate
    payment.refresh_from_db()
    assert payment.usage_charge.status != "paid" or Invoice.objects.count() == 1
    invoiced = Invoice.objects.filter(kind=InvoiceKind.INVOICE).count()
    with django_capture_on_commit_callbacks(execute=True):
        from wagtail_training_pay.services.pay_per_use import retry_surplus_refunds

        retry_surplus_refunds()
    assert Invoice.objects.filter(kind=InvoiceKind.CREDIT_NOTE).count() == 0
    assert Invoice.objects.filter(kind=InvoiceKind.INVOICE).count() == invoiced


@pytest.fixture
def paid_by_host(seller, make_session, host, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        charge, _payment = host_pays(make_session, host)
    return charge.invoices.get()


def invoice_download(invoice):
    return reverse("wagtail_training_pay_usage:invoice_pdf", kwargs={"invoice_id": invoice.pk})


def test_the_host_who_paid_downloads_the_invoice_from_the_cost_page(paid_by_host, host_client):
    cost_page = reverse("wagtail_training_pay_usage:session_cost", kwargs={"page_id": paid_by_host.charge.page_id})
    response = host_client.get(cost_page)
    assert response.status_code == 200
    assert invoice_download(paid_by_host) in response.content.decode()
    response = host_client.get(invoice_download(paid_by_host))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice-1.pdf"'
    assert "Invoice 1" in pdf_text(response.content)


def test_a_french_host_downloads_it_in_french(paid_by_host, host, host_client):
    speaks(host, "fr")
    assert "Facture 1" in pdf_text(host_client.get(invoice_download(paid_by_host)).content)


def test_another_host_cannot_download_it(paid_by_host, django_user_model, client):
    from django.contrib.auth.models import Group

    other = django_user_model.objects.create_user("other-host", "other@example.com", "password")
    other.groups.add(Group.objects.get(name="Hosts"))
    client.force_login(other)
    assert client.get(invoice_download(paid_by_host)).status_code == 404
    cost_page = reverse("wagtail_training_pay_usage:session_cost", kwargs={"page_id": paid_by_host.charge.page_id})
    assert invoice_download(paid_by_host) not in client.get(cost_page).content.decode()
    client.logout()
    response = client.get(invoice_download(paid_by_host))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_billing_report_links_each_invoice_for_those_who_see_money(paid_by_host, admin_client):
    response = admin_client.get(reverse("training_reports:usage_billing"))
    assert response.status_code == 200
    assert invoice_download(paid_by_host) in response.content.decode()
    assert admin_client.get(invoice_download(paid_by_host)).status_code == 200


def test_billing_details_are_printed_as_typed_never_read_as_markup(
    seller, make_session, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    import tests.pay_per_use_support as support

    hostile = {**BILLING, "name": 'Ada <b>&amp; "Lovelace"</b> <para>', "city": "Saint-Étienne"}
    monkeypatch.setattr(support, "BILLING", hostile)
    with django_capture_on_commit_callbacks(execute=True):
        host_pays(make_session, admin_user)
    [message] = mail.outbox
    text = pdf_text(message.attachments[0][1])
    assert 'Ada <b>&amp; "Lovelace"</b> <para>' in text
    assert "75001 Saint-Étienne" in text


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


@pytest.mark.skipif(not __import__("os").path.exists(DEJAVU), reason="needs fonts-dejavu-core")
def test_a_truetype_font_prints_names_beyond_western_european_letters(
    seller, make_session, admin_user, settings, django_capture_on_commit_callbacks, monkeypatch
):
    import tests.pay_per_use_support as support

    settings.WAGTAIL_TRAINING_PAY_INVOICE_FONT = DEJAVU
    monkeypatch.setattr(support, "BILLING", {**BILLING, "name": "Łukasz Żółć"})
    with django_capture_on_commit_callbacks(execute=True):
        host_pays(make_session, admin_user)
    text = pdf_text(mail.outbox[0].attachments[0][1])
    assert "Łukasz Żółć" in text
    assert "Total paid €27.00" in text
