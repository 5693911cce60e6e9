"""Attack 18: a hostile learner against the registration rate limit (issue 18).

An IPv6 client is handed a /64 (or more) by its provider: 2**64 addresses it may use one after the other. Counted
per full address, the limit is no limit for it. The same goes for an IPv4 client seen as an IPv4-mapped IPv6
address by one server and as IPv4 by another (dual-stack listeners behind one proxy).
"""

import pytest
from django.test import RequestFactory

from wagtail_training_pay.ratelimit import client_address, request_is_rate_limited


def post_from(address, **extra):
    return RequestFactory().post("/", REMOTE_ADDR=address, **extra)


def test_addresses_of_one_ipv6_slash_64_share_one_count():
    assert not request_is_rate_limited(post_from("2001:db8:1:2::1"), "register", "2/h")
    assert not request_is_rate_limited(post_from("2001:db8:1:2::2"), "register", "2/h")
    assert request_is_rate_limited(post_from("2001:db8:1:2:ffff:ffff:ffff:3"), "register", "2/h")
    assert not request_is_rate_limited(post_from("2001:db8:1:3::1"), "register", "2/h")  # another network


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address():
    assert not request_is_rate_limited(post_from("198.51.100.7"), "register", "1/h")
    assert request_is_rate_limited(post_from("::ffff:198.51.100.7"), "register", "1/h")


@pytest.mark.parametrize(
    ("address", "counted_as"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("192.0.2.1", "192.0.2.1"),
        ("not an address", "not an address"),
    ],
)
def test_the_client_address_is_counted_per_network(address, counted_as):
    assert client_address(post_from(address)) == counted_as


def test_an_ipv6_address_from_the_proxy_header_is_counted_per_slash_64(settings):
    settings.WAGTAIL_TRAINING_PAY_CLIENT_ADDRESS_HEADER = "HTTP_X_FORWARDED_FOR"
    settings.WAGTAIL_TRAINING_PAY_TRUSTED_PROXY_COUNT = 1
    request = post_from("10.0.0.1", HTTP_X_FORWARDED_FOR="2001:db8:9:9:abcd::1")
    assert client_address(request) == "2001:db8:9:9::/64"
