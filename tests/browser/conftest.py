"""Browser tests: Debian's Chromium driven by Playwright against the live ASGI server (tests/live.py).

One Playwright + Chromium serves every test of this package; each test gets a fresh browser context
and page. Traffic is pinned to loopback: any request to another host is aborted and recorded in
``blocked`` so tests can assert that nothing tried to leave the machine.

Playwright's sync API keeps an asyncio loop "running" in the test thread for as long as it is started,
so Django's ORM would raise SynchronousOnlyOperation (the tests and pytest-django's flush use the ORM
beside it). ``DJANGO_ALLOW_ASYNC_UNSAFE`` is therefore set for exactly as long as Playwright runs, and
restored afterwards so the async tests of other packages keep Django's guard; tests/live.py removes it
from the environment of the server and worker processes. Playwright is scoped to this package, not the
session, for the same reason: pytest-asyncio cannot start a loop while Playwright's is running in the
same thread, so it must be stopped before tests of other packages run.
"""

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.browser.support import outside_loop, session_cookie

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
DEFAULT_TIMEOUT_MS = 20_000


@pytest.fixture(scope="package")
def playwright():
    from playwright.sync_api import sync_playwright

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            yield p
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(scope="package")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class Watch:
    """What the page did that a test may want to assert about."""

    blocked: list[str] = field(default_factory=list)  # non-loopback requests, aborted
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return self.console_errors + self.page_errors


@pytest.fixture
def watch():
    return Watch()


@pytest.fixture
def context(browser, asgi_url, watch):
    from playwright.sync_api import expect

    expect.set_options(timeout=DEFAULT_TIMEOUT_MS)
    context = browser.new_context(base_url=asgi_url, viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)

    def guard(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in LOOPBACK:
            route.continue_()
        else:
            watch.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    context.route("**/*", guard)
    yield context
    context.close()


@pytest.fixture
def page(context, watch):
    page = context.new_page()
    page.on("console", lambda msg: msg.type == "error" and watch.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: watch.page_errors.append(str(exc)))
    return page


@pytest.fixture
def admin():
    """An Integration admin (created per test: transactional tests flush the database afterwards)."""
    from integration_hub.roles import INTEGRATION_ADMIN
    from tests.factories import UserFactory

    return outside_loop(UserFactory, username="ada", roles=[INTEGRATION_ADMIN])


@pytest.fixture
def admin_page(page, context, admin, asgi_url):
    """A page whose context is logged in as ``admin``."""
    context.add_cookies([outside_loop(session_cookie, admin, asgi_url)])
    return page
