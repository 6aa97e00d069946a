"""Stands in for a worker process: publishes timestamped events through the hub's realtime module,
or — for the hand-written baselines — straight into SQLite or Redis.

Events are spaced by a random interval so that they do not fall in step with a poller's period.
"""

import argparse
import random
import sqlite3
import time


def hub(user_id: int, count: int, interval: float):
    import django

    django.setup()
    from integration_hub import realtime

    for seq in range(count):
        realtime.send_now(
            realtime.user_group(user_id), "hub.ping", {"token": f"bench-{seq}", "t": time.time()}
        )
        time.sleep(interval * (0.5 + random.random()))


def raw_sqlite(path: str, count: int, interval: float):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    for seq in range(count):
        db.execute("INSERT INTO events (seq, t) VALUES (?, ?)", (seq, time.time()))
        time.sleep(interval * (0.5 + random.random()))


def raw_redis(url: str, channel: str, count: int, interval: float):
    import json

    import redis

    client = redis.from_url(url)
    for seq in range(count):
        client.publish(channel, json.dumps({"seq": seq, "t": time.time()}))
        time.sleep(interval * (0.5 + random.random()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["hub", "sqlite", "redis"])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--user", type=int)
    parser.add_argument("--path")
    parser.add_argument("--url")
    parser.add_argument("--channel")
    a = parser.parse_args()
    if a.mode == "hub":
        hub(a.user, a.count, a.interval)
    elif a.mode == "sqlite":
        raw_sqlite(a.path, a.count, a.interval)
    else:
        raw_redis(a.url, a.channel, a.count, a.interval)
