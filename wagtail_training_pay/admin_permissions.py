"""Who may see and do what in the admin screens for registrations and payments.

Money and learners' personal data are kept apart from ordinary page editing: an editor
who may edit a session page sees neither unless a group gives them these permissions
(Settings > Groups, "Training payments" objects).

==================================================  ===================================================
permission                                          what it opens
==================================================  ===================================================
``wagtail_training_pay.view_registration``          the registrations listing and detail (session,
                                                    status, dates), the per-session button, the seat
                                                    count in the page editor, seat summary items
``wagtail_training_pay.view_registration_personal_data``  names, emails, billing addresses and answers,
                                                    search by name or email, the personal columns
                                                    of exports
``wagtail_training_pay.view_payment``               every amount: the payments listing, amounts of
                                                    registrations, revenue in the page editor, the
                                                    reports, the money summary items
``wagtail_training_pay.change_registration``        cancel, confirm by hand, resend the confirmation,
                                                    move a learner in from the waiting list
``wagtail_training_pay.refund_registration``        refund a registration (in full or in part), cancel
                                                    with a refund
``wagtail_training_pay.change_payment``             mark a payment that needs attention settled, with a
                                                    note (with ``view_payment``; docs/money.md)
==================================================  ===================================================

Superusers hold them all.
"""

APP = "wagtail_training_pay"


def _has(user, codename):
    return bool(user and user.is_active and user.has_perm(f"{APP}.{codename}"))


def can_view_registrations(user):
    return _has(user, "view_registration")


def can_view_personal_data(user):
    return can_view_registrations(user) and _has(user, "view_registration_personal_data")


def can_view_money(user):
    return _has(user, "view_payment")


def can_change_registrations(user):
    return can_view_registrations(user) and _has(user, "change_registration")


def can_refund(user):
    return can_view_registrations(user) and can_view_money(user) and _has(user, "refund_registration")


def can_settle_payments(user):
    """Mark a payment's disagreement with the gateway settled by hand (docs/money.md, "Needs attention")."""
    return can_view_money(user) and _has(user, "change_payment")
