import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from wagtail_training_pay.ratelimit import hit, parse_rate, request_is_rate_limited


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(("rate", "parsed"), [("20/h", (20, 3600)), ("5/10m", (5, 600)), (" 1 / s ", (1, 1))])
def test_rates_are_parsed(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["", "20", "x/h", "20/w", "-1/h"])
def test_malformed_rates_are_refused(rate):
    with pytest.raises(ImproperlyConfigured):
        parse_rate(rate)


def test_the_request_over_the_limit_is_refused_and_others_are_not():
    assert [hit("register", "192.0.2.1", "3/h") for _ in range(4)] == [False, False, False, True]
    assert hit("register", "192.0.2.2", "3/h") is False
    assert hit("other-scope", "192.0.2.1", "3/h") is False


def test_requests_are_counted_per_client_address():
    factory = RequestFactory()
    first = factory.post("/", REMOTE_ADDR="198.51.100.1")
    second = factory.post("/", REMOTE_ADDR="198.51.100.2")
    assert not request_is_rate_limited(first, "register", "1/m")
    assert request_is_rate_limited(first, "register", "1/m")
    assert not request_is_rate_limited(second, "register", "1/m")
