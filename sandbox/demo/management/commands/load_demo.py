"""Create the sandbox's demo content; running it again changes nothing."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from wagtail.models import Page, Site

from wagtail_training_pay.models import (
    Registration,
    RegistrationStatus,
    SessionFormField,
    TrainingIndexPage,
    TrainingPaySettings,
    TrainingSessionPage,
)

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "changeme"  # noqa: S105 - printed for the demo on purpose

SESSIONS = [
    {
        "slug": "introduction-to-wagtail",
        "title": "Introduction to Wagtail",
        "fee": Decimal("0"),
        "capacity": 50,
        "days": 10,
        "duration_minutes": 60,
        "description": "<p>A free hour to discover the Wagtail admin.</p>",
    },
    {
        "slug": "django-for-archivists",
        "title": "Django for archivists",
        "fee": Decimal("45.00"),
        "capacity": 20,
        "days": 14,
        "duration_minutes": 180,
        "description": "<p>Model your collections with Django, from first model to admin.</p>",
    },
    {
        "slug": "accessible-forms-workshop",
        "title": "Accessible forms workshop",
        "fee": Decimal("120.00"),
        "capacity": 3,
        "days": 21,
        "duration_minutes": 240,
        "description": "<p>Only a few seats: hands-on review of real forms.</p>",
        "taken": 2,
    },
]

DRAFT = {
    "slug": "search-engine-tuning",
    "title": "Search engine tuning",
    "fee": Decimal("80.00"),
    "capacity": 15,
    "days": 30,
    "duration_minutes": 120,
    "expected_participants": 15,
    "teleconference_participants": 5,
    "description": "<p>A draft: publishing it goes through the pay-per-use estimate.</p>",
}


def demo_url():
    return getattr(settings, "DEMO_URL", "http://127.0.0.1:8000")


class Command(BaseCommand):
    help = "Create (once) the demo training site and an admin account whose credentials are printed."

    @transaction.atomic
    def handle(self, *args, **options):
        index = self.index_page()
        for spec in SESSIONS:
            page = self.session(index, spec, publish=True)
            self.fill_seats(page, spec.get("taken", 0))
        self.session(index, DRAFT, publish=False)
        self.configure_settings(index)
        self.admin_account()
        base = demo_url()
        self.stdout.write(self.style.SUCCESS(f"Demo content ready at {base}/"))
        self.stdout.write(f"Admin: {base}/admin/  user: {ADMIN_USERNAME}  password: {ADMIN_PASSWORD}")
        if getattr(settings, "EMAIL_FILE_PATH", None) and settings.EMAIL_BACKEND == "demo.mail.EmlFolderBackend":
            self.stdout.write(f"Emails the demo sends are written as .eml files to {settings.EMAIL_FILE_PATH}")

    def index_page(self):
        index = TrainingIndexPage.objects.filter(slug="training").first()
        site = Site.objects.filter(is_default_site=True).first()
        if index is None:
            root = Page.objects.get(depth=1)
            index = TrainingIndexPage(
                title="Training",
                slug="training",
                intro="<p>Sessions run by our team, free and paid.</p>",
            )
            root.add_child(instance=index)
            index.save_revision().publish()
        # The Site's address makes every absolute link (emails, .ics files): it follows HOST and PORT.
        if site is None:
            site = Site(is_default_site=True, site_name=settings.WAGTAIL_SITE_NAME)
        site.hostname, site.port, site.root_page = settings.DEMO_HOST, settings.DEMO_PORT, index
        site.save()
        return index

    def session(self, index, spec, publish):
        page = TrainingSessionPage.objects.filter(slug=spec["slug"]).first()
        if page is not None:
            return page
        start = (timezone.now() + timedelta(days=spec["days"])).replace(hour=9, minute=30, second=0, microsecond=0)
        page = TrainingSessionPage(
            title=spec["title"],
            slug=spec["slug"],
            description=spec["description"],
            start_at=start,
            duration_minutes=spec["duration_minutes"],
            capacity=spec["capacity"],
            fee=spec["fee"],
            currency="EUR",
            expected_participants=spec.get("expected_participants", spec["capacity"]),
            teleconference_participants=spec.get("teleconference_participants", 0),
            join_url="https://meet.example.com/" + spec["slug"],
            live=publish,
        )
        index.add_child(instance=page)
        SessionFormField.objects.create(
            page=page, sort_order=0, label="Organisation", field_type="singleline", required=False
        )
        SessionFormField.objects.create(
            page=page,
            sort_order=1,
            label="Experience level",
            field_type="dropdown",
            choices="Beginner\nIntermediate\nAdvanced",
            required=True,
        )
        revision = page.save_revision()
        if publish:
            revision.publish()
        return page

    def fill_seats(self, page, taken):
        for number in range(taken - page.registrations.count()):
            Registration.objects.create(
                page=page,
                status=RegistrationStatus.CONFIRMED,
                first_name="Demo",
                last_name=f"Learner {number + 1}",
                email=f"learner{number + 1}@example.com",
                amount=page.fee,
                currency=page.currency,
                confirmed_at=timezone.now(),
            )

    def configure_settings(self, index):
        settings = TrainingPaySettings.for_site(index.get_site())
        settings.pay_per_use_enabled = True
        settings.person_minute_rate = Decimal("0.0200")
        settings.teleconference_minute_rate = Decimal("0.0500")
        settings.minimum_charge = Decimal("5.00")
        settings.default_currency = "EUR"
        settings.save()

    def admin_account(self):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=ADMIN_USERNAME, defaults={"email": "admin@example.com", "is_staff": True, "is_superuser": True}
        )
        if created:
            user.set_password(ADMIN_PASSWORD)
            user.save()
