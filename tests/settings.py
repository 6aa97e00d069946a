"""Test settings: the project's settings with test state kept apart and outgoing traffic pinned to loopback.

The environment variables set here are inherited by the processes the tests start (a live ASGI
server, a django-q2 cluster), so they share one namespace and one set of test databases.
"""

import os
from pathlib import Path

_BASE = Path(__file__).resolve().parent.parent
# Queues, channel groups, cache keys and database files of this test session, apart from any running
# console and from another test session running at the same time.
os.environ.setdefault("HUB_NAMESPACE", f"hubtest{os.getpid()}")
os.environ.setdefault("HUB_DATA_DIR", str(_BASE / "var" / "test" / os.environ["HUB_NAMESPACE"]))

from integration_hub.settings import *  # noqa: E402,F403
from integration_hub.settings import DATABASES, Q_CLUSTER  # noqa: E402

# Tests and tools send traffic only to loopback, whatever the environment says.
HUB_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; never used outside tests
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

SUBPROCESS = os.environ.get("HUB_TEST_SUBPROCESS") == "1"
if SUBPROCESS:
    # A server or worker started by a test works on the test databases the test process created.
    for _db in DATABASES.values():
        _db["NAME"] = _db["TEST"]["NAME"]
    Q_CLUSTER["sync"] = False
    Q_CLUSTER["workers"] = 1
    # A worker started by a test runs the tasks tests queue, never the schedules (a health check of
    # every system firing in the middle of a test would send it requests it does not expect).
    Q_CLUSTER["scheduler"] = False
    # They outlive each test's database flush: forget cached content-type ids (tests/isolation.py).
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.isolation.IsolationConfig"]  # noqa: F405
    MIDDLEWARE = ["tests.isolation.ClearCachesMiddleware", *MIDDLEWARE]  # noqa: F405
else:
    # In-process, tasks run inline unless a test asks for a real worker (async_task(..., sync=False)).
    Q_CLUSTER["sync"] = True
