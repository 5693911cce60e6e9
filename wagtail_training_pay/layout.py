"""Which template the learner pages extend: the site's own base template, or the plugin's standalone one."""

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from .conf import app_settings

STANDALONE_BASE_TEMPLATE = "wagtail_training_pay/standalone.html"


def base_template_name():
    """``WAGTAIL_TRAINING_PAY_BASE_TEMPLATE`` (``base.html``, the Wagtail convention) when the site has it.

    A site without that template, or with the setting set to ``None``, gets the standalone page. The lookup
    goes through the template loaders, so the cached loader answers it from memory after the first request.
    """
    name = app_settings.BASE_TEMPLATE
    if not name or name == STANDALONE_BASE_TEMPLATE:
        return STANDALONE_BASE_TEMPLATE
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return STANDALONE_BASE_TEMPLATE
    return name


def layout_context():
    """Context every learner page needs: ``wagtail_training_pay/base.html`` extends ``training_base_template``."""
    return {"training_base_template": base_template_name()}
