"""A learner registers and pays on the session page, with the dummy provider, through the test client."""

from decimal import Decimal

import pytest
from django.core import mail
from payments import PaymentStatus

from tests.registration_helpers import (
    commit_after_each_request,
    messages_of,
    offer_methods,
    pay_with_dummy,
    refusals_of,
    register,
    registration_for,
)
from wagtail_training_pay.models import Payment, RegistrationStatus
from wagtail_training_pay.services.registrations import seats_left

pytestmark = pytest.mark.django_db


@pytest.fixture
def commit_callbacks(client, django_capture_on_commit_callbacks):
    return commit_after_each_request(client, django_capture_on_commit_callbacks)


def test_the_session_page_shows_fee_seats_and_the_form(client, paid_session):
    response = client.get(paid_session.url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "€45.00" in html
    assert 'class="wtp-seats-left">20<' in html
    for name in ("first_name", "last_name", "email", "billing_address", "billing_postcode", "billing_country"):
        assert f'name="{name}"' in html
    # One payment method only: no choice to make.
    assert 'type="hidden" name="payment_method" value="dummy"' in html


def test_the_fee_is_formatted_for_french(client, paid_session):
    response = client.get(paid_session.url, HTTP_ACCEPT_LANGUAGE="fr")
    assert "45,00\xa0€" in response.content.decode()


def test_register_pay_and_be_confirmed_with_one_email_and_a_calendar_file(client, paid_session, commit_callbacks):
    response = register(client, paid_session)
    registration = registration_for()
    assert response.status_code == 302
    assert response["Location"] == f"/training/registration/{registration.token}/pay/"
    assert registration.status == RegistrationStatus.PENDING
    assert registration.hold_expires_at is not None
    assert seats_left(paid_session) == 19

    payment = registration.payments.get()
    assert (payment.total, payment.currency, payment.variant) == (Decimal("45.00"), "EUR", "dummy")
    assert (payment.billing_first_name, payment.billing_city, payment.billing_country_code) == ("Ada", "Paris", "FR")
    assert payment.billing_postcode == "75004"

    step = client.get(f"/training/registration/{registration.token}/pay/")
    assert step.status_code == 200
    assert 'name="status"' in step.content.decode()

    paid = pay_with_dummy(client, registration)
    assert paid.status_code == 302
    done = client.get(paid["Location"], follow=True)
    assert done.redirect_chain[-1][0] == f"/training/registration/{registration.token}/done/"
    assert "You are registered" in done.content.decode()

    registration.refresh_from_db()
    payment.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id == payment.pk
    assert payment.captured_amount == Decimal("45.00")
    assert seats_left(paid_session) == 19
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["ada@example.com"]
    assert str(registration.token) in email.body
    assert "€45.00" in email.body
    ((name, content, mimetype),) = email.attachments
    assert (name, mimetype) == ("session.ics", "text/calendar")
    assert "BEGIN:VEVENT" in content and paid_session.title in content
    assert email.alternatives[0][1] == "text/html"

    # The learner reloads the return page: nothing more happens.
    client.get(f"/training/payment/{payment.token}/return/")
    assert len(mail.outbox) == 1


def test_a_rejected_payment_keeps_the_seat_and_the_learner_tries_again(client, paid_session, commit_callbacks):
    register(client, paid_session)
    registration = registration_for()
    first = registration.payments.get()

    response = pay_with_dummy(client, registration, status=PaymentStatus.REJECTED)
    back = client.get(response["Location"], follow=True)
    assert back.redirect_chain[-1][0] == f"/training/registration/{registration.token}/pay/"
    assert any("did not go through" in message for message in messages_of(back))
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING
    assert seats_left(paid_session) == 19

    # The retry is a new payment attempt for the same registration.
    pay_with_dummy(client, registration)
    registration.refresh_from_db()
    first.refresh_from_db()
    assert first.status == PaymentStatus.REJECTED
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by_id != first.pk
    assert registration.payments.count() == 2
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("gateway_response", ["failure", "payment-error"])
def test_a_provider_failure_leaves_the_registration_pending_with_a_message(
    client, paid_session, commit_callbacks, gateway_response
):
    register(client, paid_session)
    registration = registration_for()

    response = pay_with_dummy(client, registration, status=PaymentStatus.INPUT, gateway_response=gateway_response)
    assert response.status_code == 302
    again = client.get(response["Location"])
    assert again.status_code == 200
    assert any("could not process your payment" in message for message in messages_of(again))
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING

    pay_with_dummy(client, registration)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.payments.filter(status=PaymentStatus.CONFIRMED).count() == 1
    assert len(mail.outbox) == 1


def test_after_a_failure_the_learner_can_switch_to_another_payment_method(
    client, paid_session, training_settings, commit_callbacks, settings
):
    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "dummy-cards": ("payments.dummy.DummyProvider", {}),
    }
    offer_methods(training_settings, dummy="PayPal", **{"dummy-cards": "Card"})

    page = client.get(paid_session.url).content.decode()
    assert 'value="dummy-cards"' in page and "Card" in page

    register(client, paid_session, payment_method="dummy")
    registration = registration_for()
    pay_with_dummy(client, registration, status=PaymentStatus.ERROR, gateway_response="failure")

    step = client.post(
        f"/training/registration/{registration.token}/pay/",
        {"choose_payment_method": "1", "payment_method": "dummy-cards"},
    )
    assert step.status_code == 200
    assert registration.payments.order_by("-pk").first().variant == "dummy-cards"
    pay_with_dummy(client, registration)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.paid_by.variant == "dummy-cards"


