"""Scenario 6: the console's lists under data — 1,000,000 runs and 1,000,000 failed records on PostgreSQL.

Hub path: Django's test client (the whole request: middleware, session, permission check, filterset,
table, template) on the runs list (/runs/: first page, a filtered page, a deep page, a day range) and
the failures lists (a flow's failures page and, once it exists, the triage inbox /triage/), as an
Integration admin (global view) and as a Support user whose access is object grants on 2 of the 8 flows.
Server time = wall time around ``client.get``; the queries of each page are counted
(``CaptureQueriesContext``) and the slowest one is EXPLAINed.

Baseline: the one hand-written SQL query that fetches the same page (psycopg, same database), so the
ratio shows the framework's share.

Target (issue "Performance", scenario 6): p95 server time < 150 ms, query count per page bounded.

The data is written with ``INSERT … SELECT generate_series`` (not the ORM) after ``migrate`` into a
throwaway database created and dropped on 127.0.0.1 (or on the server of ``--database-url``).
The measurement runs in a child process configured for that database (``DATABASE_URL``).
"""

import json
import math
import os
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
TARGET_MS = 150
SLOW_QUERY_MS = 10  # a page's slowest query is EXPLAINed from this time on
FLOWS = 8
SIGNATURES_PER_FLOW = 25
GRANTED_FLOWS = 2  # of the Support user


def _summary(ms: list[float]) -> dict:
    ordered = sorted(ms)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1),  # nearest rank
    }


# --- parent: a throwaway database, a child process ----------------------------------------------------


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def run(
    database_url: str | None = None,
    *,
    runs: int = 1_000_000,
    failures: int = 1_000_000,
    repeats: int = 20,
    log=print,
) -> dict:
    """Fill, measure, report; ``{"skipped": why}`` when PostgreSQL cannot be reached."""
    import psycopg

    # Always a database of our own, created and dropped here, on the server of ``database_url`` (or of
    # 127.0.0.1): a million rows are never written into a database someone uses.
    server = _with_db(database_url or os.environ.get("BENCH_PG_SERVER") or DEFAULT_SERVER, "postgres")
    throwaway = f"hub_bench_console_{os.getpid()}"
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
        # Already migrated: a copy of a template database migrated once per ``make bench``.
        prep.postgres_database(server, throwaway)
    except psycopg.OperationalError as exc:
        where = f"{urlsplit(server).hostname}:{urlsplit(server).port or 5432}"
        return {"skipped": f"PostgreSQL unreachable at {where}: {str(exc).strip()[:200]}"}
    url = _with_db(server, throwaway)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ)
            env.update(
                DJANGO_SETTINGS_MODULE="integration_hub.settings",
                DATABASE_URL=url,
                HUB_DATA_DIR=tmp,
                HUB_NAMESPACE=f"benchconsole{os.getpid()}",
                PYTHONPATH=str(ROOT),
                DJANGO_ALLOWED_HOSTS="testserver,127.0.0.1,localhost",
            )
            env.pop("REDIS_URL", None)
            args = ["--runs", str(runs), "--failures", str(failures), "--repeats", str(repeats)]
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.console_lists", *args],
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
                raise RuntimeError(f"the console-lists measurement failed (exit {proc.returncode})")
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{throwaway}" WITH (FORCE)')
    result["postgres"] = version
    result["database"] = f"throwaway database on {urlsplit(server).hostname}"
    return result


# --- child: fill and measure --------------------------------------------------------------------------


FILLED_TABLES = ("flows_run", "flows_failedrecord")


def _foreign_keys(cur) -> list[tuple[str, str, str, str]]:
    """Every foreign key of the filled tables (all single-column): (table, column, parent, its column)."""
    cur.execute(
        "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, pa.attname "
        "FROM pg_constraint c "
        "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
        "JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1] "
        "WHERE c.contype = 'f' AND c.conrelid = ANY(%s::regclass[])",
        [list(FILLED_TABLES)],
    )
    return cur.fetchall()


def _secondary_indexes(cur, table: str) -> list[tuple[str, str]]:
    """The table's indexes that back no constraint (the primary key stays): (name, CREATE INDEX …)."""
    cur.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
        "WHERE indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid)",
        [table],
    )
    return cur.fetchall()


