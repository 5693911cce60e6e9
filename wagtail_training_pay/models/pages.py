from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractForm, AbstractFormField
from wagtail.fields import RichTextField
from wagtail.models import Page

from ..currencies import decimal_places, is_expressible
from ..layout import layout_context
from ..panels import PayPerUseEstimatePanel, SessionFiguresPanel
from ..validators import validate_currency_code


class TrainingIndexPage(Page):
    """Lists the upcoming sessions below it."""

    intro = RichTextField(_("introduction"), blank=True)

    content_panels = Page.content_panels + [FieldPanel("intro")]

    subpage_types = ["wagtail_training_pay.TrainingSessionPage"]
    template = "wagtail_training_pay/training_index_page.html"

    class Meta:
        verbose_name = _("training index page")
        verbose_name_plural = _("training index pages")

    def upcoming_sessions(self):
        return (
            TrainingSessionPage.objects.live()
            .public()
            .child_of(self)
            .filter(start_at__gte=timezone.now())
            .order_by("start_at")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        from ..services.session_listing import listed_sessions, sessions_page

        page_of_sessions = sessions_page(self, request)
        context["sessions_page"] = page_of_sessions
        context["sessions"] = listed_sessions(self, request, sessions=page_of_sessions.object_list)
        context.update(layout_context())
        return context


class SessionFormField(AbstractFormField):
    """One question of the editor's registration form."""

    page = ParentalKey("TrainingSessionPage", on_delete=models.CASCADE, related_name="form_fields")

    class Meta(AbstractFormField.Meta):
        verbose_name = _("registration question")
        verbose_name_plural = _("registration questions")


class TrainingSessionPage(AbstractForm):
    """A training session learners register for, paying its fee when it has one."""

    description = RichTextField(_("description"), blank=True)
    start_at = models.DateTimeField(_("starts at"))
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), default=60, validators=[MinValueValidator(1)]
    )
    capacity = models.PositiveIntegerField(
        _("capacity"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Number of seats; leave blank for no limit."),
    )
    fee = models.DecimalField(
        _("session fee"),
        max_digits=9,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
        help_text=_("What each learner pays to attend; 0 makes the session free."),
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        blank=True,
        validators=[validate_currency_code],
        help_text=_("ISO 4217 code; blank uses the site's default currency."),
    )
    registration_opens_at = models.DateTimeField(_("registration opens at"), null=True, blank=True)
    registration_closes_at = models.DateTimeField(
        _("registration closes at"),
        null=True,
        blank=True,
        help_text=_("Registration always closes when the session starts."),
    )
    expected_participants = models.PositiveIntegerField(
        _("computers connected to the session"),
        default=1,
        help_text=_("Used for the pay-per-use estimate (person-minutes)."),
    )
    teleconference_participants = models.PositiveIntegerField(
        _("computers connected to the teleconference"),
        default=0,
        help_text=_("Used for the pay-per-use estimate (teleconference minutes)."),
    )
    join_url = models.URLField(
        _("join link"),
        blank=True,
        help_text=_("Shown to confirmed learners once the host has started the session."),
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True, editable=False)
    thank_you_text = RichTextField(_("text after registration"), blank=True)

    content_panels = AbstractForm.content_panels + [
        SessionFiguresPanel(),
        FieldPanel("description"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("start_at"), FieldPanel("duration_minutes")]),
                FieldRowPanel([FieldPanel("registration_opens_at"), FieldPanel("registration_closes_at")]),
                FieldPanel("join_url"),
            ],
            heading=_("Schedule"),
        ),
        MultiFieldPanel(
            [FieldRowPanel([FieldPanel("fee"), FieldPanel("currency"), FieldPanel("capacity")])],
            heading=_("Fee and seats"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("expected_participants"), FieldPanel("teleconference_participants")]),
                PayPerUseEstimatePanel(),
            ],
            heading=_("Pay-per-use estimate"),
        ),
        InlinePanel("form_fields", heading=_("Registration questions"), label=_("question")),
        FieldPanel("thank_you_text"),
    ]

    parent_page_types = ["wagtail_training_pay.TrainingIndexPage"]
    subpage_types = []
    # A copy is a new session: never started, whatever its source was.
    exclude_fields_in_copy = ["started_at"]
    template = "wagtail_training_pay/training_session_page.html"
    landing_page_template = "wagtail_training_pay/training_session_page.html"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context.update(layout_context())
        return context

    class Meta:
        verbose_name = _("training session page")
        verbose_name_plural = _("training session pages")

    @property
    def end_at(self):
        if self.start_at is None or not self.duration_minutes:
            return None
        return self.start_at + timedelta(minutes=self.duration_minutes)

    @property
    def is_free(self):
        return not self.fee

    def clean(self):
        super().clean()
        errors = {}
        if self.currency:
            self.currency = self.currency.upper()
        else:
            self.currency = self.site_settings().default_currency
        if self.fee and self.currency and not is_expressible(self.fee, self.currency):
            errors["fee"] = _("Amounts in %(currency)s take %(places)s decimal places: %(fee)s cannot be charged.") % {
                "currency": self.currency,
                "places": decimal_places(self.currency),
                "fee": self.fee,
            }
        if self.end_at is not None and self.end_at <= self.start_at:
            errors["duration_minutes"] = _("The session must end after it starts.")
        if self.registration_opens_at and self.registration_closes_at:
            if self.registration_closes_at <= self.registration_opens_at:
                errors["registration_closes_at"] = _("Registration must close after it opens.")
        if self.start_at and self.registration_closes_at and self.registration_closes_at > self.start_at:
            errors["registration_closes_at"] = _("Registration must close before the session starts.")
        if self.start_at and self.registration_opens_at and self.registration_opens_at >= self.start_at:
            errors["registration_opens_at"] = _("Registration must open before the session starts.")
        if errors:
            raise ValidationError(errors)

    # The learner's registration: the logic lives in ``forms``, ``services.registrations`` and
    # ``views.session_page``; these are Wagtail's form-page hooks pointing at it.

    def get_form_class(self):
        from ..forms import registration_form_class

        return registration_form_class(self)

    def get_form_parameters(self):
        from ..views.session_page import registration_form_parameters

        return registration_form_parameters(self)

    def serve(self, request, *args, **kwargs):
        from ..views.session_page import serve_session_page

        return serve_session_page(self, request, *args, **kwargs)

    def process_form_submission(self, form):
        from ..views.session_page import register_from_form

        return register_from_form(self, form)

    def render_landing_page(self, request, form_submission=None, *args, **kwargs):
        from ..views.session_page import redirect_after_registration

        return redirect_after_registration(self, request, form_submission)

    def site_settings(self):
        """This page's site's ``TrainingPaySettings`` (the default site's while it has no site yet)."""
        from wagtail.models import Site

        from .settings import TrainingPaySettings

        site = None
        if self.pk or self.path:
            site = self.get_site()
        if site is None:
            parent = self.get_parent() if self.path else None
            site = parent.get_site() if parent is not None else None
        if site is None:
            site = Site.objects.filter(is_default_site=True).first()
        if site is None:
            return TrainingPaySettings()
        return TrainingPaySettings.for_site(site)

    def get_currency(self):
        return self.currency or self.site_settings().default_currency

    # Pay-per-use gate (services/pay_per_use.py): (a) the permission tester, (b) publish(), (c) save().

    def permissions_for_user(self, user):
        from ..permissions import TrainingSessionPermissionTester

        self._pay_per_use_actor = user
        return TrainingSessionPermissionTester(user, self)

    def publish(self, revision, user=None, changed=True, log_action=True, previous_revision=None, **kwargs):
        from ..services.pay_per_use import publish_revision

        return publish_revision(
            self,
            revision,
            user=user,
            changed=changed,
            log_action=log_action,
            previous_revision=previous_revision,
            skip_permission_checks=kwargs.get("skip_permission_checks", False),
        )

    def with_content_json(self, content):
        """Starting is not content: a revision (an old one, a copy's) never starts or stops the session."""
        page = super().with_content_json(content)
        page.started_at = self.started_at
        return page

    def save(self, *args, **kwargs):
        from ..services.pay_per_use import WITHHELD_ACTION, guard_live_save

        update_fields, withheld = guard_live_save(self, kwargs.get("update_fields"))
        if update_fields is not None:
            kwargs["update_fields"] = update_fields
        result = super().save(*args, **kwargs)
        if withheld:
            from wagtail.log_actions import log

            log(instance=self, action=WITHHELD_ACTION, data={"reason": "backstop"})
        return result
