"""Scenarios 1, 2 and 4 of the performance issue: a full REST → REST sync of products, a second run
where nothing changed, and the peak memory of a worker copying a million records.

Between the same two in-memory servers (``bench.servers``, their own processes), in the same
invocation, each measurement runs in a fresh process of its own:
- **hub**: two System objects on the generic REST connector and a Flow of 10 mapped fields (3 with a
  transform), run through the real engine path (``sync.request_run`` → django-q2 task run inline →
  ``sync.execute_run``) on the embedded default database;
- **(a) raw**: a hand-written httpx copy — same pages, same batch writes, the mapping as plain Python,
  no bookkeeping; Django is not even imported;
- **(b) competent**: (a) plus what correctness needs — an id map and a hash per record in a table of
  the same database the hub uses (through Django's connection), so that a rerun writes nothing.

Every timed run is checked afterwards: the target must hold exactly the mapped source records (count
and digest of every record), and a rerun must write nothing. Peak RSS is the kernel's high-water mark
of the measured process (``wait4``), read from outside it.

``python -m bench.bulk_sync worker --mode hub|raw|competent|idle …`` is one measured process; ``run()``
drives the whole scenario.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import catalog, prep, servers

ROOT = Path(__file__).resolve().parent.parent
SOURCE_SLUG, TARGET_SLUG, FLOW_NAME = "bench-source", "bench-target", "Bench: products REST → REST"
IDMAP_TABLE = "bench_competent_idmap"


# --- the measured processes -----------------------------------------------------------------------


def _target_state(target: str) -> dict:
    with httpx.Client(timeout=600) as client:
        stats = client.get(f"{target}/stats").json()
        return {**client.get(f"{target}/digest").json(), "written": stats["written"]}


def _entities(page_size: int) -> tuple[list, list]:
    source = [
        {
            "key": "products",
            "path": "/products",
            "records_path": "data",
            "id_field": "id",
            "natural_keys": ["sku"],
            "cursor_field": "updated_at",
            "incremental": {"param": "updated_since"},
            "pagination": {
                "type": "page",
                "page_param": "page",
                "size_param": "per_page",
                "page_size": page_size,
                "total_pages_path": "meta.total_pages",
            },
        }
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
                    "idempotent": True,  # an upsert on the sku: safe to resend
                }
            },
        }
    ]
    return source, target


def _ensure_hub_objects(source_url: str, target_url: str, page_size: int):
    """The two systems and the flow (created once per data directory, pointed at today's servers)."""
    from flows import designer
    from flows.models import Flow, System

    source_entities, target_entities = _entities(page_size)
    for slug, url, entities, role in (
        (SOURCE_SLUG, source_url, source_entities, "pim"),
        (TARGET_SLUG, target_url, target_entities, "ecommerce"),
    ):
        system = System.objects.filter(slug=slug).first() or System(slug=slug, name=f"Bench {slug}")
        system.role = role
        system.connector = "rest"
        system.parameters = {"base_url": url, "auth_type": "none", "entities": entities}
        system.rate_limit = system.max_concurrency = None  # the servers set the pace, not a budget
        system.timeout = 120
        system.secrets = {}
        system.save()
    flow = Flow.objects.filter(name=FLOW_NAME).first()
    if flow is None:
        flow = designer.save_flow(
            {
                "name": FLOW_NAME,
                "description": "Benchmark: 10 mapped fields, 3 transforms.",
                "source_system": SOURCE_SLUG,
                "source_entity": "products",
                "target_system": TARGET_SLUG,
                "target_entity": "products",
                "trigger": "manual",
                "criticality": "normal",
                # Incremental: a run asked with ``full`` reads everything (scenarios 1, 2 and 3 without
                # a cursor), one without reads from the flow's cursor (scenarios 2 and 3 with one).
                "sync_mode": "incremental",
                "cursor_field": "updated_at",
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
    return flow


# The runs of one measured process, in order: ``full`` (scenario 1: nothing linked yet), ``again`` (2:
# nothing changed, whole read), ``cursor`` (2: nothing changed, from the cursor), ``changed`` (3: 1 %
# of the products changed, from the cursor), ``changed_full`` (3: 1 % changed again, whole read).
STEPS = ("full", "again", "cursor", "changed", "changed_full")
INCREMENTAL = ("cursor", "changed")
MUTATING = ("changed", "changed_full")


def _mutate(source: str) -> int:
    """Change 1 % of the source's products (before a ``changed`` step; not timed)."""
    with httpx.Client(timeout=600) as client:
        return client.post(f"{source}/mutate", json={}).raise_for_status().json()["changed"]


def _hub_runs(args) -> list[dict]:
    from django.db import connection

    from flows import sync
    from flows.models import Flow, RecordLink, RunStatus

    flow = _ensure_hub_objects(args.source, args.target, args.page_size)
    # A first sync: nothing linked yet, no cursor. One SQL statement: the ORM's delete() would load
    # every link of the previous rounds into this process and inflate the peak RSS measured for the run.
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {RecordLink._meta.db_table} WHERE flow_id = %s", [flow.pk])  # noqa: S608
    Flow.objects.filter(pk=flow.pk).update(sync_cursor="")
    out = []
    for index, step in enumerate(args.steps):
        changed = _mutate(args.source) if step in MUTATING else 0
        profiler = _profiler(args)
        start = time.perf_counter()
        run, created = sync.request_run(flow, full=step not in INCREMENTAL)
        run.refresh_from_db()  # HUB_TASKS_SYNC=1: the django-q2 task ran inline, in this process
        elapsed = time.perf_counter() - start
        _dump(profiler, args, index, step)
        if not created or run.status != RunStatus.SUCCEEDED:
            raise SystemExit(f"hub run {run.pk} ended {run.status}: {run.message}")
        counters = {k: getattr(run, k) for k in ("read", "created", "updated", "unchanged", "failed")}
        out.append(
            {
                "step": step,
                "seconds": elapsed,
                "changed": changed,
                "counters": counters,
                "target": _target_state(args.target),
            }
        )
    return out


def _copy(client, args, page: int, write, since: str = "") -> tuple[int, str]:
    """One page of the hand-written copy: read (from ``since`` when given), map as plain Python, hand
    the mapped records on. Gives the number of pages and the latest ``updated_at`` of the page."""
    params = {"page": page, "per_page": args.page_size}
    if since:
        params["updated_since"] = since
    response = client.get(f"{args.source}/products", params=params).raise_for_status()
    body = response.json()
    records = body["data"]
    write([(str(r["id"]), catalog.map_record(r)) for r in records])
    latest = max((r["updated_at"] for r in records), default="")
    return int(body["meta"]["total_pages"]), latest


def _post_batch(client, args, items: list[dict]) -> list:
    results = client.post(f"{args.target}/products/batch", json={"items": items}).raise_for_status().json()
    results = results["results"]
    if len(results) != len(items) or any("error" in r for r in results):
        raise SystemExit("the target refused records")
    return results


def _raw_runs(args) -> list[dict]:
    out = []
    with httpx.Client(timeout=120) as client:
        profiler = _profiler(args)
        start = time.perf_counter()
        page, pages = 1, 1
        while page <= pages:
            pages, _latest = _copy(
                client, args, page, lambda mapped: _post_batch(client, args, [m for _, m in mapped])
            )
            page += 1
        elapsed = time.perf_counter() - start
        _dump(profiler, args, 0, "full")
    out.append({"step": "full", "seconds": elapsed, "target": _target_state(args.target)})
    return out


def _competent_runs(args) -> list[dict]:
    import hashlib

    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {IDMAP_TABLE} "
            "(source_id VARCHAR(100) PRIMARY KEY, target_id VARCHAR(100) NOT NULL, hash CHAR(64) NOT NULL)"
        )
        cursor.execute(f"DELETE FROM {IDMAP_TABLE}")  # noqa: S608 - a constant table name

    def write(mapped):
        hashed = [(sid, m, hashlib.sha256(catalog.canonical(m)).hexdigest()) for sid, m in mapped]
        with connection.cursor() as cursor:
            marks = ",".join(["%s"] * len(hashed))
            cursor.execute(
                f"SELECT source_id, hash FROM {IDMAP_TABLE} WHERE source_id IN ({marks})",  # noqa: S608
                [h[0] for h in hashed],
            )
            known = dict(cursor.fetchall())
        changed = [h for h in hashed if known.get(h[0]) != h[2]]
        if not changed:
            return
        results = _post_batch(client, args, [h[1] for h in changed])
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {IDMAP_TABLE} (source_id, target_id, hash) VALUES (%s, %s, %s) "  # noqa: S608
                "ON CONFLICT (source_id) DO UPDATE SET target_id = excluded.target_id, hash = excluded.hash",
                [(h[0], str(r["id"]), h[2]) for h, r in zip(changed, results, strict=True)],
            )

    out = []
    cursor = ""  # the latest updated_at seen: where an incremental read starts (as the hub's cursor)
    with httpx.Client(timeout=120) as client:
        for index, step in enumerate(args.steps):
            changed = _mutate(args.source) if step in MUTATING else 0
            profiler = _profiler(args)
            start = time.perf_counter()
            since = cursor if step in INCREMENTAL else ""
            page, pages = 1, 1
            while page <= pages:
                pages, latest = _copy(client, args, page, write, since)
                cursor = max(cursor, latest)
                page += 1
            elapsed = time.perf_counter() - start
            _dump(profiler, args, index, step)
            out.append(
                {"step": step, "seconds": elapsed, "changed": changed, "target": _target_state(args.target)}
            )
    return out


def _profiler(args):
    """A cProfile of one timed run when asked (``--profile``): it slows the run, never use its time."""
    if not args.profile:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _dump(profiler, args, index: int, step: str) -> None:
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{args.profile}-{index}-{step}.prof")


def worker(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["hub", "raw", "competent", "idle"], required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument(
        "--steps", default="full", help=f"the runs, comma-separated, among {', '.join(STEPS)}"
    )
    parser.add_argument("--profile", help="write a cProfile of each run to <this>-<n>-<step>.prof")
    args = parser.parse_args(argv)
    args.steps = [step for step in args.steps.split(",") if step]
    if not args.steps or args.steps[0] != "full" or set(args.steps) - set(STEPS):
        parser.error(f"--steps starts with full and lists some of {', '.join(STEPS)}")
    if args.mode != "raw":
        import django

        django.setup()
    if args.mode == "idle":  # the floor: Django set up and the hub's objects loaded, nothing copied
        _ensure_hub_objects(args.source, args.target, args.page_size)
        runs = []
    else:
        runs = {"hub": _hub_runs, "raw": _raw_runs, "competent": _competent_runs}[args.mode](args)
    print(json.dumps({"runs": runs}), flush=True)


# --- driving the scenario ---------------------------------------------------------------------------


def hub_env(data_dir: Path, database_url: str | None = None) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="integration_hub.settings",
        HUB_DATA_DIR=str(data_dir),
        HUB_NAMESPACE=f"benchsync{os.getpid()}",
        HUB_TASKS_SYNC="1",  # the run's django-q2 task executes inline, in the measured process
        HUB_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE_OVERRIDE"):
        env.pop(name, None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def measure(
    mode: str, urls: dict, env: dict, *, page_size: int, steps: tuple = ("full",), profile: str = ""
) -> dict:
    """One measured process: its runs (``steps``), and its peak RSS as the kernel counted it (``wait4``)."""
    with httpx.Client() as client:
        client.post(f"{urls['target']}/reset").raise_for_status()
        client.post(f"{urls['source']}/reset").raise_for_status()  # no product changed yet
    args = [
        sys.executable,
        "-m",
        "bench.bulk_sync",
        "worker",
        "--mode",
        mode,
        "--source",
        urls["source"],
        "--target",
        urls["target"],
        "--page-size",
        str(page_size),
        "--steps",
        ",".join(steps),
    ]
    if profile:
        args += ["--profile", profile]
    log = Path(env["HUB_DATA_DIR"]) / f"worker-{mode}.log"
    with open(log, "w") as errors:
        proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        try:
            output = proc.stdout.read()
            _pid, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if proc.returncode is None:  # interrupted: never leave a worker behind
                proc.kill()
                proc.wait()
            proc.stdout.close()
    if proc.returncode != 0:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{mode} worker exited with {proc.returncode}:\n{output[-1000:]}\n{tail}")
    result = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux: kilobytes
    return result


def expectations(records: int) -> dict:
    """What the target must hold after each step: the mapped source records, with the changed ones
    (every 100th) at their first change after ``changed``, at their second after ``changed_full``."""
    base = catalog.expected_digest(records)
    once, twice = (dict.fromkeys(catalog.changed_numbers(records), n) for n in (1, 2))
    return {
        "full": base,
        "again": base,
        "cursor": base,
        "changed": catalog.expected_digest(records, once),
        "changed_full": catalog.expected_digest(records, twice),
    }


def _check(mode: str, result: dict, expected: dict) -> None:
    """A fast wrong sync is not a result: every run must leave exactly the source's records, a run
    where nothing changed must write nothing, and one after 1 % changed exactly that 1 %.

    ``expected``: a digest (``{"count", "digest"}``) for every run, or one per step (``expectations``)."""
    if "digest" in expected:
        expected = dict.fromkeys(STEPS, expected)
    for index, run in enumerate(result["runs"]):
        step = run.get("step") or ("full" if index == 0 else "again")
        want = expected[step]
        held = {"count": run["target"]["count"], "digest": run["target"]["digest"]}
        if held != want:
            raise AssertionError(f"{mode} run {index + 1} ({step}): the target holds {held}, expected {want}")
        written = run["target"]["written"]
        if index == 0:
            if written != want["count"]:
                raise AssertionError(f"{mode}: {written} writes for {want['count']} records")
            continue
        new = written - result["runs"][index - 1]["target"]["written"]
        if step in MUTATING:
            changed = len(catalog.changed_numbers(want["count"]))
            if run.get("changed") != changed or new != changed:
                raise AssertionError(
                    f"{mode} run {index + 1} ({step}): {new} records written after {run.get('changed')} "
                    f"changed, expected exactly {changed}"
                )
        elif new:
            raise AssertionError(f"{mode} rerun {index} ({step}): records written although nothing changed")


def _rate(records: int, seconds: list[float]) -> dict:
    median = statistics.median(seconds)
    return {
        "seconds": [round(s, 3) for s in seconds],
        "median_s": round(median, 3),
        "records_per_s": round(records / median),
    }


def run(
    records: int = 100_000,
    rounds: int = 3,
    page_size: int = 1000,
    memory_records: int | None = 1_000_000,
    database_url: str | None = None,
    profile_dir: str | None = None,
    log=print,
    inspect=None,
) -> dict:
    """Scenarios 1, 2 and 3 with ``records`` products, ``rounds`` rounds; scenario 4 with
    ``memory_records`` (None: skipped). Raises AssertionError when any sync left a wrong target.
    ``inspect(urls)`` is called once the rounds are over, their servers still up (the target holds the
    hub's last run: every 100th product changed twice)."""
    result: dict = {"records": records, "rounds": rounds, "page_size": page_size}
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        env = hub_env(Path(tmp), database_url)
        prep.bootstrapped(Path(tmp), env)  # ``manage.py bootstrap``, or a copy of one made earlier
        expected = expectations(records)
        with servers.running(records) as urls:
            result["servers"] = servers.ceiling(urls, records, page_size)
            log(f"servers' ceiling: {result['servers']}")
            modes = {"raw": ("full",), "competent": STEPS, "hub": STEPS}
            times = {mode: {step: [] for step in steps} for mode, steps in modes.items()}
            peaks = {mode: [] for mode in modes}
            for round_no in range(1, rounds + 1):
                for mode, steps in modes.items():  # the hub last: inspect() sees its records
                    profile = (
                        str(Path(profile_dir) / f"{mode}-{records}") if profile_dir and round_no == 1 else ""
                    )
                    measured = measure(mode, urls, env, page_size=page_size, steps=steps, profile=profile)
                    _check(mode, measured, expected)
                    runs = measured["runs"]
                    result.setdefault("verified", {})[mode] = {**runs[-1]["target"], "step": runs[-1]["step"]}
                    for one in runs:
                        times[mode][one["step"]].append(one["seconds"])
                    peaks[mode].append(measured["peak_rss_mb"])
                    log(
                        f"round {round_no} {mode}: {records / runs[0]['seconds']:,.0f} records/s"
                        + "".join(f", {one['step']} {one['seconds']:.2f} s" for one in runs[1:])
                        + f", peak RSS {measured['peak_rss_mb']} MB"
                    )
            if inspect is not None:
                inspect(urls)
            rates = {
                mode: {step: _rate(records, t) for step, t in steps.items()} for mode, steps in times.items()
            }
            full = {mode: rates[mode]["full"] for mode in modes}
            for mode in peaks:
                full[mode]["peak_rss_mb"] = max(peaks[mode])
            hub, raw, competent = (full[m]["records_per_s"] for m in ("hub", "raw", "competent"))
            result["full_sync"] = {
                **full,
                "hub_vs_raw": round(hub / raw, 2),
                "hub_vs_competent": round(hub / competent, 2),
                "targets": {"hub_vs_competent": 0.8, "hub_vs_raw": 0.5},
                "met": hub / competent >= 0.8 and hub / raw >= 0.5,
            }

            def share(step: str, target: float | None) -> dict:
                """A rerun's medians as shares of the same process's full sync (scenarios 2 and 3)."""
                out = {mode: rates[mode][step] for mode in ("hub", "competent")}
                hub_share = out["hub"]["median_s"] / full["hub"]["median_s"]
                out.update(
                    hub_share_of_full=round(hub_share, 3),
                    competent_share_of_full=round(
                        out["competent"]["median_s"] / full["competent"]["median_s"], 3
                    ),
                    target=target,
                    met=None if target is None else hub_share <= target,
                )
                return out

            result["nothing_changed"] = share("again", 0.5)
            result["nothing_changed_cursor"] = share("cursor", 0.1)
            result["changed"] = {
                "records_changed": len(catalog.changed_numbers(records)),
                "cursor": share("changed", 0.15),
                "full_read": share("changed_full", None),
            }
        if memory_records:
            result["memory"] = memory(memory_records, page_size, env, log=log)
    return result


def memory(records: int, page_size: int, env: dict, *, log=print) -> dict:
    """Scenario 4: peak RSS of one process copying ``records`` records (the source makes them on demand)."""
    started = time.perf_counter()
    expected = catalog.expected_digest(records)
    out: dict = {"records": records, "target_mb": 250, "expected": expected}
    with servers.running(records) as urls:
        for mode in ("idle", "hub", "competent", "raw"):
            measured = measure(mode, urls, env, page_size=page_size)
            if mode != "idle":
                _check(mode, measured, expected)
                out.setdefault("verified", {})[mode] = measured["runs"][-1]["target"]
            seconds = measured["runs"][0]["seconds"] if measured["runs"] else None
            out[mode] = {
                "peak_rss_mb": measured["peak_rss_mb"],
                "seconds": round(seconds, 1) if seconds else None,
            }
            log(
                f"memory {mode}: peak RSS {measured['peak_rss_mb']} MB"
                + (f" in {seconds:.1f} s" if seconds else "")
            )
    out["met"] = out["hub"]["peak_rss_mb"] < 250
    out["wall_s"] = round(time.perf_counter() - started, 1)  # the whole scenario, checks included
    return out


def _share_row(label: str, share: dict, baseline: str, met) -> str:
    target = share["target"]

    def pct(x):
        return f"{100 * x:.1f} %"

    return (
        f"| {label} | {share['hub']['median_s']} s = {pct(share['hub_share_of_full'])} of scenario 1 | {baseline} | "
        f"{share['competent']['median_s']} s = {pct(share['competent_share_of_full'])} of its full sync | — | "
        f"{'≤ ' + pct(target).replace('.0 ', ' ') if target is not None else '— (none)'} | "
        f"{met(share['met']) if target is not None else '—'} |"
    )


def table(result: dict) -> list[str]:
    """The Markdown rows of bench/README.md for these scenarios."""
    n = f"{result['records']:,}"
    full, again = result["full_sync"], result["nothing_changed"]
    hub = full["hub"]

    def rate(r):
        return f"{r['records_per_s']:,} rec/s ({r['median_s']} s)"

    def met(ok):
        return "yes" if ok else "**no**"

    rows = [
        "| scenario | hub | baseline | baseline result | ratio | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| 1. full sync REST → REST, {n} products | {rate(hub)} | (a) raw httpx copy | {rate(full['raw'])} | "
        f"{full['hub_vs_raw']}x | ≥ 0.5x | {met(full['hub_vs_raw'] >= 0.5)} |",
        f"| 1. full sync REST → REST, {n} products | {rate(hub)} | (b) competent copy (id map + hash in the hub's database) | "
        f"{rate(full['competent'])} | {full['hub_vs_competent']}x | ≥ 0.8x | {met(full['hub_vs_competent'] >= 0.8)} |",
        _share_row(
            "2. nothing changed, no cursor (full read, hash compare, 0 writes)", again, "(b) rerun", met
        ),
    ]
    cursor, changed = result.get("nothing_changed_cursor"), result.get("changed")
    if cursor:
        rows.append(
            _share_row(
                "2. nothing changed, incremental cursor (reads from the cursor, 0 writes)",
                cursor,
                "(b) rerun from its cursor",
                met,
            )
        )
    if changed:
        k = f"{changed['records_changed']:,}"
        rows += [
            _share_row(
                f"3. 1 % changed ({k} of {n}), incremental cursor: exactly {k} writes",
                changed["cursor"],
                "(b) rerun from its cursor",
                met,
            ),
            _share_row(
                f"3. 1 % changed ({k} of {n}), no cursor (full read): exactly {k} writes",
                changed["full_read"],
                "(b) full rerun",
                met,
            ),
        ]
    memory = result.get("memory")
    if memory:
        rows.append(
            f"| 4. peak RSS, {memory['records']:,} records through one process | {memory['hub']['peak_rss_mb']} MB "
            f"({memory['hub']['seconds']} s) | (b) competent / (a) raw / Django idle | "
            f"{memory['competent']['peak_rss_mb']} / {memory['raw']['peak_rss_mb']} / {memory['idle']['peak_rss_mb']} MB | "
            f"{round(memory['hub']['peak_rss_mb'] / memory['competent']['peak_rss_mb'], 2)}x (b) | < 250 MB | "
            f"{met(memory['met'])} |"
        )
    servers_ = result["servers"]
    rows += [
        "",
        f"Bench servers' own ceiling (client reads without decoding, writes a prepared body): read "
        f"{servers_['read_records_per_s']:,} rec/s ({servers_['read_requests_per_s']} req/s), write "
        f"{servers_['write_records_per_s']:,} rec/s ({servers_['write_requests_per_s']} req/s), a sequential copy "
        f"{servers_['copy_records_per_s']:,} rec/s; pages of {result['page_size']}, {result['rounds']} rounds, medians; "
        f"every run verified (target = the {n} mapped source records, changed ones included; reruns where "
        f"nothing changed wrote nothing, those after 1 % changed wrote exactly that 1 %).",
    ]
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2:])
    else:
        raise SystemExit("usage: python -m bench.bulk_sync worker --mode … (or python -m bench)")
