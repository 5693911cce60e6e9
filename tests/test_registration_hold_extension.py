"""More time to pay (WCAG 2.2.1): the payment step's countdown and the bounded, server-side hold extension."""

import time
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.registration_helpers import learner, messages_of, register, registration_for
from tests.test_registration_concurrency import outcome, run_together
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services import registrations as service


def extend_url(registration):
    return f"/training/registration/{registration.token}/more-time/"


def close_to(moment, expected, slack=timedelta(seconds=30)):
    return abs(moment - expected) < slack


@pytest.mark.django_db
def test_the_payment_step_counts_down_and_offers_more_time(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    html = learner_client.get(f"/training/registration/{registration.token}/pay/").content.decode()
    section = html.split('<section class="wtp-hold"', 1)[1].split("</section>", 1)[0]
    seconds = int(section.split('data-hold-seconds="', 1)[1].split('"', 1)[0])
    assert 14 * 60 < seconds <= 15 * 60
    assert 'data-hold-warning-seconds="120"' in section
    assert 'role="status" data-hold-announcer' in section  # a polite live region, filled by the script
    assert f'action="{extend_url(registration)}"' in section
    assert "csrfmiddlewaretoken" in section
    assert "I need more time (15 more minutes)" in section


@pytest.mark.django_db
def test_asking_for_more_time_holds_the_seat_the_sites_minutes_from_now(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    registration.hold_expires_at = timezone.now() + timedelta(minutes=1)
    registration.save()

    response = learner_client.post(extend_url(registration))
    assert response.status_code == 302
    assert response["Location"] == f"/training/registration/{registration.token}/pay/"
    registration.refresh_from_db()
    assert close_to(registration.hold_expires_at, timezone.now() + timedelta(minutes=15))
    assert registration.hold_extensions == 1
    page = learner_client.get(response["Location"])
    assert any(message.startswith("Your seat is now held until") for message in messages_of(page))

    # A double submit does not stack: the hold runs from now, not from the end of the last one.
    learner_client.post(extend_url(registration))
    registration.refresh_from_db()
    assert close_to(registration.hold_expires_at, timezone.now() + timedelta(minutes=15))
    assert registration.hold_extensions == 2


@pytest.mark.django_db
def test_nobody_extends_a_hold_forever(learner_client, paid_session, settings):
    settings.WAGTAIL_TRAINING_PAY_HOLD_MAX_EXTENSIONS = 3
    register(learner_client, paid_session)
    registration = registration_for()
    for _ in range(3):
        learner_client.post(extend_url(registration))
    registration.refresh_from_db()
    held_until = registration.hold_expires_at
    assert registration.hold_extensions == 3
    html = learner_client.get(f"/training/registration/{registration.token}/pay/").content.decode()
    assert extend_url(registration) not in html  # no button left

    response = learner_client.post(extend_url(registration), follow=True)
    assert "Your seat hold cannot be extended again. Please complete your payment now." in messages_of(response)
    registration.refresh_from_db()
    assert (registration.hold_expires_at, registration.hold_extensions) == (held_until, 3)


@pytest.mark.django_db
def test_an_expired_hold_is_not_revived(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    ended = timezone.now() - timedelta(seconds=1)
    Registration.objects.filter(pk=registration.pk).update(hold_expires_at=ended)

    response = learner_client.post(extend_url(registration), follow=True)
    assert "Your seat hold has already ended, so it cannot be extended. Please register again." in messages_of(response)
    registration.refresh_from_db()
    assert (registration.hold_expires_at, registration.hold_extensions) == (ended, 0)
    assert registration.status == RegistrationStatus.PENDING


@pytest.mark.django_db
def test_a_hold_never_runs_past_the_close_of_registration(learner_client, make_session):
    now = timezone.now()
    page = make_session(registration_closes_at=now + timedelta(minutes=20))
    register(learner_client, page)
    registration = registration_for()

    later = now + timedelta(minutes=10)
    assert service.extend_hold(registration, now=later).hold_expires_at == page.registration_closes_at
    with pytest.raises(service.HoldNotExtended, match="registration closes soon"):
        service.extend_hold(registration, now=later + timedelta(minutes=1))


@pytest.mark.django_db
def test_a_hold_never_runs_past_the_start_of_the_session(learner_client, make_session):
    now = timezone.now()
    page = make_session(start_at=now + timedelta(minutes=25))
    register(learner_client, page)
    registration = registration_for()
    extended = service.extend_hold(registration, now=now + timedelta(minutes=14))
    assert extended.hold_expires_at == page.start_at


@pytest.mark.django_db
def test_a_paid_registration_or_an_unknown_token_gets_no_extension(learner_client, confirmed):
    response = learner_client.post(extend_url(confirmed), follow=True)
    assert "Your registration no longer waits for a payment." in messages_of(response)
    assert learner_client.post(f"/training/registration/{uuid.uuid4()}/more-time/").status_code == 404


@pytest.mark.django_db
def test_more_time_is_a_post_with_the_csrf_token(paid_session, learner_client):
    register(learner_client, paid_session)
    registration = registration_for()
    assert learner_client.get(extend_url(registration)).status_code == 405
    forged = Client(enforce_csrf_checks=True)
    assert forged.post(extend_url(registration)).status_code == 403
    registration.refresh_from_db()
    assert registration.hold_extensions == 0


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_extension_racing_a_new_learner_for_the_last_seat_never_gives_it_twice(make_session, settings):
    """The hold ends while its owner asks for more time and another learner registers for the only seat: on
    PostgreSQL, each on its own connection, either the extension wins (the newcomer is told the seat is held) or
    the newcomer does (the extension is refused); never both."""
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "1000/h"
    outcomes = []
    for round_number in range(8):
        page = make_session(capacity=1)
        Client().post(page.url, learner(email="owner@example.com"))
        owner = Registration.objects.get(page=page, email="owner@example.com")
        # The hold ends a few milliseconds around the moment both requests arrive.
        ends = timezone.now() + timedelta(milliseconds=40 * round_number)
        Registration.objects.filter(pk=owner.pk).update(hold_expires_at=ends)
        time.sleep(0.1)

        def act(index, owner=owner, page=page, round_number=round_number):
            if index == 0:
                return Client().post(extend_url(owner)).wsgi_request._messages._queued_messages
            return outcome(Client().post(page.url, learner(email=f"newcomer{round_number}@example.com")))

        extension, newcomer = run_together(2, act)
        owner.refresh_from_db()
        extended = owner.hold_extensions == 1
        assert any(str(m).startswith("Your seat is now held") for m in extension) == extended
        holding = Registration.objects.filter(page=page).filter(
            status=RegistrationStatus.PENDING, hold_expires_at__gt=timezone.now()
        )
        assert holding.count() <= 1, (round_number, extended, newcomer)
        assert not (extended and newcomer == "held"), (round_number, newcomer)
        assert newcomer in ("held", "full"), newcomer
        outcomes.append((extended, newcomer))


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_an_extension_waiting_for_the_session_lock_while_the_hold_ends_is_refused(make_session):
    """Someone else holds the session's row (a learner registering) while the hold ends: the extension, which
    asked while the hold was live, reads the clock only once it has the lock, and does not revive the hold."""
    import threading

    from django.db import connections, transaction

    page = make_session(capacity=1)
    Client().post(page.url, learner(email="owner@example.com"))
    owner = Registration.objects.get(email="owner@example.com")
    ends = timezone.now() + timedelta(seconds=1)
    Registration.objects.filter(pk=owner.pk).update(hold_expires_at=ends)

    locked, result = threading.Event(), {}

    def hold_the_session_row():
        try:
            with transaction.atomic():
                service.lock_session(page.pk)
                locked.set()
                time.sleep(2)  # the hold ends meanwhile
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_session_row)
    holder.start()
    locked.wait(10)
    assert timezone.now() < ends  # the learner asks while the hold is still live
    try:
        service.extend_hold(owner)
    except service.HoldNotExtended as refusal:
        result["refusal"] = str(refusal)
    holder.join(10)
    assert result["refusal"].startswith("Your seat hold has already ended")
    owner.refresh_from_db()
    assert owner.hold_expires_at == ends


@pytest.mark.django_db
def test_forged_fields_do_not_choose_the_length_of_the_hold(learner_client, paid_session):
    """The form sends nothing but its CSRF token; whatever else is posted is ignored."""
    register(learner_client, paid_session)
    registration = registration_for()
    learner_client.post(
        extend_url(registration),
        {"minutes": "100000", "hold_expires_at": "2099-01-01T00:00:00Z", "hold_extensions": "-50"},
    )
    registration.refresh_from_db()
    assert close_to(registration.hold_expires_at, timezone.now() + timedelta(minutes=15))
    assert registration.hold_extensions == 1


@pytest.mark.django_db
def test_a_payment_paypal_holds_keeps_the_seat_without_extensions(learner_client, paid_session):
    from wagtail_training_pay.providers.base import mark_pending_at_gateway

    register(learner_client, paid_session)
    registration = registration_for()
    payment = registration.payments.get()
    mark_pending_at_gateway(payment, "echeck")
    payment.save()
    response = learner_client.post(extend_url(registration), follow=True)
    assert "Your payment is already being processed: your seat stays held meanwhile." in messages_of(response)
    registration.refresh_from_db()
    assert registration.hold_extensions == 0
