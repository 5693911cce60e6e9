"""The registration form's own widgets skip the template engine but write Django's markup exactly."""

from decimal import Decimal

import pytest
from django import forms
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from wagtail_training_pay.form_rendering import WRITERS as WRITERS_OF_TEST
from wagtail_training_pay.forms import CountrySelect

ATTRS = {
    "autocomplete": "given-name",
    "required": True,
    "disabled": False,
    "aria-invalid": "true",
    "id": "id_x",
    "data-note": 'say "hi" & <go>',
}
VALUES = [None, "", 'Ada "<b>" & co', 12, Decimal("1234.5"), mark_safe("<i>safe</i>"), gettext_lazy("Email")]
CHOICES = [
    ("", "---------"),
    (1, "One & only"),
    ("Group <A>", [("a1", 'A "one"'), ("a2", Decimal("2.5"))]),
    ("b", gettext_lazy("Email")),
]
WIDGETS = [
    forms.TextInput,
    forms.EmailInput,
    forms.NumberInput,
    forms.URLInput,
    forms.HiddenInput,
    forms.PasswordInput,
    forms.DateInput,
    forms.CheckboxInput,
    forms.Textarea,
    lambda attrs: forms.Select(attrs=attrs, choices=CHOICES),
    lambda attrs: forms.SelectMultiple(attrs=attrs, choices=CHOICES),
]


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("value", [*VALUES, "a1", ["a1", "b"], True])
@pytest.mark.parametrize("widget_class", WIDGETS)
def test_the_widget_renderer_writes_what_djangos_templates_write(widget_class, value, language):
    from django.forms.renderers import DjangoTemplates

    from wagtail_training_pay.form_rendering import WRITERS, WidgetRenderer

    widget = widget_class(attrs={"class": 'wide "x"'})
    assert widget.template_name in WRITERS
    with translation.override(language):
        mine = widget.render("first_name", value, ATTRS, renderer=WidgetRenderer())
        djangos = widget.render("first_name", value, ATTRS, renderer=DjangoTemplates())
    assert mine == djangos
    assert "<b>" not in mine and "<go>" not in mine


