"""The Akeneo connector's catalog structure over real HTTP against the PIM stand-in: product models
(read to the last page, incremental through the ``updated`` search filter, collection PATCH with a bad
line), the options of the select attributes (paged attribute after attribute, resumable), channels and
locales."""

import itertools
import time
from datetime import UTC, datetime

import httpx
import pytest

from flows.connectors.akeneo import AkeneoConnector
from flows.connectors.base import ConnectionSettings, WriteMode
from flows.connectors.errors import ConfigError
from sandbox.credentials import PimCredentials
from sandbox.pim import ALL_LOCALES, CHANNELS
from sandbox.seed import dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

CREDS = PimCredentials()
SEED = dataset(42)
_ids = itertools.count(8900)


@pytest.fixture
def pim():
    with running("pim") as url:
        yield url


def connector(url, **params):
    return AkeneoConnector(
        ConnectionSettings(
            system_id=next(_ids),
            name="pim",
            params={"base_url": url, "client_id": CREDS.client_id, "username": CREDS.username, **params},
            secrets={"client_secret": CREDS.secret, "password": CREDS.password},
        )
    )


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def seeded_options():
    colors = {p["color"].replace(" ", "_") for p in SEED.products}
    materials = {p["material"] for p in SEED.products}
    return {f"color/{c}" for c in colors} | {f"material/{m}" for m in materials}


def test_product_models_read_to_the_last_page_with_an_odd_page_size(pim):
    conn = connector(pim)
    _pages, records = read_all(conn, "product_models", limit=None)
    codes = [r["code"] for r in records]
    assert len(codes) == len(set(codes)) == 2 * len(SEED.families)
    assert {r["family"] for r in records} == {f["code"] for f in SEED.families}
    assert all(r["family_variant"] == f"{r['family']}_by_color" for r in records)
    # 16 models over pages of 100 = one page; the stand-in pages at any size: 7 → 3 pages
    small = connector(pim)
    small_pages = list(small.read("product_models", limit=7))
    assert sum(len(p.records) for p in small_pages) == 7
    resumed = list(small.read("product_models", cursor=small_pages[-1].cursor))
    rest = [r["code"] for p in resumed for r in p.records]
    assert sorted(codes[:7] + rest) == sorted(codes)


def test_product_models_write_with_a_bad_line_then_read_back_incrementally(pim):
    conn = connector(pim, default_locale="en_US")
    since = datetime.now(UTC).isoformat()
    time.sleep(1.1)  # Akeneo's filter compares whole seconds (the connector asks from a second earlier)
    results = conn.write(
        "product_models",
        [
            {"code": "chairs_model_9", "family_variant": "chairs_by_color", "values": {"name": "Lounge"}},
            {"code": "broken_model", "family_variant": "no_such_variant"},
            {"code": "tables_model_1", "categories": ["promotions"]},
            {"family_variant": "chairs_by_color"},
        ],
    )
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[0].action == "created" and results[2].action == "updated"
    assert "family variant" in results[1].error.message
    assert "code" in results[3].error.message
    _, changed = read_all(conn, "product_models", since=since)
    assert sorted(r["code"] for r in changed) == ["chairs_model_9", "tables_model_1"]
    created = conn.fetch("product_models", ["chairs_model_9"])[0]
    assert created["family"] == "chairs"
    assert created["values"]["name"] == [{"locale": "en_US", "scope": None, "data": "Lounge"}]
    # create-only refuses an existing model, update-only a missing one
    refused = conn.write("product_models", [{"code": "tables_model_1"}], mode=WriteMode.CREATE)
    assert not refused[0].ok and refused[0].error.status == 409
    missing = conn.write("product_models", [{"code": "nope_model"}], mode=WriteMode.UPDATE)
    assert not missing[0].ok and missing[0].error.status == 404


