"""Audit trail through Wagtail's log registry; the actions are registered in ``wagtail_hooks.py``."""

from django.utils.translation import gettext_lazy as _
from wagtail.log_actions import log

ACTION_PREFIX = "wagtail_training_pay."

#: verb -> label shown in Wagtail's history and reports
REGISTRATION_ACTIONS = {
    "register": _("Learner registered"),
    "confirm": _("Registration confirmed"),
    "late_payment": _("Payment arrived after the seat hold expired"),
    "payment_mismatch": _("Payment does not match the registration"),
    "payment_pending": _("PayPal holds the payment (pending or under review)"),
    "payment_refused": _("PayPal refused a payment it had held; the seat was released"),
    "hold_extended": _("The learner asked for more time to pay; the seat hold was extended"),
    "refund": _("Registration refunded"),
    "cancel": _("Registration cancelled"),
    "admit": _("Admitted from the waiting list"),
    "erase": _("Personal data erased at the learner's request"),
}


def log_action(instance, verb, *, user=None, data=None):
    return log(instance, ACTION_PREFIX + verb, user=user, data=data or {})
