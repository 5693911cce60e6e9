"""Hostile input: forged cross-site posts, guessed tokens, other people's sessions and payments, junk in every field."""

import re
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client, RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from wagtail.models import GroupPagePermission

from tests.registration_helpers import learner, offer_methods, register, registration_for
from wagtail_training_pay.models import (
    HostPaymentMethod,
    Payment,
    Registration,
    RegistrationStatus,
    TrainingIndexPage,
    UsageCharge,
)
from wagtail_training_pay.services import pay_per_use

from .pay_per_use_support import BILLING, reload, session_form_data

pytestmark = pytest.mark.django_db

JUNK = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400)


@pytest.fixture
def lenient_rate_limit(settings):
    settings.WAGTAIL_TRAINING_PAY_REGISTRATION_RATE_LIMIT = "100000/h"


@pytest.fixture
def draft_session(pay_per_use_on, make_session):
    HostPaymentMethod.objects.create(settings=pay_per_use_on, variant="dummy", label="Test", sort_order=0)
    page = reload(make_session(expected_participants=10, teleconference_participants=2))
    page.save_revision()
    return reload(page)


def csrf_client(user=None):
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def csrf_token_of(response):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode()).group(1)


def start_host_payment(page, host):
    revision = page.get_latest_revision()
    return pay_per_use.create_usage_payment(page, revision, host, action="publish", billing=BILLING, variant="dummy")


def billing_url(page):
    return f"/admin/training/pay-per-use/{page.pk}/billing/?revision={page.get_latest_revision().pk}&action=publish"


# -- CSRF on every form ----------------------------------------------------------------------------


def test_a_registration_posted_from_another_site_is_refused_and_the_real_form_works(paid_session):
    client = csrf_client()
    assert client.post(paid_session.url, learner()).status_code == 403
    assert Registration.objects.count() == 0

    token = csrf_token_of(client.get(paid_session.url))
    assert client.post(paid_session.url, {**learner(), "csrfmiddlewaretoken": token}).status_code == 302
    assert Registration.objects.count() == 1


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        ("", {"confirm": "on"}),  # cancel
        ("erase/", {"erase-confirm": "on"}),
        ("pay/", {"choose_payment_method": "1", "payment_method": "dummy"}),
        ("pay/", {"status": "confirmed", "fraud_status": "accept", "gateway_response": "3ds-disabled"}),
    ],
)
def test_the_learners_forms_refuse_posts_without_the_csrf_token(client, paid_session, suffix, data):
    register(client, paid_session)
    registration = registration_for()

    response = csrf_client().post(f"/training/registration/{registration.token}/{suffix}", data)

    assert response.status_code == 403
    registration.refresh_from_db()
    assert (registration.status, registration.anonymized_at) == (RegistrationStatus.PENDING, None)
    assert Payment.objects.get(registration=registration).status == "waiting"


def test_the_hosts_billing_and_payment_forms_refuse_posts_without_the_csrf_token(draft_session, admin_user):
    client = csrf_client(admin_user)
    assert client.post(billing_url(draft_session), {**BILLING, "variant": "dummy"}).status_code == 403
    assert UsageCharge.objects.count() == 0

    payment = start_host_payment(draft_session, admin_user)
    url = f"/admin/training/pay-per-use/payment/{payment.token}/"
    assert client.post(url, {"status": "confirmed", "fraud_status": "accept"}).status_code == 403
    assert Payment.objects.get(pk=payment.pk).status == "waiting"
    assert not reload(draft_session).live


# -- amounts, currency and variant from the server only ----------------------------------------------


def test_a_host_cannot_choose_the_amount_the_currency_or_a_learners_only_variant(draft_session, admin_client, settings):
    settings.PAYMENT_VARIANTS = {**settings.PAYMENT_VARIANTS, "learners-only": ("payments.dummy.DummyProvider", {})}
    refused = admin_client.post(billing_url(draft_session), {**BILLING, "variant": "learners-only"})
    assert refused.status_code == 200
    assert UsageCharge.objects.count() == 0

    tampered = {**BILLING, "variant": "dummy", "amount": "0.01", "total": "0.01", "currency": "USD"}
    assert admin_client.post(billing_url(draft_session), tampered).status_code == 302
    payment = Payment.objects.get(usage_charge__page=draft_session)
    assert (payment.total, payment.currency) == (Decimal("27.00"), "EUR")


# -- tokens ------------------------------------------------------------------------------------------


def test_tokens_are_random_uuid4s_and_a_guessed_one_is_a_404(client, paid_session):
    for number in range(5):
        register(client, paid_session, email=f"learner{number}@example.com")
    tokens = [*Registration.objects.values_list("token", flat=True), *Payment.objects.values_list("token", flat=True)]
    assert all(uuid.UUID(str(token)).version == 4 for token in tokens)
    assert len(set(map(str, tokens))) == 10
    guessed = uuid.uuid4()
    for path in ("", "pay/", "done/", "session.ics", "my-data.json"):
        assert client.get(f"/training/registration/{guessed}/{path}").status_code == 404
    assert client.get(f"/training/payment/{guessed}/return/").status_code == 404
    assert client.get("/training/registration/1/").status_code == 404  # no route by number


