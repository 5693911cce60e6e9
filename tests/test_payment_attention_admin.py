"""Issue 14, "needs attention" in the admin: a payment's money movements and its disagreement with the gateway's
answer are shown, and an administrator who may change payments marks it settled (a confirmation step, a POST
with Django's CSRF token, a note kept in the payment's history); anyone else is refused. Through the real admin
URLs as real staff users; the disagreement is a real one (the Payflow simulator refuses a learner's refund)."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from wagtail.models import ModelLogEntry

from tests.money_invariant import payflow_holdings
from wagtail_training_pay.models import Payment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("gateway_variants")]
pytest_plugins = ["tests.admin_fixtures"]

SETTLED_ACTION = "wagtail_training_pay.attention_cleared"
TOKEN = "a" * 32  # a CSRF secret as Django's cookie holds it; the form may send it unmasked


@pytest.fixture
def refused_refund(client, paid_by_card, payflow_simulator):
    """A learner paid by card and cancelled; the gateway refused the refund (RESULT 105)."""
    payflow_simulator.settle()
    payflow_simulator.faults.inject("result:105")
    client.post(paid_by_card.get_manage_url(), {"confirm": "on"})
    payflow_simulator.faults.clear()
    payment = Payment.objects.get(pk=paid_by_card.paid_by_id)
    assert payment.needs_attention
    return payment


@pytest.fixture
def settler(make_staff):
    """Staff who may see money and change payments, not a superuser."""
    return make_staff("registrations", "payments", "refund", "settle_payments", username="settler")


def staff_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def settle_url(payment):
    return reverse("training_payments:settle", args=[payment.pk])


def test_an_administrator_reads_the_disagreement_confirms_and_marks_it_settled_with_a_note(
    refused_refund, settler, payflow_simulator
):
    client = staff_client(settler)
    inspect_url = reverse("training_payments:inspect", args=[refused_refund.pk])
    page = client.get(inspect_url).content.decode()
    assert "The gateway refused a refund of 45.00" in page
    assert "Credit error" in page  # the gateway's answer
    assert page.count("<td>Refund</td>") == 1 and "<td>Failed</td>" in page and "<td>Sale</td>" in page
    assert f'href="{settle_url(refused_refund)}"' in page

    confirm = client.get(settle_url(refused_refund))
    assert confirm.status_code == 200
    html = confirm.content.decode()
    assert "Mark this payment" in html and "Credit error" in html and "<td>Refund</td>" in html

    # What docs/money.md says to do: settle it (here the registration's Refund action, accepted this time)...
    refund_url = reverse("training_registrations:refund", args=[refused_refund.registration_id])
    refund_page = client.get(refund_url).content.decode()
    refunded = client.post(refund_url, {"csrfmiddlewaretoken": csrf_token(refund_page), "amount": ""})
    assert refunded.status_code == 302
    assert sum(payflow_holdings(payflow_simulator).values()) == 0
    assert Payment.objects.get(pk=refused_refund.pk).needs_attention  # ...then say so, with a note
    no_note = client.post(settle_url(refused_refund), {"csrfmiddlewaretoken": csrf_token(html), "note": ""})
    assert no_note.status_code == 200 and "This field is required." in no_note.content.decode()
    assert Payment.objects.get(pk=refused_refund.pk).needs_attention

    note = "Refunded 45.00 in PayPal Manager, PNREF A1B2"
    done = client.post(settle_url(refused_refund), {"csrfmiddlewaretoken": csrf_token(html), "note": note})

    assert done.status_code == 302 and done["Location"] == inspect_url
    payment = Payment.objects.get(pk=refused_refund.pk)
    assert (payment.needs_attention, payment.attention_since) == ("", None)
    (entry,) = ModelLogEntry.objects.for_instance(payment).filter(action=SETTLED_ACTION)
    assert entry.user == settler
    assert entry.data == {"reason": "The gateway refused a refund of 45.00", "note": note}
    after = client.get(inspect_url).content.decode()
    assert "The disagreement with the gateway is marked as settled." in after
    assert "No: the site and the gateway agree." in after and note in after
    listing = client.get(reverse("training_payments:index"), {"attention": "disagreement"})
    assert list(listing.context["object_list"]) == []
    # Settled already: the confirmation page is not offered again.
    again = client.get(settle_url(refused_refund))
    assert again.status_code == 302 and again["Location"] == inspect_url


@pytest.mark.money_disagreement("the refund was refused on purpose and nobody settles it here")
def test_a_post_without_the_csrf_token_changes_nothing(refused_refund, settler):
    client = staff_client(settler)
    response = client.post(settle_url(refused_refund), {"note": "forged"})
    assert response.status_code == 403
    assert Payment.objects.get(pk=refused_refund.pk).needs_attention
    assert not ModelLogEntry.objects.filter(action=SETTLED_ACTION).exists()


@pytest.mark.money_disagreement("the refund was refused on purpose and nobody settles it here")
@pytest.mark.parametrize("grants", [("payments",), ("settle_payments",), ("registrations", "change", "refund")])
def test_staff_without_the_permission_to_change_payments_see_no_button_and_are_refused(
    refused_refund, make_staff, grants
):
    user = make_staff(*grants)
    client = staff_client(user)
    inspect = client.get(reverse("training_payments:inspect", args=[refused_refund.pk]))
    assert settle_url(refused_refund) not in inspect.content.decode()
    assert client.get(settle_url(refused_refund)).status_code in (302, 403)
    client.cookies["csrftoken"] = TOKEN  # a valid CSRF pair: the refusal is the permission's, not the token's
    response = client.post(settle_url(refused_refund), {"csrfmiddlewaretoken": TOKEN, "note": "x"})
    assert response.status_code in (302, 403)
    if response.status_code == 302:
        assert "login" in response["Location"] or response["Location"] == reverse("wagtailadmin_home")
    assert Payment.objects.get(pk=refused_refund.pk).needs_attention
    assert not ModelLogEntry.objects.filter(action=SETTLED_ACTION).exists()


@pytest.mark.money_disagreement("the refund was refused on purpose and nobody settles it here")
def test_a_french_administrator_reads_the_confirmation_in_french(refused_refund, settler):
    from wagtail.users.models import UserProfile

    profile = UserProfile.get_for_user(settler)
    profile.preferred_language = "fr"
    profile.save()
    client = staff_client(settler)
    inspect = client.get(reverse("training_payments:inspect", args=[refused_refund.pk])).content.decode()
    assert "Marquer comme réglé" in inspect
    html = client.get(settle_url(refused_refund)).content.decode()
    assert "Marquer le désaccord de ce paiement avec la passerelle comme réglé" in html
    assert "Ce que vous avez vérifié et fait" in html
    assert "Oui, le marquer réglé" in html
    assert "Mouvements d’argent" in html or "Mouvements d'argent" in html


def test_a_note_is_shown_as_text_and_a_second_settlement_posted_meanwhile_logs_nothing(
    refused_refund, settler, make_staff, payflow_simulator
):
    """Two administrators open the confirmation page; both submit. One log entry; a script in a note is text."""
    other = make_staff("registrations", "payments", "refund", "settle_payments", username="other-settler")
    first, second = staff_client(settler), staff_client(other)
    token_first = csrf_token(first.get(settle_url(refused_refund)).content.decode())
    token_second = csrf_token(second.get(settle_url(refused_refund)).content.decode())
    refund_url = reverse("training_registrations:refund", args=[refused_refund.registration_id])
    first.post(refund_url, {"csrfmiddlewaretoken": csrf_token(first.get(refund_url).content.decode()), "amount": ""})
    assert sum(payflow_holdings(payflow_simulator).values()) == 0

    note = '<script>alert("x")</script> refunded'
    assert first.post(settle_url(refused_refund), {"csrfmiddlewaretoken": token_first, "note": note}).status_code == 302
    late = second.post(settle_url(refused_refund), {"csrfmiddlewaretoken": token_second, "note": "me too"}, follow=True)

    assert "This payment does not need attention." in late.content.decode()
    assert ModelLogEntry.objects.filter(action=SETTLED_ACTION).count() == 1
    page = first.get(reverse("training_payments:inspect", args=[refused_refund.pk])).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; refunded" in page
    assert '<script>alert("x")</script>' not in page
