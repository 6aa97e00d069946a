"""The WooCommerce REST v3 connector over real HTTP against the sandbox's WooCommerce stand-in: check,
discover, full and incremental reads to the last page, batch writes with a bad record, deletes, GDPR
find/erase/export, rate limits and malformed answers."""

from datetime import UTC, datetime

import httpx
import pytest

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, TransientError
from flows.connectors.registry import get_connector_class
from flows.connectors.woocommerce import ORDER_MASK, WooCommerceConnector, woo_since
from sandbox.credentials import WooCredentials
from sandbox.testing import running

pytestmark = pytest.mark.django_db

CREDS = WooCredentials()
API = "/wp-json/wc/v3"


@pytest.fixture
def woo():
    """A fresh WooCommerce stand-in per test: seed data, no faults."""
    with running("woo") as url:
        yield url


def connector(url, *, key=CREDS.key, secret=CREDS.secret, params=None, **settings):
    return WooCommerceConnector(
        ConnectionSettings(
            system_id=None,
            name="woo",
            params={"base_url": url, **(params or {})},
            secrets={"consumer_key": key, "consumer_secret": secret},
            **settings,
        )
    )


def api(url):
    return httpx.Client(base_url=f"{url}{API}", auth=(CREDS.key, CREDS.secret), timeout=30)


def total(url, path, **params):
    return int(api(url).get(path, params={"per_page": 1, **params}).headers["X-WP-Total"])


def faults(url, **knobs):
    httpx.put(f"{url}/_sandbox/faults", json=knobs).raise_for_status()


def stats(url):
    return httpx.get(f"{url}/_sandbox/stats").json()


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


# --- configuration and connection -------------------------------------------------------------


def test_registered_with_its_form_help_and_gdpr_declaration():
    cls = get_connector_class("woocommerce")
    assert cls is WooCommerceConnector and str(cls.label) == "WooCommerce"
    assert "base_url" in cls.parameters
    assert cls.sensitive_parameters == ("consumer_key", "consumer_secret")
    assert "Settings > Advanced > REST API" in str(cls.help_text) and "Read/Write" in str(cls.help_text)
    assert {s.entity: s.strategy for s in cls.subject_entities} == {"customers": "delete", "orders": "mask"}
    assert (
        cls.clean_parameters(
            {"base_url": "https://s.example"}, {"consumer_key": "ck_1", "consumer_secret": "cs_1"}
        )
        == {}
    )
    errors = cls.clean_parameters({"base_url": "https://s.example/wp-json/wc/v3"}, {"consumer_key": "x"})
    assert set(errors) == {"base_url", "consumer_key", "consumer_secret"}


def test_check_ok_wrong_keys_and_refused(woo):
    assert connector(woo).check().ok
    wrong = connector(woo, secret="cs_wrong").check()
    assert not wrong.ok and wrong.kind == "auth" and "consumer key or secret" in wrong.message
    with pytest.raises(AuthError):
        read_all(connector(woo, key="ck_nobody"), "products")
    port = int(woo.rsplit(":", 1)[1])
    with running("woo") as other:  # a port nobody listens on any more once this block ends
        closed = other
    refused = connector(closed).check()
    assert not refused.ok and refused.kind == "refused", (port, refused)


def test_keys_as_query_parameters(woo):
    conn = connector(woo, params={"query_string_auth": True})
    assert conn.check().ok
    _pages, records = read_all(conn, "customers", limit=3)
    assert len(records) == 3


def test_discover_declares_entities_with_fields_and_samples(woo):
    found = {e.key: e for e in connector(woo).discover(sample_size=3)}
    assert set(found) == {"products", "variations", "orders", "customers"}
    for entity in found.values():
        assert len(entity.samples) == 3 and entity.cursor_field == "date_modified_gmt"
    assert all(s["parent_id"] for s in found["variations"].samples)
    fields = {f.name: f for f in found["orders"].fields}
    assert fields["billing.email"].personal == "email" and fields["shipping.address_1"].personal == "address"
    assert Capability.SUBJECT_ERASE in found["customers"].capabilities
    assert found["products"].natural_keys == ("sku",) and found["customers"].natural_keys == ("email",)


