"""The host's billing information before a pay-per-use payment."""

from django import forms
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField


class HostBillingForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.EmailField(label=_("Email"))
    address = forms.CharField(label=_("Address"), max_length=255)
    postcode = forms.CharField(label=_("Postcode"), max_length=20)
    city = forms.CharField(label=_("City"), max_length=100)
    country = CountryField().formfield(label=_("Country"))
    variant = forms.ChoiceField(label=_("Payment method"), widget=forms.RadioSelect)

    def __init__(self, *args, variants=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["variant"].choices = list(variants)
        if len(self.fields["variant"].choices) == 1:
            self.fields["variant"].initial = self.fields["variant"].choices[0][0]
            self.fields["variant"].widget = forms.HiddenInput()
