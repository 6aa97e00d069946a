"""Two worker clusters on PostgreSQL + Redis: each schedule fires once per due time, and a flow never
runs twice at the same time.

Two real ``manage.py qcluster`` processes (one worker each, the django-q2 scheduler on in both, as on
two machines) share the test's PostgreSQL database and the Redis broker. Four catalog flows (PIM → shop,
one product family each) are enabled on interval triggers: two of them form a fan-out group (one
schedule), the other two have a schedule each.

The race is forced rather than hoped for. django-q2's scheduler runs in each cluster's guard loop
about every 30 s: in one transaction it selects the due schedules ``FOR UPDATE``, queues a task per
schedule and moves ``next_run`` on. For each round the test makes every schedule due at a time of its
own (``D1``, ``D2``) and, in the same transaction, holds the schedule table (``LOCK TABLE … IN EXCLUSIVE
MODE``) until the schedulers of *both* clusters wait on it; then it lets them go at the same instant.
Both see the same due rows; exactly one may fire each. The hub's schedules pass the due time to their
task (``flows.schedules.DUE_KWARG``), so django-q2's task rows say which due time each fire was for.

Meanwhile a thread of the test asks for a manual run of one of the flows every 0.25 s, so runs are
requested while others of the same flow run, and the two clusters' workers compete for them.

Afterwards: one task per schedule per due time and no other; each fire was served by a run that started
after it; every run executed once (one ``run.started`` and one ``run.finished`` line) and succeeded; the
runs of one flow never overlap, though runs were waiting on running ones; both clusters executed runs.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import cycle, pairwise
from pathlib import Path

import pytest
from django.conf import settings

from tests.live import ROOT, subprocess_env, wait_for

ROUNDS = 2
FAMILIES = {"chairs": 1, "tables": 1, "lighting": 2, "rugs": 3}  # family → interval (minutes)
# Backends waiting for the schedule table (only the schedulers ask for it while the test holds it).
WAITING_SCHEDULERS = """
    SELECT count(DISTINCT pid) FROM pg_locks WHERE relation = 'django_q_schedule'::regclass AND NOT granted
"""

ACTIVITY = """
    SELECT pid, state, wait_event_type, wait_event, left(query, 100) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()
