"""A fixed-window rate limit in a cache every app server shares.

Counting is done with ``cache.add`` on one key per allowed request ("slot"): ``add`` is atomic on
Django's database cache (the key is the table's primary key), Redis, Memcached and the local-memory
cache, where ``incr`` on the database cache is a read then a write that concurrent workers overrun. So
at most ``limit`` requests per window get through, whatever the number of processes and servers, as long
as they share the cache named by ``WAGTAIL_TRAINING_PAY_RATE_LIMIT_CACHE``. A process-local cache counts
per process: a system check (``wagtail_training_pay.W002``) says so.

The client address is ``REMOTE_ADDR``, or behind proxies the address the site's own proxy recorded in the
header named by ``WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER`` (see ``client_address``).
"""

import hashlib
import ipaddress
import re
import time

from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured

from .conf import app_settings

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

#: Cache backends that delete entries once they hold ``MAX_ENTRIES`` (300 unless told otherwise): a third of
#: them at a time, in key order whatever their age, rate-limit counters included, which lets their clients in again.
CULLING_CACHES = (
    "django.core.cache.backends.db.DatabaseCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)
#: The ``MAX_ENTRIES`` below which system check W006 warns: the limiter takes one entry per allowed request.
MIN_CACHE_ENTRIES = 100_000

#: Cache backends that keep their entries in the process (or count nothing): no limit across processes.
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def parse_rate(rate):
    """``"20/h"`` -> ``(20, 3600)``; ``"5/10m"`` -> ``(5, 600)``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*", rate or "")
    if not match:
        raise ImproperlyConfigured(f"Rate {rate!r} is not of the form '20/h' or '5/10m'.")
    count, multiplier, unit = match.groups()
    return int(count), int(multiplier or 1) * PERIODS[unit]


def rate_limit_cache():
    return caches[app_settings.RATE_LIMIT_CACHE]


#: An IPv6 client is given a /64 (at least) by its provider: it could count as 2**64 clients, one a request.
IPV6_PREFIX = 64


def _valid_address(value):
    """The identity an address is counted as: an IPv4 address (IPv4-mapped IPv6 ones included) as such, an IPv6
    address as its /64 network; ``None`` when ``value`` is not an address."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def client_address(request):
    """The address to count a request against.

    ``REMOTE_ADDR`` by default. Behind reverse proxies, set ``WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER`` to
    the ``request.META`` name of the header they write (``"HTTP_X_FORWARDED_FOR"``) and
    ``WAGTAIL_TRAINING_PAY_TRUSTED_PROXY_COUNT`` to how many proxies of the site's own append to it: the
    address is the one the outermost of them appended, counted from the right. What a client puts at the
    left of the header is never used, so it cannot pick a new address per request. An IPv6 address counts as
    its /64 network (see ``_valid_address``).
    """
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    remote = _valid_address(remote) or remote
    header = app_settings.CLIENT_ADDRESS_HEADER
    if not header:
        return remote
    hops = [hop for hop in request.META.get(header, "").split(",") if hop.strip()]
    proxies = max(1, int(app_settings.TRUSTED_PROXY_COUNT))
    if len(hops) < proxies:
        return remote
    return _valid_address(hops[-proxies]) or remote


def hit(scope, identity, rate):
    """Count one request of ``identity`` in ``scope``; True when it is over the limit."""
    limit, period = parse_rate(rate)
    if limit <= 0:
        return True
    cache = rate_limit_cache()
    window = int(time.time() // period)
    digest = hashlib.sha256(f"{scope}:{identity}".encode()).hexdigest()[:32]
    prefix = f"wtp:ratelimit:{digest}:{window}"
    timeout = period + 1
    # Where the free slots start: only a hint (every slot below it is taken), so a stale one costs an
    # extra ``add``, never a request too many.
    first_free = cache.get(f"{prefix}:next") or 0
    for slot in range(first_free, limit):
        if cache.add(f"{prefix}:{slot}", 1, timeout=timeout):
            cache.set(f"{prefix}:next", slot + 1, timeout=timeout)
            return False
    return True


def request_is_rate_limited(request, scope, rate):
    return hit(scope, client_address(request), rate)