def _bulk_load(cur, log):
    """For the two INSERTs: the secondary indexes dropped (rebuilt afterwards, from their own
    definitions, by ``_end_bulk_load``: one sort each instead of a million B-tree inserts) and the
    foreign-key triggers of this session off (checked afterwards with one anti-join per key). Gives
    the indexes to rebuild. Without the right to skip triggers (not a superuser), they stay on."""
    indexes = [index for table in FILLED_TABLES for index in _secondary_indexes(cur, table)]
    for name, _definition in indexes:
        cur.execute(f"DROP INDEX {name}")
    from django.db import DatabaseError

    try:
        cur.execute("SET session_replication_role = replica")
    except DatabaseError as exc:  # permission denied: the triggers check each row instead
        log(f"  foreign-key triggers stay on: {exc}".splitlines()[0])
    return indexes


def _end_bulk_load(cur, indexes, log) -> None:
    started = time.perf_counter()
    cur.execute("SET session_replication_role = DEFAULT")
    keys = _foreign_keys(cur)
    for table, column, parent, parent_column in keys:
        cur.execute(
            f'SELECT count(*) FROM {table} t WHERE t."{column}" IS NOT NULL '  # noqa: S608 - catalogue names
            f'AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p."{parent_column}" = t."{column}")'
        )
        dangling = cur.fetchone()[0]
        if dangling:
            raise RuntimeError(f"{dangling} rows of {table} point to no {parent} ({column})")
    cur.execute("SET maintenance_work_mem = '256MB'")
    for _name, definition in indexes:
        cur.execute(definition)
    cur.execute("RESET maintenance_work_mem")
    log(
        f"  {len(keys)} foreign keys checked, {len(indexes)} indexes rebuilt in "
        f"{time.perf_counter() - started:.1f} s"
    )


