import os
import shutil

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"


def pytest_configure(config):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "")


def pytest_unconfigure(config):
    """Remove this session's data folder (under pytest-xdist, the controller's: the workers' are in it)."""
    if hasattr(config, "workerinput") or os.environ.get("HUB_TEST_SUBPROCESS") == "1":
        return  # a worker's folder goes with its test databases (django_db_setup)
    if "/var/test/hubtest" in str(settings.DATA_DIR):
        shutil.rmtree(settings.DATA_DIR, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM):
        return
    reason = (
        f"BROWSER TESTS SKIPPED: Chromium not found at {CHROMIUM} (apt-get install -y chromium; .ci/run does)"
    )
    skip = pytest.mark.skip(reason=reason)
    browser = [item for item in items if "browser" in item.keywords]
    for item in browser:
        item.add_marker(skip)
    if browser:
        config._hub_browser_skip = f"{len(browser)} {reason}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    message = getattr(config, "_hub_browser_skip", None)
    if message:
        terminalreporter.write_line(f"!!! {message}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker):
    """Create the test databases of every alias (the channel layer's too), migrated, once a session.

    pytest-django would only create the aliases that tests name; processes started by tests and
    the channel layer need them all.
    """
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases=set(settings.DATABASES))
    yield
    with django_db_blocker.unblock():
        _close_stray_connections()
        teardown_databases(config, verbosity=0)
    if os.environ.get("HUB_TEST_SUBPROCESS") != "1" and "/var/test/hubtest" in str(settings.DATA_DIR):
        shutil.rmtree(settings.DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def asgi_url(django_db_setup):
    """A real uvicorn serving the console (HTTP + websockets) on the test databases, for the session."""
    from tests.live import asgi_server

    with asgi_server() as url:
        yield url


@pytest.fixture(scope="module")
def worker(django_db_setup):
    """A real django-q2 worker cluster in its own process, for the test module: it must not outlive it,
    or it would take the tasks later modules of the same test process queue for workers of their own
    (tests/scale/test_two_clusters.py, tests/soak/)."""
    from tests.live import worker_cluster

    with worker_cluster() as proc:
        yield proc


def _close_stray_connections():
    """Threads of asgiref's executor (websocket consumer tests) keep their own database connections,
    which stop PostgreSQL from dropping the test database; end them first."""
    from django.db import connections

    for alias in connections:
        conn = connections[alias]
        if conn.vendor != "postgresql":
            continue
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [conn.settings_dict["NAME"]],
            )


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request through LocaleMiddleware in the test client
    leaves its language active in this thread, which would leak into the next test."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
