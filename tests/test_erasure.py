"""Erasure leaves no personal data in any table, and never blinds the site to money still moving (issue 17)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from payments import PaymentStatus

from tests.erasure_support import ANSWER, ERASED_VALUES, PERSON, rows_containing
from tests.registration_helpers import offer_methods, pay_step, pay_with_dummy
from tests.simulators.payer import pay_on_hosted_page, site_path
from wagtail_training_pay.models import Payment, Registration, RegistrationStatus, SessionFormField, TrainingSessionPage

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner_account(django_user_model):
    # The site's own account of the learner is not ours to erase; only our link to it goes.
    return django_user_model.objects.create_user("account-42", "account-42@example.net", "password")


def register_through_the_form(client, page):
    response = client.post(page.url, {**PERSON, "organisation": ANSWER})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Registration.objects.filter(page=page).latest("pk")


def admin_post(client, name, registration, data=None):
    response = client.post(reverse(f"training_registrations:{name}", args=[registration.pk]), data or {})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_retention_leaves_no_personal_data_in_any_table(
    learner_client, admin_client, make_session, learner_account, training_settings
):
    first = make_session(title="Erasure one", slug="erasure-one")
    second = make_session(title="Erasure two", slug="erasure-two")
    SessionFormField.objects.create(page=first, label="Organisation", field_type="singleline", sort_order=0)
    learner_client.force_login(learner_account)

    paid = register_through_the_form(learner_client, first)
    assert paid.user == learner_account
    pay_with_dummy(learner_client, paid)
    paid.refresh_from_db()
    assert paid.status == RegistrationStatus.CONFIRMED and paid.form_data == {"organisation": ANSWER}
    admin_post(admin_client, "resend", paid)
    admin_post(admin_client, "refund", paid, {"amount": "10.00"})

    by_hand = register_through_the_form(learner_client, second)
    admin_post(
        admin_client,
        "confirm",
        by_hand,
        {"reason": f"Paid cash at the desk: {PERSON['first_name']} {PERSON['last_name']} <{PERSON['email']}>"},
    )
    assert learner_client.get(f"/training/registration/{paid.token}/my-data.json").status_code == 200
    assert rows_containing(ERASED_VALUES), "the scenario must have left personal data to erase"

    TrainingSessionPage.objects.filter(pk__in=[first.pk, second.pk]).update(
        start_at=timezone.now() - timedelta(days=training_settings.anonymize_after_days + 1)
    )
    call_command("anonymize_registrations", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("anonymize_registrations", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert rows_containing(ERASED_VALUES) == []
    paid.refresh_from_db()
    by_hand.refresh_from_db()
    assert paid.user_id is None and by_hand.user_id is None
    # What the accounts need stays.
    assert (paid.status, paid.amount, paid.refunded_amount, paid.currency) == (
        RegistrationStatus.CONFIRMED,
        Decimal("45.00"),
        Decimal("10.00"),
        "EUR",
    )
    payment = paid.payments.get()
    assert (payment.total, payment.captured_amount, payment.refunded_amount) == (
        Decimal("45.00"),
        Decimal("35.00"),
        Decimal("10.00"),
    )
    assert by_hand.status == RegistrationStatus.CONFIRMED and by_hand.confirmed_at is not None
    # The admin still shows the registrations and their history, without the person.
    inspect = admin_client.get(reverse("training_registrations:inspect", args=[by_hand.pk]))
    assert inspect.status_code == 200 and PERSON["last_name"] not in inspect.content.decode()


def test_a_learners_own_erasure_leaves_no_personal_data_in_any_table(learner_client, make_session, learner_account):
    page = make_session(title="Erasure three", slug="erasure-three")
    SessionFormField.objects.create(page=page, label="Organisation", field_type="singleline", sort_order=0)
    learner_client.force_login(learner_account)
    registration = register_through_the_form(learner_client, page)
    pay_with_dummy(learner_client, registration)
    manage = f"/training/registration/{registration.token}/"
    assert learner_client.post(manage, {"confirm": "on"}).status_code == 302  # cancel, refunded per the policy
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CANCELLED

    assert learner_client.post(manage + "erase/", {"erase-confirm": "on"}).status_code == 302
    assert learner_client.post(manage + "erase/", {"erase-confirm": "on"}).status_code == 302  # twice: no harm

    assert rows_containing(ERASED_VALUES) == []
    registration.refresh_from_db()
    assert registration.anonymized_at is not None and registration.user_id is None
    assert registration.amount == Decimal("45.00")


# -- erasure waits for money still moving ---------------------------------------------------------------


@pytest.mark.usefixtures("gateway_variants")
def test_a_hosted_payment_completed_after_the_learner_cancelled_and_erased_is_refunded(
    learner_client, paid_session, training_settings, payflow_simulator
):
    """The Payflow hosted page stays payable for 30 minutes: a payment made there after the learner cancelled
    and erased their data must still be recognised, and its money given back."""
    offer_methods(training_settings, payflow="Card")
    registration = register_through_the_form(learner_client, paid_session)
    hosted_page = learner_client.get(pay_step(registration))["Location"]  # opened in another tab
    manage = f"/training/registration/{registration.token}/"
    learner_client.post(manage, {"confirm": "on"})
    learner_client.post(manage + "erase/", {"erase-confirm": "on"})
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CANCELLED and registration.anonymized_at is not None

    answer = pay_on_hosted_page(hosted_page)  # the learner pays in the forgotten tab
    silent_url, fields = payflow_simulator.silent_posts[0]
    assert learner_client.post(site_path(silent_url), fields).status_code == 200
    back = learner_client.get(site_path(answer.headers["Location"]))
    assert back.status_code == 302

    payment = Payment.objects.get(registration=registration)
    charged = sum(Decimal(entry["amount"]) for entry in payflow_simulator.charges())
    credited = sum(Decimal(entry["amount"]) for entry in payflow_simulator.entries("C") if entry["result"] in (0,))
    assert charged == Decimal("45.00")
    assert credited == Decimal("45.00"), "the money taken after the cancellation goes back"
    assert payment.refunded_amount == Decimal("45.00")
    assert payment.status == PaymentStatus.REFUNDED
    assert rows_containing(ERASED_VALUES) == []


@pytest.mark.usefixtures("gateway_variants")
@pytest.mark.money_disagreement("registrations and payments planted in the database, without money records")
def test_erasure_keeps_only_the_gateway_references_while_a_hosted_page_can_be_paid_then_drops_them(paid_session):
    import json

    from tests.test_data_protection import registration_for
    from wagtail_training_pay.services.data_protection import anonymize_registration, finish_erasures

    registration = registration_for(paid_session, status=RegistrationStatus.CANCELLED)
    secure_token = {"id": "a" * 32, "token": "SIMTOKEN", "created": timezone.now().isoformat()}
    payment = Payment.objects.create(
        registration=registration,
        variant="payflow",
        status=PaymentStatus.CANCELLED,
        total=Decimal("45.00"),
        currency="EUR",
        billing_email=PERSON["email"],
        extra_data=json.dumps({"payflow_secure_token": secure_token, "card_last4": "1111"}),
    )
    anonymize_registration(registration)
    payment.refresh_from_db()
    assert json.loads(payment.extra_data) == {"payflow_secure_token": secure_token}
    assert payment.billing_email == ""

    assert finish_erasures() == 0, "the hosted page can still be paid for 30 minutes"
    assert finish_erasures(now=timezone.now() + timedelta(minutes=31)) == 1
    payment.refresh_from_db()
    assert payment.extra_data == ""
    assert (payment.total, payment.status) == (Decimal("45.00"), PaymentStatus.CANCELLED)
    assert finish_erasures(now=timezone.now() + timedelta(minutes=31)) == 0


def test_no_email_goes_to_an_erased_registration(paid_session, mailoutbox):
    from tests.test_data_protection import registration_for
    from wagtail_training_pay.models import OwedEmail, OwedEmailState
    from wagtail_training_pay.services.data_protection import anonymize_registration
    from wagtail_training_pay.services.outbox import owe_email, send_owed_emails

    registration = registration_for(paid_session, status=RegistrationStatus.CONFIRMED)
    owe_email("confirmation", registration, registration.email)  # owed, not sent yet (issue 14's outbox)
    owe_email("cancelled", registration, registration.email)
    anonymize_registration(registration)
    assert send_owed_emails() == 0
    assert mailoutbox == []
    assert set(OwedEmail.objects.values_list("state", "recipient")) == {(OwedEmailState.DROPPED, "")}


def test_a_late_payment_for_an_erased_expired_registration_is_refunded_not_confirmed(
    make_session, django_capture_on_commit_callbacks
):
    from wagtail_training_pay.services.data_protection import anonymize_registration

    page = make_session(start_at=timezone.now() + timedelta(days=3))
    registration = Registration.objects.create(
        page=page,
        status=RegistrationStatus.EXPIRED,
        first_name="A",
        last_name="B",
        email="late@example.com",
        amount=Decimal("45.00"),
        currency="EUR",
    )
    payment = Payment.objects.create(
        registration=registration, variant="dummy", status=PaymentStatus.WAITING, total=Decimal("45.00"), currency="EUR"
    )
    anonymize_registration(registration)
    with django_capture_on_commit_callbacks(execute=True):
        Payment.objects.get(pk=payment.pk).change_status(PaymentStatus.CONFIRMED)
    registration.refresh_from_db()
    payment.refresh_from_db()
    assert registration.status != RegistrationStatus.CONFIRMED
    assert payment.refunded_amount == Decimal("45.00")
