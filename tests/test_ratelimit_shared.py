"""The rate limit holds across processes and servers: a shared cache, atomic counting, a trusted client address."""

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.test import RequestFactory

from wagtail_training_pay import checks
from wagtail_training_pay.ratelimit import client_address, hit

DATABASE_CACHE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": "wtp_test_ratelimit",
    "OPTIONS": {"MAX_ENTRIES": 100000},  # as documented (W006)
}


def ids(messages):
    return [message.id for message in messages]


def test_a_process_local_rate_limit_cache_is_warned_about(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(checks.check_rate_limit_cache(None)) == ["wagtail_training_pay.W002"]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert ids(checks.check_rate_limit_cache(None)) == ["wagtail_training_pay.W002"]


def test_a_shared_rate_limit_cache_passes_and_a_missing_one_is_an_error(settings):
    local = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    settings.CACHES = {"default": local, "shared": DATABASE_CACHE}
    settings.WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE = "shared"
    assert checks.check_rate_limit_cache(None) == []
    settings.WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE = "nowhere"
    assert ids(checks.check_rate_limit_cache(None)) == ["wagtail_training_pay.E010"]


@pytest.mark.parametrize(
    ("header", "proxies", "expected"),
    [
        (None, 1, "10.0.0.1"),  # not configured: REMOTE_ADDR, whatever the header says
        ("198.51.100.9", 1, "198.51.100.9"),
        ("6.6.6.6, 198.51.100.9", 1, "198.51.100.9"),  # what the client wrote at the left is ignored
        ("6.6.6.6, 198.51.100.9, 10.0.0.2", 2, "198.51.100.9"),
        ("198.51.100.9", 2, "10.0.0.1"),  # fewer hops than trusted proxies: not from our proxies
        ("not-an-address", 1, "10.0.0.1"),
        ("2001:db8::1", 1, "2001:db8::/64"),  # an IPv6 client counts as its /64 (issue 18, attack 18)
    ],
)
def test_the_client_address_comes_from_the_configured_proxy_header(settings, header, proxies, expected):
    if header is not None:
        settings.WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
        settings.WAGTAIL_TRAINING_PAY_TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=header or "6.6.6.6")
    assert client_address(request) == expected


def test_a_client_cannot_escape_the_limit_by_changing_the_forwarded_header(settings):
    settings.WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    allowed = 0
    for n in range(10):
        request = RequestFactory().post("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 198.51.100.9")
        allowed += not hit("register", client_address(request), "3/h")
    assert allowed == 3


@pytest.mark.postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_on_the_database_cache_let_exactly_the_limit_through(settings):
    """Twenty-four requests at once from eight connections against a 3-per-hour limit: three go through."""
    settings.CACHES = {**settings.CACHES, "shared": DATABASE_CACHE}
    settings.WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE = "shared"
    call_command("createcachetable", "wtp_test_ratelimit", verbosity=0)
    caches["shared"].clear()
    from tests.test_registration_concurrency import run_together

    allowed = run_together(8, lambda _index: [not hit("register", "203.0.113.5", "3/h") for _ in range(3)])
    assert sum(len(hits) for hits in allowed) == 24
    assert sum(sum(hits) for hits in allowed) == 3
