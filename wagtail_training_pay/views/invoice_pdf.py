"""A host's invoice or credit note as a PDF, from the admin: the host who paid, or those who may see money."""

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse

from ..services.invoices import invoices_visible_to, render_invoice_pdf


def invoice_url(invoice):
    return reverse("wagtail_training_pay_usage:invoice_pdf", kwargs={"invoice_id": invoice.pk})


def invoice_pdf(request, invoice_id):
    """Another host's invoice is a 404, as one that does not exist: its number tells nothing."""
    invoice = get_object_or_404(invoices_visible_to(request.user), pk=invoice_id)
    response = HttpResponse(render_invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.filename()}"'
    response["Cache-Control"] = "private, no-store"
    return response
