"""What the four stand-ins share: the app wrapper, fast JSON responses, store opening and seeding."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .faults import ErrorBody, FaultConfig, SandboxMiddleware
from .store import Store, open_store
from .webhooks import WebhookSender


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    payload: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media_type: str = "application/json",
) -> Response:
    return Response(dumps(payload), status_code=status, headers=headers, media_type=media_type)


async def read_json(request: Request) -> Any:
    """The JSON body, or raises ValueError."""
    body = await request.body()
    if not body.strip():
        raise ValueError("empty body")
    return json.loads(body)


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


class SandboxApp(SandboxMiddleware):
    """A vendor app (Starlette) behind the sandbox middleware, with its store and its seeder.

    ``seeder(store, seed)`` fills an empty store. A file store is seeded on first start only
    (its ``seeded`` meta key remembers the seed); a memory store is seeded on every start.
    """

    def __init__(
        self,
        *,
        name: str,
        routes: list[BaseRoute],
        store_path: str | None,
        seed: int,
        seeder: Callable[[Store, int], None],
        faults: FaultConfig | None,
        error_body: ErrorBody,
        credentials: Any,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.store = open_store(store_path)
        self.seed = seed
        self.seeder = seeder
        self.credentials = credentials
        self.options = options or {}
        self.webhooks = WebhookSender(name)
        if self.store.get_meta("seeded") is None:
            self._seed(seed)
        else:
            self.seed = self.store.get_meta("seeded")
        starlette = Starlette(routes=routes)
        starlette.state.sandbox = self
        super().__init__(
            starlette,
            name=name,
            config=faults if faults is not None else FaultConfig.from_env(),
            reset=self.reset,
            error_body=error_body,
            info=self.describe,
            webhooks=self.webhooks,
        )

    def _seed(self, seed: int) -> None:
        self.seeder(self.store, seed)
        self.store.set_meta("seeded", seed)
        self.seed = seed

    def reset(self, seed: int | None = None) -> None:
        """Back to the seed data (the same seed, or ``seed``)."""
        with self.store._lock:
            self.store.clear()
            self._seed(self.seed if seed is None else int(seed))
        on_reset = self.options.get("on_reset")
        if on_reset:
            on_reset()

    def describe(self) -> dict[str, Any]:
        return {"seed": self.seed, "store": getattr(self.store, "path", ":memory:")}

    def emit(self, topic: str, ids: dict[str, Any]) -> None:
        """An event about a record to the webhook subscribers (in the background; see sandbox.webhooks)."""
        self.webhooks.emit(topic, ids)

    def close(self) -> None:
        self.store.close()


def sandbox_of(request: Request) -> SandboxApp:
    return request.app.state.sandbox
