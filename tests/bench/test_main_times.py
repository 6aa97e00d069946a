"""``make bench`` reports how long each scenario took (``bench/__main__.py``): one row per scenario that
ran, in minutes and seconds, and the whole run."""

import argparse

from bench.__main__ import _minutes, times_table


def _args(**over):
    defaults = {
        "records": 100_000,
        "rounds": 3,
        "memory_records": 1_000_000,
        "events": 50,
        "dom_events": 200,
        "redis": "redis://127.0.0.1:6379/0",
        "console_runs": 1_000_000,
        "console_repeats": 20,
        "scaleout_records": 2000,
        "scaleout_rounds": 1,
    }
    return argparse.Namespace(**{**defaults, **over})


def test_minutes_and_seconds():
    assert _minutes(600.3) == "10 min 00 s"
    assert _minutes(59.6) == "1 min 00 s"
    assert _minutes(69.4) == "1 min 09 s"


def test_one_row_per_scenario_that_ran_and_the_total():
    times = {"sync": 117.9, "memory": 189.3, "console": 80.8, "total": 600.3}
    rows = times_table(times, _args())
    assert rows[2].startswith("| 1-3. full sync") and "100,000 products, 3 rounds" in rows[2]
    assert rows[2].endswith("| 1 min 58 s |")
    assert "1,000,000 records" in rows[3] and rows[3].endswith("| 3 min 09 s |")
    assert "20 requests per page" in rows[4] and rows[4].endswith("| 1 min 21 s |")
    assert rows[-1] == "| **whole `make bench`** | **10 min 00 s** |"
    assert len(rows) == 6  # header, rule, three scenarios, the total


def test_the_latency_rows_say_when_redis_was_skipped():
    rows = times_table({"latency": 30, "dom": 50, "total": 80}, _args(redis=""))
    assert all("embedded only" in row for row in rows[2:4])
