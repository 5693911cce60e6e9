"""Background work, through the Tasks API (django-tasks on every supported Django).

Each task has a management command twin for cron; correctness never depends on them running.
"""

from django_tasks import task


@task()
def anonymize_due_registrations_task():
    from .services.data_protection import anonymize_due_registrations

    return anonymize_due_registrations()