"""


def _unavailable() -> str:
    """Why this test cannot run here ("" when it can): it needs PostgreSQL and Redis, both reachable."""
    hint = "run with DATABASE_URL=postgres://… and REDIS_URL=redis://… (.ci/run's second pass)"
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return f"two clusters need PostgreSQL and Redis, this run is on {db['ENGINE'].rsplit('.', 1)[-1]}: {hint}"
    if not settings.REDIS_URL:
        return f"two clusters need the Redis broker, REDIS_URL is not set: {hint}"
    import psycopg
    import redis

    try:
        redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis unreachable at {settings.REDIS_URL}: {exc}"
    try:
        psycopg.connect(**_conninfo("postgres"), connect_timeout=2).close()
    except psycopg.OperationalError as exc:
        return f"PostgreSQL unreachable at {db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}: {exc}"
    return ""


def _conninfo(dbname: str) -> dict:
    db = settings.DATABASES["default"]
    info = {"dbname": dbname, "host": db.get("HOST") or None, "port": db.get("PORT") or None}
    info.update(user=db.get("USER") or None, password=db.get("PASSWORD") or None)
    return {k: v for k, v in info.items() if v is not None}


UNAVAILABLE = _unavailable()
pytestmark = [
    pytest.mark.skipif(bool(UNAVAILABLE), reason=UNAVAILABLE or "-"),
    pytest.mark.django_db(transaction=True, databases="__all__"),
    pytest.mark.services,
]


# --- the set-up -----------------------------------------------------------------------------------------


@pytest.fixture
def flows():
    from flows import blueprints, designer
    from flows.demo import ensure_demo_systems
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        ensure_demo_systems(urls=urls)
        made = {}
        for family, minutes in FAMILIES.items():
            data = blueprints.definition_for("catalog", name=f"Catalog: {family}")
            data["filters"] = [*data["filters"], {"path": "family", "op": "equals", "value": family}]
            data.update(interval_minutes=minutes, enabled=True)
            made[family] = designer.save_flow(data)
        yield made


class Cluster:
    """``manage.py qcluster`` in a session of its own (its sentinel and workers die with it)."""

    def __init__(self, name: str, log_dir: Path):
        self.log = log_dir / f"qcluster-{name}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env=subprocess_env(HUB_TEST_SCHEDULER="1"),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def processes(self) -> set[int]:
        """The pids of this cluster: its main process and every descendant (sentinel, workers…)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        found, todo = set(), [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo.extend(children.get(pid, []))
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # django-q2 stops gracefully: running tasks end first
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # no worker of it may outlive it (see tests/live.py)
            os.killpg(self.proc.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def clusters(flows, tmp_path):
    from django_q.brokers import get_broker

    started = [Cluster(name, tmp_path) for name in ("a", "b")]
    try:
        yield started
    finally:
        for cluster in started:
            cluster.stop()
        get_broker().purge_queue()  # nothing of this test left for the next one's worker


class ManualTriggers(threading.Thread):
    """Asks for a manual run of the next flow every ``every`` seconds, as people would."""

    def __init__(self, flows, every: float = 0.25):
        super().__init__(daemon=True)
        self.flows, self.every = list(flows), every
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def run(self):
        from django.db import connection

        from flows import sync

        try:
            for flow in cycle(self.flows):
                if self.stop.wait(self.every):
                    break
                with contextlib.suppress(sync.RunRefused):
                    sync.request_run(flow)  # queued in Redis for the clusters' workers
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)
        finally:
            connection.close()


def fire_together(conninfo: dict, names: list[str], clusters: list[Cluster]) -> datetime:
    """Make every schedule in ``names`` due now and release both clusters' schedulers on it at once."""
    import psycopg

    due = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with psycopg.connect(**conninfo) as conn:  # one transaction, committed on the way out
        conn.execute("LOCK TABLE django_q_schedule IN EXCLUSIVE MODE")
        conn.execute("UPDATE django_q_schedule SET next_run = %s WHERE name = ANY(%s)", [due, names])
        deadline = time.monotonic() + 120
        while conn.execute(WAITING_SCHEDULERS).fetchone()[0] < len(clusters):
            for cluster in clusters:
                assert cluster.proc.poll() is None, f"a cluster exited:\n{cluster.output()}"
            if time.monotonic() > deadline:
                activity = conn.execute(ACTIVITY).fetchall()
                logs = "\n".join(c.output() for c in clusters)
                raise AssertionError(f"the clusters' schedulers never both waited: {activity}\n{logs}")
            time.sleep(0.1)
    # Both wait no more once one of them fired and the other looked again.
    with psycopg.connect(**conninfo, autocommit=True) as conn:
        wait_for(
            lambda: conn.execute(WAITING_SCHEDULERS).fetchone()[0] == 0, timeout=30, message="schedulers"
        )
    return due


# --- the test ---------------------------------------------------------------------------------------------


def test_two_clusters_fire_each_schedule_once_and_never_run_a_flow_twice_at_once(
    flows, clusters, monkeypatch
):
    from django.db import connection
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.models import Schedule, Task

    from flows.models import Run, RunLogLine, RunStatus
    from flows.schedules import group_schedule_name, schedule_name
    from flows.sync import fanout_key

    monkeypatch.setattr(Conf, "SYNC", False)  # this process's requests go through Redis too
    chairs, tables = flows["chairs"], flows["tables"]
    covers = {  # schedule → the flows one fire of it runs
        group_schedule_name(fanout_key(chairs)): [chairs.pk, tables.pk],
        schedule_name(flows["lighting"].pk): [flows["lighting"].pk],
        schedule_name(flows["rugs"].pk): [flows["rugs"].pk],
    }
    assert set(Schedule.objects.values_list("name", flat=True)) >= set(covers)
    Schedule.objects.exclude(name__in=covers).delete()  # the hub's other jobs are not about this
    names = list(covers)
    conninfo = _conninfo(connection.settings_dict["NAME"])

    triggers = ManualTriggers(flows.values())
    triggers.start()
    try:
        dues = [fire_together(conninfo, names, clusters) for _ in range(ROUNDS)]
    finally:
        triggers.stop.set()
        triggers.join(timeout=30)
    assert not triggers.errors, triggers.errors

    broker = get_broker()

    def settled():
        if broker.queue_size() or Task.objects.filter(group__in=names).count() < len(names) * ROUNDS:
            return False
        return not Run.objects.filter(status__in=["queued", "running"]).exists()

    wait_for(settled, timeout=120, interval=0.5, message="the fired schedules and every run to finish")
    pids = [cluster.processes() for cluster in clusters]
    for cluster in clusters:
        cluster.proc.terminate()  # both at once; each runs what it has taken from the queue, then stops
    for cluster in clusters:
        cluster.stop()
    runs = list(Run.objects.order_by("started", "pk"))
    assert runs and {r.status for r in runs} == {RunStatus.SUCCEEDED}, [
        (r.pk, r.status, r.message) for r in runs
    ]

    # 1. Each schedule fired exactly once for each due time, and nothing else fired.
    tasks = list(Task.objects.filter(group__in=names))
    fires = sorted((t.group, datetime.fromisoformat(t.kwargs["due"])) for t in tasks)
    assert fires == sorted((name, due) for name in names for due in dues)
    assert all(t.success for t in tasks), [t.result for t in tasks if not t.success]
    assert not Task.objects.exclude(group__in=names).filter(func__startswith="flows.tasks.scheduled").exists()

    # 2. Each fire was served by a run of each flow it covers, queued by then and started after it.
    for task in tasks:
        for flow_id in covers[task.group]:
            assert any(
                r.flow_id == flow_id and r.queued_at <= task.stopped and r.started >= task.started
                for r in runs
            ), f"{task.group} fired at {task.started} and flow {flow_id} did not run after it"

    # 3. Every run (all succeeded, above) executed once.
    starts = dict.fromkeys((r.pk for r in runs), 0)
    ends = dict(starts)
    for run_id, event in RunLogLine.objects.filter(event__in=["run.started", "run.finished"]).values_list(
        "run_id", "event"
    ):
        (starts if event == "run.started" else ends)[run_id] += 1
    assert set(starts.values()) == {1} and set(ends.values()) == {1}

    # 4. A flow never ran twice at once — though runs did wait for a running one of their flow.
    waited = 0
    for flow in flows.values():
        mine = [r for r in runs if r.flow_id == flow.pk]
        assert len(mine) >= ROUNDS
        for before, after in pairwise(mine):
            assert before.finished <= after.started, f"runs {before.pk} and {after.pk} of {flow} overlap"
            waited += after.queued_at < before.finished
        flow.refresh_from_db()
        assert flow.enabled  # no run failed its way into a pause
    assert waited > 0, "no run ever waited for another of its flow: the one-run rule was not put to the test"

    # 5. Both clusters executed runs (``Run.worker`` is host:pid of the worker process).
    executed_by = [{r.pk for r in runs if int(r.worker.rsplit(":", 1)[1]) in mine} for mine in pids]
    assert all(executed_by), f"runs per cluster: {[len(s) for s in executed_by]}"
    strangers = sorted({r.worker for r in runs if r.pk not in executed_by[0] | executed_by[1]})
    assert not strangers, (
        f"runs executed by processes of neither cluster: {strangers}; clusters: {pids}; test process: {os.getpid()}"
    )
