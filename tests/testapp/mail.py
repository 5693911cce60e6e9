"""An email backend that can be down, as an SMTP server during an outage."""

import smtplib

from django.core.mail.backends.base import BaseEmailBackend


class OutageBackend(BaseEmailBackend):
    down = False
    sent = []
    refused = 0

    def send_messages(self, email_messages):
        if type(self).down:
            type(self).refused += len(email_messages)
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        type(self).sent.extend(email_messages)
        return len(email_messages)


def reset():
    OutageBackend.down, OutageBackend.sent, OutageBackend.refused = False, [], 0
