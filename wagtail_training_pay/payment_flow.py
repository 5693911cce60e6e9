"""The one locked, idempotent path every payment notification goes through.

django-payments' own callback view takes no row lock and ``status_changed`` can fire
several times for one status (DESIGN section 10). Here:

* ``process_payment`` / ``process_payment_for_variant`` replace django-payments'
  callback views (``Payment.get_process_url`` points at them): they lock the payment
  row, let the provider update it, then settle it;
* ``settle_payment`` locks the payment row again (harmless inside the same
  transaction) and hands it to the settler registered for what it pays for: a
  learner's registration or a host's usage charge. Settlers lock their own row and
  return early when the payment was already applied, so a browser return, a provider
  callback and a replayed notification can arrive in any order and any number of
  times.

Feature modules register their settler with ``register_settler`` from
``signal_handlers.connect()``.
"""

import logging

from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from payments import PaymentError, PaymentStatus
from payments.core import provider_factory

logger = logging.getLogger(__name__)

#: ``Payment.message`` of a payment the gateway holds in another amount (both providers write it).
AMOUNT_MISMATCH = "Amount mismatch"

#: relation name on Payment ("registration", "usage_charge") -> settler(payment)
_settlers = {}
#: relation name -> return_url(payment): where the payer's browser goes after the provider
_return_urls = {}


def register_settler(relation, settler, return_url=None):
    """Apply payments whose ``relation`` (a foreign key of Payment) is set with ``settler``.

    ``settler(payment)`` runs inside a transaction with the payment row locked; it must
    be idempotent. ``return_url(payment)`` gives the page the payer lands on.
    """
    _settlers[relation] = settler
    if return_url is not None:
        _return_urls[relation] = return_url


def _relation_of(payment):
    for relation in _settlers:
        if getattr(payment, f"{relation}_id", None):
            return relation
    return None


def lock_payment(**lookup):
    """Fetch and lock one payment row; call inside ``transaction.atomic``."""
    from .models import Payment

    return Payment.objects.select_for_update().get(**lookup)


@transaction.atomic
def settle_payment(payment):
    """Apply the payment's current status to what it pays for, exactly once."""
    settled = payment
    payment = lock_payment(pk=payment.pk)
    record_sale(payment)
    flag_amount_mismatch(payment)
    relation = _relation_of(payment)
    if relation is None:
        logger.debug("Payment %s pays for nothing this app knows; left alone.", payment.pk)
        return payment
    _settlers[relation](payment)
    settled._settled_status = payment.status
    return payment


def flag_amount_mismatch(payment):
    """The gateway holds another amount than the payment's (the providers then mark it ``error``, "Amount
    mismatch"): money the site cannot apply nor refund on its own, shown to an administrator."""
    from payments import PaymentStatus

    from .services.money import flag_payment

    # Exactly the providers' message: RESULT 133 ("Data mismatch in HTTP retry request", a retyped card after a
    # timeout) is a failed attempt, not money held in another amount.
    if payment.status == PaymentStatus.ERROR and (payment.message or "").startswith(AMOUNT_MISMATCH):
        if not payment.needs_attention:
            flag_payment(payment, "The gateway holds another amount than the payment", payment.message)


def record_sale(payment):
    """A confirmed payment the gateway reports (a sale on its pages, not a capture of ours) gets its ``sale``
    movement, once: ``captured_amount`` and every report come from the movements (services/money.py)."""
    from .services.money import record_sale_if_new

    record_sale_if_new(payment)


def return_url_for(payment):
    relation = _relation_of(payment)
    if relation in _return_urls:
        return _return_urls[relation](payment)
    return "/"


def _provider_for(payment):
    try:
        return provider_factory(payment.variant, payment)
    except ValueError as exc:
        raise Http404("No such payment") from exc


@csrf_exempt
def process_payment(request, token):
    """Provider callback or browser return for one payment, under the payment's row lock."""
    from .models import Payment

    with transaction.atomic():
        try:
            payment = lock_payment(token=token)
        except Payment.DoesNotExist:
            logger.error("Payment callback for an unknown token from %s.", request.META.get("REMOTE_ADDR"))
            raise Http404("No such payment") from None
        provider = _provider_for(payment)
        try:
            response = provider.process_data(payment, request)
        except PaymentError as exc:
            logger.error("Provider error while processing payment %s: %s", payment.pk, exc)
            response = HttpResponseBadRequest(str(exc) if exc.code else "Payment error")
        if getattr(payment, "_settled_status", None) != payment.status:
            # The provider changed nothing, or changed it without ``status_changed``: settle here.
            settle_payment(payment)
    return response


@csrf_exempt
def process_payment_for_variant(request, variant):
    """Callback sent to one URL per variant; the provider finds the payment's token in the request."""
    from .models import Payment

    try:
        provider = provider_factory(variant)
    except ValueError:
        raise Http404("No such payment variant") from None
    try:
        token = provider.get_token_from_request(request=request, payment=None)
    except NotImplementedError:
        # django-payments' providers other than Stripe notify each payment's own URL, never this one.
        raise Http404("This payment variant has no per-variant callback") from None
    except (PaymentError, ValueError, KeyError) as exc:
        logger.warning("Unreadable callback for variant %s: %s", variant, exc)
        return HttpResponseBadRequest("Unreadable notification")
    if not token or not Payment.objects.filter(token=token, variant=variant).exists():
        logger.warning("Callback for variant %s names an unknown payment.", variant)
        raise Http404("No such payment")
    return process_payment(request, token)


def payment_return(request, token):
    """Where providers send the payer back: settle (idempotent) and move on to the right page."""
    from .models import Payment

    try:
        with transaction.atomic():
            payment = settle_payment(lock_payment(token=token))
    except Payment.DoesNotExist:
        raise Http404("No such payment") from None
    url = return_url_for(payment)
    if request.GET.get("result") == "not-paid" and payment.status != PaymentStatus.CONFIRMED:
        # The provider's failure URL (a cancel or a refusal): the landing page says nothing was paid.
        url += ("&" if "?" in url else "?") + "result=not-paid"
    return redirect(url)
