"""A big catalog for the fault and soak tests: a source and a target REST server behind the sandbox's
fault middleware (``sandbox.faults``: 5xx, 429, timeouts, malformed JSON, latency, counted in
``/_sandbox/stats``), with as many products as a test asks (the sandbox PIM seeds 2,000).

- source: ``GET /products?page=P&per_page=S`` (``bench.catalog``'s records, made from their number)
  and ``GET /products/<n>`` (one product: what a run fetches to retry a failed record);
- target: ``POST /products/batch`` upserts each item on its ``sku`` (the hub's natural key) and
  answers one result per item (``refuse_every=n``: every n-th product is refused with a reason);
- never faulted, for the tests' own checks: ``GET /_catalog/state`` (the target's records: per SKU
  how many records it holds and the digest of each) and ``GET /_catalog/health``.

The servers run in threads of the test process (uvicorn); a server can be stopped (its port then
refuses connections: the system is down) and started again on the same port with its data kept.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qsl

import uvicorn

from bench import catalog
from sandbox.faults import FaultConfig, SandboxMiddleware
from tests.live import free_port

MAX_PAGE = 5000


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, payload) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Source:
    """Products 1..total, always the same for a number."""

    def __init__(self, total: int):
        self.total = total

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        await _body(receive)
        if path == "/products":
            query = dict(parse_qsl(scope["query_string"].decode()))
            try:
                page = max(1, int(query.get("page", 1)))
                size = min(MAX_PAGE, max(1, int(query.get("per_page", 100))))
            except ValueError:
                await _send(send, 400, {"message": "page and per_page are numbers"})
                return
            await _send(send, 200, catalog.source_page_json(page, size, self.total))
        elif path.startswith("/products/"):
            number = path.removeprefix("/products/")
            if not number.isdigit() or not 1 <= int(number) <= self.total:
                await _send(send, 404, {"message": "no such product"})
                return
            await _send(send, 200, catalog.source_record_json(int(number)).encode())
        else:
            await _send(send, 404, {"message": "not found"})


class Target:
    """Products upserted on their SKU; ``creates`` counts how many times each SKU was created (a
    duplicate would show as 2: the store never merges two records of one SKU behind the hub's back)."""

    def __init__(self, refuse_every: int = 0):
        # A business rule of the target: it refuses every ``refuse_every``-th product (by number), as a
        # shop refuses a product it cannot sell — a record-level error that no retry heals.
        self.refuse_every = refuse_every
        self.reset()

    def reset(self) -> None:
        self.records: dict[str, dict] = {}
        self.ids: dict[str, str] = {}
        self.creates: dict[str, int] = {}
        self.next_id = 1
        self.writes = 0

    def upsert(self, item) -> dict:
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str) or not item["sku"]:
            return {"error": "a product needs a sku"}
        item = {k: v for k, v in item.items() if k != "id"}
        sku = item["sku"]
        if self.refuse_every and refused(sku, self.refuse_every):
            return {"error": f"product {sku} cannot be sold in this shop (blocked)"}
        if sku not in self.ids:
            self.ids[sku] = f"P{self.next_id}"
            self.next_id += 1
            self.creates[sku] = self.creates.get(sku, 0) + 1
        self.records[sku] = item
        self.writes += 1
        return {"id": self.ids[sku]}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        body = await _body(receive)
        if path == "/products/batch" and method == "POST":
            try:
                items = json.loads(body)["items"]
            except (ValueError, KeyError, TypeError):
                await _send(send, 400, {"message": 'give {"items": [...]}'})
                return
            await _send(send, 200, {"results": [self.upsert(item) for item in items]})
        elif path == "/products" and method == "GET":
            # A lookup on the natural key (``?sku=``), as the connector's lookup() asks.
            sku = dict(parse_qsl(scope["query_string"].decode())).get("sku")
            found = [{**self.records[sku], "id": self.ids[sku]}] if sku in self.records else []
            await _send(send, 200, {"data": found})
        else:
            await _send(send, 404, {"message": "not found"})

    def state(self) -> dict:
        return {
            sku: {"creates": self.creates.get(sku, 0), "digest": f"{catalog.record_digest(record):064x}"}
            for sku, record in self.records.items()
        }


