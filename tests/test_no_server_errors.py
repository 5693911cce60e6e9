"""No anonymous request to any URL of the plugin answers a server error, whatever it carries (issue 17)."""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from tests.test_data_protection import registration_for
from wagtail_training_pay.models import Registration, RegistrationStatus
from wagtail_training_pay.services.data_protection import anonymize_registration

pytestmark = pytest.mark.django_db

JUNK_POST = {
    "token": "not-a-token",
    "SECURETOKENID": "x" * 300,
    "SECURETOKEN": "\x00",
    "status": "confirmed",
    "amount": "-1",
    "confirm": "on",
    "erase-confirm": "on",
    "payment_method": "../../etc",
    "PayerID": "'; DROP TABLE x; --",
}
JUNK_QUERIES = ["", "?token=junk&ec=return&silent=1", "?cancel=1&export=xlsx&page=abc&revision=-5"]


def plugin_patterns(resolver=None, prefix=""):
    """``[(regex of the whole path, pattern)]`` of every URL whose view lives in the plugin."""
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        regex = prefix + str(pattern.pattern.regex.pattern).lstrip("^")
        if isinstance(pattern, URLResolver):
            found += plugin_patterns(pattern, regex.rstrip("$"))
        elif isinstance(pattern, URLPattern) and pattern.lookup_str.startswith("wagtail_training_pay"):
            found.append((regex, pattern))
    return found


def sample_paths(regex, values):
    """Fill every group of ``regex`` with each sample value of its kind; unnamed groups too."""
    groups = re.findall(r"\(\?P<(\w+)>([^)]*)\)", regex)
    paths = [regex]
    for name, group_regex in groups:
        kind = "uuid" if "0-9a-f" in group_regex else "int" if group_regex in ("[0-9]+", r"\d+") else "str"
        expanded = []
        for path in paths:
            for value in values[kind]:
                if re.fullmatch(group_regex, str(value)):
                    expanded.append(path.replace(f"(?P<{name}>{group_regex})", str(value), 1))
        paths = expanded
    return ["/" + path.removesuffix("\\Z").rstrip("$").replace("\\", "") for path in paths if "(" not in path]


@pytest.fixture
def registrations_in_every_state(paid_session, make_session):
    registrations = [
        registration_for(paid_session, email=f"{status}@example.com", status=status)
        for status in RegistrationStatus.values
    ]
    past = make_session(start_at=timezone.now() - timedelta(days=400))
    erased = registration_for(past, email="erased@example.com")
    anonymize_registration(erased)
    return [*registrations, erased]


def test_every_plugin_url_answers_junk_without_a_server_error(
    paid_session, index_page, registrations_in_every_state, settings
):
    settings.PAYMENT_VARIANTS = {
        **settings.PAYMENT_VARIANTS,
        # django-payments' providers other than Stripe cannot read a token from a request.
        "paypal-rest": (
            "payments.paypal.PaypalProvider",
            {"client_id": "x", "secret": "y", "endpoint": "http://127.0.0.1:9"},
        ),
    }
    from payments import core

    core.PROVIDER_CACHE.clear()
    tokens = [str(registration.token) for registration in Registration.objects.all()]
    tokens += [
        str(payment_token)
        for payment_token in Registration.objects.values_list("payments__token", flat=True)
        if payment_token
    ]
    values = {
        "uuid": [str(uuid.uuid4()), *tokens],
        "int": [0, 2**40, paid_session.pk, index_page.pk, index_page.get_parent().pk],
        "str": ["dummy", "paypal-rest", "nope", "a" * 300],
    }
    client = Client(raise_request_exception=False)
    patterns = plugin_patterns()
    assert len(patterns) > 10
    assert all(not path.endswith("Z") for regex, _pattern in patterns for path in sample_paths(regex, values))
    errors = []
    for regex, _pattern in patterns:
        for path in sample_paths(regex, values):
            for query in JUNK_QUERIES:
                for method in (client.get, client.post):
                    response = method(path + query, JUNK_POST) if method == client.post else method(path + query)
                    if response.status_code >= 500:
                        errors.append((method.__name__, path + query, response.status_code))
    for page in (paid_session, index_page):
        for data in (JUNK_POST, {"first_name": "x" * 5000, "email": "@", "billing_country": "ZZ"}):
            response = client.post(page.url, data)
            if response.status_code >= 500:
                errors.append(("post", page.url, response.status_code))
    assert errors == []


def test_confirming_by_hand_an_expired_registration_whose_learner_registered_again_explains_why_not(
    admin_client, paid_session
):
    expired = registration_for(paid_session, email="again@example.com", status=RegistrationStatus.EXPIRED)
    registration_for(paid_session, email="Again@example.com", status=RegistrationStatus.PENDING)
    response = admin_client.post(
        f"/admin/training_registrations/confirm/{expired.pk}/", {"reason": "Paid by bank transfer"}
    )
    assert response.status_code == 200
    assert "registered again" in response.content.decode()
    expired.refresh_from_db()
    assert expired.status == RegistrationStatus.EXPIRED
