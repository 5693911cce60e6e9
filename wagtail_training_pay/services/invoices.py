"""Invoices to hosts for pay-per-use: numbered per site without gaps, issued with the payment, sent as a PDF.

``issue_invoice`` runs in the transaction that marks a charge paid (``pay_per_use.settle_usage_payment``): it
takes the site's next number under the row lock of its ``InvoiceSequence`` and owes the host the receipt
(``host_receipt``, services/outbox.py). A refund of the invoiced payment, once the gateway did it, issues a credit
note the same way (``host_credit_note``). A transaction that rolls back gives its number back, so the numbers of a
site never repeat and never skip. The PDF is drawn when it is sent or downloaded, in the reader's language.
"""

import dataclasses
from decimal import Decimal
from io import BytesIO
from xml.sax.saxutils import escape

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.models import Site

from ..models import Invoice, InvoiceKind, InvoiceSequence, MovementKind, TrainingPaySettings
from ..pricing import SessionCostEstimate
from . import money

# --- issuing -----------------------------------------------------------------------------------------


def site_of(charge):
    """The site the charge's session is on (the default site for a session outside every site's tree)."""
    site = charge.page.get_site() if charge.page_id and charge.page is not None else None
    return site or Site.objects.filter(is_default_site=True).first() or Site.objects.order_by("pk").first()


def next_invoice_number(site):
    """The site's next number; the caller's transaction holds the sequence's row lock until it commits."""
    if not InvoiceSequence.objects.filter(site=site).update(last_number=F("last_number") + 1):
        # A site's first invoice: create its sequence (a second transaction doing the same waits, then skips).
        InvoiceSequence.objects.bulk_create([InvoiceSequence(site=site)], ignore_conflicts=True)
        InvoiceSequence.objects.filter(site=site).update(last_number=F("last_number") + 1)
    return InvoiceSequence.objects.values_list("last_number", flat=True).get(site=site)


def _issue(kind, charge, payment, amount, *, site, movement=None):
    seller = TrainingPaySettings.for_site(site)
    return Invoice.objects.create(
        site=site,
        number=next_invoice_number(site),
        kind=kind,
        charge=charge,
        payment=payment,
        movement=movement,
        amount=amount,
        currency=charge.currency,
        issued_at=timezone.now(),
        seller_name=seller.organisation_name or site.site_name or site.hostname,
        seller_address=seller.organisation_address,
        seller_tax_id=seller.organisation_tax_id,
    )


def _owe_receipt(invoice):
    from .emails import host_email
    from .outbox import owe_email

    recipient = host_email(invoice.charge)
    if recipient:
        owe_email("host_credit_note" if invoice.is_credit_note else "host_receipt", invoice, recipient)


def issue_invoice(charge, payment):
    """The invoice of a charge just paid (locked by the caller), once; its receipt is owed to the host."""
    invoice = Invoice.objects.filter(charge=charge, kind=InvoiceKind.INVOICE).first()
    if invoice is not None:
        return invoice
    invoice = _issue(InvoiceKind.INVOICE, charge, payment, charge.amount, site=site_of(charge))
    _owe_receipt(invoice)
    return invoice


@money.on_movement_done
def issue_credit_note(payment, movement):
    """A refund of an invoiced host payment, done at the gateway: a credit note for what went back, once."""
    if movement.kind != MovementKind.REFUND or not payment.usage_charge_id:
        return
    invoice = (
        Invoice.objects.select_related("charge", "site")
        .filter(charge_id=payment.usage_charge_id, kind=InvoiceKind.INVOICE, payment=payment)
        .first()
    )
    if invoice is None or Invoice.objects.filter(movement=movement).exists():
        return  # a payment never invoiced (a surplus given back), or this refund already credited
    credit_note = _issue(
        InvoiceKind.CREDIT_NOTE, invoice.charge, payment, movement.amount, site=invoice.site, movement=movement
    )
    _owe_receipt(credit_note)


def invoices_visible_to(user):
    """The invoices ``user`` may download: their own charges', or every one for those who may see money."""
    from .. import admin_permissions

    invoices = Invoice.objects.select_related("charge__page", "charge__payer", "payment", "site")
    if admin_permissions.can_view_money(user):
        return invoices
    if not (user and user.is_active):
        return invoices.none()
    return invoices.filter(charge__payer=user)


# --- the PDF -------------------------------------------------------------------------------------------


def estimate_of(charge):
    """The charge's breakdown as the estimate the host saw on the cost page (``UsageCharge.breakdown``)."""
    values = charge.breakdown or {}
    fields = {}
    for field in dataclasses.fields(SessionCostEstimate):
        value = values.get(field.name)
        if field.type is Decimal:
            value = Decimal(value or 0)
        elif field.type is int:
            value = int(value or 0)
        elif field.type is bool:
            value = bool(value)
        fields[field.name] = value if value is not None else charge.currency
    return SessionCostEstimate(**fields)


def payment_method_label(invoice):
    """The label the site's settings give the payment's method (``Card``, ``PayPal``...), else its variant."""
    payment = invoice.payment
    if payment is None:
        return ""
    labels = dict(TrainingPaySettings.for_site(invoice.site).host_variants())
    return str(labels.get(payment.variant, payment.variant))


