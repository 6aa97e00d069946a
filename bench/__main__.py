"""``make bench``: run the benchmark scenarios, write bench/results/<date>.json and the tables in bench/README.md."""

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MARKS = {
    "latency": ("<!-- results:start -->", "<!-- results:end -->"),
    "sync": ("<!-- sync-results:start -->", "<!-- sync-results:end -->"),
    "dom": ("<!-- dom-results:start -->", "<!-- dom-results:end -->"),
    "console": ("<!-- console-results:start -->", "<!-- console-results:end -->"),
    "scaleout": ("<!-- scaleout-results:start -->", "<!-- scaleout-results:end -->"),
    "times": ("<!-- bench-times:start -->", "<!-- bench-times:end -->"),
}
SCENARIOS = ("sync", "latency", "dom", "console", "scaleout")


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def latency_table(results: list[dict]) -> list[str]:
    rows = [
        "| scenario | hub median / p95 | baseline | baseline median / p95 | ratio (median) | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows.append(
            f"| {r['scenario']} | {r['hub']['median_ms']} / {r['hub']['p95_ms']} ms | {r['baseline_name']} | "
            f"{r['baseline']['median_ms']} / {r['baseline']['p95_ms']} ms | {r['ratio_median']}x | {r['target']} | "
            f"{'yes' if r['met'] else '**no**'} |"
        )
    return rows


