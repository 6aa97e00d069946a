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
# pytest-xdist (make test runs the suite on several processes): each worker is a test session of its
# own. The workers inherit the controller's namespace and folder through the environment, so a worker
# adds its id (gw0, gw1…) to them once; the servers and workers it starts inherit the result.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER and os.environ.get("HUB_TEST_XDIST_WORKER") != _XDIST_WORKER:
    os.environ["HUB_TEST_XDIST_WORKER"] = _XDIST_WORKER
    os.environ["HUB_NAMESPACE"] += _XDIST_WORKER
    os.environ["HUB_DATA_DIR"] = str(Path(os.environ["HUB_DATA_DIR"]) / _XDIST_WORKER)

from integration_hub.settings import *  # noqa: E402,F403
from integration_hub.settings import DATABASES, Q_CLUSTER  # noqa: E402

# Tests and tools send traffic only to loopback, whatever the environment says.
HUB_OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast; never used outside tests
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

if _XDIST_WORKER:
    # One test database per worker on a database server too (SQLite files are in the worker's folder).
    for _db in DATABASES.values():
        if _db["ENGINE"] != "django.db.backends.sqlite3":
            _db["TEST"]["NAME"] = f"{_db['TEST']['NAME']}_{_XDIST_WORKER}"

SUBPROCESS = os.environ.get("HUB_TEST_SUBPROCESS") == "1"
if SUBPROCESS:
    # A server or worker started by a test works on the test databases the test process created.
    for _db in DATABASES.values():
        _db["NAME"] = _db["TEST"]["NAME"]
    Q_CLUSTER["sync"] = False
    Q_CLUSTER["workers"] = 1
    # A worker started by a test runs the tasks tests queue, never the schedules (a health check of
    # every system firing in the middle of a test would send it requests it does not expect).
    # HUB_TEST_SCHEDULER=1: a test about the schedules themselves (tests/scale/test_two_clusters.py).
    Q_CLUSTER["scheduler"] = os.environ.get("HUB_TEST_SCHEDULER") == "1"
    # They outlive each test's database flush: forget cached content-type ids (tests/isolation.py).
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.isolation.IsolationConfig"]  # noqa: F405
    MIDDLEWARE = ["tests.isolation.ClearCachesMiddleware", *MIDDLEWARE]  # noqa: F405
else:
    # In-process, tasks run inline unless a test asks for a real worker (async_task(..., sync=False)).
    Q_CLUSTER["sync"] = True
