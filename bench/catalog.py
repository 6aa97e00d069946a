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


def source_record(i: int) -> dict:
    """Product number ``i`` (from 1) of the source, always the same for the same number."""
    cents = (i * 7919) % 250_000 + 99
    return {
        "id": i,
        "sku": f"SKU-{i:07d}",
        "name": f"  {WORDS[i % 11].title()} {CATEGORIES[i % 9][:-1]} {i}  ",
        "description": f"A {WORDS[(i * 3) % 11]} {CATEGORIES[i % 9][:-1]} made to last, model {i % 977}.",
        "price": f"{cents // 100}.{cents % 100:02d}",
        "currency": "EUR",
        "stock": (i * 31) % 500,
        "weight_g": 500 + (i * 13) % 40_000,
        "brand": BRANDS[i % 8],
        "category": CATEGORIES[i % 9],
        "ean": str(2_000_000_000_000 + i),
        "active": True,
        "updated_at": f"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00",
    }


def source_record_json(i: int) -> str:
    """``source_record(i)`` as JSON text, written directly (the source server's fast path)."""
    cents = (i * 7919) % 250_000 + 99
    word, category = WORDS[i % 11], CATEGORIES[i % 9]
    return (
        f'{{"id":{i},"sku":"SKU-{i:07d}","name":"  {word.title()} {category[:-1]} {i}  ",'
        f'"description":"A {WORDS[(i * 3) % 11]} {category[:-1]} made to last, model {i % 977}.",'
        f'"price":"{cents // 100}.{cents % 100:02d}","currency":"EUR","stock":{(i * 31) % 500},'
        f'"weight_g":{500 + (i * 13) % 40_000},"brand":"{BRANDS[i % 8]}","category":"{category}",'
        f'"ean":"{2_000_000_000_000 + i}","active":true,'
        f'"updated_at":"2026-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00+00:00"}}'
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


def expected_digest(total: int) -> dict:
    """What the target must hold after a sync of ``total`` records: their count and the sum of the
    digests of their mapped forms (order does not matter; a missing, extra or wrong record shows)."""
    digest = 0
    for i in range(1, total + 1):
        digest = (digest + record_digest(map_record(source_record(i)))) % MOD
    return {"count": total, "digest": f"{digest:064x}"}
