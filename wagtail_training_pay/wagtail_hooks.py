"""Wagtail admin wiring of the app."""

from wagtail import hooks

from .services.audit import ACTION_PREFIX, REGISTRATION_ACTIONS


@hooks.register("register_log_actions")
def register_registration_log_actions(actions):
    for verb, label in REGISTRATION_ACTIONS.items():
        actions.register_action(ACTION_PREFIX + verb, label, label)
