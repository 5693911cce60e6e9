"""Sessions stay out of Wagtail's Forms menu, which would list them with no submissions; their registrations
have their own view."""

import pytest
from wagtail.contrib.forms.utils import get_forms_for_user

from tests.testapp.models import PlainFormPage

pytestmark = pytest.mark.django_db


@pytest.fixture
def plain_form(site):
    page = PlainFormPage(title="Contact", slug="contact")
    site.root_page.add_child(instance=page)
    return page


def test_sessions_are_not_listed_in_the_forms_menu(admin_client, admin_user, confirmed, plain_form):
    session = confirmed.page
    assert list(get_forms_for_user(admin_user).specific()) == [plain_form]
    html = admin_client.get("/admin/forms/").content.decode()
    assert "Contact" in html and session.title not in html


def test_a_sessions_form_submissions_url_is_refused(admin_client, confirmed):
    response = admin_client.get(f"/admin/forms/submissions/{confirmed.page.pk}/")
    assert (response.status_code, response.get("Location")) == (302, "/admin/")  # Wagtail's permission denied


def test_the_forms_menu_disappears_when_sessions_are_the_only_forms(admin_client, paid_session):
    html = admin_client.get("/admin/").content.decode()
    assert "/admin/forms/" not in html
