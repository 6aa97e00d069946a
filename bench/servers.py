"""Small, fast in-memory REST servers for the bulk-sync benchmark, each in its own process.

- source: ``GET /products?page=P&per_page=S`` → ``{"data": [...], "meta": {"total_pages", "total"}}``;
  its records are made from their number when a page is asked (``bench.catalog``), so a million of
  them cost no memory; up to 200,000 records each page's answer is kept once made.
  ``&updated_since=T``: only the products whose ``updated_at`` is T or later (an incremental read).
  ``POST /mutate`` changes every 100th product (``{"every": N}``: every Nth) — stock and
  ``updated_at`` — once more; ``POST /reset`` undoes every change.
  ``GET /sets/K/products`` is another ``--records`` products, numbered after those of set K - 1 (set 0
  is ``/products``): the scale-out scenario gives each of its flows a set of its own.
- target: ``POST /products/batch`` with ``{"items": [...]}`` upserts each item on its ``sku`` and
  answers ``{"results": [{"id": ...}, ...]}``; ``GET /digest`` (count + sum of the records' digests,
  computed when asked) proves what it holds without sending it back; ``GET /products/<sku>`` shows
  one record. ``GET /stats`` counts requests and written records, ``POST /reset`` empties it.
- ``--latency-ms N``: every products request (read or write) is answered N ms late, as a vendor API
  would be; the server awaits the delay, so requests in flight wait side by side, not in turn.

Raw ASGI apps on uvicorn (httptools parser, uvloop): no framework between the socket and the store.
``python -m bench.servers source|target --port P [--records N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qsl

import httpx

from bench.catalog import CHANGE_EVERY, MOD, SourceStore, record_digest

ROOT = Path(__file__).resolve().parent.parent
JSON_HEADERS = [(b"content-type", b"application/json")]
MAX_PAGE_SIZE = 10_000
CACHE_RECORDS = 200_000
SET_PATH = re.compile(r"^/sets/(\d+)/products$")


def set_page_json(page: int, size: int, total: int, first: int) -> bytes:
    """A page of the products numbered ``first + 1`` … ``first + total`` (a record set of the source)."""
    from bench.catalog import source_record_json

    pages = (total + size - 1) // size
    start = (page - 1) * size + 1
    numbers = range(first + start, first + min(start + size, total + 1))
    records = ",".join(source_record_json(i) for i in numbers)
    return f'{{"data":[{records}],"meta":{{"total_pages":{pages},"total":{total}}}}}'.encode()


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, payload) -> None:
    body = payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":")).encode()
    headers = [*JSON_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def source_app(total: int, latency_ms: float = 0):
    # Up to CACHE_RECORDS products, a page's answer is kept once made: the store is then plain bytes.
    store = SourceStore(total, CACHE_RECORDS)
    set_cache: dict[tuple[int, int, int], bytes] = {}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/health":
            await _send(send, 200, {"ok": True, "total": total})
            return
        if path in ("/mutate", "/reset") and scope["method"] == "POST":
            # Scenario 3: every 100th product changes (``{"every": N}`` to choose); reset: none has.
            if path == "/reset":
                store.reset()
                await _send(send, 200, {"ok": True})
                return
            body = await _body(receive)
            every = int((json.loads(body) if body else {}).get("every") or CHANGE_EVERY)
            await _send(send, 200, {"changed": store.mutate(every)})
            return
        in_set = SET_PATH.match(path)
        if (path != "/products" and not in_set) or scope["method"] != "GET":
            await _send(send, 404, {"message": "not found"})
            return
        if latency_ms:
            await asyncio.sleep(latency_ms / 1000)
        query = dict(parse_qsl(scope["query_string"].decode()))
        try:
            page = max(1, int(query.get("page", 1)))
            size = min(MAX_PAGE_SIZE, max(1, int(query.get("per_page", 100))))
        except ValueError:
            await _send(send, 400, {"message": "page and per_page are numbers"})
            return
        if in_set and int(in_set[1]):
            key = (int(in_set[1]), page, size)
            if key not in set_cache:
                set_cache[key] = set_page_json(page, size, total, key[0] * total)
            await _send(send, 200, set_cache[key])
            return
        await _send(send, 200, store.page(page, size, query.get("updated_since") or None))

    return app


class TargetStore:
    def __init__(self):
        self.reset()

    def reset(self):
        self.records: dict[str, dict] = {}  # sku → the record as last written
        self.ids: dict[str, str] = {}  # sku → our id
        self.next_id = 1
        self.requests = 0
        self.batches = 0
        self.written = 0

    def upsert(self, item) -> dict:
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str) or not item["sku"]:
            return {"error": "a product needs a sku"}
        item.pop("id", None)  # our own id, sent back by a client that links on it
        sku = item["sku"]
        target_id = self.ids.get(sku)
        if target_id is None:
            target_id = self.ids[sku] = f"P{self.next_id}"
            self.next_id += 1
        self.records[sku] = item
        self.written += 1
        return {"id": target_id}

    def digest(self) -> dict:
        """Count and sum of record digests: computed when asked, never on the write path."""
        total = 0
        for record in self.records.values():
            total = (total + record_digest(record)) % MOD
        return {"count": len(self.records), "digest": f"{total:064x}"}


def target_app(latency_ms: float = 0):
    store = TargetStore()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        body = await _body(receive)
        store.requests += 1
        if path == "/products/batch" and method == "POST":
            if latency_ms:
                await asyncio.sleep(latency_ms / 1000)
            try:
                items = json.loads(body)["items"]
            except (ValueError, KeyError, TypeError):
                await _send(send, 400, {"message": 'give {"items": [...]}'})
                return
            store.batches += 1
            await _send(send, 200, {"results": [store.upsert(item) for item in items]})
        elif path == "/digest":
            await _send(send, 200, store.digest())
        elif path == "/stats":
            await _send(
                send,
                200,
                {"requests": store.requests, "batches": store.batches, "written": store.written},
            )
        elif path == "/reset" and method == "POST":
            store.reset()
            await _send(send, 200, {"ok": True})
        elif path.startswith("/products/") and method == "GET":
            sku = path.removeprefix("/products/")
            record = store.records.get(sku)
            if record is None:
                await _send(send, 404, {"message": "not found"})
            else:
                await _send(send, 200, {**record, "id": store.ids[sku]})
        elif path == "/health":
            await _send(send, 200, {"ok": True})
        else:
            await _send(send, 404, {"message": "not found"})

    return app


# --- processes ------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def running(records: int, timeout: float = 30, latency_ms: float = 0):
    """Start the source (``records`` products) and the target, each in its own process; yields
    ``{"source": url, "target": url}`` once both answer, and stops both on the way out.
    ``latency_ms``: both answer each products request that much later (``--latency-ms``)."""
    procs, urls = [], {}
    try:
        for role in ("source", "target"):
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "bench.servers",
                        role,
                        "--port",
                        str(port),
                        "--records",
                        str(records),
                        "--latency-ms",
                        str(latency_ms),
                    ],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            urls[role] = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        for proc, url in zip(procs, urls.values(), strict=True):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"bench server exited with {proc.returncode}: {proc.stderr.read()}")
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench server at {url} did not answer within {timeout}s")
                time.sleep(0.05)
        yield urls
    finally:
        for proc in procs:
            _stop(proc)


def ceiling(urls: dict, records: int, page_size: int) -> dict:
    """The servers' own ceiling: every page read (twice: the first pass may fill the source's cache)
    and one page's worth of items written as many times, by a client that neither decodes nor maps
    (bodies prepared once). Records/s and requests/s; ``copy`` is a read then a write of every record."""
    from bench.catalog import map_record, source_page

    pages = (records + page_size - 1) // page_size
    body = json.dumps({"items": [map_record(r) for r in source_page(1, page_size, records)]}).encode()
    per_write = min(page_size, records)
    with httpx.Client(timeout=60) as client:
        client.post(f"{urls['target']}/reset")
        read = 0.0
        for _ in range(2):  # the first pass fills the source's page cache (when it keeps one)
            start = time.perf_counter()
            for page in range(1, pages + 1):
                client.get(
                    f"{urls['source']}/products", params={"page": page, "per_page": page_size}
                ).raise_for_status()  # httpx has read the whole body
            read = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(pages):
            client.post(
                f"{urls['target']}/products/batch",
                content=body,
                headers={"content-type": "application/json"},
            ).raise_for_status()
        write = time.perf_counter() - start
        client.post(f"{urls['target']}/reset")
    return {
        "read_records_per_s": round(records / read),
        "write_records_per_s": round(pages * per_write / write),
        "read_requests_per_s": round(pages / read),
        "write_requests_per_s": round(pages / write),
        "copy_records_per_s": round(records / (read + write * records / (pages * per_write))),
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("role", choices=["source", "target"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--records", type=int, default=100_000, help="products the source serves")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay of each products request")
    args = parser.parse_args()
    import uvicorn

    latency = args.latency_ms
    app = source_app(args.records, latency) if args.role == "source" else target_app(latency)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
