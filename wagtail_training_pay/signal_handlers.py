"""Signal receivers, connected from ``AppConfig.ready()``.

Each feature module registers its receivers here so that importing a model
never has side effects.
"""

from payments.signals import status_changed

#: Payment fields a settler may change while the sender of ``status_changed`` still holds the instance.
SETTLED_PAYMENT_FIELDS = ["status", "message", "captured_amount", "refunded_amount", "extra_data"]


def settle_on_status_change(sender, instance, **kwargs):
    """Whatever changed a payment's status (a provider, an admin action), settle it.

    ``status_changed`` may fire more than once for one status; settling is idempotent.
    """
    from .models import Payment
    from .payment_flow import settle_payment

    if isinstance(instance, Payment) and instance.pk:
        rows = Payment.objects.filter(pk=instance.pk).values(*SETTLED_PAYMENT_FIELDS)
        before = rows.first()
        settle_payment(instance)
        # The sender goes on with this instance and may save() all of it (django-payments' dummy
        # provider does): give it what settling wrote (a refund, a recorded capture), or that save
        # would undo it; its own unsaved changes to the other fields stay.
        after = rows.first()
        for field in SETTLED_PAYMENT_FIELDS:
            if before and after and after[field] != before[field]:
                setattr(instance, field, after[field])


def guard_base_page_save(sender, instance, raw=False, update_fields=None, **kwargs):
    """Pay-per-use backstop for saves of a base ``Page`` (Wagtail's move, code): see ``pay_per_use``."""
    from .services.pay_per_use import guard_base_page_save

    if not raw:
        guard_base_page_save(instance, update_fields)


def unpublish_unpaid_arrivals(sender, instance, raw=False, **kwargs):
    from .services.pay_per_use import unpublish_arrivals

    if not raw:
        unpublish_arrivals(instance)


def note_workflow_approval(sender, instance, raw=False, **kwargs):
    from .services.pay_per_use import note_workflow_approval

    if not raw:
        note_workflow_approval(instance)


def forget_workflow_approval(sender, **kwargs):
    from .services.pay_per_use import forget_workflow_approval

    forget_workflow_approval()


def lock_deleted_registration(sender, instance, **kwargs):
    from .services.seats import lock_for_save

    instance._stored_before_delete = lock_for_save(instance)


def free_deleted_registration_seat(sender, instance, **kwargs):
    from .services.seats import free_seat_of_deleted

    free_seat_of_deleted(instance)


def record_deleted_session(sender, instance, **kwargs):
    from .services.pay_per_use import record_deleted_session

    record_deleted_session(instance)


def registration_return_url(payment):
    """The done page in the learner's language: providers return to a language-neutral URL."""
    from django.urls import reverse
    from django.utils import translation

    registration = payment.registration
    with translation.override(registration.language or translation.get_language()):
        return reverse("wagtail_training_pay:registration_done", kwargs={"token": registration.token})


def connect():
    """Connect the app's signal receivers (called once from ``AppConfig.ready``)."""
    from .payment_flow import register_settler
    from .services.registrations import settle_registration_payment

    register_settler("registration", settle_registration_payment, registration_return_url)
    status_changed.connect(settle_on_status_change, dispatch_uid="wagtail_training_pay.settle_on_status_change")

    from .payment_flow import register_settler
    from .services.pay_per_use import payment_return_url, settle_usage_payment

    register_settler("usage_charge", settle_usage_payment, payment_return_url)

    from .services.emails import register_email_kinds

    register_email_kinds()

    from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
    from wagtail.models import Page

    from .services import invoices  # noqa: F401  (its credit note follows a refund of an invoiced host payment)

    # Sender Page: saves of a base ``Page`` only; a session's own saves go through its ``save()``.
    pre_save.connect(guard_base_page_save, sender=Page, dispatch_uid="wagtail_training_pay.guard_base_page_save")
    post_save.connect(unpublish_unpaid_arrivals, sender=Page, dispatch_uid="wagtail_training_pay.unpublish_arrivals")

    from wagtail.models import WorkflowState
    from wagtail.signals import workflow_approved

    post_save.connect(note_workflow_approval, sender=WorkflowState, dispatch_uid="wagtail_training_pay.note_approval")
    workflow_approved.connect(forget_workflow_approval, dispatch_uid="wagtail_training_pay.forget_approval")
    # An approval whose publication failed half-way must not outlive its request in this thread.
    from django.core.signals import request_started

    request_started.connect(forget_workflow_approval, dispatch_uid="wagtail_training_pay.forget_approval_per_request")

    from .models import Registration, TrainingSessionPage

    # A registration deleted through the model (a site's own code, django.contrib.admin) frees its seat.
    pre_delete.connect(lock_deleted_registration, sender=Registration, dispatch_uid="wagtail_training_pay.lock_deleted")
    post_delete.connect(
        free_deleted_registration_seat, sender=Registration, dispatch_uid="wagtail_training_pay.free_deleted_seat"
    )

    pre_delete.connect(record_deleted_session, sender=TrainingSessionPage, dispatch_uid="wagtail_training_pay.deleted")
