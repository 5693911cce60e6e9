"""The registration form's own widgets skip the template engine but write Django's markup exactly."""

import pytest
from django import forms

from wagtail_training_pay.forms import DirectEmailInput, DirectHiddenInput, DirectTextInput

ATTRS = {"autocomplete": "given-name", "required": True, "disabled": False, "aria-invalid": "true", "id": "id_x"}


@pytest.mark.parametrize(
    ("direct", "django_widget"),
    [(DirectTextInput, forms.TextInput), (DirectEmailInput, forms.EmailInput), (DirectHiddenInput, forms.HiddenInput)],
)
@pytest.mark.parametrize("value", [None, "", 'Ada "<b>" & co', 12])
def test_a_direct_widget_writes_the_same_markup_as_django_templates(direct, django_widget, value):
    mine = direct(attrs={"class": "wide"}).render("first_name", value, ATTRS)
    djangos = django_widget(attrs={"class": "wide"}).render("first_name", value, ATTRS)
    assert mine == djangos
    assert "<b>" not in mine