def test_a_free_session_confirms_at_once_without_billing_details(client, free_session, commit_callbacks):
    html = client.get(free_session.url).content.decode()
    assert "billing_address" not in html and "Free" in html

    response = client.post(free_session.url, {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"})
    registration = registration_for("alan@example.com")
    assert response["Location"] == f"/training/registration/{registration.token}/done/"
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.amount == 0
    assert not Payment.objects.exists()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][0] == "session.ics"


def test_a_full_session_says_so_and_registers_nobody(client, make_session, commit_callbacks):
    page = make_session(capacity=1)
    register(client, page, email="first@example.com")

    response = register(client, page, email="second@example.com")
    assert response.status_code == 200
    # The only seat is held by a learner who is paying: say when it may be free again, not a flat "full".
    [message] = refusals_of(response)
    assert messages_of(response) == []  # said once, in the error summary, not again in a banner
    assert message.startswith("Every seat is taken, but one is held by someone who is paying.")
    assert "free again in 15 minutes: please try again then." in message
    # The page says it too, once, instead of a flat "full", on the POST's answer and on a later visit.
    assert response.content.decode().count("free again in 15 minutes") == 1
    assert "Sorry, this session is full." not in client.get(page.url).content.decode()
    assert "free again in 15 minutes" in client.get(page.url).content.decode()
    assert not page.registrations.filter(email="second@example.com").exists()
    assert Payment.objects.count() == 1


def test_a_session_full_of_confirmed_learners_says_it_is_full(client, make_session, commit_callbacks):
    page = make_session(capacity=1, fee=0)
    register(client, page, email="first@example.com")
    response = register(client, page, email="second@example.com")
    assert refusals_of(response) == ["Sorry, this session is full."]
    assert response.content.decode().count("Sorry, this session is full.") == 1


def test_a_full_session_with_a_waiting_list_puts_the_learner_on_it(
    client, make_session, training_settings, commit_callbacks
):
    training_settings.waitlist_enabled = True
    training_settings.save()
    page = make_session(capacity=1)
    register(client, page, email="first@example.com")

    response = register(client, page, email="second@example.com")
    waiting = registration_for("second@example.com")
    assert waiting.status == RegistrationStatus.WAITLISTED
    assert not waiting.payments.exists()
    assert "waiting list" in client.get(response["Location"]).content.decode()


def test_the_landing_page_preview_shows_the_text_after_registration(rf, paid_session):
    paid_session.thank_you_text = "<p>See you soon</p>"
    request = rf.get("/")
    response = paid_session.serve_preview(request, "landing")
    assert "See you soon" in response.render().content.decode()


def test_every_step_is_in_the_audit_log(client, paid_session, commit_callbacks):
    from wagtail.models import ModelLogEntry

    register(client, paid_session)
    pay_with_dummy(client, registration_for())
    actions = list(ModelLogEntry.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["wagtail_training_pay.confirm"]


def test_with_fee_based_training_switched_off_a_session_with_a_fee_is_free(
    client, paid_session, training_settings, commit_callbacks
):
    training_settings.fee_based_enabled = False
    training_settings.save()
    html = client.get(paid_session.url).content.decode()
    assert "€45.00" not in html and "billing_address" not in html

    client.post(paid_session.url, {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com"})
    registration = registration_for("alan@example.com")
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.amount == 0
    assert not Payment.objects.exists()


def test_a_gateway_timeout_leaves_the_registration_pending(client, paid_session, commit_callbacks, monkeypatch):
    from payments.dummy import DummyProvider

    original = DummyProvider.get_form

    def slow_gateway(self, payment, data=None):
        if data:
            raise TimeoutError("gateway did not answer in 30 s")
        return original(self, payment, data)

    monkeypatch.setattr(DummyProvider, "get_form", slow_gateway)
    register(client, paid_session)
    registration = registration_for()
    response = pay_with_dummy(client, registration)
    assert any("could not process your payment" in m for m in messages_of(client.get(response["Location"])))
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.PENDING

    monkeypatch.setattr(DummyProvider, "get_form", original)
    pay_with_dummy(client, registration)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert registration.payments.count() == 1  # the same attempt, retried
