"""The bulk-sync benchmark's data: source products made on demand from their number, the flow that maps
them (10 target fields, 3 of them through a transform), the same mapping as plain Python for the
hand-written baselines, and the digest that proves a target holds exactly the mapped source records.

Nothing here imports Django: the servers and the raw baseline use it without the project set up.
"""

from __future__ import annotations

import hashlib
import json

BRANDS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka")
CATEGORIES = ("chairs", "tables", "lamps", "sofas", "beds", "shelves", "desks", "rugs", "mirrors")
WORDS = ("oak", "walnut", "steel", "linen", "velvet", "rattan", "marble", "glass", "teak", "wool", "cane")
MOD = 1 << 256


CHANGE_EVERY = 100  # scenario 3: every 100th product changes, 1 % of them


def updated_at(i: int, version: int = 0) -> str:
    """When product ``i`` last changed: in January 2026 as made, on 1 February once changed (later than
    any original, so an incremental read from the first sync's cursor finds the changed ones)."""
    if version:
        return f"2026-02-01T{version // 60 % 24:02d}:{version % 60:02d}:00+00:00"
    return f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00"


def _stock(i: int, version: int) -> int:
    return (i * 31 + version) % 500  # a changed product's stock moves: its mapped record differs


def source_record(i: int, version: int = 0) -> dict:
    """Product number ``i`` (from 1) of the source, always the same for the same number and version
    (``version`` > 0: changed that many times since the first sync)."""
    cents = (i * 7919) % 250_000 + 99
    return {
        "id": i,
        "sku": f"SKU-{i:07d}",
        "name": f"  {WORDS[i % 11].title()} {CATEGORIES[i % 9][:-1]} {i}  ",
        "description": f"A {WORDS[(i * 3) % 11]} {CATEGORIES[i % 9][:-1]} made to last, model {i % 977}.",
        "price": f"{cents // 100}.{cents % 100:02d}",
        "currency": "EUR",
        "stock": _stock(i, version),
        "weight_g": 500 + (i * 13) % 40_000,
        "brand": BRANDS[i % 8],
        "category": CATEGORIES[i % 9],
        "ean": str(2_000_000_000_000 + i),
        "active": True,
        "updated_at": updated_at(i, version),
    }


def source_record_json(i: int, version: int = 0) -> str:
    """``source_record(i, version)`` as JSON text, written directly (the source server's fast path)."""
    cents = (i * 7919) % 250_000 + 99
    word, category = WORDS[i % 11], CATEGORIES[i % 9]
    return (
        f'{{"id":{i},"sku":"SKU-{i:07d}","name":"  {word.title()} {category[:-1]} {i}  ",'
        f'"description":"A {WORDS[(i * 3) % 11]} {category[:-1]} made to last, model {i % 977}.",'
        f'"price":"{cents // 100}.{cents % 100:02d}","currency":"EUR","stock":{_stock(i, version)},'
        f'"weight_g":{500 + (i * 13) % 40_000},"brand":"{BRANDS[i % 8]}","category":"{category}",'
        f'"ean":"{2_000_000_000_000 + i}","active":true,"updated_at":"{updated_at(i, version)}"}}'
    )


def _numbers(page: int, size: int, total: int) -> range:
    start = (page - 1) * size + 1
    return range(start, min(start + size, total + 1))


def source_page(page: int, size: int, total: int) -> list[dict]:
    return [source_record(i) for i in _numbers(page, size, total)]


def source_page_json(page: int, size: int, total: int) -> bytes:
    """The source's answer for one page, as the server sends it."""
    pages = (total + size - 1) // size
    records = ",".join(source_record_json(i) for i in _numbers(page, size, total))
    return f'{{"data":[{records}],"meta":{{"total_pages":{pages},"total":{total}}}}}'.encode()


def changed_numbers(total: int, every: int = CHANGE_EVERY) -> range:
    """The products scenario 3 changes: every ``every``-th one (``total // every`` of them)."""
    return range(every, total + 1, every)


