"""Pytest fixtures: the simulators on loopback ports and payment variants pointing at them."""

import pytest

from .nvp import NvpSimulator
from .payflow import PayflowSimulator
from .server import LoopbackServer

#: Short timeouts and no back-off: a "timeout" fault holds the reply for 1 s, the client waits 0.3 s.
FAST = {"timeout": 0.3, "connect_timeout": 1, "retries": 2, "retry_backoff": 0}


def payflow_options(server, simulator, **extra):
    return {
        "partner": simulator.partner,
        "vendor": simulator.vendor,
        "password": simulator.password,
        "endpoint": server.url + "/",
        "hosted_url": server.url + "/hosted",
        **FAST,
        **extra,
    }


def express_options(server, simulator, **extra):
    return {
        "user": simulator.user,
        "password": simulator.password,
        "signature": simulator.signature,
        "endpoint": server.url + "/nvp",
        "approval_url": server.url + "/webscr",
        **FAST,
        **extra,
    }


@pytest.fixture
def money_invariant(request, db):
    """Checked when the test ends: every simulator's books agree with the database (tests/money_invariant.py).

    Every simulator fixture uses it, so any test that runs a gateway simulator is checked. A test that leaves a
    disagreement on purpose says so with ``@pytest.mark.money_disagreement("why")``.
    """
    from tests.money_invariant import MoneyInvariant

    invariant = MoneyInvariant()
    yield invariant
    if request.node.get_closest_marker("money_disagreement") is None:
        invariant.check()


def _serve(simulator):
    simulator.faults.delay = 1.0
    return LoopbackServer(simulator).start()


@pytest.fixture
def payflow_simulator(money_invariant):
    simulator = PayflowSimulator()
    server = _serve(simulator)
    simulator.server = server
    money_invariant.watch(simulator)
    yield simulator
    server.stop()


@pytest.fixture
def payflow_uk_simulator(money_invariant):
    simulator = PayflowSimulator(vendor="simukvendor", partner="PayPalUK", currencies=("GBP",))
    server = _serve(simulator)
    simulator.server = server
    money_invariant.watch(simulator)
    yield simulator
    server.stop()


@pytest.fixture
def nvp_simulator(money_invariant):
    simulator = NvpSimulator()
    server = _serve(simulator)
    simulator.server = server
    money_invariant.watch(simulator)
    yield simulator
    server.stop()


@pytest.fixture
def gateway_variants(settings, payflow_simulator, payflow_uk_simulator, nvp_simulator):
    """PAYMENT_VARIANTS for every provider, each against its simulator; the provider cache is reset."""
    from payments import core

    payflow, uk, nvp = payflow_simulator.server, payflow_uk_simulator.server, nvp_simulator.server
    settings.PAYMENT_VARIANTS = {
        "dummy": ("payments.dummy.DummyProvider", {}),
        "payflow": (
            "wagtail_training_pay.providers.payflow.PayflowProProvider",
            payflow_options(payflow, payflow_simulator),
        ),
        "payflow-auth": (
            "wagtail_training_pay.providers.payflow.PayflowProProvider",
            payflow_options(payflow, payflow_simulator, capture=False),
        ),
        "payflow-direct": (
            "wagtail_training_pay.providers.payflow.PayflowProProvider",
            payflow_options(payflow, payflow_simulator, mode="direct"),
        ),
        "payflow-direct-auth": (
            "wagtail_training_pay.providers.payflow.PayflowProProvider",
            payflow_options(payflow, payflow_simulator, mode="direct", capture=False),
        ),
        "paypal-uk": (
            "wagtail_training_pay.providers.payflow.WebsitePaymentsProUKProvider",
            payflow_options(uk, payflow_uk_simulator, mode="direct"),
        ),
        "express": (
            "wagtail_training_pay.providers.express_checkout.ExpressCheckoutProvider",
            express_options(nvp, nvp_simulator),
        ),
        "express-auth": (
            "wagtail_training_pay.providers.express_checkout.ExpressCheckoutProvider",
            express_options(nvp, nvp_simulator, capture=False),
        ),
    }
    settings.PAYMENT_USES_SSL = True
    core.PROVIDER_CACHE.clear()
    yield settings.PAYMENT_VARIANTS
    core.PROVIDER_CACHE.clear()
