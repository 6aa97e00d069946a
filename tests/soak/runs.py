"""Runs in real worker processes (``manage.py hub run``) on this test's databases, and the checks every
fault test makes of them."""

from __future__ import annotations

import subprocess
import sys

from flows.models import Run
from tests.live import ROOT, subprocess_env


def hub_run(
    flow, *, crash_at: str = "", stale_after: str = "1", timeout: float = 900, **env
) -> subprocess.CompletedProcess:
    """``manage.py hub run`` in its own process: a real worker. By default a run whose heartbeat is
    older than a second counts as dead (``HUB_RUN_STALE_AFTER``): a killed run is interrupted at once
    (only when no other run of the flow goes on at the same time)."""
    environ = subprocess_env(HUB_RUN_STALE_AFTER=stale_after, **env)
    if crash_at:
        environ["HUB_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "manage.py", "hub", "run", str(flow.pk)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_hub_run(flow, **env) -> subprocess.Popen:
    """``manage.py hub run`` without waiting for it (the default staleness: two minutes)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "hub", "run", str(flow.pk)],
        cwd=ROOT,
        env=subprocess_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def assert_counters_add_up(run: Run) -> None:
    """Every record a run read is accounted for exactly once (the Run model's invariant)."""
    accounted = (
        run.filtered + run.unchanged + run.created + run.updated + run.deleted + run.failed + run.suppressed
    )
    assert run.read == accounted, f"run #{run.pk} ({run.status}): {run.counters()}"
