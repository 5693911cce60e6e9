"""Mail servers the outbox tests need: one that stalls until released, one that is slow. Both deliver to
Django's test outbox (``mail.outbox``) once they answer. A mail server that is down is Django's real SMTP
backend pointed at a closed loopback port (``closed_smtp_port``)."""

import socket
import threading
import time

from django.core.mail.backends import locmem


class StalledBackend(locmem.EmailBackend):
    """Holds every send until ``release`` is set (at most ``timeout`` seconds), as a mail server that hangs."""

    entered = threading.Event()
    release = threading.Event()
    timeout = 60

    @classmethod
    def reset(cls):
        cls.entered.clear()
        cls.release.clear()

    def send_messages(self, messages):
        type(self).entered.set()
        type(self).release.wait(timeout=type(self).timeout)
        return super().send_messages(messages)


class SlowBackend(locmem.EmailBackend):
    """Answers after a short delay, so two senders overlap."""

    delay = 0.3

    def send_messages(self, messages):
        time.sleep(self.delay)
        return super().send_messages(messages)


def closed_smtp_port():
    """A loopback port nothing listens on: connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
