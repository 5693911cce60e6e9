"""Random sequences of what learners, administrators, networks and workers do; the money invariant after each step.

A hypothesis ``RuleBasedStateMachine`` on PostgreSQL drives the real flows (the test client through the site's
views, the real providers against the loopback simulators): register, pay by card or PayPal, switch method,
a second tab paying an older PayPal page, cancel, refund (part or all), holds running out, timeouts and lost
answers at the gateway, a worker killed right after the gateway moved money, and sweeps. After every step the
invariant holds for everything the sweeper is not still asking about; after a final sweep it holds for all.

Cost is kept to a few minutes in CI: ``WTP_STATEFUL_EXAMPLES`` sequences (default 25) of up to
``WTP_STATEFUL_STEPS`` steps (default 15). The counts and time are printed (run with ``-s``).
"""

import os
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.money_invariant import money_disagreements
from tests.registration_helpers import card_data, commit_after_each_request, learner, pay_step
from tests.simulators.payer import approve_at_paypal, site_path
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services import money
from wagtail_training_pay.services.registrations import RefundFailed, refund_registration
from wagtail_training_pay.services.stale_payments import check_stale_payments
from wagtail_training_pay.views.payment_step import CHOOSE_METHOD

pytestmark = [pytest.mark.django_db, pytest.mark.postgresql, pytest.mark.slow]

EXAMPLES = int(os.environ.get("WTP_STATEFUL_EXAMPLES", "25"))
STEPS = int(os.environ.get("WTP_STATEFUL_STEPS", "15"))
EMAILS = ("ada@example.com", "grace@example.com")
METHODS = ("payflow-direct", "express")
FAULTS = ("timeout", "drop", "5xx")

figures = {
    "sequences": 0,
    "steps": 0,
    "payments": 0,
    "movements": 0,
    "two tabs": 0,
    "errors after a timeout": 0,
    "late host payments": 0,
}


class Crash:
    """One worker killed right after the gateway moved money, before the site recorded it."""

    def __init__(self):
        self.armed = False

    def __call__(self, movement):
        if self.armed:
            self.armed = False
            raise money.WorkerCrash(f"worker killed after the gateway answered movement {movement.pk}")


