"""Attack 18: the registration rate limit in Django's database cache as the README configures it (issue 18).

Django's database cache holds ``MAX_ENTRIES`` entries (300 unless told otherwise); past that, each write deletes
a third of them, in key order, whatever their age: rate-limit counters included. The limiter takes one entry per
allowed request, so sixteen addresses at a 20/h limit fill it, and the counters it deletes let their addresses
in again.
"""

import pytest
from django.core.cache import caches
from django.core.management import call_command

from wagtail_training_pay import checks
from wagtail_training_pay.ratelimit import hit

pytestmark = [pytest.mark.django_db(transaction=True)]

README_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "wtp_attack18_cache"}


def attack(settings, cache):
    settings.CACHES = {**settings.CACHES, "shared": cache}
    settings.WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE = "shared"
    call_command("createcachetable", "wtp_attack18_cache", verbosity=0)
    caches["shared"].clear()
    addresses = [f"203.0.113.{n}" for n in range(16)]
    allowed = dict.fromkeys(addresses, 0)
    for _round in range(4):
        for address in addresses:
            for _request in range(25):
                allowed[address] += not hit("register", address, "20/h")
    caches["shared"].clear()
    return allowed


def test_sixteen_addresses_get_twenty_registrations_each_an_hour_not_more(settings):
    allowed = attack(settings, {**README_CACHE, "OPTIONS": {"MAX_ENTRIES": 1_000_000}})
    assert set(allowed.values()) == {20}


def test_the_database_cache_with_its_default_size_lets_more_through(settings):
    allowed = attack(settings, README_CACHE)
    assert max(allowed.values()) > 20, allowed  # what the check below warns about


def test_a_rate_limit_cache_that_culls_its_counters_is_warned_about(settings):
    settings.CACHES = {**settings.CACHES, "shared": README_CACHE}
    settings.WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE = "shared"
    assert "wagtail_training_pay.W006" in [message.id for message in checks.check_rate_limit_cache(None)]
    settings.CACHES["shared"] = {**README_CACHE, "OPTIONS": {"MAX_ENTRIES": 100_000}}  # as documented
    assert checks.check_rate_limit_cache(None) == []
    settings.CACHES["shared"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    assert checks.check_rate_limit_cache(None) == []


def test_the_readme_cache_block_is_big_enough():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert '"OPTIONS": {"MAX_ENTRIES": 100000}' in readme
