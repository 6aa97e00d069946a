"""Outbound webhooks of a stand-in: subscriptions, signed event deliveries, retries, counters.

Admin endpoint (on every server, never faulted, never counted): ``GET /_sandbox/webhooks`` lists the
subscriptions (secrets masked), ``PUT /_sandbox/webhooks`` replaces them with a JSON list
``[{"url": ..., "secret": ..., "topics": ["orders/*", ...]}]`` (or an object
``{"subscriptions": [...], "attempts": 4, "backoff_s": 0.5}``). Only loopback URLs are accepted
(``127.0.0.0/8``, ``::1``, ``localhost``): the sandbox never sends anything off the machine.
Subscriptions live in memory: they are gone after a restart (the hub's demo wiring registers again).

An event is a small JSON object (the record's ids, not the record: the receiver reads it fresh)::

    {"id": "evt_…", "topic": "orders/created", "created_at": "2026-…Z", "source": "shop",
     "entity_id": 301, "increment_id": "000000301"}

POSTed to every subscription whose ``topics`` match (none or empty: every topic; shell-style
patterns such as ``orders/*``) with the headers ``Content-Type: application/json``,
``X-Event-Topic``, ``X-Event-Id`` and ``X-Hub-Signature-256`` (hex HMAC-SHA256 of the exact body
with the subscription's secret; left out when the secret is empty). Deliveries run in the
background (the API answer never waits for them); a connection error, a timeout, a 408, 429 or 5xx
is retried up to ``attempts`` times in all with exponential backoff (``backoff_s``, doubled each
time); any other answer ends the delivery. Counters appear under ``webhooks`` in
``GET /_sandbox/stats``.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import hmac
import ipaddress
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

ATTEMPTS = 4
BACKOFF_S = 0.5
TIMEOUT_S = 5.0
RETRY_STATUSES = {408, 429}


def is_loopback_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    """The subscriptions of one server and the deliveries of its events."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscriptions: list[dict[str, Any]] = []
        self.attempts = ATTEMPTS
        self.backoff_s = BACKOFF_S
        self.timeout_s = TIMEOUT_S
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.reset_stats()

    # -- configuration -----------------------------------------------------------------------
    def configure(self, payload: Any) -> list[dict[str, Any]]:
        """Replace the subscriptions; ValueError (nothing changed) when one is not acceptable."""
        options: dict[str, Any] = {}
        if isinstance(payload, dict):
            options = {k: v for k, v in payload.items() if k != "subscriptions"}
            payload = payload.get("subscriptions", [])
        unknown = set(options) - {"attempts", "backoff_s"}
        if unknown:
            raise ValueError(f"unknown option(s): {', '.join(sorted(unknown))}")
        if not isinstance(payload, list):
            raise ValueError("expected a list of subscriptions [{url, secret, topics?}]")
        clean = []
        for n, sub in enumerate(payload):
            if not isinstance(sub, dict):
                raise ValueError(f"subscription {n}: expected an object")
            extra = set(sub) - {"url", "secret", "topics"}
            if extra:
                raise ValueError(f"subscription {n}: unknown key(s) {', '.join(sorted(extra))}")
            url, secret, topics = sub.get("url"), sub.get("secret", ""), sub.get("topics") or []
            if not isinstance(url, str) or not is_loopback_url(url):
                raise ValueError(
                    f"subscription {n}: the url must be http(s) on a loopback address "
                    "(127.0.0.1, ::1 or localhost); the sandbox sends nothing off this machine"
                )
            if not isinstance(secret, str):
                raise ValueError(f"subscription {n}: the secret must be a string")
            if not isinstance(topics, list) or not all(isinstance(t, str) and t for t in topics):
                raise ValueError(f"subscription {n}: topics must be a list of topic names or patterns")
            clean.append({"url": url, "secret": secret, "topics": list(topics)})
        attempts = options.get("attempts", self.attempts)
        backoff = options.get("backoff_s", self.backoff_s)
        if not isinstance(attempts, int) or isinstance(attempts, bool) or not 1 <= attempts <= 10:
            raise ValueError("attempts must be a whole number from 1 to 10")
        if not isinstance(backoff, int | float) or isinstance(backoff, bool) or not 0 <= backoff <= 60:
            raise ValueError("backoff_s must be a number of seconds from 0 to 60")
        with self._lock:
            self.subscriptions = clean
            self.attempts, self.backoff_s = attempts, float(backoff)
        return self.describe()

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"url": s["url"], "topics": s["topics"], "secret": "***" if s["secret"] else ""}
            for s in self.subscriptions
        ]

    # -- counters ----------------------------------------------------------------------------
    def reset_stats(self) -> None:
        self.counts = {"events": 0, "deliveries": 0, "attempts": 0, "retries": 0, "delivered": 0, "failed": 0}
        self.by_status: dict[str, int] = {}
        self.last_error = ""
        self.last_event_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscriptions": len(self.subscriptions),
            **self.counts,
            "pending": len(self._tasks),
            "by_status": dict(self.by_status),
            "last_error": self.last_error,
            "last_event_at": self.last_event_at,
        }

    # -- events ------------------------------------------------------------------------------
    def emit(self, topic: str, ids: dict[str, Any]) -> dict[str, Any] | None:
        """Send the event ``topic`` about the record ``ids`` (e.g. ``{"entity_id": 3}``) to every
        matching subscription, in the background. Returns the event (None when nobody listens)."""
        targets = [s for s in self.subscriptions if _matches(s["topics"], topic)]
        if not targets:
            return None
        event = {
            "id": f"evt_{uuid.uuid4().hex}",
            "topic": topic,
            "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "source": self.name,
            **ids,
        }
        body = json.dumps(event, separators=(",", ":")).encode()
        self.counts["events"] += 1
        self.last_event_at = time.time()
        for sub in targets:
            self.counts["deliveries"] += 1
            self._spawn(self._deliver(sub, topic, event["id"], body))
        return event

    def _spawn(self, coro) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loop = loop
            self._track(loop.create_task(coro))
        elif self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(lambda: self._track(self._loop.create_task(coro)))  # type: ignore[union-attr]
        else:  # no server loop (a script or a test calling the store directly): a thread of its own
            threading.Thread(target=asyncio.run, args=(coro,), daemon=True).start()

    def _track(self, task: asyncio.Task) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, sub: dict[str, Any], topic: str, event_id: str, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "X-Event-Topic": topic, "X-Event-Id": event_id}
        if sub["secret"]:
            headers["X-Hub-Signature-256"] = sign(sub["secret"], body)
        attempts, backoff = self.attempts, self.backoff_s
        async with httpx.AsyncClient(timeout=self.timeout_s, trust_env=False) as client:
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    self.counts["retries"] += 1
                    await asyncio.sleep(backoff * 2 ** (attempt - 2))
                self.counts["attempts"] += 1
                try:
                    response = await client.post(
                        sub["url"], content=body, headers={**headers, "X-Sandbox-Attempt": str(attempt)}
                    )
                except httpx.HTTPError as exc:
                    self._count_status("error")
                    self.last_error = f"{sub['url']}: {type(exc).__name__}: {exc}"[:300]
                    continue
                status = response.status_code
                self._count_status(str(status))
                if 200 <= status < 300:
                    self.counts["delivered"] += 1
                    return
                self.last_error = f"{sub['url']}: HTTP {status}: {response.text[:200]}"
                if status < 500 and status not in RETRY_STATUSES:
                    break
        self.counts["failed"] += 1

    def _count_status(self, key: str) -> None:
        self.by_status[key] = self.by_status.get(key, 0) + 1

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for the deliveries in flight (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.01, deadline - time.monotonic()))


def _matches(patterns: list[str], topic: str) -> bool:
    return not patterns or any(fnmatch.fnmatchcase(topic, p) for p in patterns)