def _fill(runs: int, failures: int, log) -> dict:
    """Systems and flows through the ORM; runs and failed records with one INSERT … SELECT each (the
    secondary indexes built once the rows are in, see ``_bulk_load``)."""
    from django.db import connection

    from flows.models import Flow, FlowVersion
    from tests.factories import SystemFactory

    systems = [SystemFactory(name=f"Bench system {i}", slug=f"bench-{i}") for i in range(4)]
    flows = []
    for i in range(FLOWS):
        flow = Flow.objects.create(
            name=f"Bench flow {i}",
            source_system=systems[i % 4],
            source_entity="products",
            target_system=systems[(i + 1) % 4],
            target_entity="products",
        )
        version = FlowVersion.objects.create(flow=flow, number=1, definition={})
        Flow.objects.filter(pk=flow.pk).update(current_version=version)
        flows.append(flow)
    flow_ids = [f.pk for f in flows]
    version_ids = list(
        FlowVersion.objects.filter(flow__in=flows).order_by("flow_id").values_list("pk", flat=True)
    )
    with connection.cursor() as cur:
        indexes = _bulk_load(cur, log)
        started = time.perf_counter()
        # Newest first every 30 s back from now (a million runs ≈ 347 days); 1 in 10 failed, 1 in 20
        # partial; triggers rotate.
        cur.execute(
            """
            INSERT INTO flows_run (flow_id, version_id, trigger, status, "full", record_ids, read_all,
                backfill_from, read, filtered, unchanged, created, updated, deleted, failed, suppressed,
                cursor_before,
                cursor_after, resume, pages, message, worker, queued_at, started, finished,
                cancel_requested)
            SELECT (%(flows)s::int[])[1 + i %% %(n)s], (%(versions)s::int[])[1 + i %% %(n)s],
                (ARRAY['schedule','schedule','schedule','manual','webhook','resync'])[1 + i %% 6],
                CASE WHEN i %% 10 = 0 THEN 'failed' WHEN i %% 20 = 1 THEN 'partial' ELSE 'succeeded' END,
                false, '[]'::jsonb, true, '', 1000, 10, 900, 40, 45, 0, CASE WHEN i %% 10 = 0 THEN 5 ELSE 0 END,
                0, '', '', '', 1, CASE WHEN i %% 10 = 0 THEN 'The target refused the batch.' ELSE '' END,
                'bench', now() - i * interval '30 seconds', now() - i * interval '30 seconds',
                now() - i * interval '30 seconds' + interval '12 seconds', false
            FROM generate_series(1, %(runs)s) AS i
            """,
            {"flows": flow_ids, "versions": version_ids, "n": FLOWS, "runs": runs},
        )
        log(f"  {runs:,} runs in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        cur.execute("SELECT min(id) FROM flows_run")
        first_run = cur.fetchone()[0]
        # Every record fails once (source ids unique): 1 in 4 open, 1 in 20 ignored, the rest resolved;
        # 25 causes per flow (signature), run = one of the 5,000 newest runs, of the same flow (the
        # n-th run inserted is of flow n mod 8, like the n-th failure).
        cur.execute(
            """
            INSERT INTO flows_failedrecord (flow_id, run_id, source_id, stage, error_class, message,
                http_status, signature, payload_encrypted, lookup_keys, attempts, status, created, updated)
            SELECT (%(flows)s::int[])[1 + i %% %(n)s],
                %(first)s - 1 + %(n)s * (1 + (i / %(n)s) %% %(k)s) + i %% %(n)s,
                'SKU-' || i, (ARRAY['write','mapping','rule','read'])[1 + (i / %(n)s) %% 4],
                (ARRAY['http','mapping','rule','timeout'])[1 + (i / %(n)s) %% 4],
                'Record SKU-' || i || ' refused: field ' || ((i / %(n)s) %% %(sigs)s) || ' is invalid',
                CASE WHEN (i / %(n)s) %% 4 = 0 THEN 422 END,
                md5(((i %% %(n)s) || '-' || ((i / %(n)s) %% %(sigs)s))::text)
                    || md5(('s' || (i %% %(n)s) || '-' || ((i / %(n)s) %% %(sigs)s))::text),
                '', '', 1,
                CASE WHEN i %% 4 = 0 THEN 'open' WHEN i %% 20 = 1 THEN 'ignored' ELSE 'resolved' END,
                now() - i * interval '30 seconds', now() - i * interval '20 seconds'
            FROM generate_series(1, %(failures)s) AS i
            """,
            {
                "flows": flow_ids,
                "n": FLOWS,
                "sigs": SIGNATURES_PER_FLOW,
                "failures": failures,
                "first": first_run,
                "k": min(5000, runs) // FLOWS - 2,
            },
        )
        log(f"  {failures:,} failed records in {time.perf_counter() - started:.1f} s")
        _end_bulk_load(cur, indexes, log)
        cur.execute("ANALYZE flows_run; ANALYZE flows_failedrecord")
        cur.execute("SELECT (SELECT count(*) FROM flows_run), (SELECT count(*) FROM flows_failedrecord)")
        written = cur.fetchone()
    if written != (runs, failures):
        raise RuntimeError(
            f"wrote {written[0]} runs and {written[1]} failed records, not {runs} and {failures}"
        )
    return {"flows": flows}


def _triage_groups(flows, log) -> str:
    """Build the triage inbox's error groups through its own service (one example per cause, then the
    real counts), if the triage app is there. Returns "" or why it was skipped."""
    from django.db.models import Count
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("monitoring:triage")
        from monitoring import triage
        from monitoring.models import ErrorGroup
    except (NoReverseMatch, ImportError) as exc:
        return f"no triage inbox ({exc.__class__.__name__})"
    from flows.models import FailedRecord

    started = time.perf_counter()
    try:
        for flow in flows:
            examples = (
                FailedRecord.objects.filter(flow=flow).order_by("signature", "-pk").distinct("signature")
            )
            triage.record_failures(flow, list(examples))
        counts = (
            FailedRecord.objects.filter(status__in=["open", "retrying"])
            .values("signature")
            .annotate(n=Count("pk"))
        )
        for row in counts:
            ErrorGroup.objects.filter(signature=row["signature"]).update(count=row["n"])
    except Exception as exc:  # the triage app is being built: report, do not fail the other pages
        return f"triage groups could not be built: {exc!r}"[:300]
    log(f"  {ErrorGroup.objects.count()} triage error groups in {time.perf_counter() - started:.1f} s")
    return ""


def _users(flows):
    from integration_hub import services
    from integration_hub.roles import INTEGRATION_ADMIN
    from tests.factories import UserFactory

    admin = UserFactory(username="bench-admin", roles=[INTEGRATION_ADMIN])
    support = UserFactory(username="bench-support")  # object grants only: the restrict() path
    for flow in flows[:GRANTED_FLOWS]:
        services.grant_access(flow, support, ["view_flow", "run_flow"])
    return {"Integration admin": admin, f"Support (grants on {GRANTED_FLOWS} of {FLOWS} flows)": support}


def _pages(flows, triage_skip: str) -> list[dict]:
    """(label, url, baseline SQL, params, for whom). Baselines fetch the same rows the page shows."""
    import datetime

    from django.urls import reverse
    from django.utils import timezone

    runs_url = reverse("flows:run_list")
    flow, granted = flows[0], [f.pk for f in flows[:GRANTED_FLOWS]]
    day_from = (timezone.now() - datetime.timedelta(days=120)).date()
    day_to = day_from + datetime.timedelta(days=6)
    tz_from = timezone.make_aware(datetime.datetime.combine(day_from, datetime.time.min))
    tz_to = timezone.make_aware(
        datetime.datetime.combine(day_to + datetime.timedelta(days=1), datetime.time.min)
    )
    run_cols = "r.*, f.id, f.name"
    join = "FROM flows_run r JOIN flows_flow f ON f.id = r.flow_id"
    order = "ORDER BY r.queued_at DESC, r.id DESC"
    pages = [
        {
            "label": "runs: first page",
            "url": runs_url,
            "sql": f"SELECT {run_cols} {join} {{where}} {order} LIMIT 51",
        },
        {
            "label": "runs: status=failed + one flow",
            "url": f"{runs_url}?status=failed&flow={flow.pk}",
            "sql": f"SELECT {run_cols} {join} WHERE r.status = 'failed' AND r.flow_id = {flow.pk} "
            f"{{and_where}} {order} LIMIT 51",
        },
        {
            "label": "runs: deep page (page 2,000 = offset 99,950)",
            "url": f"{runs_url}?page=2000",
            "sql": f"SELECT {run_cols} {join} {{where}} {order} LIMIT 51 OFFSET 99950",
        },
        {
            "label": f"runs: 7-day range ({day_from} → {day_to})",
            "url": f"{runs_url}?queued_after={day_from}&queued_before={day_to}",
            "sql": f"SELECT {run_cols} {join} WHERE r.queued_at >= '{tz_from.isoformat()}' "
            f"AND r.queued_at < '{tz_to.isoformat()}' {{and_where}} {order} LIMIT 51",
        },
        {
            "label": "failures of one flow (open, first page)",
            "url": reverse("flows:flow_failures", args=[flow.pk]),
            "sql": "SELECT fr.*, r.*, f.* FROM flows_failedrecord fr JOIN flows_flow f ON f.id = fr.flow_id "  # noqa: S608
            f"LEFT JOIN flows_run r ON r.id = fr.run_id WHERE fr.flow_id = {flow.pk} "
            "AND fr.status IN ('open', 'retrying') ORDER BY fr.updated DESC, fr.id DESC LIMIT 50",
        },
    ]
    if not triage_skip:
        pages.append(
            {
                "label": "triage inbox (first page)",
                "url": reverse("monitoring:triage"),
                "sql": "SELECT g.*, f.name FROM monitoring_errorgroup g JOIN flows_flow f ON f.id = g.flow_id "
                "WHERE g.status = 'open' {and_where_g} ORDER BY g.last_seen DESC LIMIT 50",
            }
        )
    for page in pages:
        page["granted"] = granted
    return pages


def _baseline_sql(page: dict, restricted: bool) -> str:
    granted = ",".join(str(pk) for pk in page["granted"])
    return page["sql"].format(
        where=f"WHERE r.flow_id IN ({granted})" if restricted else "",
        and_where=f"AND r.flow_id IN ({granted})" if restricted else "",
        and_where_g=f"AND g.flow_id IN ({granted})" if restricted else "",
    )


def _explain(cursor, sql: str, params=None) -> str:
    """The plan's node lines, shortened (what scans, what sorts, the time)."""
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS OFF, TIMING OFF) " + sql, params)
    lines = [row[0] for row in cursor.fetchall()]
    keep = [
        line.strip()[:140]
        for line in lines
        if any(k in line for k in ("Scan", "Sort", "Limit", "Aggregate", "Join", "Loop", "Execution Time"))
    ]
    return " | ".join(keep)[:900]


