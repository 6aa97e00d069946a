"""The Shopify Admin GraphQL connector over real HTTP against the sandbox's Shopify stand-in: check,
discover, full and incremental reads, writes with one bad record, inventory quantities, cost-based
throttling, malformed answers and GDPR (find, erase, export)."""

import httpx
import pytest

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, RateLimited, TransientError
from flows.connectors.registry import get_connector_class
from flows.connectors.shopify import ShopifyConnector, gid_number
from sandbox.credentials import ShopifyCredentials
from sandbox.seed import dataset, shared_person
from sandbox.shopify import PRODUCT_EVERY
from sandbox.testing import running

pytestmark = pytest.mark.django_db

TOKEN = ShopifyCredentials().token
SEED = dataset(42)
PRODUCTS = SEED.products[::PRODUCT_EVERY]


@pytest.fixture
def shop():
    """A fresh stand-in per test, with Shopify Plus's bucket (20,000 points, 1,000 a second): full
    reads on the Standard plan's 100 a second wait about a minute; throttling is tested on its own."""
    with running("shopify", options={"shopify": {"bucket_max": 20000, "restore_rate": 1000}}) as url:
        yield url


def connector(url, *, token=TOKEN, params=None, **settings):
    return ShopifyConnector(
        ConnectionSettings(
            system_id=None,
            name="shopify",
            params={"base_url": url, **(params or {})},
            secrets={"access_token": token},
            **settings,
        )
    )


