"""The email outbox: what the site owes someone is recorded with the change that owes it, then sent.

``owe_email(kind, obj, recipient)`` writes an ``OwedEmail`` row in the caller's transaction; once that
commits, a task sends it, and the sweeper (``check_stale_payments``) sends whatever is still owed after an
SMTP outage or a crash. A row is marked sent after the message went out; owing the same email twice
(same ``dedupe_key``) records it once, so a recipient gets each email once.

Any feature adds its own kinds: ``register_email_kind(kind, build)`` where ``build(owed_email)`` returns an
``EmailMessage`` for the row's ``related_object`` and ``recipient``, or ``None`` when it is no longer due; an
``after_sent`` callable set on the message runs once it went out (in the row's transaction).
"""

import logging
import uuid
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from ..models import OwedEmail, OwedEmailState

logger = logging.getLogger(__name__)

#: kind -> build(owed_email) -> EmailMessage | None
_builders = {}


def register_email_kind(kind, build):
    _builders[kind] = build


def default_dedupe_key(kind, obj, recipient):
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
    return f"{kind}:{content_type.pk}:{obj.pk}:{recipient.lower()}"[:200]


def owe_email(kind, obj, recipient, *, once=True):
    """Record that ``recipient`` is owed the ``kind`` email about ``obj``; sent after the commit.

    ``once=False`` for an email the recipient may ask for again (a resent confirmation, a manage link).
    Returns the row's ``dedupe_key``.
    """
    [dedupe_key] = owe_emails(kind, [(obj, recipient)], once=once)
    return dedupe_key


def owe_emails(kind, owed_to, *, once=True, revive_dropped=False, send_after_commit=True):
    """Owe ``kind`` for each ``(obj, recipient)`` of ``owed_to`` in one query; returns their ``dedupe_key``s.

    ``revive_dropped`` owes again an email that was dropped as no longer due (a join link whose session was
    closed before it went out, opened again). ``send_after_commit=False`` leaves the sending to the caller (a
    command that reports what it sent) or to the sweeper.
    """
    if kind not in _builders:
        raise ValueError(f"Unknown email kind: {kind}")
    rows = []
    for obj, recipient in owed_to:
        content_type = ContentType.objects.get_for_model(obj, for_concrete_model=False)
        dedupe_key = default_dedupe_key(kind, obj, recipient) if once else f"{kind}:{uuid.uuid4().hex}"
        rows.append(
            OwedEmail(
                dedupe_key=dedupe_key,
                kind=kind,
                content_type=content_type,
                object_id=str(obj.pk),
                recipient=recipient,
            )
        )
    if not rows:
        return []
    # One INSERT ... ON CONFLICT DO NOTHING: owing it again (a replayed notification) records nothing more,
    # never fails the caller's transaction, and costs the hot settlement path a single query.
    OwedEmail.objects.bulk_create(rows, ignore_conflicts=True)
    dedupe_keys = [row.dedupe_key for row in rows]
    if revive_dropped:
        OwedEmail.objects.filter(dedupe_key__in=dedupe_keys, state=OwedEmailState.DROPPED).update(
            state=OwedEmailState.OWED
        )
    if send_after_commit:
        from ..tasks import enqueue, send_owed_email_task, send_owed_emails_task

        if len(dedupe_keys) == 1:
            transaction.on_commit(partial(enqueue, send_owed_email_task, dedupe_keys[0]))
        else:
            transaction.on_commit(partial(enqueue, send_owed_emails_task, dedupe_keys))
    return dedupe_keys


def send_owed_email(email_id=None, *, dedupe_key=None):
    """Send one owed email under its row lock (a second worker skips it); returns True when sent.

    An SMTP failure leaves it owed, with the error, for the next sweep. The row is marked sent right after
    the message went out; a crash between the two sends it again (at least once, never lost).
    """
    with transaction.atomic():
        lookup = {"pk": email_id} if dedupe_key is None else {"dedupe_key": dedupe_key}
        owed = (
            # ``of=("self",)``: locking the joined content type row as well would make a second sender skip every
            # email about the same model while one is being sent (a stalled mail server held them all back).
            OwedEmail.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(**lookup, state=OwedEmailState.OWED)
            .select_related("content_type")
            .first()
        )
        if owed is None:
            return False
        build = _builders.get(owed.kind)
        related = owed.related_object
        owed.attempts += 1
        try:
            # A builder that fails (a template error, data it did not expect) leaves this email owed with its
            # error and stops no other email of the sweep; its savepoint keeps the row's transaction usable.
            with transaction.atomic():
                message = build(owed) if build is not None and related is not None else None
        except Exception as exc:
            logger.exception("Owed email %s (%s) could not be built.", owed.pk, owed.kind)
            return _not_sent_yet(owed, exc)
        if message is None:
            owed.state = OwedEmailState.DROPPED
            owed.save(update_fields=["state"])
            return False
        try:
            message.send()
        except Exception as exc:  # SMTP errors, timeouts, a backend's own errors: try again later
            logger.warning("Owed email %s (%s) not sent yet: %s", owed.pk, owed.kind, exc)
            return _not_sent_yet(owed, exc)
        owed.state = OwedEmailState.SENT
        owed.sent_at = timezone.now()
        owed.save(update_fields=["state", "sent_at", "attempts"])
        after_sent = getattr(message, "after_sent", None)  # a builder's bookkeeping, once the message went out
        if after_sent is not None:
            after_sent()
        return True


def _not_sent_yet(owed, exc):
    owed.last_error = f"{exc.__class__.__name__}: {exc}"[:300]
    owed.save(update_fields=["attempts", "last_error"])
    return False


def send_owed_emails(dedupe_keys=None):
    """Send every email still owed, or those of ``dedupe_keys`` (the sweeper calls this); returns how many went
    out. No row lock of a registration, a charge or a payment is held while a mail server answers."""
    owed = OwedEmail.objects.filter(state=OwedEmailState.OWED)
    if dedupe_keys is not None:
        owed = owed.filter(dedupe_key__in=list(dedupe_keys))
    ids = owed.order_by("pk").values_list("pk", flat=True)
    return sum(send_owed_email(email_id) for email_id in list(ids))
