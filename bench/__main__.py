"""``make bench``: run the benchmark scenarios, write bench/results/<date>.json and the table in bench/README.md."""

import argparse
import datetime
import json
import os
import platform
from pathlib import Path

from bench import realtime_latency

HERE = Path(__file__).resolve().parent
MARK_START, MARK_END = "<!-- results:start -->", "<!-- results:end -->"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50, help="events per latency measurement")
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis URL for the Redis scenarios; empty to skip them",
    )
    args = parser.parse_args()

    results = realtime_latency.run(args.events, args.redis or None)
    stamp = datetime.datetime.now(datetime.UTC)
    report = {
        "date": stamp.isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "results": results,
    }
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / f"{stamp:%Y-%m-%d}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")

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
    table = (
        f"{MARK_START}\nLast run {report['date']} ({os.cpu_count()} CPUs, Python {platform.python_version()}):\n\n"
        + "\n".join(rows)
        + f"\n{MARK_END}"
    )
    readme = HERE / "README.md"
    text = readme.read_text()
    start, end = text.index(MARK_START), text.index(MARK_END) + len(MARK_END)
    readme.write_text(text[:start] + table + text[end:])
    print("\n".join(rows))
    print(f"\nwritten: {out.relative_to(HERE.parent)} and bench/README.md")


if __name__ == "__main__":
    main()