def gql(url, query, variables=None):
    response = httpx.post(
        f"{url}/admin/api/2025-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert response.status_code == 200
    return response.json()


def info(url):
    return httpx.get(f"{url}/_sandbox/info").json()


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


# --- configuration and connection -------------------------------------------------------------


def test_registered_with_its_form_help_and_capabilities():
    cls = get_connector_class("shopify")
    assert cls is ShopifyConnector and cls.label == "Shopify"
    assert {"base_url", "api_version"} <= set(cls.parameters)
    assert cls.parameters["api_version"].initial == "2025-10"
    assert cls.sensitive_parameters == ("access_token",)
    assert "Develop apps" in str(cls.help_text) and "write_inventory" in str(cls.help_text)
    assert {
        Capability.SUBJECT_LOOKUP,
        Capability.SUBJECT_ERASE,
        Capability.SUBJECT_EXPORT,
    } <= cls.capabilities
    assert cls.clean_parameters({"base_url": "https://x.myshopify.com"}, {"access_token": "shpat_x"}) == {}
    errors = cls.clean_parameters({"base_url": "https://x.myshopify.com/admin", "api_version": "2025-11"}, {})
    assert set(errors) == {"access_token", "api_version", "base_url"}


def test_check_ok_refused_and_wrong_version(shop):
    assert connector(shop).check().ok
    result = connector(shop, token="shpat_wrong").check()
    assert not result.ok and result.kind == "auth"
    assert "Shopify refused the access token (HTTP 401)" in result.message
    with pytest.raises(AuthError):
        read_all(connector(shop, token="shpat_wrong"), "products")
    result = connector(shop, params={"api_version": "2024-01"}).check()
    assert not result.ok and result.kind == "config" and "2024-01" in result.message


def test_check_connection_refused():
    with running("shopify") as url:
        pass  # the server is gone: nothing listens on its port any more
    result = connector(url).check()
    assert not result.ok and result.kind == "refused"


def test_discover_lists_every_entity_with_fields_and_samples(shop):
    found = {e.key: e for e in connector(shop).discover(sample_size=3)}
    assert set(found) == {"products", "variants", "inventory_levels", "orders", "customers"}
    for entity in found.values():
        assert len(entity.samples) == 3, entity.key
    products = found["products"]
    assert products.natural_keys == ("handle",) and products.cursor_field == "updatedAt"
    assert products.samples[0]["id"].startswith("gid://shopify/Product/")
    assert isinstance(products.samples[0]["variants"], list)  # connections flattened
    fields = {f.name: f for f in found["customers"].fields}
    assert fields["email"].personal == "email" and fields["lastName"].personal == "name"
    assert fields["defaultAddress"].personal == "address"
    assert found["inventory_levels"].samples[0]["available"] is not None
    assert Capability.WRITE not in found["orders"].capabilities


# --- reads --------------------------------------------------------------------------------------


def test_full_read_to_the_last_page(shop):
    conn = connector(shop)
    pages, records = read_all(conn, "products")
    assert len(records) == len(PRODUCTS) and len({r["id"] for r in records}) == len(PRODUCTS)
    assert {r["variants"][0]["sku"] for r in records} == {p["sku"] for p in PRODUCTS}
    assert len(pages) == -(-len(PRODUCTS) // conn.page_sizes["products"])
    assert pages[-1].has_more is False and pages[-1].cursor is None
    assert all(p.has_more and p.cursor for p in pages[:-1])
    _pages, customers = read_all(conn, "customers")
    assert {c["email"] for c in customers} == {c["email"] for c in SEED.customers}
    _pages, orders = read_all(conn, "orders")
    assert len(orders) == len(SEED.orders)
    assert sum(len(o["lineItems"]) for o in orders) == sum(len(o["lines"]) for o in SEED.orders)
    _pages, levels = read_all(conn, "inventory_levels")
    sold = {p["sku"] for p in PRODUCTS}
    assert len(levels) == sum(1 for q in SEED.stock if q["sku"] in sold)
    assert len({lv["id"] for lv in levels}) == len(levels)


def test_resume_from_a_page_cursor(shop):
    conn = connector(shop)
    pages = list(conn.read("variants"))
    resumed = [r for p in conn.read("variants", cursor=pages[1].cursor) for r in p.records]
    assert [r["id"] for r in resumed] == [r["id"] for p in pages[2:] for r in p.records]
    with pytest.raises(ConfigError):
        list(conn.read("variants", cursor="not json"))


def test_incremental_read_is_exact(shop):
    conn = connector(shop)
    _pages, before = read_all(conn, "products")
    since = max(r["updatedAt"] for r in before)
    boundary = {r["id"] for r in before if r["updatedAt"] == since}
    changed = [before[3], before[40], before[100]]
    results = conn.write("products", [{"id": r["id"], "title": r["title"] + " (new)"} for r in changed])
    assert all(r.ok and r.action == "updated" for r in results)
    _pages, after = read_all(conn, "products", since=since)
    # inclusive bound: what changed since, plus the records of that very second (unchanged, the engine
    # skips them by hash)
    assert {r["id"] for r in after} == {r["id"] for r in changed} | boundary
    assert {r["title"] for r in after if r["id"] not in boundary} == {r["title"] + " (new)" for r in changed}
    # nothing changed since the newest: only that second's records come back
    newest = max(r["updatedAt"] for r in after)
    _pages, again = read_all(conn, "products", since=newest)
    assert {r["id"] for r in again} == {r["id"] for r in after if r["updatedAt"] == newest}


def test_fetch_and_lookup(shop):
    conn = connector(shop)
    _pages, products = read_all(conn, "products", limit=5)
    fetched = conn.fetch(
        "products", [products[1]["id"], gid_number(products[0]["id"]), "gid://shopify/Product/9"]
    )
    assert [p["id"] for p in fetched] == [products[1]["id"], products[0]["id"]]
    sku = PRODUCTS[7]["sku"]
    (variant,) = conn.lookup("variants", "sku", [sku])
    assert variant["sku"] == sku and variant["product"]["id"]
    email = SEED.customers[12]["email"]
    (customer,) = conn.lookup("customers", "email", [email.upper()])
    assert customer["email"] == email
    levels = conn.lookup("inventory_levels", "sku", [sku])
    assert levels and all(lv["sku"] == sku for lv in levels)
    assert conn.fetch("inventory_levels", [levels[0]["id"]]) == [levels[0]]


# --- writes -------------------------------------------------------------------------------------


def test_write_batch_with_one_bad_record(shop):
    conn = connector(shop)
    records = [
        {
            "title": "Hub chair",
            "handle": "hub-chair",
            "status": "DRAFT",
            "variants": [{"sku": "HUB-1", "price": 49.9}],
        },
        {"title": "", "handle": "no-title"},  # Shopify: Title can't be blank
        {
            "title": "Hub sofa",
            "handle": "hub-sofa",
            "variants": [{"sku": f"SOFA-{i}", "price": 100 + i} for i in range(12)],
        },
        {"title": "Hub table", "handle": "hub-table", "tags": "oak, hub"},
        {"title": "Hub lamp", "handle": "hub-lamp", "variants": [{"sku": "HUB-3", "price": "abc"}]},
    ]
    results = conn.write("products", records)
    assert [r.ok for r in results] == [True, False, True, True, False]
    assert "Title can't be blank" in results[1].error.message
    assert "refused its variants" in results[4].error.message and "decimal" in results[4].error.message
    created = conn.fetch("products", [r.target_id for r in results if r.ok])
    assert created[0]["handle"] == "hub-chair" and [v["sku"] for v in created[0]["variants"]] == ["HUB-1"]
    assert created[0]["variants"][0]["price"] == "49.90"
    # more variants than a read asks for with each product: the rest are fetched too
    assert [v["sku"] for v in created[1]["variants"]] == [f"SOFA-{i}" for i in range(12)]
    assert sorted(created[2]["tags"]) == ["hub", "oak"]
    _pages, everything = read_all(conn, "products")
    (sofa,) = [p for p in everything if p["handle"] == "hub-sofa"]
    assert len(sofa["variants"]) == 12
    # upsert by handle: the same records again update, no duplicates
    again = conn.write(
        "products",
        [{"title": "Hub chair v2", "handle": "hub-chair", "variants": [{"sku": "HUB-1", "price": "59"}]}],
    )
    assert again[0].ok and again[0].action == "updated" and again[0].target_id == results[0].target_id
    (chair,) = conn.fetch("products", [results[0].target_id])
    assert (
        chair["title"] == "Hub chair v2"
        and chair["variants"][0]["price"] == "59.00"
        and len(chair["variants"]) == 1
    )


def test_variants_and_customers_writes(shop):
    conn = connector(shop)
    sku = PRODUCTS[2]["sku"]
    results = conn.write(
        "variants",
        [{"sku": sku, "price": "12.50"}, {"sku": "NOPE-1", "price": "1"}, {"sku": sku, "price": "-3"}],
    )
    assert results[0].ok and results[0].action == "updated"
    assert not results[1].ok and "productId" in results[1].error.message
    assert not results[2].ok and "greater than or equal to 0" in results[2].error.message
    assert conn.lookup("variants", "sku", [sku])[0]["price"] == "12.50"
    people = [
        {"email": "new.person@example.org", "firstName": "New", "lastName": "Person"},
        {"email": "not-an-email", "lastName": "Bad"},
        {"email": SEED.customers[0]["email"], "note": "VIP"},
    ]
    results = conn.write("customers", people)
    assert [(r.ok, r.action) for r in results[::2]] == [(True, "created"), (True, "updated")]
    assert not results[1].ok and "Email is invalid" in results[1].error.message
    assert conn.lookup("customers", "email", [SEED.customers[0]["email"]])[0]["note"] == "VIP"
    created = conn.write("customers", [{"email": "new.person@example.org"}], WriteMode.CREATE)
    assert not created[0].ok and created[0].error.reason == "conflict"


def test_inventory_set_quantities_with_a_bad_record(shop):
    conn = connector(shop)
    _pages, levels = read_all(conn, "inventory_levels", limit=3)
    records = [
        {
            "inventoryItemId": levels[0]["inventoryItemId"],
            "locationId": levels[0]["locationId"],
            "available": 7,
        },
        {
            "inventoryItemId": "gid://shopify/InventoryItem/42",
            "locationId": levels[0]["locationId"],
            "available": 1,
        },
        {"sku": levels[1]["sku"], "locationName": levels[1]["locationName"], "available": 11},
        {"inventoryItemId": levels[2]["inventoryItemId"], "locationId": "Nowhere", "available": 2},
    ]
    results = conn.write("inventory_levels", records)
    assert [r.ok for r in results] == [True, False, True, False]
    assert "inventory item could not be found" in results[1].error.message
    assert "Nowhere" in results[3].error.message
    assert results[0].target_id == levels[0]["id"]
    now = {
        lv["id"]: lv["available"] for lv in conn.fetch("inventory_levels", [levels[0]["id"], levels[1]["id"]])
    }
    assert now == {levels[0]["id"]: 7, levels[1]["id"]: 11}


# --- throttling, faults ---------------------------------------------------------------------------


def test_throttled_answers_are_waited_out_and_the_read_completes():
    # A small bucket (700 points, 400 a second); a products page asks 602 points.
    with running("shopify", options={"shopify": {"bucket_max": 700, "restore_rate": 400}}) as url:
        # Another client of the same app (another hub process) spends the bucket: ~50 points left,
        # which take more than a second to refill to 602.
        drain = gql(
            url, "{ customers(first: 216) { nodes { id defaultAddress { city } amountSpent { amount } } } }"
        )
        assert drain["extensions"]["cost"]["actualQueryCost"] == 650
        conn = connector(url)  # knows nothing of the bucket yet: its first page is throttled
        _pages, records = read_all(conn, "products")
        assert len(records) == len(PRODUCTS) and len({r["id"] for r in records}) == len(PRODUCTS)
        throttled = info(url)["throttled"]
        assert throttled >= 1
        # Now that it knows the bucket, it waits before sending instead of being throttled (its estimate
        # of the refill lags the server's, never leads it).
        read_all(conn, "products")
        assert info(url)["throttled"] == throttled


def test_throttled_for_ever_is_a_rate_limit_error():
    with running("shopify", options={"shopify": {"bucket_max": 600, "restore_rate": 1}}) as url:
        conn = connector(url)
        conn.max_throttle_retries = 2
        waits = []
        conn.sleep = waits.append  # no real waiting: the bucket never refills in time
        with pytest.raises(RateLimited):
            read_all(conn, "products")
        assert len(waits) >= 2 and all(w > 0 for w in waits)


def test_graphql_errors_are_errors_not_data(shop):
    conn = connector(shop)
    with pytest.raises(ConfigError, match="Cannot query field"):
        conn.graphql("{ products(first: 1) { nodes { nope } } }")
    with pytest.raises(ConfigError, match="first or last"):
        conn.graphql("{ products { nodes { id } } }")


def test_malformed_json_is_transient(shop):
    httpx.put(f"{shop}/_sandbox/faults", json={"malformed_rate": 1.0}).raise_for_status()
    with pytest.raises(TransientError) as caught:
        read_all(connector(shop), "customers")
    assert caught.value.reason == "malformed"


# --- GDPR ---------------------------------------------------------------------------------------


def test_gdpr_find_export_and_erase(shop):
    conn = connector(shop)
    email = shared_person(SEED)
    found = conn.find_subject({"email": [email]})
    kinds = {r.entity for r in found}
    assert kinds == {"customers", "orders"}
    (customer,) = [r for r in found if r.entity == "customers"]
    orders = [r for r in found if r.entity == "orders"]
    expected = sum(1 for o in SEED.orders if SEED.customers[o["customer"]]["email"] == email)
    assert len(orders) == expected and all(o.data["email"] == email for o in orders)
    assert customer.label.startswith("customer #")
    exported = conn.export_subject("customers", customer.id)
    assert exported["email"] == email and exported["addresses"]
    # customerDelete is refused for a customer with orders: a failed result with Shopify's words
    refused = conn.erase_subject("customers", customer.id, strategy="delete")
    assert not refused.ok and "associated orders" in refused.error.message
    assert conn.erase_subject("orders", orders[0].id, strategy="exempt").action == "exempt"
    erased = conn.erase_subject("customers", customer.id, strategy="vendor")
    assert erased.ok and erased.action == "erased"
    assert conn.find_subject({"email": [email]}) == []  # the customer gone, their orders redacted
    kept = conn.fetch("orders", [orders[0].id])
    assert (
        kept
        and kept[0]["email"] is None
        and kept[0]["customer"] is None
        and kept[0]["billingAddress"] is None
    )
    again = conn.erase_subject("customers", customer.id, strategy="vendor")
    assert again.ok and again.action == "unchanged"
    assert conn.erase_subject("customers", email, strategy="vendor").action == "unchanged"
