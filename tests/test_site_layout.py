"""The learner pages inside the site's own base template (a stock `wagtail start` one here), or standalone."""

import pytest
from django.test import override_settings

from tests.registration_helpers import register, registration_for
from wagtail_training_pay.layout import STANDALONE_BASE_TEMPLATE, base_template_name

pytestmark = pytest.mark.django_db

STOCK_BASE = "testapp/stock_base.html"
STOCK_MARK = "css/mysite.css"
STYLESHEET = "/static/wagtail_training_pay/training.css"
USERBAR = "<wagtail-userbar"


def page_html(client, url):
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=STOCK_BASE)
def test_the_session_page_renders_inside_the_sites_base_with_the_plugins_stylesheet(client, paid_session):
    html = page_html(client, paid_session.url)
    assert html.count("<html") == 1 and html.count("<body") == 1
    assert STOCK_MARK in html
    head = html.split("</head>")[0]
    assert STYLESHEET in head, "the plugin's stylesheet goes into the site's extra_css block"
    assert "/static/wagtail_training_pay/training.js" in html
    assert '<div class="wtp wtp-main">' in html and 'name="billing_city"' in html
    assert "wtp-skip-link" not in html, "the site's base owns the page's landmarks and skip link"
    assert f"<title>\n            \n            {paid_session.title}" in html.replace("\r", "")


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=STOCK_BASE)
def test_editors_get_the_wagtail_userbar_and_learners_do_not(client, admin_user, paid_session):
    assert USERBAR not in page_html(client, paid_session.url)
    client.force_login(admin_user)
    assert USERBAR in page_html(client, paid_session.url)
    assert USERBAR in page_html(client, paid_session.get_parent().url)


def test_the_standalone_page_also_shows_the_userbar_to_editors(client, admin_user, paid_session):
    client.force_login(admin_user)
    html = page_html(client, paid_session.url)
    assert STOCK_MARK not in html and USERBAR in html and "wtp-skip-link" in html


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=STOCK_BASE)
def test_flash_messages_show_inside_the_sites_base(learner_client, paid_session):
    register(learner_client, paid_session)
    registration = registration_for()
    response = learner_client.post(f"/training/registration/{registration.token}/", {})
    html = response.content.decode()
    assert STOCK_MARK in html
    assert 'class="wtp-messages"' in html and "Please tick the box" in html


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=STOCK_BASE)
def test_every_learner_page_uses_the_sites_base(learner_client, paid_session):
    assert STOCK_MARK in page_html(learner_client, paid_session.get_parent().url)
    register(learner_client, paid_session)
    registration = registration_for()
    for path in ("pay/", "done/", ""):
        html = page_html(learner_client, f"/training/registration/{registration.token}/{path}")
        assert STOCK_MARK in html and STYLESHEET in html, path


def test_a_site_without_base_html_gets_the_standalone_pages(client, paid_session):
    assert base_template_name() == STANDALONE_BASE_TEMPLATE
    html = page_html(client, paid_session.url)
    assert '<main class="wtp-landmark" id="main"' in html and STYLESHEET in html


def test_the_default_is_the_sites_base_html(tmp_path, settings, client, paid_session):
    (tmp_path / "base.html").write_text(
        "{% block extra_css %}{% endblock %}<p>the site's own base.html</p>{% block content %}{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    assert base_template_name() == "base.html"
    html = page_html(client, paid_session.url)
    assert "the site's own base.html" in html and STYLESHEET in html and "wtp-skip-link" not in html


@pytest.mark.parametrize("value", [None, "", STANDALONE_BASE_TEMPLATE])
def test_a_site_can_choose_the_standalone_look(value, tmp_path, settings, client, paid_session):
    (tmp_path / "base.html").write_text("<p>the site's own base.html</p>{% block content %}{% endblock %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    settings.WAGTAIL_TRAINING_PAY_BASE_TEMPLATE = value
    html = page_html(client, paid_session.url)
    assert "the site's own base.html" not in html and "wtp-skip-link" in html


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE="no/such/template.html")
def test_a_named_base_that_does_not_exist_falls_back_to_the_standalone_page(client, paid_session):
    assert "wtp-skip-link" in page_html(client, paid_session.url)


def test_a_broken_site_base_is_reported_not_hidden(tmp_path, settings, client, paid_session):
    from django.template import TemplateSyntaxError

    (tmp_path / "base.html").write_text("{% block content %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    with pytest.raises(TemplateSyntaxError):
        client.get(paid_session.url)


def base_template_warnings():
    from django.core.checks import run_checks

    return [message.msg for message in run_checks() if message.id == "wagtail_training_pay.W003"]


@pytest.mark.parametrize(
    ("base", "missing"),
    [
        ("<p>{% block content %}{% endblock %}</p>", "'extra_css'"),
        ("{% block extra_css %}{% endblock %}{% block main %}{% endblock %}", "'content'"),
        ("<p>no blocks</p>", "'content', 'extra_css'"),
    ],
)
def test_a_site_base_without_the_blocks_the_pages_fill_is_reported(base, missing, tmp_path, settings):
    (tmp_path / "base.html").write_text(base)
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    (message,) = base_template_warnings()
    assert f"has no {missing} block" in message


def test_blocks_of_the_templates_a_site_base_extends_count(tmp_path, settings):
    (tmp_path / "base.html").write_text('{% extends "layout.html" %}{% block content %}{% endblock %}')
    (tmp_path / "layout.html").write_text("{% block extra_css %}{% endblock %}{% block content %}{% endblock %}")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    assert base_template_warnings() == []


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=STOCK_BASE)
def test_the_stock_wagtail_base_and_the_standalone_page_need_no_warning():
    assert base_template_warnings() == []
    with override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE=None):
        assert base_template_warnings() == []


@override_settings(WAGTAIL_TRAINING_PAY_BASE_TEMPLATE="wagtail_training_pay/base.html")
def test_naming_the_plugins_own_layout_gives_the_standalone_page_not_a_loop(client, paid_session):
    assert base_template_name() == STANDALONE_BASE_TEMPLATE
    assert "wtp-skip-link" in page_html(client, paid_session.url)


def test_an_override_of_the_plugins_layout_in_the_old_way_is_reported(tmp_path, settings):
    from django.core.checks import run_checks

    (tmp_path / "wagtail_training_pay").mkdir()
    old_way = tmp_path / "wagtail_training_pay" / "base.html"
    old_way.write_text('{% extends "testapp/stock_base.html" %}{% block content %}{% endblock %}')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    reported = [m.id for m in run_checks() if m.id.startswith("wagtail_training_pay.W00") and not m.is_silenced()]
    assert reported == ["wagtail_training_pay.W004"]
    old_way.write_text(
        '{% extends "testapp/stock_base.html" %}{% block content %}{% block training_content %}{% endblock %}'
        "{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]  # a fresh engine: the cached loader forgets
    assert not [m for m in run_checks() if m.id == "wagtail_training_pay.W004"]
