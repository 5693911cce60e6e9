"""The learner's registration form: the editor's questions plus attendee, billing and payment fields."""

from django import forms
from django.core import validators
from django.forms.utils import flatatt
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from django_countries.fields import LazyTypedChoiceField
from wagtail.contrib.forms.forms import BaseForm

from .conf import app_settings
from .form_rendering import WidgetRenderer


class CountrySelect(forms.Select):
    """The country ``<select>``, its ~250 options written once per language and process.

    Django renders one template per ``<option>``: for the country list that was most of the
    session page's time. The markup is the same; the list of countries is static data.
    """

    _options_by_language = {}

    def options_html(self):
        language = get_language() or ""
        if language not in self._options_by_language:
            self._options_by_language[language] = "".join(
                f'<option value="{escape(code)}">{escape(label)}</option>' for code, label in self.choices
            )
        return self._options_by_language[language]

    def use_required_attribute(self, initial):
        # Django's Select looks at the first choice, that is lists every country in the active language;
        # ours is always the empty "---------", which allows ``required``.
        return forms.Widget.use_required_attribute(self, initial)

    def render(self, name, value, attrs=None, renderer=None):
        context = forms.Widget.get_context(self, name, value, attrs)["widget"]  # no option dicts
        options = self.options_html()
        for selected in context["value"]:
            marker = f'<option value="{escape(selected)}">'
            options = options.replace(marker, f'<option value="{escape(selected)}" selected>', 1)
        # Every value and label is escaped above; flatatt escapes the attributes.
        return mark_safe(f'<select name="{escape(name)}"{flatatt(context["attrs"])}>{options}</select>')  # noqa: S308


ATTENDEE_FIELDS = ("first_name", "last_name", "email")
BILLING_FIELDS = ("billing_address", "billing_postcode", "billing_city", "billing_country")
PAYMENT_FIELDS = ("payment_method",)
OWN_FIELDS = ATTENDEE_FIELDS + BILLING_FIELDS + PAYMENT_FIELDS


class RegistrationForm(BaseForm):
    """Attendee and billing details; subclasses built per page add the editor's questions."""

    default_renderer = WidgetRenderer  # Django's widget markup, written without the template engine

    first_name = forms.CharField(
        label=_("First name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "family-name"})
    )
    email = forms.EmailField(label=_("Email"), max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    billing_address = forms.CharField(
        label=_("Address"), max_length=255, widget=forms.TextInput(attrs={"autocomplete": "street-address"})
    )
    billing_postcode = forms.CharField(
        label=_("Postcode"), max_length=20, widget=forms.TextInput(attrs={"autocomplete": "postal-code"})
    )
    billing_city = forms.CharField(
        label=_("City"), max_length=100, widget=forms.TextInput(attrs={"autocomplete": "address-level2"})
    )
    billing_country = LazyTypedChoiceField(
        label=_("Country"),
        choices=lambda: [("", "---------"), *countries],  # listed when rendered, in the active language
        widget=CountrySelect(attrs={"autocomplete": "country"}),
    )
    payment_method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)

    def __init__(self, *args, payment_methods=(), requires_payment=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.requires_payment = requires_payment
        if not requires_payment:
            for name in BILLING_FIELDS + PAYMENT_FIELDS:
                del self.fields[name]
            return
        field = self.fields["payment_method"]
        field.choices = list(payment_methods)
        if len(field.choices) == 1:
            field.widget = forms.HiddenInput()
            field.initial = field.choices[0][0]
            field.required = False

    def clean_payment_method(self):
        """With one method offered there is nothing to choose; the service checks the variant again."""
        value = self.cleaned_data["payment_method"]
        choices = self.fields["payment_method"].choices
        return value or (choices[0][0] if len(choices) == 1 else value)

    def clean_billing_postcode(self):
        return " ".join(self.cleaned_data["billing_postcode"].split()).upper()

    def field_group(self, names):
        return [self[name] for name in names if name in self.fields]

    def attendee_fields(self):
        return self.field_group(ATTENDEE_FIELDS)

    def billing_fields(self):
        return self.field_group(BILLING_FIELDS)

    def payment_fields(self):
        return self.field_group(PAYMENT_FIELDS)

    def question_fields(self):
        return [self[name] for name in self.fields if name not in OWN_FIELDS]

    def answers(self):
        """The answers to the editor's questions, JSON-ready, keyed by the question's name."""
        answers = {}
        for name in self.fields:
            if name in OWN_FIELDS:
                continue
            value = self.cleaned_data.get(name)
            answers[name] = value if isinstance(value, (str, int, float, bool, list, type(None))) else str(value)
        return answers

    def attendee(self):
        return {name: self.cleaned_data[name] for name in ATTENDEE_FIELDS}

    def billing(self):
        if not self.requires_payment:
            return {}
        data = self.cleaned_data
        return {
            "address": data["billing_address"],
            "postcode": data["billing_postcode"],
            "city": data["billing_city"],
            "country": data["billing_country"],
        }


def limit_answer_length(field, limit):
    """Text answers are at most ``limit`` characters (``WAGTAIL_TRAINING_PAY_ANSWER_MAX_LENGTH``), checked on the
    server; Wagtail gives a multi-line question no limit at all."""
    if not isinstance(field, forms.CharField):
        return field
    limit = min(limit, field.max_length) if field.max_length else limit
    if field.max_length != limit:
        field.max_length = limit
        field.validators.append(validators.MaxLengthValidator(limit))
        field.widget.attrs.update(field.widget_attrs(field.widget))
    return field


def with_empty_choice(field):
    """A drop-down question starts on an empty "Choose..." option, so that nothing is chosen for the learner.

    Wagtail's drop-down lists only the editor's choices: the browser showed the first one selected, and a
    learner who never chose it was registered (and exported) with it. A required question refuses the empty
    option; an optional one records no answer. An editor's default value stays selected.
    """
    if type(field) is not forms.ChoiceField or type(field.widget) is not forms.Select:
        return field  # radio buttons, check boxes and multiple selects choose nothing by themselves
    if not any(value == "" for value, _label in field.choices):
        field.choices = [("", pgettext_lazy("empty first option of a drop-down list", "Choose…")), *field.choices]
    return field


def registration_form_class(page):
    """The page's form class: its questions (renamed when they clash with ours) on top of ``RegistrationForm``."""
    limit = app_settings.ANSWER_MAX_LENGTH
    questions = {}
    for name, field in page.form_builder(page.get_form_fields()).formfields.items():
        field = with_empty_choice(limit_answer_length(field, limit))
        questions[f"question_{name}" if name in OWN_FIELDS else name] = field
    return type("RegistrationForm", (RegistrationForm,), questions)


class PaymentMethodForm(forms.Form):
    """Switching to another payment method on the payment step."""

    payment_method = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)

    def __init__(self, *args, payment_methods=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payment_method"].choices = list(payment_methods)


class CancelRegistrationForm(forms.Form):
    confirm = forms.BooleanField(label=_("Yes, cancel my registration"))


class EraseDataForm(forms.Form):
    prefix = "erase"  # the manage page has a cancellation form with a "confirm" box too

    confirm = forms.BooleanField(label=_("Yes, erase my personal data"))
