from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from wagtail_training_pay.models import Registration, RegistrationStatus, TrainingSessionPage

pytestmark = pytest.mark.django_db


def build_session(**kwargs):
    values = {
        "title": "Python for archivists",
        "slug": "python",
        "start_at": timezone.now() + timedelta(days=3),
        "duration_minutes": 60,
        "fee": Decimal("10.00"),
        "currency": "EUR",
    }
    values.update(kwargs)
    return TrainingSessionPage(**values)


def error_fields(page):
    with pytest.raises(ValidationError) as excinfo:
        page.full_clean()
    return set(excinfo.value.message_dict)


def test_a_valid_session_passes_validation(index_page):
    page = build_session()
    index_page.add_child(instance=page)
    page.full_clean()


def test_duration_of_zero_is_refused():
    assert "duration_minutes" in error_fields(build_session(duration_minutes=0))


def test_negative_fee_is_refused():
    assert "fee" in error_fields(build_session(fee=Decimal("-1")))


def test_capacity_of_zero_is_refused_but_blank_means_unlimited():
    assert "capacity" in error_fields(build_session(capacity=0))
    assert "capacity" not in error_fields(build_session(capacity=None, currency="XXZ"))


@pytest.mark.parametrize("code", ["XXZ", "eur1", "EURO", "E"])
def test_currency_must_be_an_iso_4217_code(code):
    assert "currency" in error_fields(build_session(currency=code))


def test_lower_case_currency_is_normalised(index_page):
    page = build_session(currency="gbp")
    index_page.add_child(instance=page)
    page.full_clean()
    assert page.currency == "GBP"


def test_blank_currency_takes_the_site_default(index_page, training_settings):
    training_settings.default_currency = "CHF"
    training_settings.save()
    page = build_session(currency="")
    index_page.add_child(instance=page)
    page.full_clean()
    assert page.currency == "CHF"


def test_registration_must_close_before_the_session_starts():
    start = timezone.now() + timedelta(days=3)
    fields = error_fields(build_session(start_at=start, registration_closes_at=start + timedelta(hours=1)))
    assert "registration_closes_at" in fields


def test_registration_must_open_before_it_closes():
    start = timezone.now() + timedelta(days=3)
    page = build_session(
        start_at=start,
        registration_opens_at=start - timedelta(days=1),
        registration_closes_at=start - timedelta(days=2),
    )
    assert "registration_closes_at" in error_fields(page)


def test_end_at_is_start_plus_duration():
    start = timezone.now()
    assert build_session(start_at=start, duration_minutes=45).end_at == start + timedelta(minutes=45)


def test_a_second_active_registration_with_the_same_email_is_refused_by_the_database(paid_session):
    Registration.objects.create(
        page=paid_session, first_name="A", last_name="B", email="Ada@Example.com", currency="EUR"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.create(
            page=paid_session, first_name="A", last_name="B", email="ada@example.com", currency="EUR"
        )


def test_a_cancelled_registration_does_not_block_a_new_one(paid_session):
    Registration.objects.create(
        page=paid_session,
        first_name="A",
        last_name="B",
        email="ada@example.com",
        currency="EUR",
        status=RegistrationStatus.CANCELLED,
    )
    Registration.objects.create(
        page=paid_session, first_name="A", last_name="B", email="ada@example.com", currency="EUR"
    )
    assert paid_session.registrations.count() == 2


def test_holding_seats_counts_confirmed_and_unexpired_pending_only(paid_session):
    now = timezone.now()
    common = {"page": paid_session, "first_name": "A", "last_name": "B", "currency": "EUR"}
    Registration.objects.create(email="1@example.com", status=RegistrationStatus.CONFIRMED, **common)
    Registration.objects.create(email="2@example.com", hold_expires_at=now + timedelta(minutes=5), **common)
    Registration.objects.create(email="3@example.com", hold_expires_at=now - timedelta(minutes=5), **common)
    Registration.objects.create(email="4@example.com", status=RegistrationStatus.CANCELLED, **common)
    assert Registration.objects.filter(page=paid_session).holding_seats(now).count() == 2


def test_payment_token_is_indexed():
    from wagtail_training_pay.models import Payment

    assert Payment._meta.get_field("token").db_index


def test_settings_offer_the_first_variant_when_none_is_chosen(training_settings):
    assert training_settings.learner_variants() == [("dummy", "dummy")]


def test_settings_keep_the_administrators_order_and_labels(training_settings, settings):
    from wagtail_training_pay.models import LearnerPaymentMethod

    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "card": ("payments.dummy.DummyProvider", {}),
    }
    LearnerPaymentMethod.objects.create(settings=training_settings, variant="card", label="Card", sort_order=0)
    LearnerPaymentMethod.objects.create(settings=training_settings, variant="dummy", label="Test", sort_order=1)
    LearnerPaymentMethod.objects.create(settings=training_settings, variant="gone", label="Removed", sort_order=2)
    assert training_settings.learner_variants() == [("card", "Card"), ("dummy", "Test")]
