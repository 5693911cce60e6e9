"""Upgrading through migration 0007: the sent-at markers of migration 0006 become sent rows of the outbox, so an
email already sent is not sent again."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from wagtail_training_pay.models import OwedEmail, OwedEmailState, Registration, RegistrationStatus
from wagtail_training_pay.services import emails

pytestmark = pytest.mark.django_db(transaction=True)

APP = "wagtail_training_pay"
BEFORE = (APP, "0006_issue16_email_markers")


def migrate(target=None):
    """Migrate the app to ``target``, or every app to its latest migration; returns the apps of that state."""
    executor = MigrationExecutor(connection)
    targets = [target] if target else executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


def test_the_markers_become_sent_outbox_rows_and_nothing_is_sent_twice(make_session, settings):
    page = make_session(join_url="https://meet.example.com/up", start_at=timezone.now() + timedelta(hours=10))
    rows = {
        email: Registration.objects.create(
            page=page, status=RegistrationStatus.CONFIRMED, first_name="L", last_name="L", email=email, currency="EUR"
        ).pk
        for email in ("had-both@example.com", "had-none@example.com")
    }
    sent_at = timezone.now()
    try:
        old_apps = migrate(BEFORE)
        OldRegistration = old_apps.get_model(APP, "Registration")
        OldRegistration.objects.filter(pk=rows["had-both@example.com"]).update(
            join_link_sent_at=sent_at, reminder_sent_at=sent_at
        )
    finally:
        migrate()

    assert sorted(OwedEmail.objects.values_list("kind", "recipient", "state")) == [
        ("reminder", "had-both@example.com", OwedEmailState.SENT),
        ("session_started", "had-both@example.com", OwedEmailState.SENT),
    ]
    settings.WAGTAIL_TRAINING_PAY_REMINDER_HOURS = 24
    assert emails.send_due_reminders() == 1
    type(page).objects.filter(pk=page.pk).update(started_at=timezone.now())
    assert emails.send_join_links(page.pk) == 1
    assert [message.to for message in mail.outbox] == [["had-none@example.com"]] * 2
