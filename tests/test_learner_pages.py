"""The learner's pages: a way back to the list of sessions, and the learner's own answers on the receipt."""

import pytest
from django.core import mail

from tests.registration_helpers import pay_with_dummy, register, registration_for
from wagtail_training_pay.models import SessionFormField

pytestmark = pytest.mark.django_db

BACK_LINK = '<p class="wtp-back"><a href="/training/"><span aria-hidden="true">← </span>All sessions</a></p>'


@pytest.fixture
def session_with_questions(paid_session):
    SessionFormField.objects.create(
        page=paid_session, label="Experience level", field_type="dropdown", choices="Beginner,Advanced", required=True
    )
    SessionFormField.objects.create(page=paid_session, label="Diet", field_type="singleline", required=False)
    SessionFormField.objects.create(page=paid_session, label="Email", field_type="singleline", required=False)
    return paid_session


def test_every_learner_page_links_back_to_the_list_of_sessions(learner_client, paid_session):
    assert BACK_LINK in learner_client.get(paid_session.url).content.decode()
    register(learner_client, paid_session)
    registration = registration_for()
    token = registration.token
    assert BACK_LINK in learner_client.get(f"/training/registration/{token}/pay/").content.decode()
    assert BACK_LINK in learner_client.get(f"/training/registration/{token}/").content.decode()
    pay_with_dummy(learner_client, registration)
    assert BACK_LINK in learner_client.get(f"/training/registration/{token}/done/").content.decode()


def receipt_of(html):
    return html.split('<section class="wtp-receipt"', 1)[1].split("</section>", 1)[0]


def test_the_receipt_shows_the_learners_answers_on_the_done_page_the_manage_page_and_the_email(
    learner_client, session_with_questions
):
    register(learner_client, session_with_questions, experience_level="Advanced", question_email="work <b>address</b>")
    registration = registration_for()
    pay_with_dummy(learner_client, registration)
    token = registration.token
    for url in (f"/training/registration/{token}/done/", f"/training/registration/{token}/"):
        receipt = receipt_of(learner_client.get(url).content.decode())
        assert "<dt>Experience level</dt><dd>Advanced</dd>" in receipt, url
        # A question named like one of ours is shown under its own label; answers are escaped.
        assert "<dt>Email</dt><dd>work &lt;b&gt;address&lt;/b&gt;</dd>" in receipt, url
        assert "<dt>Diet</dt>" not in receipt  # not answered: not shown
    [confirmation] = [message for message in mail.outbox if "confirmed" in message.subject.lower()]
    assert "Experience level: Advanced\n" in confirmation.body
    html = confirmation.alternatives[0][0]
    assert "<dt>Experience level</dt><dd>Advanced</dd>" in html
