"""Fault injection, request accounting and the ``/_sandbox/*`` admin endpoints.

:class:`SandboxMiddleware` wraps every sandbox app (pure ASGI, no per-request overhead beyond a
few counters). For each request outside ``/_sandbox/`` it

1. counts it (total, the most requests started in any one-second sliding window, the most in
   flight at once),
2. draws the faults from a seeded RNG, in this order: timeout (sleep ``timeout_s``, default 30 s,
   then answer normally), added latency (``latency_ms`` ± ``jitter_ms``), 5xx (``error_status``,
   default 503), 429 with ``Retry-After``, malformed JSON (the body is cut in half).

The knobs come from the environment (``SANDBOX_LATENCY_MS``, ``SANDBOX_JITTER_MS``,
``SANDBOX_ERROR_RATE``, ``SANDBOX_ERROR_STATUS``, ``SANDBOX_RATE_LIMIT_RATE``,
``SANDBOX_RETRY_AFTER``, ``SANDBOX_TIMEOUT_RATE``, ``SANDBOX_TIMEOUT_S``,
``SANDBOX_MALFORMED_RATE``, ``SANDBOX_SEED``), from the app factory, and at run time from
``PUT /_sandbox/faults`` (a JSON object with any of the field names below; unknown names → 400).

Admin endpoints (never faulted, never counted):

- ``GET /_sandbox/faults`` / ``PUT /_sandbox/faults``
- ``POST /_sandbox/reset``: reseed the data (body ``{"seed": n}`` optional) and reseed the RNG
- ``GET /_sandbox/stats`` / ``POST /_sandbox/stats/reset`` (with the outbound webhook counters)
- ``GET /_sandbox/webhooks`` / ``PUT /_sandbox/webhooks``: event subscriptions (``sandbox.webhooks``)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# (status, message, headers) -> (body bytes, content type): the vendor's error shape
ErrorBody = Callable[[int, str], tuple[bytes, str]]

ENV = {
    "latency_ms": "SANDBOX_LATENCY_MS",
    "jitter_ms": "SANDBOX_JITTER_MS",
    "error_rate": "SANDBOX_ERROR_RATE",
    "error_status": "SANDBOX_ERROR_STATUS",
    "rate_limit_rate": "SANDBOX_RATE_LIMIT_RATE",
    "retry_after": "SANDBOX_RETRY_AFTER",
    "timeout_rate": "SANDBOX_TIMEOUT_RATE",
    "timeout_s": "SANDBOX_TIMEOUT_S",
    "malformed_rate": "SANDBOX_MALFORMED_RATE",
    "seed": "SANDBOX_SEED",
}


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_rate: float = 0.0
    retry_after: int = 1
    timeout_rate: float = 0.0
    timeout_s: float = 30.0
    malformed_rate: float = 0.0
    seed: int = 0

    @classmethod
    def names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> FaultConfig:
        environ = os.environ if environ is None else environ
        config = cls()
        for name, var in ENV.items():
            if environ.get(var, "") != "":
                config = config.updated({name: environ[var]})
        return config.updated(overrides)

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        unknown = set(changes) - self.names()
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        values = asdict(self)
        for f in fields(self):
            if f.name in changes and changes[f.name] is not None:
                kind = int if f.type in ("int", int) else float
                value = kind(changes[f.name])
                if f.name.endswith("_rate") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{f.name} must be between 0 and 1")
                if value < 0:
                    raise ValueError(f"{f.name} must not be negative")
                values[f.name] = value
        return FaultConfig(**values)


class Stats:
    """Request accounting for one server (requests outside ``/_sandbox/``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.max_per_second = 0
        self.window: deque[float] = deque()
        self.by_status: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.started_at = time.time()

    def begin(self) -> None:
        now = time.monotonic()
        self.total += 1
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight
        window = self.window
        window.append(now)
        edge = now - 1.0
        while window[0] <= edge:
            window.popleft()
        if len(window) > self.max_per_second:
            self.max_per_second = len(window)

    def end(self, status: int) -> None:
        self.in_flight -= 1
        key = str(status)
        self.by_status[key] = self.by_status.get(key, 0) + 1

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "max_per_second": self.max_per_second,
            "by_status": dict(self.by_status),
            "faults": dict(self.faults),
            "since": self.started_at,
        }


def _json_error(status: int, message: str) -> tuple[bytes, str]:
    return json.dumps({"message": message}).encode(), "application/json"


