"""Django's own widget templates for inputs, text areas and selects, written in Python.

The session page shows a dozen fields on every view; rendering their widgets through the template engine
(the widget, its attributes, one more template per ``<option>``) was a good part of the page's time. The
registration form uses :class:`WidgetRenderer`, which writes the same markup as Django's templates in Python,
and hands everything else to the project's form renderer.

It steps aside wherever a project could have changed that markup: when ``FORM_RENDERER`` is not Django's
default ``DjangoTemplates``, and for any template (or template it includes) that the renderer finds somewhere
other than Django's own ``django/forms/templates``. Tests compare the output with Django's, byte for byte.
"""

import html
from pathlib import Path

import django.forms
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.forms.renderers import BaseRenderer, DjangoTemplates, get_default_renderer
from django.template import TemplateDoesNotExist
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime

WIDGETS = "django/forms/widgets/"
ATTRS = WIDGETS + "attrs.html"
INPUT = WIDGETS + "input.html"
OPTION = WIDGETS + "select_option.html"
DJANGO_FORM_TEMPLATES = Path(django.forms.__file__).resolve().parent / "templates"

#: Widget templates that only include ``input.html``: Django's ``<input>`` widgets.
INPUT_TEMPLATES = tuple(
    WIDGETS + name
    for name in (
        "text.html",
        "email.html",
        "number.html",
        "url.html",
        "tel.html",
        "search.html",
        "password.html",
        "hidden.html",
        "checkbox.html",
        "date.html",
        "datetime.html",
        "time.html",
        "color.html",
        "input.html",
    )
)

_djangos_own = {}


@receiver(setting_changed)
def _forget_template_origins(setting, **kwargs):
    if setting in ("FORM_RENDERER", "TEMPLATES", "INSTALLED_APPS"):
        _djangos_own.clear()


def is_djangos_own(renderer, template_name):
    """Whether ``renderer`` would render Django's own file for ``template_name`` (looked up once per process)."""
    if template_name not in _djangos_own:
        try:
            origin = Path(renderer.get_template(template_name).origin.name).resolve()
        except TemplateDoesNotExist:
            origin = None
        _djangos_own[template_name] = origin is not None and origin.is_relative_to(DJANGO_FORM_TEMPLATES)
    return _djangos_own[template_name]


def text(value):
    """``{{ value }}``: in the current time zone, localized, then escaped unless already safe."""
    if type(value) is str:  # most values: the standard library's escape is Django's, without its lazy checks
        return html.escape(value)
    return conditional_escape(localize(template_localtime(value)))


def string(value):
    """``{{ value|stringformat:'s' }}``: not localized, escaped unless already safe."""
    if type(value) is str:
        return html.escape(value)
    return conditional_escape(value)


def attributes(attrs):
    """``attrs.html``: in order, ``True`` as a bare name, ``False`` left out."""
    return "".join(
        f" {text(name)}" if value is True else f' {text(name)}="{string(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def write_input(widget):
    value = "" if widget["value"] is None else f' value="{string(widget["value"])}"'
    return f'<input type="{text(widget["type"])}" name="{text(widget["name"])}"{value}{attributes(widget["attrs"])}>'


def write_textarea(widget):
    value = text(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{text(widget["name"])}"{attributes(widget["attrs"])}>\n{value}</textarea>'


def write_select(widget):
    parts = [f'<select name="{text(widget["name"])}"{attributes(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            parts.append(f'\n  <optgroup label="{text(group_name)}">')
        for option in options:
            if option["template_name"] != OPTION:
                return None  # a widget with its own option template: let the template engine do it
            parts.append(
                f'\n  <option value="{string(option["value"])}"{attributes(option["attrs"])}>'
                f"{text(option['label'])}</option>\n"  # the newline that ends select_option.html
            )
        if group_name:
            parts.append("\n  </optgroup>")
    parts.append("\n</select>")
    return "".join(parts)


#: template name: (writer, the templates the writer stands for)
WRITERS = {
    **{name: (write_input, {name, INPUT, ATTRS}) for name in INPUT_TEMPLATES},
    WIDGETS + "textarea.html": (write_textarea, {WIDGETS + "textarea.html", ATTRS}),
    WIDGETS + "select.html": (write_select, {WIDGETS + "select.html", ATTRS, OPTION}),
}


class WidgetRenderer(BaseRenderer):
    """A form renderer that writes Django's input, textarea and select markup in Python.

    Everything it does not write (other widgets, forms, error lists), and everything a project overrides,
    goes to the project's own renderer (``FORM_RENDERER``).
    """

    def __init__(self):
        self.fallback = get_default_renderer()
        # What the project's renderer uses for whole forms and fields, in case a template asks for it.
        self.form_template_name = self.fallback.form_template_name
        self.formset_template_name = self.fallback.formset_template_name
        self.field_template_name = self.fallback.field_template_name

    def get_template(self, template_name):
        return self.fallback.get_template(template_name)

    def render(self, template_name, context, request=None):
        writer = WRITERS.get(template_name)
        if writer is not None and type(self.fallback) is DjangoTemplates:
            write, templates = writer
            if all(is_djangos_own(self.fallback, name) for name in templates):
                html = write(context["widget"])
                if html is not None:
                    return mark_safe(html)  # noqa: S308 - every value is escaped above
        return self.fallback.render(template_name, context, request)
