"""Scenario 7: scale-out — 10 flows at once on 1, 2 and 4 worker processes (django-q2 on Redis, PostgreSQL).

Ten flows copy ten distinct sets of products (``GET /sets/K/products`` of ``bench.servers``'s source,
pages of 100) into one target (batch upserts on the SKU), through the real path: ``sync.request_run``
for each flow → a ``run_flow`` task in the Redis queue → a ``manage.py qcluster`` with ``HUB_WORKERS``
= 1, 2, then 4 worker processes → ``execute_run``. Each measurement starts from nothing (target
emptied, the flows' ID links deleted): every record is read, mapped, written and linked.

Both servers answer every products request 50 ms late (``--latency-ms``): real vendor APIs take
50-300 ms, so integration work waits more than it computes and more workers should overlap the waits.
Targets (issue "Performance", scenario 7): ≥ 1.8x the one-worker rate with 2 workers, ≥ 3x with 4.
The same is measured without added latency (CPU-bound on this 2-core machine; no target).

Time = from the first ``request_run`` to the last run's ``finished``; after each timed run the target
must hold exactly the 10 x N mapped source records (count + digest, each written once) and every run
must have succeeded with N records read and none failed — otherwise the bench fails.

Needs PostgreSQL and Redis: a throwaway database created and dropped on the server of
``--database-url`` (default 127.0.0.1:5432, user postgres), Redis keys and queue under a namespace of
its own; skipped with the reason when either cannot be reached. ``run()`` drives it; the measurement
runs in a child process configured for that database (``python -m bench.scaleout --records N …``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import prep

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
FLOWS = 10
WORKERS = (1, 2, 4)
LATENCY_MS = 50
TARGETS = {2: 1.8, 4: 3.0}  # speed-up over one worker, with the added latency
PAGE_SIZE = 100
SOURCE_SLUG, TARGET_SLUG = "scale-source", "scale-target"


# --- the check of a timed run (pure: tests/bench/test_scaleout.py) ---------------------------------------


def problems(runs: list[dict], target: dict, records: int, expected: dict) -> list[str]:
    """What is wrong after a timed run ([] when nothing): ``runs`` as dicts with the Run fields
    ``status``, ``read``, ``created``, ``updated``, ``failed``; ``target`` the target's ``/digest`` and
    ``/stats`` (``count``, ``digest``, ``written``); ``expected`` from ``catalog.expected_digest``."""
    found = []
    if len(runs) != FLOWS:
        found.append(f"{len(runs)} runs instead of {FLOWS}")
    for run in runs:
        name = run.get("flow", "?")
        if run["status"] != "succeeded":
            found.append(f"run of {name} ended {run['status']}: {run.get('message', '')[:200]}")
        elif run["read"] != records or run["failed"] or run["created"] + run["updated"] != records:
            found.append(
                f"run of {name} read {run['read']}, wrote {run['created'] + run['updated']}, "
                f"failed {run['failed']} (expected {records} read and written)"
            )
    if (target["count"], target["digest"]) != (expected["count"], expected["digest"]):
        found.append(
            f"the target holds {target['count']} records (digest {target['digest'][:12]}…), "
            f"not the {expected['count']} mapped source records (digest {expected['digest'][:12]}…)"
        )
    if target["written"] != expected["count"]:
        found.append(f"the target took {target['written']} writes for {expected['count']} records")
    return found


def max_parallel(intervals: list[tuple[float, float]]) -> int:
    """The most runs that were running at the same moment (``(started, finished)`` pairs)."""
    events = sorted([(s, 1) for s, _ in intervals] + [(f, -1) for _, f in intervals])
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


# --- parent: a throwaway database, a child process ----------------------------------------------------


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def run(
    database_url: str | None = None,
    redis_url: str | None = "redis://127.0.0.1:6379/0",
    *,
    records: int = 5000,
    rounds: int = 1,
    latencies: tuple[float, ...] = (LATENCY_MS, 0),
    log=print,
) -> dict:
    """Measure, check, report; ``{"skipped": why}`` when PostgreSQL or Redis cannot be reached."""
    import psycopg
    import redis

    if not redis_url:
        return {"skipped": "no Redis URL (--redis '')"}
    try:
        redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        return {"skipped": f"Redis unreachable at {redis_url}: {str(exc)[:200]}"}
    server = _with_db(database_url or os.environ.get("BENCH_PG_SERVER") or DEFAULT_SERVER, "postgres")
    throwaway = f"hub_bench_scaleout_{os.getpid()}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        # Already migrated: a copy of a template database migrated once per ``make bench``.
        prep.postgres_database(server, throwaway)
    except psycopg.OperationalError as exc:
        where = f"{urlsplit(server).hostname}:{urlsplit(server).port or 5432}"
        return {"skipped": f"PostgreSQL unreachable at {where}: {str(exc).strip()[:200]}"}
    namespace = f"benchscale{os.getpid()}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ)
            env.update(
                DJANGO_SETTINGS_MODULE="integration_hub.settings",
                DATABASE_URL=_with_db(server, throwaway),
                REDIS_URL=redis_url,
                HUB_DATA_DIR=tmp,
                HUB_NAMESPACE=namespace,
                HUB_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
                HUB_LOG_LEVEL="WARNING",
                PYTHONPATH=str(ROOT),
                PYTHONUNBUFFERED="1",
            )
            env.pop("HUB_TASKS_SYNC", None)
            args = ["--records", str(records), "--rounds", str(rounds)]
            args += ["--latencies", ",".join(str(x) for x in latencies)]
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.scaleout", *args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                text=True,
            )
            result = None
            for line in proc.stdout:
                if line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT ") :])
                else:
                    log(line.rstrip())
            if proc.wait() != 0 or result is None:
                raise RuntimeError(f"the scale-out measurement failed (exit {proc.returncode})")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{throwaway}" WITH (FORCE)')
        client = redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{namespace}*"):
            client.delete(key)
    result["postgres"] = version
    result["database"] = f"throwaway database on {urlsplit(server).hostname}, Redis {redis_url}"
    return result


def table(result: dict) -> list[str]:
    if "skipped" in result:
        return [f"7. scale-out: **skipped** — {result['skipped']}"]
    rows = [
        "| scenario | worker processes | hub, 10 flows together | speed-up over 1 worker | runs at once (most) | "
        "one run (median) | cluster CPU | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for block in result["latencies"]:
        latency = block["latency_ms"]
        what = f"7. scale-out, {FLOWS} flows of {result['records']:,} records, " + (
            f"{latency:g} ms per request" if latency else "no added latency"
        )
        for m in block["measurements"]:
            target = TARGETS.get(m["workers"]) if latency else None
            met = "—" if target is None else ("yes" if m["speedup"] >= target else "**no**")
            rows.append(
                f"| {what} | {m['workers']} | {m['records_per_s']:,} rec/s ({m['seconds']} s) | "
                f"{m['speedup']}x | {m['max_parallel']} | {m['run_median_s']} s | "
                f"{m['cluster_cpu_s']} s ({m['cpu_ms_per_record']} ms/record) | "
                f"{f'≥ {target}x' if target else '—'} | {met} |"
            )
    rows.append("")
    rows.append(
        f"One `qcluster` with `HUB_WORKERS` = 1, 2, 4 on Redis + PostgreSQL {result['postgres']} "
        f"({result['database'].split(',')[0]}); pages of {PAGE_SIZE}; {result['rounds']} round(s), "
        "medians; every timed run verified (target = the mapped source records, each written once; "
        "every run succeeded)."
    )
    return rows


# --- child: the hub's objects, the clusters, the timed runs -------------------------------------------


def _entities() -> tuple[list, list]:
    source = [
        {
            "key": f"set{k}",
            "path": "/products" if k == 0 else f"/sets/{k}/products",
            "records_path": "data",
            "id_field": "id",
            "natural_keys": ["sku"],
            "pagination": {
                "type": "page",
                "page_param": "page",
                "size_param": "per_page",
                "page_size": PAGE_SIZE,
                "total_pages_path": "meta.total_pages",
            },
        }
        for k in range(FLOWS)
    ]
    target = [
        {
            "key": "products",
            "path": "/products",
            "id_field": "id",
            "natural_keys": ["sku"],
            "write": {
                "batch": {
                    "method": "POST",
                    "path": "/products/batch",
                    "body_key": "items",
                    "results_path": "results",
                    "result_id_path": "id",
                    "idempotent": True,
                }
            },
        }
    ]
    return source, target


def _ensure_objects(urls: dict) -> list:
    """The two systems (pointed at today's servers) and the ten flows, one per record set."""
    from bench import catalog
    from flows import designer
    from flows.models import Flow, System

    source_entities, target_entities = _entities()
    for slug, url, entities, role in (
        (SOURCE_SLUG, urls["source"], source_entities, "pim"),
        (TARGET_SLUG, urls["target"], target_entities, "ecommerce"),
    ):
        system = System.objects.filter(slug=slug).first() or System(slug=slug, name=f"Bench {slug}")
        system.role, system.connector = role, "rest"
        system.parameters = {"base_url": url, "auth_type": "none", "entities": entities}
        system.rate_limit = system.max_concurrency = None  # the servers set the pace, not a budget
        system.timeout = 120
        system.secrets = {}
        system.save()
    flows = []
    for k in range(FLOWS):
        name = f"Scale-out: set {k}"
        flow = Flow.objects.filter(name=name).first() or designer.save_flow(
            {
                "name": name,
                "description": "Benchmark scenario 7.",
                "source_system": SOURCE_SLUG,
                "source_entity": f"set{k}",
                "target_system": TARGET_SLUG,
                "target_entity": "products",
                "trigger": "manual",
                "criticality": "normal",
                "sync_mode": "full",
                "cursor_field": "",
                "match_strategy": "natural_key",
                "source_key": "sku",
                "target_key": "sku",
                "write_mode": "upsert",
                "filters": [],
                "quality_rules": [],
                "mappings": [{**m, "personal": ""} for m in catalog.MAPPINGS],
                "enabled": False,
                "purpose": "",
            }
        )
        flows.append(flow)
    return flows


class Cluster:
    """``manage.py qcluster`` with ``workers`` worker processes, in a session of its own."""

    def __init__(self, workers: int, log_dir: str):
        self.workers = workers
        self.log = Path(log_dir) / f"qcluster-{workers}.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=ROOT,
                env={**os.environ, "HUB_WORKERS": str(workers)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def __enter__(self):
        from django_q.status import Stat

        deadline = time.monotonic() + 90
        # Its statistics (in Redis) name its main process and its workers once it is up.
        while not any(s.pid == self.proc.pid and len(s.workers) == self.workers for s in Stat.get_all()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the cluster did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _target_state(url: str) -> dict:
    import httpx

    with httpx.Client(timeout=600) as client:
        return {**client.get(f"{url}/digest").json(), "written": client.get(f"{url}/stats").json()["written"]}


def _measure(flows: list, urls: dict, records: int, expected: dict) -> dict:
    import httpx
    from django.db import connection
    from django.utils import timezone

    from flows import sync
    from flows.models import RecordLink, Run
    from flows.models.runs import FINISHED

    httpx.post(f"{urls['target']}/reset").raise_for_status()
    with connection.cursor() as cursor:  # a first sync again: nothing linked
        cursor.execute(
            f"DELETE FROM {RecordLink._meta.db_table} WHERE flow_id = ANY(%s)",  # noqa: S608
            [[f.pk for f in flows]],
        )
    start = timezone.now()
    ids = []
    for flow in flows:
        queued, created = sync.request_run(flow, full=True)
        if not created:
            raise RuntimeError(f"a run of {flow} was still waiting")
        ids.append(queued.pk)
    deadline = time.monotonic() + 1800
    while Run.objects.filter(pk__in=ids).exclude(status__in=FINISHED).exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the runs did not finish within 30 minutes")
        time.sleep(0.1)
    runs = list(Run.objects.filter(pk__in=ids).select_related("flow"))
    seconds = (max(r.finished for r in runs) - start).total_seconds()
    found = problems(
        [
            {
                "flow": r.flow.name,
                **{k: getattr(r, k) for k in ("status", "read", "created", "updated", "failed", "message")},
            }
            for r in runs
        ],
        _target_state(urls["target"]),
        records,
        expected,
    )
    if found:
        raise RuntimeError("a timed run is wrong: " + "; ".join(found))
    return {
        "seconds": round(seconds, 3),
        "max_parallel": max_parallel([(r.started.timestamp(), r.finished.timestamp()) for r in runs]),
        # One run alone (claim to finish) and the wait of the first one (request → a worker claims it).
        "run_median_s": round(statistics.median((r.finished - r.started).total_seconds() for r in runs), 3),
        "first_start_s": round((min(r.started for r in runs) - start).total_seconds(), 3),
    }


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, required=True, help="records per flow")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--latencies", default=f"{LATENCY_MS},0", help="ms per request, comma-separated")
    args = parser.parse_args(argv)
    import django

    django.setup()
    from django.core.management import call_command
    from django_q.models import Schedule

    from bench import catalog, servers

    print("scale-out: migrating the throwaway database…", flush=True)
    call_command("migrate", interactive=False, verbosity=0)
    Schedule.objects.all().delete()  # the hub's periodic jobs would share the workers being measured
    total = FLOWS * args.records
    expected = catalog.expected_digest(total)
    report = {"records": args.records, "flows": FLOWS, "rounds": args.rounds, "latencies": []}
    with tempfile.TemporaryDirectory() as logs:
        for latency in [float(x) for x in args.latencies.split(",") if x.strip()]:
            block = {"latency_ms": latency, "measurements": []}
            with servers.running(args.records, latency_ms=latency) as urls:
                flows = _ensure_objects(urls)
                for workers in WORKERS:
                    cpu = _children_cpu()
                    with Cluster(workers, logs):
                        times = [_measure(flows, urls, args.records, expected) for _ in range(args.rounds)]
                    # The cluster's processes, reaped by now (the servers are not: they run on).
                    cpu = (_children_cpu() - cpu) / args.rounds
                    seconds = statistics.median(t["seconds"] for t in times)
                    block["measurements"].append(
                        {
                            "workers": workers,
                            "seconds": round(seconds, 3),
                            "records_per_s": round(total / seconds),
                            "max_parallel": max(t["max_parallel"] for t in times),
                            "run_median_s": statistics.median(t["run_median_s"] for t in times),
                            # CPU of the whole cluster per round (its start and stop included).
                            "cluster_cpu_s": round(cpu, 2),
                            "cpu_ms_per_record": round(cpu * 1000 / total, 3),
                            "rounds": times,
                        }
                    )
                    print(
                        f"scale-out, {latency:g} ms: {workers} worker(s) {round(total / seconds):,} rec/s "
                        f"({seconds:.2f} s, up to {block['measurements'][-1]['max_parallel']} runs at once)",
                        flush=True,
                    )
            one = block["measurements"][0]["records_per_s"]
            for m in block["measurements"]:
                m["speedup"] = round(m["records_per_s"] / one, 2)
            report["latencies"].append(block)
    print("RESULT " + json.dumps(report), flush=True)


if __name__ == "__main__":
    child()