def _profile(client_class, user, url: str, top: int = 12) -> list[str]:
    """Where one request's time goes (cProfile, by own time): the framework's share, function by function."""
    import cProfile
    import io
    import pstats

    client = client_class()
    client.force_login(user)
    client.get(url)
    profiler = cProfile.Profile()
    profiler.enable()
    client.get(url)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return [line.strip() for line in out.getvalue().splitlines() if line.strip()][-top - 1 :]


def measure(repeats: int, runs: int, failures: int, log=print) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from integration_hub.roles import ensure_roles

    started = time.perf_counter()
    from django.conf import settings

    for alias in settings.DATABASES:  # the default database, and the channel layer's own if embedded
        call_command("migrate", database=alias, verbosity=0)
    ensure_roles()
    log(f"  migrated in {time.perf_counter() - started:.1f} s")
    filled = _fill(runs, failures, log)
    flows = filled["flows"]
    triage_skip = _triage_groups(flows, log)
    users = _users(flows)
    pages = _pages(flows, triage_skip)
    results = []
    for who, user in users.items():
        client = Client()
        client.force_login(user)
        restricted = who != "Integration admin"
        for page in pages:
            response = client.get(page["url"])  # warm-up (and the check that it answers)
            if response.status_code != 200:
                raise RuntimeError(f"{page['url']} as {who}: HTTP {response.status_code}")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                client.get(page["url"])
                times.append((time.perf_counter() - t0) * 1000)
            reset_queries()  # request_started clears the log: start the capture from an empty one
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(page["url"])
            queries = ctx.captured_queries
            if not queries:
                raise RuntimeError(f"{page['url']} as {who}: HTTP {response.status_code} without a query")
            slowest = max(queries, key=lambda q: float(q["time"]))
            sql = _baseline_sql(page, restricted)
            base_times = []
            with connection.cursor() as cur:
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    cur.execute(sql)
                    cur.fetchall()
                    base_times.append((time.perf_counter() - t0) * 1000)
                hub = _summary(times)
                note = ""
                if float(slowest["time"]) * 1000 >= SLOW_QUERY_MS:
                    explained = slowest["sql"]
                    if explained.startswith("DECLARE"):  # a server-side cursor (iterator()): its query
                        explained = explained.split(" FOR ", 1)[1]
                    note = _explain(cur, explained)
            base = _summary(base_times)
            results.append(
                {
                    "page": page["label"],
                    "user": who,
                    "url": page["url"],
                    "hub": hub,
                    "queries": len(queries),
                    "sql_ms": round(sum(float(q["time"]) for q in queries) * 1000, 1),
                    "slowest_query_ms": round(float(slowest["time"]) * 1000, 1),
                    "slowest_query": slowest["sql"][:500],
                    "baseline": base,
                    "ratio_p50": round(hub["p50_ms"] / max(base["p50_ms"], 0.1), 1),
                    "met": hub["p95_ms"] < TARGET_MS,
                    "explain": note,
                }
            )
            log(
                f"  {page['label']} as {who}: p50 {hub['p50_ms']} / p95 {hub['p95_ms']} ms, "
                f"{len(queries)} queries ({results[-1]['sql_ms']} ms, slowest {results[-1]['slowest_query_ms']} ms); "
                f"baseline {base['p50_ms']} / {base['p95_ms']} ms"
            )
    return {
        "profile": _profile(Client, users["Integration admin"], pages[0]["url"]),
        "runs": runs,
        "failed_records": failures,
        "flows": FLOWS,
        "repeats": repeats,
        "target": f"p95 < {TARGET_MS} ms",
        "triage": triage_skip or "measured",
        "pages": results,
    }


