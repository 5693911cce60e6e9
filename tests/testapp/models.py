"""A plain Wagtail form page, the baseline the benchmarks and some tests compare against."""

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractFormField


class PlainFormField(AbstractFormField):
    page = ParentalKey("PlainFormPage", on_delete=models.CASCADE, related_name="form_fields")


class PlainFormPage(AbstractEmailForm):
    content_panels = AbstractEmailForm.content_panels + [InlinePanel("form_fields"), FieldPanel("to_address")]
    template = "testapp/plain_form_page.html"
    landing_page_template = "testapp/plain_form_page_landing.html"