def test_attribute_options_of_every_select_attribute(pim):
    conn = connector(pim)
    _, records = read_all(conn, "attribute_options")
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids))
    assert set(ids) == seeded_options()
    assert all(r["id"] == f"{r['attribute']}/{r['code']}" and "_links" not in r for r in records)
    # a read cut every 5 records resumes where it stopped, across attribute boundaries
    collected, cursor = [], None
    for _ in range(50):
        pages = list(conn.read("attribute_options", cursor=cursor, limit=5))
        collected += [r["id"] for p in pages for r in p.records]
        cursor = pages[-1].cursor
        if cursor is None:
            break
    assert collected == ids
    some = sorted(ids)[:2]
    assert sorted(r["id"] for r in conn.fetch("attribute_options", some)) == some


def test_channels_and_locales_are_read_only(pim):
    conn = connector(pim)
    _, channels = read_all(conn, "channels")
    assert sorted(c["code"] for c in channels) == sorted(code for code, _labels, _locales in CHANNELS)
    _, locales = read_all(conn, "locales", limit=None)
    assert sorted(loc["code"] for loc in locales) == sorted(ALL_LOCALES)
    assert {loc["code"] for loc in locales if loc["enabled"]} == {"fr_FR", "en_US"}
    with pytest.raises(ConfigError, match="read-only"):
        conn.write("channels", [{"code": "web"}])
    declared = {e.key: e for e in conn.entities()}
    assert {"product_models", "attribute_options", "channels", "locales"} <= set(declared)


def test_discover_lists_the_new_entities_with_samples(pim):
    found = {e.key: e for e in connector(pim).discover(sample_size=2)}
    assert found["product_models"].samples and found["attribute_options"].samples
    assert "family_variant" in {f.name for f in found["product_models"].fields}


def test_the_stand_in_refuses_options_of_an_unknown_attribute(pim):
    conn = connector(pim)
    token = conn._access_token()
    response = httpx.get(
        f"{pim}/api/rest/v1/attributes/nope/options", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404 and "nope" in response.json()["message"]


def test_products_through_the_uuid_endpoints(pim):
    conn = connector(pim, default_locale="en_US")
    _, records = read_all(conn, "products_uuid", limit=None)
    uuids = [r["uuid"] for r in records]
    assert len(records) == len(SEED.products) and len(set(uuids)) == len(uuids)
    assert uuids == sorted(uuids)  # search_after on the UUID
    assert {r["identifier"] for r in records} == {p["sku"] for p in SEED.products}
    some = records[5]
    assert conn.fetch("products_uuid", [some["uuid"]])[0]["identifier"] == some["identifier"]

    since = datetime.now(UTC).isoformat()
    time.sleep(1.1)
    new = {"identifier": "UUID-NEW-1", "family": "chairs", "values": {"name": "Tabouret"}}
    results = conn.write(
        "products_uuid",
        [
            new,
            {"uuid": some["uuid"], "enabled": not some["enabled"]},
            {"family": "chairs"},  # neither a UUID nor an identifier
            {"identifier": "UUID-BAD", "family": "no_such_family"},
        ],
    )
    assert [r.ok for r in results] == [True, True, False, False]
    assert results[0].action == "created" and results[1].target_id == some["uuid"]
    assert "UUID" in results[2].error.message and "family" in results[3].error.message
    again = conn.write("products_uuid", [new])  # the same record again: the same product, not a second
    assert again[0].ok and again[0].target_id == results[0].target_id
    _, changed = read_all(conn, "products_uuid", since=since)
    assert sorted(r["identifier"] for r in changed) == sorted(["UUID-NEW-1", some["identifier"]])
    created = conn.fetch("products", ["UUID-NEW-1"])[0]
    assert created["values"]["name"] == [{"locale": "en_US", "scope": None, "data": "Tabouret"}]
    # delete by UUID; deleting again is not an error
    assert [r.action for r in conn.delete("products_uuid", [results[0].target_id] * 2)] == [
        "deleted",
        "unchanged",
    ]
    assert conn.fetch("products", ["UUID-NEW-1"]) == []