def table(result: dict) -> list[str]:
    if "skipped" in result:
        return [f"Scenario 6 skipped: {result['skipped']}"]
    rows = [
        "| page | user | hub p50 / p95 | queries: count (SQL time, slowest) | baseline: one SQL query p50 / p95 "
        "| ratio (p50) | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["pages"]:
        rows.append(
            f"| {r['page']} | {r['user']} | {r['hub']['p50_ms']} / {r['hub']['p95_ms']} ms "
            f"| {r['queries']} ({r['sql_ms']} ms, {r['slowest_query_ms']} ms) | {r['baseline']['p50_ms']} / {r['baseline']['p95_ms']} ms "
            f"| {r['ratio_p50']}x | {'yes' if r['met'] else '**no**'} |"
        )
    notes = [r for r in result["pages"] if r["explain"]]
    if notes:
        rows += ["", f"EXPLAIN of each page's slowest query when it took ≥ {SLOW_QUERY_MS} ms:", ""]
        rows += [f"- {r['page']} ({r['user']}, {r['slowest_query_ms']} ms): `{r['explain']}`" for r in notes]
    rows += [
        "",
        f"{result['runs']:,} runs and {result['failed_records']:,} failed records over {result['flows']} flows "
        f"on PostgreSQL {result.get('postgres', '?')}; {result['repeats']} requests per page after a warm-up; "
        f"target {result['target']}; triage inbox: {result['triage']}.",
    ]
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--failures", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    a = parser.parse_args()
    out = measure(a.repeats, a.runs, a.failures, log=lambda m: print(m, flush=True))
    print("RESULT " + json.dumps(out), flush=True)
