import os
import shutil

import pytest
from django.conf import settings

CHROMIUM = "/usr/bin/chromium"


def pytest_configure(config):
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "")


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
        teardown_databases(config, verbosity=0)
    cache_dir = os.environ.get("HUB_CACHE_DIR")
    if cache_dir and "cache-hubtest" in cache_dir:
        shutil.rmtree(cache_dir, ignore_errors=True)