def _minutes(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s"


def times_table(times: dict, args) -> list[str]:
    """How long each scenario of this ``make bench`` took, wall clock (the venv already built)."""
    backends = "embedded and Redis" if args.redis else "embedded only"
    labels = {
        "sync": f"1-3. full sync, nothing changed, 1 % changed ({args.records:,} products, {args.rounds} rounds)",
        "memory": f"4. peak RSS ({args.memory_records:,} records, idle + hub + (b) + (a), once each)",
        "latency": f"publish → websocket ({args.events} events, {backends})",
        "dom": f"5. publish → browser DOM ({args.dom_events} events, {backends})",
        "console": f"6. console lists ({args.console_runs:,} runs + as many failed records, "
        f"{args.console_repeats} requests per page)",
        "scaleout": f"7. scale-out (10 flows of {args.scaleout_records:,} records, 1/2/4 workers, "
        f"50 ms and none, {args.scaleout_rounds} round)",
    }
    rows = ["| scenario | wall time |", "| --- | --- |"]
    rows += [f"| {labels[k]} | {_minutes(v)} |" for k, v in times.items() if k in labels]
    rows.append(f"| **whole `make bench`** | **{_minutes(times['total'])}** |")
    return rows


def write_table(kind: str, stamp: str, rows: list[str]) -> None:
    start_mark, end_mark = MARKS[kind]
    table = (
        f"{start_mark}\nLast run {stamp} ({os.cpu_count()} CPUs, Python {platform.python_version()}):\n\n"
        + "\n".join(rows)
        + f"\n{end_mark}"
    )
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = text.index(start_mark), text.index(end_mark) + len(end_mark)
    readme.write_text(text[:start] + table + text[end:])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--only", choices=SCENARIOS, action="append", help="run only this scenario group (repeatable)"
    )
    parser.add_argument("--events", type=int, default=50, help="events per latency measurement")
    parser.add_argument(
        "--dom-events",
        type=int,
        default=200,
        help="events per publish → browser DOM measurement (scenario 5)",
    )
    parser.add_argument(
        "--console-runs",
        type=int,
        default=_env_int("BENCH_CONSOLE_RUNS", 1_000_000),
        help="runs and failed records of the console-lists scenario 6 (env BENCH_CONSOLE_RUNS)",
    )
    parser.add_argument(
        "--console-repeats", type=int, default=20, help="requests per page in the console-lists scenario"
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL for the Redis scenarios; empty to skip them",
    )
    parser.add_argument(
        "--records",
        type=int,
        default=_env_int("BENCH_RECORDS", 100_000),
        help="products of the full-sync scenario (env BENCH_RECORDS; default 100000)",
    )
    parser.add_argument(
        "--memory-records",
        type=int,
        default=_env_int("BENCH_MEMORY_RECORDS", 1_000_000),
        help="records of the peak-memory scenario, 0 to skip (env BENCH_MEMORY_RECORDS; default 1000000)",
    )
    parser.add_argument(
        "--rounds", type=int, default=_env_int("BENCH_ROUNDS", 3), help="rounds per measurement"
    )
    parser.add_argument(
        "--page-size", type=int, default=1000, help="records per page read and per batch written"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or None,
        help="run the hub and baseline (b) on this database instead of the embedded SQLite default",
    )
    parser.add_argument(
        "--profile", metavar="DIR", help="write cProfile files of the first round's runs here"
    )
    parser.add_argument(
        "--scaleout-records",
        type=int,
        default=_env_int("BENCH_SCALEOUT_RECORDS", 2000),
        help="records per flow of the scale-out scenario 7, 10 flows (env BENCH_SCALEOUT_RECORDS)",
    )
    parser.add_argument(
        "--scaleout-rounds", type=int, default=1, help="rounds per measurement of the scale-out scenario"
    )
    args = parser.parse_args()
    only = set(args.only or SCENARIOS)

    stamp = datetime.datetime.now(datetime.UTC)
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"{stamp:%Y-%m-%d}.json"
    # A run of some scenarios keeps the other scenarios' results of the same day.
    report = json.loads(out.read_text()) if out.exists() else {}
    report.update(
        date=stamp.isoformat(timespec="seconds"),
        machine={
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    )
    printed = []
    started = time.monotonic()
    times = {}  # wall seconds per scenario group, in the order run
    if "sync" in only:
        from bench import bulk_sync

        if args.profile:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
        sync = bulk_sync.run(
            records=args.records,
            rounds=args.rounds,
            page_size=args.page_size,
            memory_records=args.memory_records or None,
            database_url=args.database_url,
            profile_dir=args.profile,
        )
        report["bulk_sync"] = sync
        times["sync"] = time.monotonic() - started
        if sync.get("memory"):
            times["memory"] = sync["memory"]["wall_s"]
            times["sync"] -= times["memory"]
        rows = bulk_sync.table(sync)
        write_table("sync", report["date"], rows)
        printed += rows
    if "latency" in only:
        from bench import realtime_latency

        mark = time.monotonic()
        results = realtime_latency.run(args.events, args.redis or None)
        times["latency"] = time.monotonic() - mark
        report["results"] = results
        rows = latency_table(results)
        write_table("latency", report["date"], rows)
        printed += ["", *rows]
    if "dom" in only:
        from bench import dom_latency

        mark = time.monotonic()
        report["dom_latency"] = dom_latency.run(args.dom_events, args.redis or None)
        times["dom"] = time.monotonic() - mark
        rows = dom_latency.table(report["dom_latency"])
        write_table("dom", report["date"], rows)
        printed += ["", *rows]
    if "console" in only:
        from bench import console_lists

        # Scenario 6 needs PostgreSQL: --database-url, or a throwaway database on 127.0.0.1.
        mark = time.monotonic()
        console = console_lists.run(
            args.database_url if (args.database_url or "").startswith("postgres") else None,
            runs=args.console_runs,
            failures=args.console_runs,
            repeats=args.console_repeats,
        )
        times["console"] = time.monotonic() - mark
        report["console_lists"] = console
        rows = console_lists.table(console)
        write_table("console", report["date"], rows)
        printed += ["", *rows]
    if "scaleout" in only:
        from bench import scaleout

        # Scenario 7 needs PostgreSQL (a throwaway database, as scenario 6) and the Redis broker.
        mark = time.monotonic()
        result = scaleout.run(
            args.database_url if (args.database_url or "").startswith("postgres") else None,
            args.redis or None,
            records=args.scaleout_records,
            rounds=args.scaleout_rounds,
        )
        times["scaleout"] = time.monotonic() - mark
        report["scaleout"] = result
        rows = scaleout.table(result)
        write_table("scaleout", report["date"], rows)
        printed += ["", *rows]
    from bench import prep

    prep.cleanup()  # the template data directories and database
    times["total"] = time.monotonic() - started
    report["wall_s"] = {k: round(v, 1) for k, v in times.items()}
    rows = times_table(times, args)
    if only == set(SCENARIOS):  # the table of a whole make bench (never overwritten by a partial one)
        write_table("times", report["date"], rows)
    printed += ["", *rows]
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("\n".join(printed))
    print(f"\nwritten: {out.relative_to(HERE.parent)} and bench/README.md")


if __name__ == "__main__":
    main()
