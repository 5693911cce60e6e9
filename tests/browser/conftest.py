"""Playwright driving Debian's Chromium against pytest-django's live server.

Never downloads a browser: ``CHROMIUM_PATH`` (default ``/usr/bin/chromium``) is launched directly.
Screenshots land in ``tests/artifacts/screenshots/`` (the README shows some of them).
"""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[2]
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = REPO / "tests" / "artifacts" / "screenshots"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def payment_host_is_the_live_server(live_server, monkeypatch):
    """django-payments reads ``PAYMENT_HOST`` once, at import: point its return URLs at the live server."""
    from payments import core

    monkeypatch.setattr(core, "PAYMENT_HOST", live_server.url.split("://", 1)[1])
    monkeypatch.setattr(core, "PAYMENT_USES_SSL", False)


@contextmanager
def page_opener(chromium, timeout=15_000):
    """A function opening a page in a new browser context (``locale``, ``timezone_id``, ``width``); on leaving,
    the contexts close and any JavaScript error fails the test."""
    contexts, errors = [], []

    def open_page(locale="en-GB", timezone_id="Europe/Paris", width=1280, height=900):
        context = chromium.new_context(
            locale=locale, timezone_id=timezone_id, viewport={"width": width, "height": height}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(timeout)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def new_browser_page(chromium, live_server):
    """Open a page in a new browser context, failing the test on any JavaScript error."""
    with page_opener(chromium) as open_page:
        yield open_page


@pytest.fixture
def browser_page(new_browser_page):
    """A fresh English page of a new browser context, failing the test on any JavaScript error."""
    return new_browser_page()


def settle_animations(page, timeout=3_000):
    """Let fade-ins finish: axe measures contrast on the colours it sees, half-faded text included."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(
            "() => document.getAnimations().every(a => a.playState !== 'running' || a.effect?.getTiming()"
            ".iterations === Infinity)",
            timeout=timeout,
        )
    except PlaywrightTimeoutError:
        pass  # an endless animation: scan anyway


@pytest.fixture
def axe_scan():
    """Run axe-core on the current page (or only inside ``within``, a CSS selector) and return its serious and
    critical violations."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `npm ci` at the repository root")

    def scan(page, within=None):
        settle_animations(page)
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(
            "async (within) => (await axe.run(within ? {include: [within]} : document)).violations.map("
            "v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))",
            within,
        )
        return [v for v in violations if v["impact"] in ("serious", "critical")]

    return scan


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
