"""Readiness checks shared by ``/readyz`` and the status page."""

import time
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections


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


def cluster_status() -> list[dict]:
    """The django-q2 clusters that reported in recently (empty when no worker runs)."""
    from django_q.status import Stat

    try:
        stats = Stat.get_all()
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