def run_sequences(client, capture, page, admin_user, simulators, host=None):
    """``host``: ``(client logged in as a host, a draft session with pay-per-use on)`` for the host's rules."""
    payflow, nvp = simulators
    crash = Crash()
    money.crash_points.setdefault("after_gateway", []).append(crash)

    class MoneyMachine(RuleBasedStateMachine):
        @initialize(method=st.sampled_from(METHODS), pays=st.booleans())
        def start(self, method, pays):
            figures["sequences"] += 1
            self.savepoint = getattr(transaction, "savepoint_create", None) or transaction.savepoint
            self.savepoint = self.savepoint()
            self.client = commit_after_each_request(client, capture)
            self.paypal_tabs = []
            self.register(EMAILS[0], method)  # every sequence starts with a learner registered, often paying
            if pays:
                self.pay(EMAILS[0])

        def teardown(self):
            try:
                self.final_sweeps()
            finally:
                crash.armed = False
                payflow.faults.clear()
                nvp.faults.clear()
                transaction.savepoint_rollback(self.savepoint)

        def final_sweeps(self):
            """Everything finishes: holds run out, tokens expire, two sweeps; then no disagreement at all."""
            payflow.faults.clear()
            nvp.faults.clear()
            crash.armed = False
            Registration.objects.filter(status=RegistrationStatus.PENDING).update(
                hold_expires_at=timezone.now() - timedelta(seconds=1)
            )
            later = timezone.now() + timedelta(hours=4)
            for _ in range(2):
                with capture(execute=True):
                    check_stale_payments(now=later)
            problems = money_disagreements(simulators)
            assert not problems, problems
            from wagtail_training_pay.models import MoneyMovement, Payment

            figures["payments"] += Payment.objects.count()
            figures["movements"] += MoneyMovement.objects.count()

        def registration(self, email):
            return Registration.objects.filter(page=page, email=email).order_by("-pk").first()

        def request(self, method, *args, **kwargs):
            """A request of the learner's browser; a worker killed in it is an error page, not a test failure."""
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except money.WorkerCrash:
                return None

        @rule(email=st.sampled_from(EMAILS), method=st.sampled_from(METHODS))
        def register(self, email, method):
            self.request("post", page.url, learner(email=email, payment_method=method))

        def pay(self, email):
            """Open the payment step: a PayPal page is paid at once, a card form is filled in."""
            tab = self.open_payment_page(email)
            if tab is None:
                self.pay_by_card(email)
            else:
                self.approve_at_paypal(len(self.paypal_tabs) - 1, lose_the_return=False)

        @rule(email=st.sampled_from(EMAILS))
        def open_a_payment_page(self, email):
            self.open_payment_page(email)

        def open_payment_page(self, email):
            """A tab on the payment step; a PayPal page is kept open, to be paid (or not) later."""
            registration = self.registration(email)
            if registration is None:
                return None
            step = self.request("get", pay_step(registration))
            if step is not None and step.status_code == 302 and "/webscr" in step.get("Location", ""):
                self.paypal_tabs.append(step["Location"])
                return step["Location"]
            return None

        @rule(email=st.sampled_from(EMAILS))
        def pay_by_card(self, email):
            registration = self.registration(email)
            if registration is not None:
                self.request("post", pay_step(registration), card_data())

        @rule(tab=st.integers(0, 3), lose_the_return=st.booleans())
        def approve_at_paypal(self, tab, lose_the_return):
            """Pay on one of the PayPal pages opened so far (the latest tab, an older one...)."""
            if not self.paypal_tabs:
                return
            url = self.paypal_tabs[min(tab, len(self.paypal_tabs) - 1)]
            try:
                back = approve_at_paypal(url)
            except (AssertionError, OSError):
                return  # the token was used or expired: PayPal shows an error page
            if not lose_the_return:
                self.request("get", site_path(back))

        @rule(email=st.sampled_from(EMAILS), lose_the_return=st.booleans())
        def two_tabs_pay_both_methods(self, email, lose_the_return):
            """PayPal opened in one tab; in another the learner switches to the card and pays; then PayPal too."""
            self.switch_method(email, "express")
            if self.open_payment_page(email) is None:
                return
            self.switch_method(email, "payflow-direct")
            self.pay_by_card(email)
            self.approve_at_paypal(len(self.paypal_tabs) - 1, lose_the_return)
            figures["two tabs"] += 1

        @rule(email=st.sampled_from(EMAILS))
        def error_after_a_timeout(self, email):
            """A card sale the gateway took, every answer lost; the learner types another card: RESULT 133, the
            payment is marked ``error``."""
            registration = self.registration(email)
            if registration is None:
                return
            self.switch_method(email, "payflow-direct")
            payflow.faults.clear()
            payflow.faults.inject("timeout", "timeout", "timeout")
            self.request("post", pay_step(registration), card_data())
            self.request("post", pay_step(registration), card_data(number="5555555555554444"))
            figures["errors after a timeout"] += 1

        @rule(paid_meanwhile=st.booleans())
        def host_pays_late(self, paid_meanwhile):
            """A host's card payment marked ``error`` after a timeout (the gateway took it); the host may pay the
            session with PayPal meanwhile. The sweeper finds the card money late: it pays for nothing."""
            if host is None:
                return
            from tests.test_late_host_payments import start_paying

            host_client, draft = host
            host_client = commit_after_each_request(host_client, capture)
            payment_url = start_paying(host_client, draft, "payflow-direct")
            if "/payment/" not in payment_url:
                return  # already paid for: the cost page
            payflow.faults.clear()
            payflow.faults.inject("timeout", "timeout", "timeout")
            try:
                host_client.post(payment_url, card_data())
                host_client.post(payment_url, card_data(number="5555555555554444"))
                if paid_meanwhile:
                    at_paypal = host_client.get(start_paying(host_client, draft, "express")).get("Location", "")
                    if "/webscr" in at_paypal:
                        host_client.get(site_path(approve_at_paypal(at_paypal)))
            except money.WorkerCrash:
                pass
            figures["late host payments"] += 1

        @rule(email=st.sampled_from(EMAILS), method=st.sampled_from(METHODS))
        def switch_method(self, email, method):
            registration = self.registration(email)
            if registration is not None:
                self.request("post", pay_step(registration), {CHOOSE_METHOD: "1", "payment_method": method})

        @rule(email=st.sampled_from(EMAILS))
        def cancel(self, email):
            registration = self.registration(email)
            if registration is not None:
                self.request("post", registration.get_manage_url(), {"confirm": "on"})

        @rule(email=st.sampled_from(EMAILS), part=st.sampled_from([None, Decimal("10.00")]))
        def admin_refunds(self, email, part):
            registration = self.registration(email)
            if registration is None:
                return
            try:
                with capture(execute=True):
                    refund_registration(registration, part, user=admin_user)
            except (RefundFailed, money.WorkerCrash):
                pass

        @rule(fault=st.sampled_from(FAULTS), count=st.integers(1, 3), gateway=st.sampled_from(("payflow", "nvp")))
        def the_network_fails(self, fault, count, gateway):
            (payflow if gateway == "payflow" else nvp).faults.inject(*[fault] * count)

        @rule()
        def a_worker_will_be_killed(self):
            crash.armed = True

        @rule()
        def holds_run_out(self):
            Registration.objects.filter(page=page, status=RegistrationStatus.PENDING).update(
                hold_expires_at=timezone.now() - timedelta(seconds=1)
            )

        @rule(later_minutes=st.sampled_from([0, 90]))
        def sweep(self, later_minutes):
            try:
                with capture(execute=True):
                    check_stale_payments(now=timezone.now() + timedelta(minutes=later_minutes))
            except money.WorkerCrash:
                pass

        @invariant()
        def the_money_agrees(self):
            figures["steps"] += 1
            problems = money_disagreements(simulators, sweeper_pending_ok=True)
            assert not problems, problems

    MoneyMachine.TestCase.settings = hypothesis_settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=os.environ.get("CI") is not None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        run_state_machine_as_test(MoneyMachine, settings=MoneyMachine.TestCase.settings)
    finally:
        money.crash_points["after_gateway"].remove(crash)