def refused(sku: str, every: int) -> bool:
    return int(sku.removeprefix("SKU-")) % every == 0


def expected_digests(numbers) -> dict[str, str]:
    """SKU → digest of the mapped source record, for the records numbered ``numbers``."""
    return {
        f"SKU-{i:07d}": f"{catalog.record_digest(catalog.map_record(catalog.source_record(i))):064x}"
        for i in numbers
    }


class Server:
    """One app behind the fault middleware, served by uvicorn in a thread; stop() and start() again
    keep the app (and its data) and the port."""

    def __init__(self, name: str, app, **faults):
        self.app = app
        self.faulted = SandboxMiddleware(app, name=name, config=FaultConfig().updated(faults))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None
        self.thread = None

    async def _route(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/_catalog/"):
            await _body(receive)
            if scope["path"] == "/_catalog/state" and isinstance(self.app, Target):
                await _send(send, 200, self.app.state())
            else:
                await _send(send, 200, {"ok": True})
            return
        await self.faulted(scope, receive, send)

    def start(self, timeout: float = 15) -> Server:
        config = uvicorn.Config(
            self._route,
            host="127.0.0.1",
            port=self.port,
            log_level="error",
            lifespan="off",
            access_log=False,
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name=f"catalog-{self.port}")
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"catalog server on port {self.port} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=30)
            self.server = None

    def set_faults(self, **changes) -> None:
        self.faulted.set_faults(changes)

    def fault_counts(self) -> dict[str, int]:
        return dict(self.faulted.stats.faults)

    def stats(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/_sandbox/stats", timeout=10).json()


def hub_objects(source_url: str, target_url: str, *, page_size: int, timeout: float = 30, name: str = ""):
    """Two REST systems and a flow of the benchmark's 10 mapped fields between them (upsert on SKU)."""
    from flows import designer
    from flows.models import System

    source_entities = [
        {
            "key": "products",
            "path": "/products",
            "records_path": "data",
            "id_field": "id",
            "natural_keys": ["sku"],
            "pagination": {
                "type": "page",
                "page_param": "page",
                "size_param": "per_page",
                "page_size": page_size,
                "total_pages_path": "meta.total_pages",
            },
        }
    ]
    target_entities = [
        {
            "key": "products",
            "path": "/products",
            "records_path": "data",
            "id_field": "id",
            "natural_keys": ["sku"],
            "write": {
                "batch": {
                    "method": "POST",
                    "path": "/products/batch",
                    "body_key": "items",
                    "results_path": "results",
                    "result_id_path": "id",
                    "idempotent": True,
                }
            },
        }
    ]
    for slug, url, entities, role in (
        ("catalog-source", source_url, source_entities, "pim"),
        ("catalog-target", target_url, target_entities, "ecommerce"),
    ):
        system = System.objects.filter(slug=slug).first() or System(slug=slug, name=f"Catalog {slug[8:]}")
        system.role = role
        system.connector = "rest"
        system.parameters = {"base_url": url, "auth_type": "none", "entities": entities}
        system.rate_limit = system.max_concurrency = None
        system.timeout = timeout
        system.secrets = {}
        system.save()
    return designer.save_flow(
        {
            "name": name or "Catalog: source → target",
            "description": "Fault tests: 10 mapped fields, 3 transforms.",
            "source_system": "catalog-source",
            "source_entity": "products",
            "target_system": "catalog-target",
            "target_entity": "products",
            "trigger": "manual",
            "criticality": "normal",
            "sync_mode": "full",
            "cursor_field": "",
            "match_strategy": "natural_key",
            "source_key": "sku",
            "target_key": "sku",
            "write_mode": "upsert",
            "filters": [],
            "quality_rules": [],
            "mappings": [{**m, "personal": ""} for m in catalog.MAPPINGS],
            "enabled": False,
            "purpose": "",
        }
    )
