"""A plain Wagtail form page, the baseline the benchmarks and some tests compare against."""

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, InlinePanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractFormField
from wagtail.fields import RichTextField
from wagtail.models import Page


class PlainFormField(AbstractFormField):
    page = ParentalKey("PlainFormPage", on_delete=models.CASCADE, related_name="form_fields")


class PlainFormPage(AbstractEmailForm):
    """The form page of Wagtail's documentation: an introduction, the fields, a thank-you text."""

    intro = RichTextField(blank=True)
    thank_you_text = RichTextField(blank=True)

    content_panels = AbstractEmailForm.content_panels + [
        FieldPanel("intro"),
        InlinePanel("form_fields"),
        FieldPanel("thank_you_text"),
        FieldPanel("to_address"),
    ]
    template = "testapp/plain_form_page.html"
    landing_page_template = "testapp/plain_form_page_landing.html"


class PlainSectionPage(Page):
    """A section of the site above the plain form page, so that both pages sit at the same depth."""

    intro = RichTextField(blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]
    template = "testapp/plain_section_page.html"