# --- reads --------------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ["products", "orders", "customers"])
def test_full_read_to_the_last_page_with_an_odd_page_size(woo, entity):
    conn = connector(woo)
    conn.page_size = 37
    expected = total(woo, entity, **({"role": "all"} if entity == "customers" else {}))
    pages, records = read_all(conn, entity)
    assert len(records) == expected == len({r["id"] for r in records})
    assert [r["id"] for r in records] == sorted(r["id"] for r in records)
    assert len(pages) == -(-expected // 37) and pages[-1].has_more is False and pages[-1].cursor is None
    assert all(p.has_more for p in pages[:-1]) and pages[0].total == expected


def test_variations_of_every_variable_product_and_resume_from_a_cursor(woo):
    client = api(woo)
    parents = client.get("/products", params={"type": "variable", "per_page": 100}).json()
    expected = {v for p in parents for v in p["variations"]}
    conn = connector(woo)
    conn.page_size = 2  # products of 3 variations: two pages each
    pages, records = read_all(conn, "variations")
    assert {r["id"] for r in records} == expected and len(records) == len(expected)
    assert all(r["parent_id"] in {p["id"] for p in parents} for r in records)
    resumed = [r["id"] for p in conn.read("variations", cursor=pages[4].cursor) for r in p.records]
    assert resumed == [r["id"] for p in pages[5:] for r in p.records]


def test_a_read_resumes_from_a_pages_cursor_and_limit_stops_early(woo):
    conn = connector(woo)
    conn.page_size = 50
    pages, records = read_all(conn, "products")
    resumed = [r["id"] for p in conn.read("products", cursor=pages[1].cursor) for r in p.records]
    assert resumed == [r["id"] for r in records[100:]]
    limited = list(connector(woo).read("products", limit=7))
    assert len(limited) == 1 and len(limited[0].records) == 7 and not limited[0].has_more


@pytest.mark.parametrize("entity", ["products", "variations", "orders", "customers"])
def test_incremental_read_returns_exactly_the_changed_records(woo, entity):
    conn = connector(woo)
    _pages, records = read_all(conn, entity, limit=6)
    changed = records[1:6:2]
    since = datetime.now(UTC).isoformat()
    assert read_all(conn, entity, since="2025-11-30T00:00:00")[1] == []  # every seeded record is older
    edits = {
        "products": lambda r: {"id": r["id"], "stock_quantity": 3},
        "variations": lambda r: {"id": r["id"], "parent_id": r["parent_id"], "regular_price": "12.50"},
        "orders": lambda r: {"id": r["id"], "status": "on-hold"},
        "customers": lambda r: {"id": r["id"], "first_name": "Changed"},
    }[entity]
    results = conn.write(entity, [edits(r) for r in changed], WriteMode.UPDATE)
    assert all(r.ok and r.action == "updated" for r in results), results
    _pages, found = read_all(conn, entity, since=since)
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in changed)


def test_since_is_wordpress_seconds_in_gmt_from_the_bounds_own_second():
    # modified_after is strict at whole seconds: the bound's own second is asked again
    assert woo_since("2025-05-01T12:00:00Z") == "2025-05-01T11:59:59"
    assert woo_since("2025-05-01T14:00:00+02:00") == "2025-05-01T11:59:59"
    assert woo_since("2025-05-01T12:00:00.250000") == "2025-05-01T11:59:59"
    with pytest.raises(ConfigError):
        woo_since("yesterday")


def test_fetch_and_lookup(woo):
    conn = connector(woo)
    _pages, products = read_all(conn, "products", limit=3)
    _pages, variations = read_all(conn, "variations", limit=2)
    assert [r["id"] for r in conn.fetch("products", [products[2]["id"], 999999, products[0]["id"]])] == [
        products[2]["id"],
        products[0]["id"],
    ]
    assert [r["id"] for r in conn.fetch("variations", [variations[1]["id"], products[0]["id"]])] == [
        variations[1]["id"]
    ]
    by_sku = conn.lookup("products", "sku", [products[1]["sku"], variations[0]["sku"]])
    assert [r["id"] for r in by_sku] == [products[1]["id"]]
    assert [r["id"] for r in conn.lookup("variations", "sku", [variations[0]["sku"]])] == [
        variations[0]["id"]
    ]
    _pages, customers = read_all(conn, "customers", limit=1)
    found = conn.lookup("customers", "email", [customers[0]["email"].upper()])
    assert [r["id"] for r in found] == [customers[0]["id"]]


# --- writes -------------------------------------------------------------------------------------


def test_batch_with_one_bad_record_writes_the_others(woo):
    conn = connector(woo)
    _pages, existing = read_all(conn, "products", limit=1)
    records = [
        {
            "sku": "HUB-NEW-1",
            "name": "New one",
            "regular_price": "10.00",
            "manage_stock": True,
            "stock_quantity": 4,
        },
        {"id": existing[0]["id"], "sku": "HUB-NEW-1"},  # takes the SKU of the record above: refused
        {"sku": "HUB-NEW-2", "name": "New two", "regular_price": "20.00"},
    ]
    results = conn.write("products", records)
    assert [r.ok for r in results] == [True, False, True]
    assert (
        results[1].error.message == "Invalid or duplicated SKU."
        and results[1].error.reason == "product_invalid_sku"
    )
    assert results[0].action == "created" and results[2].action == "created"
    created = conn.fetch("products", [results[0].target_id, results[2].target_id])
    assert [(p["sku"], p["stock_quantity"], p["stock_status"]) for p in created] == [
        ("HUB-NEW-1", 4, "instock"),
        ("HUB-NEW-2", None, "instock"),
    ]
    assert conn.fetch("products", [existing[0]["id"]])[0]["sku"] == existing[0]["sku"]
    # An upsert matches by SKU: the same records again update them.
    again = conn.write("products", [{"sku": "HUB-NEW-2", "stock_quantity": 0, "manage_stock": True}])
    assert again[0].ok and again[0].action == "updated" and again[0].target_id == results[2].target_id
    assert conn.fetch("products", [results[2].target_id])[0]["stock_status"] == "outofstock"


