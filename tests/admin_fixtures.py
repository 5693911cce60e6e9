"""Fixtures of the admin tests: staff users with chosen permissions, registrations paid for real.

Registrations go through the registration services and the dummy provider, as a learner's
would; only the 10,000-row export fixture bulk-creates rows.
"""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from payments import PaymentStatus
from payments.dummy import DummyProvider

#: Every permission the admin screens look at, by the name the tests use.
PERMISSIONS = {
    "registrations": "wagtail_training_pay.view_registration",
    "personal_data": "wagtail_training_pay.view_registration_personal_data",
    "payments": "wagtail_training_pay.view_payment",
    "change": "wagtail_training_pay.change_registration",
    "refund": "wagtail_training_pay.refund_registration",
    "settle_payments": "wagtail_training_pay.change_payment",
    "edit_pages": None,  # page permissions, given on the tree below
}


class RecordingProvider(DummyProvider):
    """django-payments' dummy provider, remembering the refunds it was asked for."""

    refunds = []

    def refund(self, payment, amount=None):
        RecordingProvider.refunds.append((payment.pk, amount))
        return super().refund(payment, amount)


@pytest.fixture
def recording_provider(settings):
    recording = ("tests.admin_fixtures.RecordingProvider", {})
    settings.PAYMENT_VARIANTS = {**settings.PAYMENT_VARIANTS, "recording": recording}
    RecordingProvider.refunds = []
    return RecordingProvider


def _permission(dotted):
    app_label, codename = dotted.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@pytest.fixture
def make_staff(db, django_user_model, site):
    """``make_staff("registrations", "payments", ...)``: an admin user whose group holds those permissions."""
    from wagtail.models import GroupPagePermission

    def factory(*grants, username=None):
        username = username or "staff-" + "-".join(grants or ("none",))
        user = django_user_model.objects.create_user(username, f"{username}@example.com", "password")
        group = Group.objects.create(name=f"group of {username}")
        group.permissions.add(_permission("wagtailadmin.access_admin"))
        for grant in grants:
            if PERMISSIONS[grant]:
                group.permissions.add(_permission(PERMISSIONS[grant]))
        if "edit_pages" in grants:
            for codename in ("add_page", "change_page", "publish_page"):
                GroupPagePermission.objects.create(
                    group=group,
                    page=site.root_page,
                    permission=Permission.objects.get(content_type__app_label="wagtailcore", codename=codename),
                )
        user.groups.add(group)
        return user

    return factory


@pytest.fixture
def editor(make_staff):
    """An editor who edits session pages and may see nothing of registrations or money."""
    return make_staff("edit_pages", username="editor")


@pytest.fixture
def manager(make_staff):
    """A training manager: everything."""
    everything = ("edit_pages", "registrations", "personal_data", "payments", "change", "refund")
    return make_staff(*everything, username="manager")


@pytest.fixture
def register(training_settings):
    """Register a learner through the services; ``pay=True`` confirms the payment with the provider."""
    from wagtail_training_pay.services import registrations as services

    counter = {"n": 0}

    def factory(page, *, first_name="Ada", last_name=None, email=None, pay=True, variant="dummy", answers=None):
        counter["n"] += 1
        n = counter["n"]
        result = services.register(
            page,
            first_name=first_name,
            last_name=last_name or f"Learner{n}",
            email=email or f"learner{n}@example.com",
            billing={"address": "1 rue de la Paix", "postcode": "75002", "city": "Paris", "country": "FR"},
            answers=answers or {},
        )
        payment = result.payment
        if payment is not None and variant != payment.variant:
            type(payment).objects.filter(pk=payment.pk).update(variant=variant)
            payment.refresh_from_db()
        if pay and payment is not None:
            payment.change_status(PaymentStatus.CONFIRMED)
        result.registration.refresh_from_db()
        return result.registration

    return factory


def money(value):
    return Decimal(value)


class RefusingProvider(DummyProvider):
    """A provider whose gateway refuses every refund."""

    def refund(self, payment, amount=None):
        from payments import PaymentError

        raise PaymentError("Refund declined by the gateway", code="declined")


@pytest.fixture
def refusing_provider(settings):
    refusing = ("tests.admin_fixtures.RefusingProvider", {})
    settings.PAYMENT_VARIANTS = {**settings.PAYMENT_VARIANTS, "refusing": refusing}
    return RefusingProvider
