"""Background work, through the Tasks API (django-tasks on every supported Django).

Each task has a management command twin for cron, or runs after a commit; every task is safe to run
twice and correctness never depends on them running. django-tasks does not retry a task that failed or whose
worker died: what the task carried is recorded in the database (an owed email, a money movement, an expired
hold) and the sweepers (``run_sweepers``) do it again.
"""

from django_tasks import task

from .conf import app_settings


def enqueue(task_, *args):
    """Enqueue on the app's queue (``WAGTAIL_TRAINING_PAY_TASK_QUEUE``, read when called)."""
    return task_.using(queue_name=app_settings.TASK_QUEUE).enqueue(*args)


@task()
def anonymize_due_registrations_task():
    from .services.data_protection import anonymize_due_registrations

    return anonymize_due_registrations()


@task()
def send_owed_email_task(dedupe_key):
    from .services.outbox import send_owed_email

    if isinstance(dedupe_key, int):  # queued by a version that named the row by its id
        return send_owed_email(email_id=dedupe_key)
    return send_owed_email(dedupe_key=dedupe_key)


@task()
def send_owed_emails_task(dedupe_keys):
    from .services.outbox import send_owed_emails

    return send_owed_emails(dedupe_keys)


@task()
def send_money_movement_task(movement_id):
    from .services.money import send_movement

    return send_movement(movement_id).state


@task()
def send_join_links_task(page_id):
    from .services.emails import send_join_links

    return send_join_links(page_id)


@task()
def send_session_reminders_task():
    from .services.emails import send_due_reminders

    return send_due_reminders()


@task()
def refund_unapplied_payment_task(payment_id):
    from .services.registrations import refund_unapplied_payment

    return refund_unapplied_payment(payment_id)


@task()
def release_expired_holds_task():
    from .services.registrations import release_expired_holds

    expired, refunded = release_expired_holds()
    return {"expired": expired, "refunded": refunded}


@task()
def check_stale_payments_task():
    from .services.stale_payments import check_stale_payments

    return check_stale_payments()


@task()
def run_sweepers_task():
    """Every sweeper, for a periodic-task scheduler; ``manage.py run_sweepers`` does the same from cron."""
    from .services.sweepers import run_sweepers

    return {result.name: result.state for result in run_sweepers()}


# --- tasks of earlier versions -----------------------------------------------------------------
# A queued task names its function by import path: rows queued before an upgrade run with this code. Each name a
# version of this file had stays, takes the arguments it was queued with, and owes its email in the outbox once
# (services/emails.py), so that running it again, or after the sweeper, sends nothing twice.


@task()
def send_confirmation_task(registration_id):
    from .services.emails import send_for_earlier_registration_task

    return send_for_earlier_registration_task(registration_id, "confirmation")


@task()
def send_registration_email_task(registration_id, kind):
    from .services.emails import send_for_earlier_registration_task

    return send_for_earlier_registration_task(registration_id, kind)


@task()
def send_refund_notice_task(registration_id, amount):
    from .services.emails import send_for_earlier_refund_notice_task

    return send_for_earlier_refund_notice_task(registration_id, amount)


@task()
def send_host_receipt_task(charge_id):
    from .services.emails import send_for_earlier_host_receipt_task

    return send_for_earlier_host_receipt_task(charge_id)