def invoice_font():
    """The font of the PDF: ``WAGTAIL_TRAINING_PAY_INVOICE_FONT`` (a TrueType file, embedded) or Helvetica."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from ..conf import app_settings

    path = app_settings.INVOICE_FONT
    if not path:
        return "Helvetica", "Helvetica-Bold"
    name = "WagtailTrainingPayInvoice"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, path))
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(name, bold, italic, name)
    return name, name


def pdf_text(value):
    """Text for the PDF: Babel's narrow spaces become no-break spaces (Helvetica's Windows-1252 has no narrow
    one), and markup is escaped."""
    text = str(value).replace("\u202f", "\u00a0").replace("\u2009", "\u00a0")
    return escape(text).replace("\n", "<br/>")


def invoice_lines(invoice):
    """``(label, value)`` rows of the PDF's breakdown: the cost page's lines, then what this document is for."""
    from ..views.pay_per_use_base import estimate_lines
    from ..views.pay_per_use_base import money as money_text
    from .pay_per_use import AmountDue

    charge = invoice.charge
    estimate = estimate_of(charge)
    already_paid = Decimal(charge.breakdown.get("already_paid", estimate.total - charge.amount))
    due = AmountDue(estimate, already_paid, charge.amount)
    lines = [(label, value) for key, label, value in estimate_lines(due) if key != "due"]  # "Total paid" says it
    if invoice.is_credit_note:
        lines.append((_("Refunded"), money_text(invoice.amount, invoice.currency)))
    return lines


def render_invoice_pdf(invoice):
    """The invoice (or credit note) as PDF bytes, in the active language, dates in the site's time zone."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from ..templatetags.training_pay import local_moment_text
    from ..views.pay_per_use_base import money as money_text

    charge = invoice.charge
    styles = getSampleStyleSheet()
    regular, bold = invoice_font()
    for style in styles.byName.values():
        style.fontName = bold if "Bold" in getattr(style, "fontName", "") else regular
    body, small = styles["BodyText"], styles["Normal"]
    figure = ParagraphStyle("figure", parent=body, alignment=TA_RIGHT)

    def para(text, style=body):
        return Paragraph(pdf_text(text), style)

    title = _("Credit note") if invoice.is_credit_note else _("Invoice")
    with timezone.override(settings.TIME_ZONE):
        issued = local_moment_text(invoice.issued_at, "date")
        paid = local_moment_text(charge.paid_at, "datetime") if charge.paid_at else ""
        session_start = local_moment_text(charge.page.start_at) if charge.page_id and charge.page else ""
        credited = local_moment_text(original_invoice(invoice).issued_at, "date") if invoice.is_credit_note else ""

    seller = [invoice.seller_name, invoice.seller_address]
    if invoice.seller_tax_id:
        seller.append(_("VAT or tax number: %(number)s") % {"number": invoice.seller_tax_id})
    buyer = [
        charge.billing_name,
        charge.billing_address,
        " ".join(filter(None, [charge.billing_postcode, charge.billing_city])),
        charge.billing_country.name if charge.billing_country else "",
        charge.billing_email,
    ]
    parties = Table(
        [
            [para(_("Seller"), styles["Heading4"]), para(_("Billed to"), styles["Heading4"])],
            [para("\n".join(filter(None, seller))), para("\n".join(filter(None, buyer)))],
        ],
        colWidths=[85 * mm, 85 * mm],
    )
    parties.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))

    facts = [
        (_("Number"), str(invoice.number)),
        (_("Date of issue"), issued),
        (_("Session"), str(charge.session_label)),
    ]
    if session_start:
        facts.append((_("Session starts"), session_start))
    if invoice.is_credit_note:
        facts.append(
            (
                _("Credits invoice"),
                _("%(number)s of %(date)s") % {"number": original_invoice(invoice).number, "date": credited},
            )
        )
    if paid:
        facts.append((_("Paid on"), paid))
    method = payment_method_label(invoice)
    if method:
        facts.append((_("Payment method"), method))

    rows = [[para(label), para(value, figure)] for label, value in invoice_lines(invoice)]
    total_label = _("Total refunded") if invoice.is_credit_note else _("Total paid")
    total = money_text(invoice.amount, invoice.currency)
    rows.append([Paragraph(f"<b>{pdf_text(total_label)}</b>", body), Paragraph(f"<b>{pdf_text(total)}</b>", figure)])
    breakdown = Table(rows, colWidths=[110 * mm, 60 * mm])
    breakdown.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -2), 0.25, colors.grey),
                ("LINEABOVE", (0, -1), (-1, -1), 1, colors.black),
            ]
        )
    )

    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        title=f"{title} {invoice.number}",
        author=invoice.seller_name,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
    )
    story = [
        para(f"{title} {invoice.number}", styles["Title"]),
        parties,
        Spacer(1, 6 * mm),
        Table([[para(label, small), para(value, small)] for label, value in facts], colWidths=[50 * mm, 120 * mm]),
        Spacer(1, 6 * mm),
        para(_("Pay-per-use of the session"), styles["Heading3"]),
        breakdown,
    ]
    document.build(story)
    return buffer.getvalue()


def original_invoice(credit_note):
    return Invoice.objects.get(charge_id=credit_note.charge_id, kind=InvoiceKind.INVOICE)
