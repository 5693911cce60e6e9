"""Signal receivers, connected from ``AppConfig.ready()``.

Each feature module registers its receivers here so that importing a model
never has side effects.
"""

from payments.signals import status_changed


def settle_on_status_change(sender, instance, **kwargs):
    """Whatever changed a payment's status (a provider, an admin action), settle it.

    ``status_changed`` may fire more than once for one status; settling is idempotent.
    """
    from .models import Payment
    from .payment_flow import settle_payment

    if isinstance(instance, Payment) and instance.pk:
        settle_payment(instance)


def registration_return_url(payment):
    from django.urls import reverse

    return reverse("wagtail_training_pay:registration_done", kwargs={"token": payment.registration.token})


def connect():
    """Connect the app's signal receivers (called once from ``AppConfig.ready``)."""
    from .payment_flow import register_settler
    from .services.registrations import settle_registration_payment

    register_settler("registration", settle_registration_payment, registration_return_url)
    status_changed.connect(settle_on_status_change, dispatch_uid="wagtail_training_pay.settle_on_status_change")

    from .payment_flow import register_settler
    from .services.pay_per_use import payment_return_url, settle_usage_payment

    register_settler("usage_charge", settle_usage_payment, payment_return_url)
