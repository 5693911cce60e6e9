"""Two sweepers at once on PostgreSQL, each on its own connection: every stale payment handled once."""

import threading

import pytest
from django.core import mail
from django.db import connection

from tests.simulators.payer import pay_on_hosted_page
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services.stale_payments import check_stale_payments

from .test_stale_payments import make_stale, start_paying

pytestmark = [
    pytest.mark.postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("gateway_variants"),
]


def sweep_twice_at_once(now=None):
    """Two sweepers started together, each on its own connection (PostgreSQL); returns their counts."""
    barrier = threading.Barrier(2)
    results, errors = [], []

    def sweeper():
        try:
            barrier.wait(timeout=10)
            results.append(check_stale_payments(now=now))
        except Exception as exc:  # noqa: BLE001 - asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweeper) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_two_sweepers_confirm_a_found_payment_once_and_send_one_email(
    client, paid_session, training_settings, payflow_simulator
):
    registration, hosted_page = start_paying(client, paid_session, training_settings, "payflow")
    pay_on_hosted_page(hosted_page)
    make_stale(registration)

    results = sweep_twice_at_once()

    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.CONFIRMED
    assert sum(result["checked"] for result in results) == 1
    assert len(mail.outbox) == 1
    assert len(payflow_simulator.charges()) == 1


def test_two_sweepers_refund_a_late_payment_once(client, make_session, training_settings, payflow_simulator):
    page = make_session(capacity=1)
    registration, hosted_page = start_paying(client, page, training_settings, "payflow")
    pay_on_hosted_page(hosted_page)
    make_stale(registration, hold_expired=True)
    Registration.objects.create(
        page=page, first_name="Seat", last_name="Taker", email="seat@example.com", currency="EUR", status="confirmed"
    )

    sweep_twice_at_once()

    registration.refresh_from_db()
    assert registration.status == RegistrationStatus.REFUNDED
    assert [entry["trxtype"] for entry in payflow_simulator.ledger] == ["S", "C"]