def test_the_widget_renderer_leaves_other_widgets_and_overridden_templates_to_django(tmp_path, settings):
    from wagtail_training_pay.form_rendering import WidgetRenderer

    radios = forms.RadioSelect(choices=[("a", "A")]).render("r", "a", {"id": "id_r"}, renderer=WidgetRenderer())
    assert 'type="radio"' in radios and "<div" in radios  # multiple_input.html, rendered by Django

    (tmp_path / "django" / "forms" / "widgets").mkdir(parents=True)
    (tmp_path / "django" / "forms" / "widgets" / "text.html").write_text(
        '<input class="site-input" name="{{ widget.name }}">'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    settings.FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
    assert forms.TextInput().render("n", "v", renderer=WidgetRenderer()) == '<input class="site-input" name="n">'


def test_a_template_found_outside_django_is_not_written_in_python(tmp_path, settings):
    from django.forms.renderers import TemplatesSetting

    from wagtail_training_pay.form_rendering import is_djangos_own

    (tmp_path / "django" / "forms" / "widgets").mkdir(parents=True)
    (tmp_path / "django" / "forms" / "widgets" / "textarea.html").write_text("<textarea></textarea>")
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    assert is_djangos_own(TemplatesSetting(), "django/forms/widgets/textarea.html") is False
    assert is_djangos_own(TemplatesSetting(), "wagtail_training_pay/includes/field.html") is False
    assert is_djangos_own(TemplatesSetting(), "no/such/template.html") is False


@pytest.mark.django_db
def test_the_session_page_form_writes_every_field_as_django_would(make_session):
    """Every field type an editor can add, plus the learner's own fields, bound with bad data."""
    from django.forms.renderers import DjangoTemplates

    from wagtail_training_pay.form_rendering import WidgetRenderer
    from wagtail_training_pay.models import SessionFormField

    page = make_session()
    for order, field_type in enumerate(
        [
            "singleline",
            "multiline",
            "email",
            "number",
            "url",
            "checkbox",
            "checkboxes",
            "dropdown",
            "multiselect",
            "radio",
            "date",
            "datetime",
            "hidden",
        ]
    ):
        SessionFormField.objects.create(
            page=page, label=f"Q {field_type} <b>", field_type=field_type, choices="x & y,z", sort_order=order
        )
    data = {"first_name": 'Ada "<b>"', "email": "not an email", "q_number_b": "abc", "q_dropdown_b": "z"}
    form = page.get_form(data, page=page, user=None)
    assert not form.is_valid()
    assert isinstance(form.renderer, WidgetRenderer)
    written = 0
    for field in form:
        widget = field.field.widget
        if widget.template_name in WRITERS_OF_TEST and not isinstance(widget, CountrySelect):
            written += 1
        attrs = {"id": field.auto_id, "aria-invalid": "true"}
        djangos = widget.render(field.html_name, field.value(), attrs, DjangoTemplates())
        assert widget.render(field.html_name, field.value(), attrs, form.renderer) == djangos, field.name
    assert written >= 12  # most of them are written in Python, not just handed on


class Sample(forms.Form):
    """One field of each shape the plugin's pages show."""

    name = forms.CharField(label='Name "<i>"', help_text="As on your <badge> & ID")
    email = forms.EmailField(required=False)
    level = forms.ChoiceField(choices=[("", "---"), ("a", "A & B")], help_text="Pick one")
    method = forms.ChoiceField(choices=[("card", "Card"), ("paypal", "PayPal")], widget=forms.RadioSelect)
    topics = forms.MultipleChoiceField(choices=[("x", "X"), ("y", "Y")], widget=forms.CheckboxSelectMultiple)
    notes = forms.CharField(widget=forms.Textarea, required=False, help_text="Optional")
    terms = forms.BooleanField(label="I accept <the terms>")


def template_markup(field):
    from django.template.loader import get_template

    return get_template("wagtail_training_pay/includes/field.html").render({"field": field})


@pytest.mark.parametrize("data", [None, {"level": "zz", "method": "cash", "topics": ["q"], "email": "not an email"}])
@pytest.mark.parametrize("name", list(Sample.base_fields))
def test_form_field_writes_what_the_field_template_writes(name, data):
    from django.test.html import parse_html

    from wagtail_training_pay.templatetags.training_pay import field_html

    form = Sample(data)
    if data is not None:
        assert form.errors  # every field of that data is wrong or missing
    field = form[name]
    assert parse_html(field_html(field)) == parse_html(template_markup(field))


def test_form_field_of_an_invalid_field_is_described_by_its_error_and_help():
    from wagtail_training_pay.templatetags.training_pay import field_html

    html = field_html(Sample({"level": "zz"})["level"])
    assert 'aria-describedby="id_level_helptext id_level_error"' in html
    assert 'aria-invalid="true"' in html
    assert "Select a valid choice." in html


def test_a_site_that_overrides_the_field_template_gets_its_own(tmp_path, settings):
    from django.template import engines

    from wagtail_training_pay.templatetags import training_pay

    override = tmp_path / "wagtail_training_pay" / "includes"
    override.mkdir(parents=True)
    (override / "field.html").write_text('<p class="site-field">{{ field.label }} {{ field }}</p>')
    assert training_pay.field_template_overridden() is False
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    page = engines["django"].from_string("{% load training_pay %}{% form_field form.name %}")
    html = page.render({"form": Sample()})
    assert html.startswith('<p class="site-field">Name &quot;&lt;i&gt;&quot; <input')
    assert training_pay.field_template_overridden() is True


def test_the_country_select_writes_what_djangos_select_writes():
    from django.utils import translation
    from django_countries import countries

    from wagtail_training_pay.forms import CountrySelect

    attrs = {"autocomplete": "country", "id": "id_billing_country", "required": True}
    CountrySelect._options_by_language.clear()
    for language in ("en", "fr", "en"):
        with translation.override(language):
            choices = [("", "---------"), *countries]  # as the form lists them: in the active language
            for value in (None, "FR", "GB"):
                mine = CountrySelect(choices=choices).render("billing_country", value, attrs)
                djangos = forms.Select(choices=choices).render("billing_country", value, attrs)
                assert parse_html_of(mine) == parse_html_of(djangos)
            assert forms.Select(choices=choices).use_required_attribute(None)
            assert CountrySelect(choices=choices).use_required_attribute(None)
            assert ("Allemagne" if language == "fr" else "Germany") in mine


def parse_html_of(markup):
    from django.test.html import parse_html

    return parse_html(markup)
