"""The app's models, re-exported from their modules."""

from .invoices import Invoice, InvoiceKind, InvoiceSequence
from .money import MoneyMovement, MovementKind, MovementState, OwedEmail, OwedEmailState
from .pages import SessionFormField, TrainingIndexPage, TrainingSessionPage
from .payments import Payment
from .registrations import ACTIVE_STATUSES, Registration, RegistrationStatus, SessionSeats
from .settings import HostPaymentMethod, LearnerPaymentMethod, TrainingPaySettings
from .usage import UsageCharge, UsageChargeAction, UsageChargeStatus

__all__ = [
    "ACTIVE_STATUSES",
    "HostPaymentMethod",
    "Invoice",
    "InvoiceKind",
    "InvoiceSequence",
    "LearnerPaymentMethod",
    "MoneyMovement",
    "MovementKind",
    "MovementState",
    "OwedEmail",
    "OwedEmailState",
    "Payment",
    "Registration",
    "RegistrationStatus",
    "SessionFormField",
    "SessionSeats",
    "TrainingIndexPage",
    "TrainingPaySettings",
    "TrainingSessionPage",
    "UsageCharge",
    "UsageChargeAction",
    "UsageChargeStatus",
]
