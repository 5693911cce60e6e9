"""Issue 18: a counter of confirmed seats per session, filled for every existing session from a recount; an index
for the admin listing of one session, newest first."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count


def fill_counters(apps, schema_editor):
    """One row per existing session, from a recount (every session, also those with no registration)."""
    database = schema_editor.connection.alias
    Session = apps.get_model("wagtail_training_pay", "TrainingSessionPage")
    Registration = apps.get_model("wagtail_training_pay", "Registration")
    SessionSeats = apps.get_model("wagtail_training_pay", "SessionSeats")
    confirmed = dict(
        Registration.objects.using(database)
        .filter(status="confirmed")
        .order_by()
        .values("page_id")
        .annotate(n=Count("pk"))
        .values_list("page_id", "n")
    )
    SessionSeats.objects.using(database).bulk_create(
        (
            SessionSeats(page_id=page_id, confirmed=confirmed.get(page_id, 0))
            for page_id in Session.objects.using(database).values_list("pk", flat=True).iterator()
        ),
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_training_pay", "0008_issue16_hold_extensions"),
    ]

    operations = [
        migrations.CreateModel(
            name="SessionSeats",
            fields=[
                (
                    "page",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="seat_count",
                        serialize=False,
                        to="wagtail_training_pay.trainingsessionpage",
                        verbose_name="session",
                    ),
                ),
                ("confirmed", models.PositiveIntegerField(default=0, verbose_name="confirmed seats")),
            ],
            options={
                "verbose_name": "seat count",
                "verbose_name_plural": "seat counts",
            },
        ),
        migrations.RunPython(fill_counters, migrations.RunPython.noop, elidable=False),
        migrations.AddIndex(
            model_name="registration",
            index=models.Index(fields=["page", "-created_at"], name="wtp_registration_page_newest"),
        ),
    ]
