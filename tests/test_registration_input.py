"""Bad input, tampered fields and closed registration: a clear message, the learner's data kept, nothing charged."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.registration_helpers import (
    commit_after_each_request,
    learner,
    messages_of,
    offer_methods,
    register,
    registration_for,
)
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus, SessionFormField

pytestmark = pytest.mark.django_db


def form_errors(response):
    return response.context["form"].errors


@pytest.mark.parametrize(
    ("field", "value", "group"),
    [
        ("first_name", "", "attendee"),
        ("last_name", "x" * 101, "attendee"),
        ("email", "not-an-email", "attendee"),
        ("billing_address", "", "billing"),
        ("billing_postcode", "1" * 21, "billing"),
        ("billing_city", "", "billing"),
        ("billing_country", "XX", "billing"),
        ("payment_method", "nope", "payment"),
    ],
)
def test_invalid_input_re_renders_the_form_with_the_learners_data(client, paid_session, field, value, group):
    response = register(client, paid_session, **{field: value})
    html = response.content.decode()
    assert response.status_code == 200
    assert field in form_errors(response)
    # One summary at the top (no second banner), one message beside the field, the control marked invalid.
    assert messages_of(response) == []
    assert html.count('id="error-summary"') == 1
    assert html.count(f'id="id_{field}_error"') == 1
    assert 'aria-invalid="true"' in html.split(f'name="{field}"', 1)[1].split(">", 1)[0] or field == "payment_method"
    # What the learner typed elsewhere is still there.
    kept = "Lovelace" if field != "last_name" else "Ada"
    assert f'value="{kept}"' in html
    assert not Registration.objects.exists()


def test_a_required_question_of_the_editor_is_checked_and_its_answer_kept(client, paid_session):
    SessionFormField.objects.create(
        page=paid_session, label="Your organisation", field_type="singleline", required=True
    )
    SessionFormField.objects.create(page=paid_session, label="Diet", field_type="singleline", required=False)

    response = register(client, paid_session, diet="vegetarian")
    assert "your_organisation" in form_errors(response)
    assert 'value="vegetarian"' in response.content.decode()
    assert not Registration.objects.exists()

    response = register(client, paid_session, diet="vegetarian", your_organisation="National Archives")
    assert response.status_code == 302
    assert registration_for().form_data == {"your_organisation": "National Archives", "diet": "vegetarian"}


def test_a_question_named_like_an_attendee_field_does_not_replace_it(client, paid_session):
    SessionFormField.objects.create(page=paid_session, label="Email", field_type="singleline", required=True)
    response = register(client, paid_session, question_email="work address please")
    assert response.status_code == 302
    registration = registration_for()
    assert registration.form_data == {"question_email": "work address please"}


def test_tampered_amount_and_currency_change_nothing_charged(client, paid_session):
    register(client, paid_session, amount="1.00", total="1.00", fee="0", currency="USD")
    payment = Payment.objects.get()
    registration = registration_for()
    assert (payment.total, payment.currency) == (Decimal("45.00"), "EUR")
    assert (registration.amount, registration.currency) == (Decimal("45.00"), "EUR")


def test_a_variant_that_is_not_offered_to_learners_is_refused(client, paid_session, training_settings, settings):
    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "hosts-only": ("payments.dummy.DummyProvider", {}),
    }
    offer_methods(training_settings, dummy="Card")
    response = register(client, paid_session, payment_method="hosts-only")
    assert response.status_code == 200
    assert not Registration.objects.exists()
    assert not Payment.objects.exists()


def test_a_tampered_variant_on_the_payment_step_changes_nothing(client, paid_session, training_settings, settings):
    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "dummy-cards": ("payments.dummy.DummyProvider", {}),
        "hosts-only": ("payments.dummy.DummyProvider", {}),
    }
    offer_methods(training_settings, dummy="PayPal", **{"dummy-cards": "Card"})
    register(client, paid_session, payment_method="dummy")
    registration = registration_for()

    response = client.post(
        f"/training/registration/{registration.token}/pay/",
        {"choose_payment_method": "1", "payment_method": "hosts-only", "total": "0.01"},
    )
    assert response.status_code == 200
    assert "Please choose one of the payment methods offered." in messages_of(response)
    payment = registration.payments.get()
    assert (payment.variant, payment.total, payment.currency) == ("dummy", Decimal("45.00"), "EUR")


def test_the_dummy_form_cannot_change_the_amount(client, paid_session):
    register(client, paid_session)
    registration = registration_for()
    client.post(
        f"/training/registration/{registration.token}/pay/",
        {"status": "confirmed", "fraud_status": "accept", "gateway_response": "3ds-disabled", "total": "0.01"},
    )
    payment = registration.payments.get()
    assert payment.total == Decimal("45.00")


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"registration_opens_at": timezone.now() + timedelta(days=1)}, "Registration opens on"),
        ({"registration_closes_at": timezone.now() - timedelta(hours=1)}, "Registration for this session is closed."),
        ({"start_at": timezone.now() - timedelta(minutes=5)}, "this session has already started"),
    ],
)
def test_registration_only_happens_inside_its_window(client, make_session, window, message):
    values = {"registration_opens_at": timezone.now() - timedelta(days=2)} | window
    page = make_session(**values)
    html = client.get(page.url).content.decode()
    assert message in html
    assert 'name="first_name"' not in html
    response = register(client, page)
    assert response.status_code == 200
    assert not Registration.objects.exists()


def test_a_session_started_by_its_host_takes_no_more_registrations(client, paid_session):
    paid_session.started_at = timezone.now()
    paid_session.save()
    register(client, paid_session)
    assert not Registration.objects.exists()


def test_the_same_email_twice_is_refused_with_a_link_for_the_same_browser(client, paid_session):
    register(client, paid_session)
    first = registration_for()
    response = register(client, paid_session, email="ADA@example.com")
    assert response.status_code == 200
    # Said once, in the error summary, with the link to the registration (not again in a banner).
    [refusal] = form_errors(response)["__all__"]
    assert refusal.startswith("You are already registered for this session.")
    html = response.content.decode()
    assert html.count("You are already registered for this session.") == 1
    assert html.count(f'<a href="/training/registration/{first.token}/">See your registration.</a>') == 1
    assert messages_of(response) == []
    assert Registration.objects.count() == 1


def test_the_same_email_from_another_browser_gets_the_link_by_email_only(
    client, paid_session, django_capture_on_commit_callbacks
):
    from django.core import mail
    from django.test import Client

    register(client, paid_session)
    first = registration_for()
    other = commit_after_each_request(Client(), django_capture_on_commit_callbacks)
    response = register(other, paid_session)
    assert str(first.token) not in response.content.decode()
    assert str(first.token) not in " ".join(messages_of(response))
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert str(first.token) in mail.outbox[0].body


@pytest.mark.parametrize("earlier_status", [RegistrationStatus.CANCELLED, RegistrationStatus.EXPIRED])
def test_the_same_email_may_register_again_after_a_cancelled_or_expired_registration(
    client, paid_session, earlier_status
):
    register(client, paid_session)
    Registration.objects.update(status=earlier_status)
    response = register(client, paid_session)
    assert response.status_code == 302
    assert Registration.objects.filter(status=RegistrationStatus.PENDING).count() == 1


def test_a_pending_registration_whose_hold_expired_does_not_block_the_same_email(client, paid_session):
    register(client, paid_session)
    Registration.objects.update(hold_expires_at=timezone.now() - timedelta(seconds=1))
    response = register(client, paid_session)
    assert response.status_code == 302
    assert sorted(Registration.objects.values_list("status", flat=True)) == ["expired", "pending"]


def test_the_database_constraint_backs_the_duplicate_check(paid_session):
    from wagtail_training_pay.services import registrations as service

    details = learner()
    service.register(
        paid_session,
        first_name=details["first_name"],
        last_name=details["last_name"],
        email="ada@example.com",
        billing={"address": "x", "postcode": "1", "city": "y", "country": "FR"},
    )
    # Simulate the race the row lock prevents: the duplicate check does not see the first one.
    original = service.active_registration_for
    calls = {"n": 0}

    def blind_first_time(page, email):
        calls["n"] += 1
        return None if calls["n"] == 1 else original(page, email)

    service.active_registration_for = blind_first_time
    try:
        with pytest.raises(service.AlreadyRegistered) as refused:
            service.register(paid_session, first_name="A", last_name="B", email="Ada@Example.com")
    finally:
        service.active_registration_for = original
    assert refused.value.existing is not None
    assert Registration.objects.count() == 1


def test_too_many_registrations_from_one_address_are_refused_with_the_data_kept(client, paid_session, settings):
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "2/h"
    register(client, paid_session, email="one@example.com")
    register(client, paid_session, email="two@example.com")
    response = register(client, paid_session, email="three@example.com")
    assert response.status_code == 429
    assert any("Too many registration attempts" in message for message in messages_of(response))
    assert 'value="three@example.com"' in response.content.decode()
    assert not Registration.objects.filter(email="three@example.com").exists()
    assert client.get(paid_session.url).status_code == 200  # reading the page is never limited


def test_a_required_drop_down_question_starts_on_choose_and_refuses_it_empty(client, paid_session):
    SessionFormField.objects.create(
        page=paid_session, label="Level", field_type="dropdown", choices="Beginner,Advanced", required=True
    )
    html = client.get(paid_session.url).content.decode()
    select = html.split('<select name="level"', 1)[1].split("</select>", 1)[0]
    # Nothing preselected: the first option is the empty "Choose…", and the browser knows an answer is required.
    assert select.split("<option", 2)[1].startswith(' value="" selected>Choose…</option>')
    assert select.count(" selected") == 1
    assert " required" in select.split(">", 1)[0]

    response = register(client, paid_session, level="")
    assert form_errors(response)["level"] == ["This field is required."]
    assert not Registration.objects.exists()

    assert register(client, paid_session, level="Advanced").status_code == 302
    assert registration_for().form_data == {"level": "Advanced"}


def test_an_optional_drop_down_question_left_on_choose_records_no_answer(client, paid_session):
    SessionFormField.objects.create(
        page=paid_session, label="Level", field_type="dropdown", choices="Beginner,Advanced", required=False
    )
    SessionFormField.objects.create(
        page=paid_session, label="Track", field_type="dropdown", choices="A,B", default_value="B", required=True
    )
    html = client.get(paid_session.url).content.decode()
    assert '<option value="B" selected>B</option>' in html  # the editor's own default stays chosen
    assert register(client, paid_session, level="", track="B").status_code == 302
    assert registration_for().form_data == {"level": "", "track": "B"}
