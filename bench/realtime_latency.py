"""Scenario: an event published in a worker process reaches a websocket client of the console.

Hub path: worker process → realtime.send_now → channel layer → ASGI server (uvicorn) → websocket.
Baselines, hand-written, same machine, same run:
- embedded: a writer process inserts into a SQLite file in WAL mode and the reader polls it at the
  channel layer's polling interval (50 ms) — the floor for any SQLite-polling design;
- redis: a raw Redis PUBLISH → SUBSCRIBE between two processes — the floor for any Redis design.
Targets (issue "Foundation"): under 1 s embedded, under 300 ms with Redis.
"""

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

from bench import prep
from tests.live import asgi_server

ROOT = Path(__file__).resolve().parent.parent
POLL_INTERVAL = 0.05


def _env(data_dir: Path, redis_url: str | None) -> dict:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="integration_hub.settings",
        HUB_DATA_DIR=str(data_dir),
        HUB_NAMESPACE=f"bench{os.getpid()}",
        PYTHONPATH=str(ROOT),
    )
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def _python(args, env, **kw):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True, **kw
    )


def _summary(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }


def hub_latency(redis_url: str | None, count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp), redis_url)
        prep.bootstrapped(Path(tmp), env)  # ``manage.py bootstrap``, or a copy of one made earlier
        out = _python(
            [
                "-c",
                "import django; django.setup()\n"
                "from django.contrib.auth import get_user_model\n"
                "from django.test import Client\n"
                "u = get_user_model().objects.create_user('bench', password='x')\n"
                "c = Client(); c.force_login(u)\n"
                "from django.conf import settings\n"
                "print(u.pk, c.cookies[settings.SESSION_COOKIE_NAME].value)",
            ],
            env,
        ).stdout.split()
        user_id, session = int(out[0]), out[1]
        with asgi_server(env=env) as base:
            samples = asyncio.run(_receive(base, session, user_id, count, env))
    return _summary(samples)


async def _receive(base, session, user_id, count, env) -> list[float]:
    url = base.replace("http://", "ws://") + "/ws/live/"
    samples = []
    async with websockets.connect(
        url, additional_headers={"Cookie": f"sessionid={session}", "Origin": base}
    ) as ws:
        await ws.recv()  # hello
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.publisher",
            "hub",
            "--user",
            str(user_id),
            "--count",
            str(count),
            cwd=ROOT,
            env=env,
        )
        while len(samples) < count:
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if event["type"] == "hub.ping":
                samples.append(time.time() - event["payload"]["t"])
        await publisher.wait()
    return samples


def sqlite_baseline(count: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "events.sqlite3")
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, seq INTEGER, t REAL)")
        writer = subprocess.Popen(
            [sys.executable, "-m", "bench.publisher", "sqlite", "--path", path, "--count", str(count)],
            cwd=ROOT,
        )
        samples, last = [], 0
        while len(samples) < count:
            for row_id, t in db.execute("SELECT id, t FROM events WHERE id > ? ORDER BY id", (last,)):
                samples.append(time.time() - t)
                last = row_id
            time.sleep(POLL_INTERVAL)
        writer.wait()
    return _summary(samples)


def redis_baseline(redis_url: str, count: int) -> dict:
    import redis

    channel = f"bench-baseline-{os.getpid()}"
    pubsub = redis.from_url(redis_url).pubsub()
    pubsub.subscribe(channel)
    pubsub.get_message(timeout=1)
    publisher = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.publisher",
            "redis",
            "--url",
            redis_url,
            "--channel",
            channel,
            "--count",
            str(count),
        ],
        cwd=ROOT,
    )
    samples = []
    while len(samples) < count:
        message = pubsub.get_message(timeout=30)
        if message and message["type"] == "message":
            samples.append(time.time() - json.loads(message["data"])["t"])
    publisher.wait()
    pubsub.close()
    return _summary(samples)


def run(count: int = 50, redis_url: str | None = None) -> list[dict]:
    results = []
    embedded, base = hub_latency(None, count), sqlite_baseline(count)
    results.append(
        {
            "scenario": "publish → websocket, embedded (channels-lite SQLite layer)",
            "hub": embedded,
            "baseline": base,
            "baseline_name": "raw SQLite insert + 50 ms poll",
            "ratio_median": round(embedded["median_ms"] / max(base["median_ms"], 0.1), 2),
            "target": "median < 1000 ms",
            "met": embedded["median_ms"] < 1000,
        }
    )
    if redis_url:
        hub_r, base_r = hub_latency(redis_url, count), redis_baseline(redis_url, count)
        results.append(
            {
                "scenario": "publish → websocket, Redis (channels_redis)",
                "hub": hub_r,
                "baseline": base_r,
                "baseline_name": "raw Redis PUBLISH → SUBSCRIBE",
                "ratio_median": round(hub_r["median_ms"] / max(base_r["median_ms"], 0.1), 2),
                "target": "median < 300 ms",
                "met": hub_r["median_ms"] < 300,
            }
        )
    return results
