"""Readiness checks shared by ``/readyz`` and the status page."""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.utils import timezone

# A worker cluster counts as alive when its heartbeat (django-q2 saves its statistics every half
# second, kept 3 s in the cache or Redis) is at most this old.
WORKER_HEARTBEAT_MAX_AGE = 10


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    latency_ms: float


def _timed(name, fn) -> Check:
    start = time.perf_counter()
    try:
        detail = fn()
        ok = True
    except Exception as exc:  # a readiness probe reports every failure, whatever its type
        detail, ok = f"{type(exc).__name__}: {exc}"[:300], False
    return Check(name, ok, detail, round((time.perf_counter() - start) * 1000, 1))


def _database():
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connections["default"].vendor


def _broker():
    if settings.Q_CLUSTER.get("redis"):
        import redis

        client = redis.from_url(settings.Q_CLUSTER["redis"], socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        return "redis"
    from django_q.models import OrmQ

    OrmQ.objects.using(settings.Q_CLUSTER.get("orm", "default")).exists()
    return "orm"


def _channel_layer():
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def round_trip():
        import asyncio

        channel = f"readyz.{uuid.uuid4().hex}"
        await layer.send(channel, {"type": "readyz.probe"})
        await asyncio.wait_for(layer.receive(channel), timeout=3)

    async_to_sync(round_trip)()
    return type(layer).__name__


def readiness() -> list[Check]:
    return [_timed("database", _database), _timed("broker", _broker), _timed("channel_layer", _channel_layer)]


def live_clusters(max_age: float = WORKER_HEARTBEAT_MAX_AGE) -> list:
    """The django-q2 cluster statistics (``Stat``) whose heartbeat is at most ``max_age`` seconds old.

    Raises when the broker's statistics store (the cache, or Redis) cannot be read.
    """
    from django_q.status import Stat

    oldest = timezone.now() - timedelta(seconds=max_age)
    return [s for s in Stat.get_all() if getattr(s, "timestamp", None) and s.timestamp >= oldest]


def _workers():
    clusters = live_clusters()
    if not clusters:
        raise RuntimeError(f"no worker cluster heartbeat in the last {WORKER_HEARTBEAT_MAX_AGE} s")
    return f"{len(clusters)} cluster(s), {sum(len(s.workers) for s in clusters)} worker(s)"


def worker_liveness() -> Check:
    """Whether a worker cluster is alive: reported by ``/readyz``, which does not fail on it."""
    return _timed("workers", _workers)


def cluster_status() -> list[dict]:
    """The django-q2 clusters that reported in recently (empty when no worker runs)."""
    try:
        stats = live_clusters()
    except Exception:
        return []
    return [
        {
            "cluster_id": str(s.cluster_id),
            "host": s.host,
            "status": s.status,
            "workers": len(s.workers),
            "uptime": round(s.uptime()),
        }
        for s in stats
    ]
