"""Helpers for the browser tests."""

from concurrent.futures import ThreadPoolExecutor


def session_cookie(user, url: str) -> dict:
    """A cookie for ``context.add_cookies`` that logs ``user`` in (skips the login form)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": url,
    }


def outside_loop(fn, *args, **kwargs):
    """Call ``fn`` in a thread of its own and return its result.

    Use it for changes whose live events matter: their post-commit ``async_to_sync`` refuses to run
    in this thread, where Playwright's loop is running (the event would be logged and dropped).
    """
    from django.db import connections

    def call():
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()