def a_host_and_a_draft(training_settings, make_session, admin_user):
    """Pay-per-use on (the learners' session is already live), a host paying by card or PayPal, a draft to pay."""
    from django.test import Client

    from tests.pay_per_use_support import reload
    from wagtail_training_pay.models import HostPaymentMethod

    training_settings.pay_per_use_enabled = True
    training_settings.person_minute_rate = Decimal("0.0200")
    training_settings.teleconference_minute_rate = Decimal("0.0500")
    training_settings.minimum_charge = Decimal("5.00")
    training_settings.save()
    for order, variant in enumerate(("payflow-direct", "express")):
        HostPaymentMethod.objects.create(settings=training_settings, variant=variant, label=variant, sort_order=order)
    draft = reload(make_session(title="Hosted", slug="hosted", expected_participants=10))
    draft.save_revision()
    host_client = Client()
    host_client.force_login(admin_user)
    return host_client, reload(draft)


def test_random_sequences_keep_the_gateways_and_the_database_in_agreement(
    client,
    django_capture_on_commit_callbacks,
    make_session,
    training_settings,
    admin_user,
    gateway_variants,
    payflow_simulator,
    nvp_simulator,
    settings,
):
    from tests.registration_helpers import offer_methods

    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "100000/h"  # one client registers many times
    payflow_simulator.faults.delay = 0.5
    nvp_simulator.faults.delay = 0.5
    offer_methods(training_settings, **{"payflow-direct": "Card", "express": "PayPal"})
    page = make_session(capacity=1)
    host = a_host_and_a_draft(training_settings, make_session, admin_user)
    started = time.monotonic()
    run_sequences(
        client, django_capture_on_commit_callbacks, page, admin_user, (payflow_simulator, nvp_simulator), host
    )
    elapsed = time.monotonic() - started
    print(
        f"\nstateful money test: {figures['sequences']} sequences, {figures['steps']} steps checked, "
        f"{figures['payments']} payments and {figures['movements']} money movements made, "
        f"{figures['two tabs']} times two tabs paid, {figures['errors after a timeout']} errors after a timeout, "
        f"{figures['late host payments']} late host payments, {elapsed:.1f} s"
    )
    assert figures["sequences"] >= 1
