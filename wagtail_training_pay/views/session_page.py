"""The session page: shows the session and takes registrations (Wagtail's form page hooks call these)."""

from django.contrib import messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from ..conf import app_settings
from ..models import TrainingPaySettings
from ..ratelimit import request_is_rate_limited
from ..services import registrations as service

#: signed cookie holding the tokens of the registrations made from this browser (no session row to read or write)
REMEMBERED_COOKIE = "wtp_registrations"
REMEMBERED_SALT = "wagtail_training_pay.remembered_registrations"
REMEMBERED_MAX = 20


def registration_form_parameters(page):
    site_settings = service.settings_for(page)
    paid = service.requires_payment(page, site_settings)
    return {
        "requires_payment": paid,
        "payment_methods": service.offered_learner_variants(site_settings) if paid else (),
    }


def session_page_context(page, request, form=None):
    context = page.get_context(request)
    site_settings = service.settings_for(page)
    seats_left = service.seats_left(page)
    context.update(
        form=form,
        seats_left=seats_left,
        # Only a full session asks when its next held seat may come free (one more query, only then).
        full_message=service.full_message(page, timezone.now()) if seats_left == 0 else "",
        closed_reason=service.registration_closed_reason(page),
        requires_payment=service.requires_payment(page, site_settings),
        training_settings=site_settings,
    )
    return context


def serve_session_page(page, request, *args, **kwargs):
    # The request already knows its site (Wagtail routed it): reuse it for the settings lookup.
    page.__dict__.setdefault("_training_pay_settings", TrainingPaySettings.for_request(request))
    form = None
    if request.method == "POST" and request_is_rate_limited(request, "register", app_settings.REGISTRATION_RATE_LIMIT):
        form = page.get_form(page=page, user=request.user, initial=request.POST.dict())  # keeps what was typed
        messages.error(request, _("Too many registration attempts from your network. Please try again later."))
        context = session_page_context(page, request, form)
        return TemplateResponse(request, page.get_template(request), context, status=429)
    if request.method == "POST" and service.registration_closed_reason(page) is None:
        form = page.get_form(request.POST, request.FILES, page=page, user=request.user)
        form.browser_registrations = _remembered_tokens(request)
        if form.is_valid():
            try:
                result = page.process_form_submission(form)
            except service.AlreadyRegistered as refusal:
                _explain_duplicate(form, refusal.existing)
            except service.RegistrationRefused as refusal:
                form.add_error(None, refusal.message)  # said once, in the error summary
            else:
                response = page.render_landing_page(request, result, *args, **kwargs)
                _remember(request, response, result.registration)
                return response
    if form is None:
        form = page.get_form(page=page, user=request.user)
    return TemplateResponse(request, page.get_template(request), session_page_context(page, request, form))


def register_from_form(page, form):
    return service.register(
        page,
        **form.attendee(),
        billing=form.billing(),
        answers=form.answers(),
        variant=form.cleaned_data.get("payment_method"),
        language=get_language() or "",
        user=form.user,
        # A taken address is refused only for the browser that took it (no oracle on who registered).
        browser_registrations=set(getattr(form, "browser_registrations", ())),
    )


def redirect_after_registration(page, request, result=None):
    if result is None:  # Wagtail's "landing page" preview: what a learner sees after registering
        context = page.get_context(request)
        context["landing_preview"] = True
        return TemplateResponse(request, page.get_landing_page_template(request), context)
    registration = result.registration
    if result.payment is not None:
        return redirect("wagtail_training_pay:pay", token=registration.token)
    return redirect("wagtail_training_pay:registration_done", token=registration.token)


def _remembered_tokens(request):
    value = request.get_signed_cookie(REMEMBERED_COOKIE, default="", salt=REMEMBERED_SALT)
    return [token for token in value.split(",") if token]


def _remember(request, response, registration):
    """Let this browser, and only it, be shown the link to its registration if it registers again."""
    tokens = [*_remembered_tokens(request)[-(REMEMBERED_MAX - 1) :], str(registration.token)]
    response.set_signed_cookie(
        REMEMBERED_COOKIE,
        ",".join(tokens),
        salt=REMEMBERED_SALT,
        max_age=60 * 60 * 24 * 365,
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def _explain_duplicate(form, existing):
    """Only the browser that made the earlier registration is told about it (see ``register_from_form``)."""
    message = format_html(
        '{} <a href="{}">{}</a>',
        _("You are already registered for this session."),
        reverse("wagtail_training_pay:manage_registration", kwargs={"token": existing.token}),
        _("See your registration."),
    )
    form.add_error(None, message)  # said once, with the link, in the error summary
