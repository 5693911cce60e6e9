"""Where a host lands after the provider: the success message, or back to the cost page with the reason."""

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from payments import PaymentStatus

from ..models import MovementState, UsageChargeStatus
from ..services.pay_per_use import not_needed_refund
from .pay_per_use_base import cost_url, edit_url, go_live_message
from .usage_payment import host_payment


def usage_payment_result(request, token):
    payment = host_payment(request, token)
    charge = payment.usage_charge
    page = charge.page
    back_to_cost = cost_url(page, revision=charge.revision, action=charge.action)
    late = charge.status in (UsageChargeStatus.PAID, UsageChargeStatus.FAILED)
    refund = not_needed_refund(payment) if late else None
    if refund is not None:
        # Paid at the gateway after the site gave the payment up, or after another payment paid the session.
        if refund.state == MovementState.DONE:
            messages.info(request, _("This payment reached us when it was no longer needed; it is refunded."))
        else:
            messages.warning(
                request,
                _("This payment reached us when it was no longer needed; the site’s staff will refund it."),
            )
        return redirect(edit_url(page))
    if charge.status == UsageChargeStatus.PAID:
        messages.success(request, go_live_message(charge.action))
        return redirect(edit_url(page))
    if charge.status == UsageChargeStatus.PENDING and payment.pending_at_gateway:
        messages.warning(
            request,
            _(
                "Your payment is pending at PayPal (a bank transfer or a review can take several days). "
                "The session stays a draft until PayPal completes the payment; it then goes live by itself."
            ),
        )
        return redirect(edit_url(page))
    if charge.status == UsageChargeStatus.PENDING:
        messages.warning(request, _("The payment is not confirmed yet. The session stays a draft until it is."))
        return redirect(back_to_cost)
    if charge.status == UsageChargeStatus.CANCELLED:
        if payment.status == PaymentStatus.REFUNDED:
            messages.info(request, _("This estimate was already paid; your payment is refunded."))
        else:
            messages.warning(request, _("This estimate was already paid; the site’s staff will refund your payment."))
        return redirect(edit_url(page))
    reason = payment.message or _("the payment was declined")
    messages.error(request, _("The payment failed (%(reason)s). Your draft is unchanged.") % {"reason": reason})
    return redirect(back_to_cost)
