"""The sandbox as a newcomer starts it, served for Chromium: its own settings, URLs, demo content and mail folder.

One server per test session: a fresh SQLite database, ``migrate``, ``load_demo``, then ``runserver`` on a free
port given as ``PORT`` and the task worker ``db_worker`` beside it (as ``make demo PORT=...`` does), mail written
as ``.eml`` files to a temporary folder by the worker.
Tests see what a person sees (pages, emails), never the test suite's settings or ``tests/urls.py``.
"""

import email
import email.policy
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser.conftest import SCREENSHOTS, page_opener

SANDBOX = Path(__file__).resolve().parents[3] / "sandbox"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sandbox:
    def __init__(self, folder, extra_env=None, after_load=()):
        self.folder = folder
        self.after_load = after_load
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mail_folder = folder / "sent-emails"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DJANGO_SETTINGS_MODULE", "EMAIL_BACKEND", "PAYMENT_HOST", "WAGTAILADMIN_BASE_URL")
        }
        self.env.update(
            DATABASE_URL=f"sqlite:///{folder / 'demo.sqlite3'}",
            PORT=str(self.port),
            HOST="127.0.0.1",
            EMAIL_FILE_PATH=str(self.mail_folder),
            PYTHONUNBUFFERED="1",
            **(extra_env or {}),
        )
        self.server = None
        self.worker = None

    def manage(self, *args, check=True):
        return subprocess.run(
            [sys.executable, str(SANDBOX / "manage.py"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=check,
        )

    def start(self):
        self.manage("migrate", "--noinput", "-v0")
        self.load_demo_output = self.manage("load_demo").stdout
        for command in self.after_load:
            self.manage(command)
        self.manage("db_worker", "--batch")  # the demo's queued work (Wagtail's search index) done before serving
        log = open(self.folder / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.log = log
        self.worker = subprocess.Popen(
            [sys.executable, str(SANDBOX / "manage.py"), "db_worker", "--interval", "0.2"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.server = subprocess.Popen(
            [sys.executable, str(SANDBOX / "manage.py"), "runserver", f"127.0.0.1:{self.port}", "--noreload"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=5)  # noqa: S310 - our own loopback server
                return
            except OSError:
                if self.server.poll() is not None:
                    break
                time.sleep(0.3)
        raise RuntimeError("The sandbox did not start:\n" + (self.folder / "server.log").read_text())

    def stop(self):
        for process in (self.server, self.worker):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)
        if self.server is not None:
            self.log.close()

    def shell(self, code):
        """Run Python in the sandbox's own settings (for what a person cannot do in a browser: the clock)."""
        return self.manage("shell", "-c", code).stdout

    def emails(self, to=None, wait=15):
        """The messages the demo wrote to its mail folder, oldest first, as ``email.message.EmailMessage``.

        The worker sends them a moment after the page answered: wait up to ``wait`` seconds for a first one.
        """
        deadline = time.monotonic() + wait
        while not (messages := self._read_emails(to)) and time.monotonic() < deadline:
            time.sleep(0.2)
        return messages

    def _read_emails(self, to):
        if not self.mail_folder.exists():
            return []
        messages = []
        for path in sorted(self.mail_folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if to is None or to in message["To"]:
                messages.append(message)
        return messages


def body_of(message, subtype="plain"):
    part = message.get_body(preferencelist=(subtype,))
    return part.get_content() if part is not None else ""


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    server = Sandbox(tmp_path_factory.mktemp("sandbox"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def simulator_sandbox(tmp_path_factory):
    """The demo as `python sandbox/run_simulators.py` and `WTP_SIMULATORS=1 make demo` serve it: learners are
    offered a card on Payflow's hosted page, PayPal (Express Checkout) and the dummy provider."""
    ports = {name: str(free_port()) for name in ("WTP_PAYFLOW_PORT", "WTP_NVP_PORT", "WTP_PAYFLOW_UK_PORT")}
    simulators = subprocess.Popen(
        [sys.executable, str(SANDBOX / "run_simulators.py")],
        env={**os.environ, **ports},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Sandbox(
        tmp_path_factory.mktemp("sandbox-simulators"),
        extra_env={"WTP_SIMULATORS": "1", **ports},
        after_load=("use_simulators",),
    )
    server.nvp_url = f"http://127.0.0.1:{ports['WTP_NVP_PORT']}"
    try:
        server.start()
        yield server
    finally:
        server.stop()
        simulators.terminate()
        simulators.wait(timeout=10)


@pytest.fixture(autouse=True)
def payment_host_is_the_live_server():
    """The sandbox is its own server: nothing of the test suite's live server here."""


@pytest.fixture
def sandbox_page(chromium):
    """Open a page of a new browser context in ``locale``, failing the test on any JavaScript error."""
    with page_opener(chromium, timeout=20_000) as open_page:
        yield open_page


@pytest.fixture
def sandbox_screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page_or_locator, name):
        """A full page, or only the part a locator shows."""
        path = str(SCREENSHOTS / f"{name}.png")
        if hasattr(page_or_locator, "goto"):
            page_or_locator.screenshot(path=path, full_page=True)
        else:
            page_or_locator.screenshot(path=path)

    return take
