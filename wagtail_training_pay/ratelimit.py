"""A fixed-window rate limit on Django's cache, shared by every app server that shares the cache.

Use a shared cache backend in production (Redis, Memcached or the database cache): the local-memory
cache counts per process.
"""

import hashlib
import re
import time

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate):
    """``"20/h"`` -> ``(20, 3600)``; ``"5/10m"`` -> ``(5, 600)``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*", rate or "")
    if not match:
        raise ImproperlyConfigured(f"Rate {rate!r} is not of the form '20/h' or '5/10m'.")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * PERIODS[unit]


def client_address(request):
    """The client address Django was given; sites behind a proxy must set REMOTE_ADDR correctly."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def hit(scope, identity, rate):
    """Count one request of ``identity`` in ``scope``; True when it is over the limit."""
    limit, period = parse_rate(rate)
    if limit <= 0:
        return True
    window = int(time.time() // period)
    digest = hashlib.sha256(f"{scope}:{identity}".encode()).hexdigest()[:32]
    key = f"wtp:ratelimit:{digest}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=period + 1)
        count = 1
    return count > limit


def request_is_rate_limited(request, scope, rate):
    return hit(scope, client_address(request), rate)