def test_the_gateways_secret_tokens_are_compared_in_constant_time(db, monkeypatch):
    from wagtail_training_pay.providers import payflow

    compared = []

    def spy(left, right):
        compared.append((left, right))
        return left == right

    monkeypatch.setattr(payflow, "constant_time_compare", spy)
    payment = Payment.objects.create(variant="dummy", total=Decimal("45.00"), currency="EUR")
    payment.attrs.payflow_secure_token = {"id": "the-real-id", "token": "secret", "created": "2026-01-01T00:00:00"}
    provider = payflow.PayflowProProvider(vendor="v", password="p", endpoint="http://127.0.0.1:9/")
    request = RequestFactory().post("/", {"SECURETOKENID": "a-guess"})

    response = provider.process_data(payment, request)

    assert response.status_code == 400
    assert compared == [("a-guess", "the-real-id")]


# -- other people's things -----------------------------------------------------------------------------


@pytest.fixture
def other_host(django_user_model, index_page):
    """An editor with full rights on another part of the tree only."""
    other_index = index_page.get_parent().add_child(instance=TrainingIndexPage(title="Other", slug="other"))
    group = Group.objects.create(name="Other hosts")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    for permission in ("add_page", "change_page", "publish_page"):
        GroupPagePermission.objects.create(
            group=group, page=other_index, permission=Permission.objects.get(codename=permission)
        )
    user = django_user_model.objects.create_user("other", "other@example.com", "pw", is_staff=True)
    user.groups.add(group)
    return user


def test_a_host_cannot_pay_for_nor_publish_another_hosts_session(draft_session, admin_user, other_host, client):
    payment = start_host_payment(draft_session, admin_user)
    client.force_login(other_host)

    for url in (
        f"/admin/training/pay-per-use/{draft_session.pk}/cost/",
        billing_url(draft_session),
        f"/admin/training/pay-per-use/payment/{payment.token}/",
        f"/admin/training/pay-per-use/payment/{payment.token}/result/",
        f"/admin/training/pay-per-use/{draft_session.pk}/start/",
    ):
        response = client.get(url)
        assert (response.status_code, response.get("Location")) == (302, "/admin/"), url
    client.post(billing_url(draft_session), {**BILLING, "variant": "dummy"})
    client.post(f"/admin/training/pay-per-use/payment/{payment.token}/", {"status": "confirmed"})
    client.post(f"/admin/pages/{draft_session.pk}/edit/", session_form_data(draft_session, **{"action-publish": "1"}))

    assert UsageCharge.objects.filter(page=draft_session).count() == 1
    assert Payment.objects.get(pk=payment.pk).status == "waiting"
    assert not reload(draft_session).live


def test_a_learner_cannot_reach_another_learners_registration(client, paid_session):
    register(client, paid_session)
    mine = registration_for()
    other = Client()
    register(other, paid_session, email="grace@example.com")
    theirs = registration_for("grace@example.com")

    page = client.get(f"/training/registration/{mine.token}/").content.decode()
    assert str(theirs.token) not in page and "grace@example.com" not in page
    # Registering with their email from my browser does not hand me their link.
    response = register(client, paid_session, email="grace@example.com")
    assert str(theirs.token) not in response.content.decode()


# -- junk in every field: never a 500 --------------------------------------------------------------------


@given(
    data=st.dictionaries(
        st.sampled_from(
            [
                "first_name",
                "last_name",
                "email",
                "billing_address",
                "billing_postcode",
                "billing_city",
                "billing_country",
                "payment_method",
                "amount",
                "currency",
            ]
        ),
        text,
    )
)
@hypothesis_settings(**JUNK)
@pytest.mark.usefixtures("lenient_rate_limit")
def test_the_registration_form_never_answers_a_server_error(client, paid_session, training_settings, data):
    if not training_settings.learner_payment_methods.exists():
        offer_methods(training_settings, dummy="Test", **{"dummy-two": "Other"})
    response = client.post(paid_session.url, {**learner(email=None), **data})
    assert response.status_code < 500
    for registration in Registration.objects.all():
        assert len(registration.first_name) <= 100 and len(registration.billing_postcode) <= 20
        assert (registration.amount, registration.currency) == (Decimal("45.00"), "EUR")


@given(
    data=st.dictionaries(
        st.sampled_from(["name", "email", "address", "postcode", "city", "country", "variant", "revision", "action"]),
        text,
    )
)
@hypothesis_settings(**JUNK)
def test_the_billing_form_never_answers_a_server_error(admin_client, draft_session, data):
    response = admin_client.post(billing_url(draft_session), {**BILLING, "variant": "dummy", **data})
    assert response.status_code < 500
    for payment in Payment.objects.filter(usage_charge__isnull=False):
        assert (payment.total, payment.currency) == (Decimal("27.00"), "EUR")


@pytest.mark.usefixtures("lenient_rate_limit")
def test_overlong_values_are_refused_next_to_the_field_not_cut_or_crashed(client, paid_session):
    response = client.post(paid_session.url, learner(first_name="A" * 101, billing_postcode="7" * 21))
    assert response.status_code == 200
    assert Registration.objects.count() == 0
    assert response.context["form"].errors.keys() >= {"first_name", "billing_postcode"}
