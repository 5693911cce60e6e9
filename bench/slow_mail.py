"""A mail server that takes a moment per message: Django's file backend after ``WTP_MULTI_MAIL_DELAY`` seconds.

While a worker waits on it, the owed email's row is locked and not yet marked sent: a worker killed then
leaves the email owed, for the sweeper to send (``bench/multi_process.py``).
"""

import os
import time

from django.core.mail.backends.filebased import EmailBackend


class SlowFileBackend(EmailBackend):
    def send_messages(self, email_messages):
        time.sleep(float(os.environ.get("WTP_MULTI_MAIL_DELAY", "0")))
        return super().send_messages(email_messages)