def test_writes_go_in_batches_of_100_and_variations_per_parent(woo):
    conn = connector(woo)
    before = stats(woo)["total"]
    records = [{"email": f"batch{i}@example.org", "first_name": f"B{i}"} for i in range(150)]
    records[120]["email"] = "not-an-email"
    results = conn.write("customers", records, WriteMode.CREATE)
    assert sum(r.ok for r in results) == 149 and not results[120].ok
    assert results[120].error.reason == "registration-error-invalid-email"
    assert stats(woo)["total"] - before == 2  # two batch calls, nothing else
    taken = conn.write("customers", [{"email": "batch0@example.org"}], WriteMode.CREATE)
    assert not taken[0].ok and taken[0].error.reason == "registration-error-email-exists"
    _pages, variations = read_all(conn, "variations", limit=4)
    stock = conn.write("variations", [{"sku": v["sku"], "stock_quantity": 9} for v in variations])
    assert all(r.ok and r.action == "updated" for r in stock)
    assert {v["stock_quantity"] for v in conn.fetch("variations", [v["id"] for v in variations])} == {9}
    orphan = conn.write("variations", [{"sku": "NO-SUCH-VAR", "regular_price": "1.00"}])
    assert not orphan[0].ok and "parent_id" in orphan[0].error.message


def test_delete_products_and_variations(woo):
    conn = connector(woo)
    _pages, products = read_all(conn, "products", limit=2)
    _pages, variations = read_all(conn, "variations", limit=1)
    results = conn.delete("products", [str(products[0]["id"]), "999999"])
    assert [r.ok for r in results] == [True, True]
    assert conn.fetch("products", [products[0]["id"]]) == []
    assert conn.delete("variations", [str(variations[0]["id"])])[0].ok
    assert conn.fetch("variations", [variations[0]["id"]]) == []


# --- GDPR -----------------------------------------------------------------------------------------


def _customer_with_orders(url):
    client = api(url)
    for order in client.get("/orders", params={"per_page": 100}).json():
        if order["customer_id"]:
            return client.get(f"/customers/{order['customer_id']}").json()
    raise AssertionError("no seeded order has a customer")


def test_gdpr_find_erase_and_export(woo):
    conn = connector(woo)
    person = _customer_with_orders(woo)
    found = conn.find_subject({"email": person["email"].upper()})
    entities = {r.entity for r in found}
    assert entities == {"customers", "orders"}
    orders = [r for r in found if r.entity == "orders"]
    assert all(r.data["billing"]["email"].lower() == person["email"].lower() for r in orders)
    assert orders[0].label == f"order #{orders[0].data['number']}"
    exported = conn.export_subject("customers", str(person["id"]))
    assert exported["email"] == person["email"]

    erased = conn.erase_subject("customers", str(person["id"]), strategy="delete")
    assert erased.ok and erased.action == "erased"
    assert conn.erase_subject("customers", str(person["id"]), strategy="delete").action == "unchanged"
    for record in orders:
        masked = conn.erase_subject("orders", record.id, strategy="mask")
        assert masked.ok and masked.action == "masked"
        assert conn.erase_subject("orders", record.id, strategy="mask").action == "unchanged"
    kept = conn.fetch("orders", [r.id for r in orders])
    assert len(kept) == len(orders)  # the orders stay, as guest orders, without the person
    for order in kept:
        assert order["customer_id"] == 0
        assert (
            order["billing"]["email"] == ORDER_MASK["billing.email"]
            and order["billing"]["first_name"] == "[deleted]"
        )
        assert order["shipping"]["address_1"] == "[deleted]" and order["billing"]["phone"] == ""
    assert conn.find_subject({"email": person["email"]}) == []
    refused = conn.erase_subject("orders", orders[0].id, strategy="delete")
    assert not refused.ok and refused.error.reason == "config"


# --- faults ---------------------------------------------------------------------------------------


def test_429_with_retry_after_is_honoured_and_the_read_completes(woo):
    faults(woo, rate_limit_rate=0.3, retry_after=0, seed=3)
    conn = connector(woo)
    conn.page_size = 40
    _pages, records = read_all(conn, "orders")
    assert len(records) == total(woo, "orders")
    assert stats(woo)["faults"]["rate_limit"] >= 1


def test_rate_limited_to_the_end_is_a_rate_limited_error(woo):
    faults(woo, rate_limit_rate=1.0, retry_after=0)
    conn = connector(woo)
    conn.retries = 1
    with pytest.raises(TransientError) as raised:
        read_all(conn, "products")
    assert raised.value.kind == "rate_limited"


def test_malformed_json_is_a_transient_error(woo):
    faults(woo, malformed_rate=1.0)
    with pytest.raises(TransientError) as raised:
        read_all(connector(woo), "products")
    assert raised.value.reason == "malformed"
    result = connector(woo).check()
    assert not result.ok and result.kind == "malformed"
