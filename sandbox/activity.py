"""Business activity for the demo: the stand-ins change on their own, as a live merchant's would.

``python -m sandbox serve --activity SECONDS`` (or ``SANDBOX_ACTIVITY_SECONDS``; off by default, and
in ``sandbox.testing.running`` unless ``activity=`` is given) runs one *tick* every N seconds over the
systems served in the process:

- shop: a new order (status ``pending``) from an existing customer for 1-3 existing products
  (the shop's own products once the catalog reached it, else the seed's SKUs), and now and then a
  customer changes their phone number — with their ``orders/created`` / ``customers/updated``
  webhooks;
- ERP: 3 stock quants get a new quantity (sales, receipts);
- PIM: every third tick, one product gets a new French and English name and a new price.

Every change goes through the same code as the vendor API and is stamped with the current time, so
incremental reads ("changed since") see it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from .seed import dataset

logger = logging.getLogger("sandbox.activity")

NAME_SUFFIXES = (("", ""), (" — édition 2026", " — 2026 edition"), (" — série limitée", " — limited series"))


class Activity:
    """Ticks of activity over ``apps`` ({name: SandboxApp}); ``tick()`` is also callable directly."""

    def __init__(self, apps: dict[str, Any], seconds: float, *, seed: int | None = None) -> None:
        if seconds <= 0:
            raise ValueError("the activity period must be positive")
        self.apps = apps
        self.seconds = float(seconds)
        self.rng = random.Random(seed)  # noqa: S311 - demo data, not crypto
        self.ticks = 0
        self.log: list[dict[str, Any]] = []  # the last ticks' summaries, newest last

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.seconds)
            try:
                self.tick()
            except Exception:  # a tick must never stop the servers
                logger.exception("sandbox activity tick failed")

    def tick(self) -> dict[str, Any]:
        self.ticks += 1
        summary: dict[str, Any] = {"tick": self.ticks}
        if "shop" in self.apps:
            summary["shop"] = shop_tick(self.apps["shop"], self.rng, customer_change=self.ticks % 3 == 0)
        if "erp" in self.apps:
            summary["erp"] = erp_tick(self.apps["erp"], self.rng)
        if "pim" in self.apps and self.ticks % 3 == 1:
            summary["pim"] = pim_tick(self.apps["pim"], self.rng)
        self.log = [*self.log[-49:], summary]
        return summary


def _random_doc(store: Any, entity: str, rng: random.Random) -> dict[str, Any] | None:
    total = store.count(entity)
    if not total:
        return None
    found = store.scan_by_id(entity, offset=rng.randrange(total), limit=1)
    return found[0] if found else None


def shop_tick(app: Any, rng: random.Random, *, customer_change: bool = False) -> dict[str, Any]:
    from .shop import _product_by_sku, place_order, save_customer

    store = app.store
    out: dict[str, Any] = {}
    customer = _random_doc(store, "customer", rng)
    if customer is not None:
        products = [p for p in dataset(app.seed).products if p["enabled"]]
        lines = []
        for p in rng.sample(products, rng.randint(1, 3)):
            shop_product = _product_by_sku(store, p["sku"])
            name = shop_product["name"] if shop_product else p["name_fr"]
            price = shop_product["price"] if shop_product else p["price"]
            lines.append({"sku": p["sku"], "name": name, "qty": rng.randint(1, 3), "price": price})
        order = place_order(store, customer, lines)
        app.emit("orders/created", {"entity_id": order["entity_id"], "increment_id": order["increment_id"]})
        out["order"] = {
            "entity_id": order["entity_id"],
            "increment_id": order["increment_id"],
            "customer_id": customer["id"],
            "grand_total": order["grand_total"],
        }
    if customer_change:
        someone = _random_doc(store, "customer", rng)
        if someone is not None and someone.get("addresses"):
            addresses = [dict(a) for a in someone["addresses"]]
            addresses[0]["telephone"] = f"+33 6 {rng.randrange(10**8):08d}"
            doc = save_customer(store, {"addresses": addresses}, someone)
            app.emit("customers/updated", {"entity_id": doc["id"]})
            out["customer_updated"] = doc["id"]
    return out


def erp_tick(app: Any, rng: random.Random, count: int = 3) -> dict[str, Any]:
    from .erp import execute

    store = app.store
    changed = {}
    for _ in range(count):
        quant = _random_doc(store, "stock.quant", rng)
        if quant is None:
            break
        rid = quant["_id"]
        quantity = max(0.0, float(quant["quantity"]) + rng.choice((-3, -2, -1, -1, 1, 5, 12)))
        execute(store, "stock.quant", "write", [[rid], {"quantity": quantity}], {})
        changed[rid] = quantity
    return {"stock_quants": changed}


def pim_tick(app: Any, rng: random.Random) -> dict[str, Any]:
    from .pim import upsert

    store = app.store
    product = None
    for _ in range(5):  # an enabled one, so that the catalog flow carries the change
        product = _random_doc(store, "product", rng)
        if product is None or product.get("enabled"):
            break
    if product is None:
        return {}
    names = {e["locale"]: e["data"] for e in product["values"].get("name", [])}
    fr, en = names.get("fr_FR", ""), names.get("en_US", "")
    for suffix_fr, suffix_en in NAME_SUFFIXES[1:]:
        fr, en = fr.replace(suffix_fr, ""), en.replace(suffix_en, "")
    suffix_fr, suffix_en = rng.choice(NAME_SUFFIXES)
    prices = product["values"].get("price", [{}])[0].get("data") or []
    amount = next((float(p["amount"]) for p in prices if p.get("currency") == "EUR"), 100.0)
    amount = round(max(1.0, amount * rng.choice((0.9, 0.95, 1.05, 1.1))), 2)
    upsert(
        store,
        product["identifier"],
        {
            "values": {
                "name": [
                    {"locale": "fr_FR", "scope": None, "data": fr + suffix_fr},
                    {"locale": "en_US", "scope": None, "data": en + suffix_en},
                ],
                "price": [
                    {"locale": None, "scope": None, "data": [{"amount": f"{amount:.2f}", "currency": "EUR"}]}
                ],
            }
        },
    )
    return {"product": product["identifier"], "name_fr": fr + suffix_fr, "price": amount}
