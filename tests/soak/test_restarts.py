"""PostgreSQL restarted during a run, then Redis restarted during a run (``make soak`` only: a private
PostgreSQL is initialised and migrated for the test, over a minute on its own).

The hub runs as in production: a django-q2 worker cluster (``manage.py qcluster``) on the private
PostgreSQL, with the private Redis as its broker, cache and channel layer. Runs are queued through the
broker; the server is restarted once the run has committed a few pages. The run must recover or end
clearly (failed with a message, or interrupted and resumed by the next run); a run queued after the
restart must be picked up by the same cluster and complete; the target must then hold every record
exactly once; a *run failed* alert, if one fired, must be resolved by the run that went through.
"""

import shutil
import subprocess
import sys
import time

import pytest

from tests.live import ROOT, subprocess_env, wait_for
from tests.soak import summary
from tests.soak.catalog import Server, Source, Target, expected_digests
from tests.soak.private_services import PrivatePostgres, PrivateRedis, pg_bindir
from tests.soak.test_fault_mix import check_target

pytestmark = pytest.mark.soak  # the test databases are not used: the hub runs on the private services

RECORDS = 2_000
STALE_AFTER = 5  # seconds without a heartbeat before a run counts as dead (the default is 2 minutes)
ACTIVE = ("queued", "running")


def manage(env, *args, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_postgresql_then_redis_restarted_mid_run_lose_nothing(request):
    if pg_bindir() is None or shutil.which("redis-server") is None:
        pytest.skip("RESTART TEST SKIPPED: PostgreSQL's initdb or redis-server is not installed")
    pg = PrivatePostgres().start()
    redis = PrivateRedis().start()
    source = Server("source", Source(RECORDS), latency_ms=80).start()  # 40 pages, several seconds
    target = Server("target", Target()).start()
    worker = None
    figures = {}
    try:
        pg.createdb("test_hub")
        env = subprocess_env(
            DATABASE_URL=pg.url("hub"), REDIS_URL=redis.url, HUB_RUN_STALE_AFTER=str(STALE_AFTER)
        )
        manage(env, "manage.py", "migrate", "--noinput")
        flow_id = int(
            manage(env, "-m", "tests.soak.private_hub", "setup", source.url, target.url).split()[-1]
        )
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def runs() -> list[tuple]:
            return pg.query(
                "test_hub",
                "SELECT id, status, pages, message FROM flows_run WHERE flow_id = %s ORDER BY id",
                (flow_id,),
            )

        def status(run_id: int) -> str:
            return next(r[1] for r in runs() if r[0] == run_id)

        def queue() -> int:
            return int(manage(env, "-m", "tests.soak.private_hub", "queue", str(flow_id)).split()[-1])

        def wait_done(run_id: int, timeout: float = 300) -> str:
            def finished():
                try:
                    value = status(run_id)
                except Exception:  # the server is still coming back
                    return None
                return value if value not in ACTIVE else None

            return wait_for(finished, timeout=timeout, interval=0.5, message=f"run {run_id} to end")

        for service, restart in (("postgresql", pg.restart), ("redis", redis.restart)):
            target.app.reset()  # an empty target, and no links: every record is written again
            pg.query("test_hub", "DELETE FROM flows_recordlink RETURNING id")
            run_id = queue()
            wait_for(
                lambda run_id=run_id: any(r[0] == run_id and r[1] == "running" and r[2] >= 3 for r in runs()),
                timeout=180,
                interval=0.2,
                message=f"run {run_id} to commit its first pages",
            )
            restart(down_seconds=2)
            # The run goes on, or fails with its reason; or its worker lost the database for good and
            # it stays "running" without a heartbeat until the next run interrupts it.
            try:
                during = wait_done(run_id, timeout=60)
            except AssertionError:
                during = "running"
                time.sleep(STALE_AFTER + 1)
            if during == "failed":
                assert next(r[3] for r in runs() if r[0] == run_id), "a failed run must say why"
            after = run_id
            for _attempt in range(3):
                if status(after) in ("succeeded", "partial"):
                    break
                after = queue()  # picked up by the same worker cluster
                wait_done(after)
            assert status(after) == "succeeded", runs()
            if during == "running":
                assert status(run_id) == "interrupted"
            result = check_target(target, expected_digests(range(1, RECORDS + 1)), set())
            assert result == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}
            open_failures = pg.query(
                "test_hub",
                "SELECT count(*) FROM flows_failedrecord WHERE flow_id = %s AND status IN ('open', 'retrying')",
                (flow_id,),
            )[0][0]
            assert open_failures == 0
            alerts = pg.query("test_hub", "SELECT state FROM monitoring_alert ORDER BY id")
            if during == "failed":
                assert alerts and all(state == "resolved" for (state,) in alerts), alerts
            figures[service] = {
                "run_during_restart": during,
                "message": next(r[3] for r in runs() if r[0] == run_id)[:300],
                "alerts": [state for (state,) in alerts],
            }
            summary.record(
                request.node.name,
                runs=len([r for r in runs() if r[0] >= run_id]),
                records_checked=RECORDS,
                records_lost=len(result["lost"]),
                duplicates=result["duplicates"],
            )
        summary.note(request.node.name, **figures)
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
        source.stop()
        target.stop()
        redis.stop()
        pg.stop()
