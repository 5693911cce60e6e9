"""Fixtures of the learner-side tests: a client whose requests commit, and a paid, confirmed registration."""

import pytest
from django.core import mail

from tests.registration_helpers import commit_after_each_request, pay_with_dummy, register, registration_for
from wagtail_training_pay.models import RegistrationStatus


@pytest.fixture
def learner_client(client, django_capture_on_commit_callbacks):
    return commit_after_each_request(client, django_capture_on_commit_callbacks)


@pytest.fixture
def confirmed(learner_client, paid_session):
    """Ada's registration, paid with the dummy provider and confirmed; the outbox emptied."""
    register(learner_client, paid_session)
    registration = registration_for()
    pay_with_dummy(learner_client, registration)
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    mail.outbox.clear()
    return registration


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the sweeper as cron would, its commits (refunds, emails) included."""
    from wagtail_training_pay.services.stale_payments import check_stale_payments

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            return check_stale_payments()

    return run


@pytest.fixture
def paid_by_card(learner_client, paid_session, training_settings, payflow_simulator):
    """A learner registered and paid by card typed on the site (Payflow Pro direct, against the simulator)."""
    from tests.registration_helpers import card_data, offer_methods, pay_step, register, registration_for
    from wagtail_training_pay.models import RegistrationStatus

    offer_methods(training_settings, **{"payflow-direct": "Card"})
    register(learner_client, paid_session, payment_method="payflow-direct")
    registration = registration_for()
    learner_client.post(pay_step(registration), card_data())
    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    return registration