class SourceStore:
    """What the bench source serves on ``/products``: products 1 … ``total``, the changed ones at their
    version, in number order, a page at a time; with ``since``, only those updated at or after it.

    Up to ``cache_limit`` products, a page's answer is kept once made (the store is then plain bytes);
    ``mutate`` and ``reset`` remake the kept pages at once, so that a timed read never pays for it."""

    def __init__(self, total: int, cache_limit: int):
        self.total = total
        self.versions: dict[int, int] = {}
        self.cache: dict[tuple, bytes] | None = {} if total <= cache_limit else None
        self.since: dict[str, list[int]] = {}  # bound → the numbers updated at or after it

    def _numbers_since(self, since: str) -> list[int]:
        if since not in self.since:
            versions = self.versions
            self.since[since] = [
                i for i in range(1, self.total + 1) if updated_at(i, versions.get(i, 0)) >= since
            ]
        return self.since[since]

    def _make(self, page: int, size: int, since: str | None) -> bytes:
        numbers = self._numbers_since(since) if since else range(1, self.total + 1)
        count = len(numbers)
        chosen = numbers[(page - 1) * size : page * size]
        versions = self.versions
        records = ",".join(source_record_json(i, versions.get(i, 0)) for i in chosen)
        pages = (count + size - 1) // size
        return f'{{"data":[{records}],"meta":{{"total_pages":{pages},"total":{count}}}}}'.encode()

    def page(self, page: int, size: int, since: str | None = None) -> bytes:
        if self.cache is None:
            return self._make(page, size, since)
        key = (page, size, since)
        body = self.cache.get(key)
        if body is None:
            body = self.cache[key] = self._make(page, size, since)
        return body

    def _remake(self) -> None:
        bounds = list(self.since)
        self.since = {}
        for bound in bounds:
            self._numbers_since(bound)
        if self.cache is not None:
            for key in list(self.cache):
                self.cache[key] = self._make(*key)

    def mutate(self, every: int = CHANGE_EVERY) -> int:
        """Change every ``every``-th product once more; how many changed."""
        numbers = changed_numbers(self.total, every)
        for i in numbers:
            self.versions[i] = self.versions.get(i, 0) + 1
        self._remake()
        return len(numbers)

    def reset(self) -> None:
        if self.versions:
            self.versions = {}
            self._remake()


# The flow's 10 mapped fields; 3 go through a transform (trim, to_decimal, upper).
MAPPINGS = [
    {"target": "sku", "source": "sku", "transforms": []},
    {"target": "name", "source": "name", "transforms": [{"op": "trim"}]},
    {"target": "description", "source": "description", "transforms": []},
    {"target": "price", "source": "price", "transforms": [{"op": "to_decimal", "places": 2}]},
    {"target": "currency", "source": "currency", "transforms": []},
    {"target": "quantity", "source": "stock", "transforms": []},
    {"target": "weight", "source": "weight_g", "transforms": []},
    {"target": "brand", "source": "brand", "transforms": [{"op": "upper"}]},
    {"target": "category", "source": "category", "transforms": []},
    {"target": "ean", "source": "ean", "transforms": []},
]


def map_record(r: dict) -> dict:
    """The flow's mapping written by hand: what a competent script would do."""
    return {
        "sku": r["sku"],
        "name": r["name"].strip(),
        "description": r["description"],
        "price": float(r["price"]),  # two places already; the hub sends decimals as JSON numbers
        "currency": r["currency"],
        "quantity": r["stock"],
        "weight": r["weight_g"],
        "brand": r["brand"].upper(),
        "category": r["category"],
        "ean": r["ean"],
    }


def canonical(record: dict) -> bytes:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_digest(record: dict) -> int:
    return int.from_bytes(hashlib.sha256(canonical(record)).digest())


def expected_digest(total: int, versions: dict[int, int] | None = None) -> dict:
    """What the target must hold after a sync of ``total`` records (``versions``: the changed ones):
    their count and the sum of the digests of their mapped forms (order does not matter; a missing,
    extra or wrong record shows)."""
    versions = versions or {}
    digest = 0
    for i in range(1, total + 1):
        digest = (digest + record_digest(map_record(source_record(i, versions.get(i, 0))))) % MOD
    return {"count": total, "digest": f"{digest:064x}"}