class SandboxMiddleware:
    """Faults + accounting + the admin endpoints, around one vendor app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        name: str,
        config: FaultConfig,
        reset: Callable[[int | None], Any] | None = None,
        error_body: ErrorBody = _json_error,
        info: Callable[[], dict[str, Any]] | None = None,
        webhooks: Any = None,
    ) -> None:
        self.app = app
        self.webhooks = webhooks  # a sandbox.webhooks.WebhookSender, or None
        self.name = name
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - reproducible faults, not crypto
        self.stats = Stats()
        self.reset_data = reset
        self.error_body = error_body
        self.info = info

    # -- configuration -----------------------------------------------------------------------
    def set_faults(self, changes: dict[str, Any]) -> FaultConfig:
        config = self.config.updated(changes)
        if "seed" in changes:
            self.rng = random.Random(config.seed)  # noqa: S311 - reproducible faults, not crypto
        self.config = config
        return config

    # -- ASGI --------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            await self.admin(scope, receive, send)
            return

        stats = self.stats
        stats.begin()
        status_seen = [0]

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status_seen[0] = message["status"]
            await send(message)

        try:
            await self.faulted(scope, receive, counting_send)
        finally:
            stats.end(status_seen[0])

    async def faulted(self, scope: Scope, receive: Receive, send: Send) -> None:
        config, rng, stats = self.config, self.rng, self.stats
        if config.timeout_rate and rng.random() < config.timeout_rate:
            stats.fault("timeout")
            await asyncio.sleep(config.timeout_s)
        if config.latency_ms or config.jitter_ms:
            delay = config.latency_ms + (
                rng.uniform(-config.jitter_ms, config.jitter_ms) if config.jitter_ms else 0
            )
            if delay > 0:
                await asyncio.sleep(delay / 1000.0)
        if config.error_rate and rng.random() < config.error_rate:
            stats.fault("error")
            await self.error(
                send, config.error_status, "The service is temporarily unavailable (sandbox fault)."
            )
            return
        if config.rate_limit_rate and rng.random() < config.rate_limit_rate:
            stats.fault("rate_limit")
            await self.error(
                send,
                429,
                "Too many requests (sandbox fault).",
                [(b"retry-after", str(config.retry_after).encode())],
            )
            return
        if config.malformed_rate and rng.random() < config.malformed_rate:
            stats.fault("malformed")
            await self.app(scope, receive, _truncating(send))
            return
        await self.app(scope, receive, send)

    async def error(
        self, send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        body, content_type = self.error_body(status, message)
        await _respond(send, status, body, content_type, headers)

    # -- admin -------------------------------------------------------------------------------
    def stats_dict(self) -> dict[str, Any]:
        out = {"server": self.name, **self.stats.as_dict()}
        if self.webhooks is not None:
            out["webhooks"] = self.webhooks.as_dict()
        return out

    async def admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        method, path = scope["method"], scope["path"].rstrip("/")
        body = await _read_body(receive)
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            await _respond_json(send, 400, {"error": "the body is not JSON"})
            return
        if path == "/_sandbox/faults" and method == "GET":
            await _respond_json(send, 200, asdict(self.config))
        elif path == "/_sandbox/faults" and method in ("PUT", "PATCH", "POST"):
            if not isinstance(payload, dict):
                await _respond_json(send, 400, {"error": "expected a JSON object"})
                return
            try:
                config = self.set_faults(payload)
            except (TypeError, ValueError) as exc:
                await _respond_json(send, 400, {"error": str(exc)})
                return
            await _respond_json(send, 200, asdict(config))
        elif path == "/_sandbox/reset" and method == "POST":
            seed = payload.get("seed") if isinstance(payload, dict) else None
            if self.reset_data is not None:
                self.reset_data(seed)
            self.rng = random.Random(self.config.seed)  # noqa: S311
            await _respond_json(send, 200, {"reset": True, "server": self.name})
        elif path == "/_sandbox/stats" and method == "GET":
            await _respond_json(send, 200, self.stats_dict())
        elif path == "/_sandbox/stats/reset" and method == "POST":
            self.stats.reset()
            if self.webhooks is not None:
                self.webhooks.reset_stats()
            await _respond_json(send, 200, self.stats_dict())
        elif path == "/_sandbox/webhooks" and self.webhooks is not None and method == "GET":
            await _respond_json(send, 200, self.webhooks.describe())
        elif path == "/_sandbox/webhooks" and self.webhooks is not None and method in ("PUT", "POST"):
            try:
                subscriptions = self.webhooks.configure(payload)
            except ValueError as exc:
                await _respond_json(send, 400, {"error": str(exc)})
                return
            await _respond_json(send, 200, subscriptions)
        elif path == "/_sandbox/info" and method == "GET":
            await _respond_json(send, 200, {"server": self.name, **(self.info() if self.info else {})})
        else:
            await _respond_json(send, 404, {"error": f"no admin endpoint {method} {path}"})


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        elif message["type"] == "http.disconnect":
            break
    return b"".join(chunks)


async def _respond(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    raw = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": raw + (headers or [])})
    await send({"type": "http.response.body", "body": body})


async def _respond_json(send: Send, status: int, payload: Any) -> None:
    await _respond(send, status, json.dumps(payload).encode(), "application/json")


def _truncating(send: Send) -> Send:
    """A send that buffers the response and sends only the first half of its body."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def wrapped(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(chunks)
        if start.get("status") in (204, 304):  # no body allowed: nothing to spoil
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        body = body[: max(1, len(body) // 2)] if body else b"{"
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped
