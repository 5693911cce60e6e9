"""Which template the learner pages extend: the site's own base template, or the plugin's standalone one."""

from django.template import TemplateDoesNotExist
from django.template.loader import get_template

from .conf import app_settings

STANDALONE_BASE_TEMPLATE = "wagtail_training_pay/standalone.html"
#: the template the pages extend, which itself extends the base template: naming it would extend itself
LAYOUT_TEMPLATE = "wagtail_training_pay/base.html"
#: blocks of the base template that the layout fills; without them the page or its stylesheet is lost
FILLED_BLOCKS = ("content", "extra_css")


def base_template_name():
    """``WAGTAIL_TRAINING_PAY_BASE_TEMPLATE`` (``base.html``, the Wagtail convention) when the site has it.

    A site without that template, or with the setting set to ``None``, gets the standalone page. The lookup
    goes through the template loaders, so the cached loader answers it from memory after the first request.
    """
    name = app_settings.BASE_TEMPLATE
    if not name or name in (STANDALONE_BASE_TEMPLATE, LAYOUT_TEMPLATE):
        return STANDALONE_BASE_TEMPLATE
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return STANDALONE_BASE_TEMPLATE
    return name


def layout_context():
    """Context every learner page needs: ``wagtail_training_pay/base.html`` extends ``training_base_template``."""
    return {"training_base_template": base_template_name()}


def block_names(template):
    """The blocks of a Django template and of the templates it extends by a literal name."""
    from django.template.loader_tags import BlockNode, ExtendsNode

    names = {node.name for node in template.nodelist.get_nodes_by_type(BlockNode)}
    for extends in template.nodelist.get_nodes_by_type(ExtendsNode):
        parent = extends.parent_name.var
        if isinstance(parent, str):
            names |= block_names(get_template(parent).template)
    return names


def missing_blocks():
    """Blocks of :data:`FILLED_BLOCKS` the chosen base template lacks (none for the standalone page)."""
    name = base_template_name()
    if name == STANDALONE_BASE_TEMPLATE:
        return []
    template = getattr(get_template(name), "template", None)
    if template is None:  # another template engine: nothing to inspect
        return []
    found = block_names(template)
    return [block for block in FILLED_BLOCKS if block not in found]


def overridden_layout_without_page_block():
    """Whether the project overrides ``wagtail_training_pay/base.html`` (the way the docs once advised) with a
    template that has no ``training_content`` block: the pages' markup would then be dropped."""
    from pathlib import Path

    template = get_template(LAYOUT_TEMPLATE)
    origin = Path(template.origin.name).resolve()
    if origin.is_relative_to(Path(__file__).resolve().parent):
        return False
    return "training_content" not in block_names(template.template)
