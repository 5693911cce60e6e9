"""Every text answer has a length limit, enforced on the server, configurable (issue 17)."""

import pytest

from tests.registration_helpers import learner
from wagtail_training_pay.models import Registration, SessionFormField

pytestmark = pytest.mark.django_db


@pytest.fixture
def session_with_text_questions(paid_session):
    SessionFormField.objects.create(page=paid_session, label="Motivation", field_type="multiline", sort_order=0)
    SessionFormField.objects.create(page=paid_session, label="Company", field_type="singleline", sort_order=1)
    return paid_session


def test_a_two_million_character_answer_is_refused_and_nothing_is_stored(client, session_with_text_questions):
    response = client.post(session_with_text_questions.url, learner(motivation="x" * 2_000_000, company="ACME"))
    assert response.status_code == 200
    assert "motivation" in response.context["form"].errors
    assert not Registration.objects.exists()


def test_an_answer_within_the_default_limit_is_stored(client, session_with_text_questions):
    response = client.post(session_with_text_questions.url, learner(motivation="y" * 2000, company="ACME"))
    assert response.status_code == 302
    assert Registration.objects.get().form_data["motivation"] == "y" * 2000


def test_the_limit_is_configurable_and_shown_to_the_browser(client, session_with_text_questions, settings):
    settings.WAGTAIL_TRAINING_PAY_ANSWER_MAX_LENGTH = 10
    page = client.get(session_with_text_questions.url).content.decode()
    assert 'maxlength="10"' in page
    response = client.post(session_with_text_questions.url, learner(motivation="z" * 11, company="ACME"))
    assert "motivation" in response.context["form"].errors
    response = client.post(session_with_text_questions.url, learner(motivation="z" * 10, company="A" * 11))
    assert "company" in response.context["form"].errors
    assert not Registration.objects.exists()
