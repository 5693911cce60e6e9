"""Helpers of the registration tests: a learner filling in the form and paying with the dummy provider."""

import re

from django.utils import timezone
from payments import FraudStatus, PaymentStatus

from wagtail_training_pay.models import Registration

LEARNER = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "email": "ada@example.com",
    "billing_address": "12 rue des Archives",
    "billing_postcode": "75004",
    "billing_city": "Paris",
    "billing_country": "FR",
}


def learner(**overrides):
    data = dict(LEARNER)
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def register(client, page, **overrides):
    """POST the registration form of ``page`` as a learner would."""
    return client.post(page.url, learner(**overrides))


def registration_for(email="ada@example.com"):
    return Registration.objects.get(email=email)


def token_in(location):
    return re.search(r"registration/([0-9a-f-]{36})/", location).group(1)


def pay_with_dummy(client, registration, status=PaymentStatus.CONFIRMED, gateway_response="3ds-disabled", **extra):
    """Submit the dummy provider's form on the payment step; returns the response."""
    data = {
        "status": status,
        "fraud_status": FraudStatus.ACCEPT,
        "gateway_response": gateway_response,
    }
    data.update(extra)
    return client.post(f"/training/registration/{registration.token}/pay/", data)


def messages_of(response):
    return [str(message) for message in response.context["messages"]] if response.context else []


def refusals_of(response):
    """The form's own errors (a full session, a closed one...): the error summary says them, once."""
    form = response.context.get("form") if response.context else None
    return [str(error) for error in form.non_field_errors()] if form is not None else []


def commit_after_each_request(client, capture_on_commit_callbacks):
    """Inside a test's transaction nothing commits: run each request's ``on_commit`` callbacks when it ends,
    as the commit of a real request would (callbacks of rolled-back savepoints are still dropped)."""
    original = client.request

    def request(**kwargs):
        with capture_on_commit_callbacks(execute=True):
            return original(**kwargs)

    client.request = request
    return client


def offer_methods(training_settings, **labels):
    """Offer learners these payment variants (``variant=label``), in this order."""
    from wagtail_training_pay.models import LearnerPaymentMethod

    for order, (variant, label) in enumerate(labels.items()):
        LearnerPaymentMethod.objects.create(settings=training_settings, variant=variant, label=label, sort_order=order)


#: A test Visa the gateways accept, and a security code that appears nowhere else in a page or a log.
CARD, CVV = "4111111111111111", "739"


def pay_step(registration):
    return f"/training/registration/{registration.token}/pay/"


def card_data(number=CARD, cvv=CVV):
    """What a learner types in the direct card form of the payment step."""
    year = timezone.now().year + 2
    return {"name": "Ada Lovelace", "number": number, "expiration_0": "12", "expiration_1": str(year), "cvv2": cvv}
