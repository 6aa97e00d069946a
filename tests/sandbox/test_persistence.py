"""File-backed stores survive restarts; memory stores start from the seed; seeding is deterministic."""

import json

import httpx

from sandbox.seed import dataset
from sandbox.server import SYSTEMS, build
from sandbox.testing import running

from .conftest import crm_client, pim_client


def test_a_write_survives_a_restart(tmp_path):
    with running(["pim", "crm"], memory=False, data_dir=str(tmp_path)) as urls:
        assert (
            pim_client(urls["pim"])
            .patch("/api/rest/v1/products/KEEP-1", json={"family": "decor"})
            .status_code
            == 201
        )
        created = crm_client(urls["crm"]).post(
            "/crm/v3/objects/contacts", json={"properties": {"email": "kept@example.com"}}
        )
        assert created.status_code == 201
    assert (tmp_path / "pim.sqlite3").exists()
    with running(["pim", "crm"], memory=False, data_dir=str(tmp_path), seed=99) as urls:
        kept = pim_client(urls["pim"]).get("/api/rest/v1/products/KEEP-1")
        assert kept.status_code == 200 and kept.json()["family"] == "decor"
        assert (
            crm_client(urls["crm"])
            .get("/crm/v3/objects/contacts/kept@example.com", params={"idProperty": "email"})
            .status_code
            == 200
        )
        assert httpx.get(f"{urls['pim']}/_sandbox/info").json()["seed"] == 42, "kept state, not reseeded"
        # writes after a restart still stamp later than everything before
        later = pim_client(urls["pim"]).patch("/api/rest/v1/products/KEEP-2", json={"family": "decor"})
        assert later.status_code == 201
        client = pim_client(urls["pim"])
        recent = client.get(
            "/api/rest/v1/products",
            params={
                "pagination_type": "search_after",
                "search": json.dumps({"updated": [{"operator": ">", "value": "2025-12-01 00:00:00"}]}),
            },
        ).json()
        assert [p["identifier"] for p in recent["_embedded"]["items"]] == ["KEEP-1", "KEEP-2"]


def test_memory_mode_starts_from_the_seed():
    for _ in range(2):
        with running("pim") as url:
            client = pim_client(url)
            assert client.get("/api/rest/v1/products/FRESH-1").status_code == 404
            assert client.patch("/api/rest/v1/products/FRESH-1", json={}).status_code == 201


def test_reset_reseeds():
    with running("crm") as url:
        client = crm_client(url)
        client.post("/crm/v3/objects/contacts", json={"properties": {"email": "temp@example.com"}})
        assert httpx.post(f"{url}/_sandbox/reset").status_code == 200
        assert (
            client.get(
                "/crm/v3/objects/contacts/temp@example.com", params={"idProperty": "email"}
            ).status_code
            == 404
        )


def _snapshot(seed: int) -> dict:
    out = {}
    for name in SYSTEMS:
        app = build(name, store_path=None, seed=seed)
        store = app.store
        out[name] = {
            entity: store.scan_by_updated(entity)
            for entity in (
                "product",
                "customer",
                "order",
                "contact",
                "product.product",
                "stock.quant",
                "res.partner",
                "sale.order",
                "sale.order.line",
                "product_model",
                "attribute_option",
            )
        }
        app.close()
    return out


def test_seeding_is_deterministic():
    # (how long seeding takes is printed by ``python -m sandbox seed-check``; no timed assertion here)
    dataset.cache_clear()
    first = _snapshot(42)
    dataset.cache_clear()
    second = _snapshot(42)
    assert first == second
    dataset.cache_clear()
    other = dataset(7)
    assert other.customers[0]["email"] != dataset(42).customers[0]["email"]


def test_the_same_people_and_skus_across_systems():
    data = dataset(42)
    emails = {c["email"] for c in data.customers}
    assert len(emails) == 500 and all(e.split("@")[1].startswith("example.") for e in emails)
    crm_emails = {data.customers[i]["email"] for i in data.crm_customers}
    assert len(crm_emails) == 400 and crm_emails <= emails
    skus = {p["sku"] for p in data.products}
    assert {line["sku"] for o in data.orders for line in o["lines"]} <= skus
    assert {q["sku"] for q in data.stock} <= skus
    assert len({q["warehouse"] for q in data.stock}) == 3
