"""The Magento 2.4 connector over real HTTP against the shop stand-in: reads to the last page, resumed
and incremental reads, writes (per record, the MSI batch and its item-by-item fallback), deletes, the
shared admin token, faults and the request budget — and every request of a full cycle validated against
Adobe's 2.4.9 admin REST specification."""

import itertools
import json
import math
import re
import threading
import time

import httpx
import pytest
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, RecordError, TransientError
from flows.connectors.magento import MagentoConnector, magento_since, token_key
from flows.coordination import set_shared
from sandbox import MAGENTO_SPEC
from sandbox.credentials import ShopCredentials
from sandbox.seed import N_CUSTOMERS, N_ORDERS, SEED_HORIZON, dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

CREDS = ShopCredentials()
SINCE = SEED_HORIZON.isoformat()  # every seeded record was written before; every test write after
_system_ids = itertools.count(9100)


@pytest.fixture
def shop():
    with running("shop") as url:
        yield url


def connector(url, *, system_id=None, password=CREDS.password, secrets=None, **settings):
    params = {"base_url": url, "username": CREDS.username, **settings.pop("params", {})}
    return MagentoConnector(
        ConnectionSettings(
            system_id=next(_system_ids) if system_id is None else system_id,
            name="shop",
            params=params,
            secrets={"password": password} if secrets is None else secrets,
            **settings,
        )
    )


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def faults(url, **knobs):
    httpx.put(f"{url}/_sandbox/faults", json=knobs).raise_for_status()


def stats(url):
    return httpx.get(f"{url}/_sandbox/stats").json()


def seed_products(n, start=0):
    """The first ``n`` products of the seed data, as Magento product records."""
    return [
        {
            "sku": p["sku"],
            "name": p["name_fr"],
            "price": p["price"],
            "weight": p["weight"],
            "status": 1 if p["enabled"] else 2,
            "visibility": 4,
            "type_id": "simple",
            "attribute_set_id": 4,
            "attributes": {"description": p["description_fr"], "color": p["color"]},
        }
        for p in dataset(42).products[start : start + n]
    ]


def seed_stock(skus):
    sources = {w["code"]: w["source_code"] for w in dataset(42).warehouses}
    return [
        {"sku": s["sku"], "source_code": sources[s["warehouse"]], "quantity": s["quantity"], "status": 1}
        for s in dataset(42).stock
        if s["sku"] in skus
    ]


class Recorder:
    """Keeps every request the connector's HTTP client sends (an httpx event hook)."""

    def __init__(self, conn):
        self.requests: list[httpx.Request] = []
        conn.client._client.event_hooks["request"].append(self.requests.append)

    def paths(self):
        return [r.url.path.split("/V1/", 1)[1] for r in self.requests]


# --- configuration and connection tests ---------------------------------------------------------


def test_declaration_and_parameter_checks():
    assert MagentoConnector.key == "magento" and "ecommerce" in MagentoConnector.roles
    assert set(MagentoConnector.sensitive_parameters) == {"password", "access_token"}
    clean = MagentoConnector.clean_parameters
    assert "password" in clean({"base_url": "https://shop.example.com"}, {})
    assert set(clean({"base_url": "https://shop.example.com"}, {"password": "x"})) == {"username"}
    assert clean({"base_url": "https://shop.example.com"}, {"access_token": "t"}) == {}
    assert clean({"base_url": "https://shop.example.com", "username": "u"}, {"password": "p"}) == {}
    assert "base_url" in clean(
        {"base_url": "https://shop.example.com/rest/default/V1"}, {"access_token": "t"}
    )
    assert "store_code" in clean({"store_code": "fr store"}, {"access_token": "t"})
    entities = {e.key: e for e in connector("http://127.0.0.1:1").entities()}
    assert entities["products"].id_field == "sku" and entities["products"].natural_keys == ("sku",)
    assert entities["source_items"].natural_keys == ("sku", "source_code")
    assert (
        entities["orders"].natural_keys == ("increment_id",)
        and entities["orders"].cursor_field == "updated_at"
    )
    assert entities["customers"].natural_keys == ("email",)
    assert Capability.DELETE in entities["customers"].capabilities
    assert Capability.DELETE not in entities["orders"].capabilities
    personal = {f.name: f.personal for f in entities["customers"].fields}
    assert personal["email"] == "email" and personal["dob"] == "birthdate" and personal["lastname"] == "name"


def test_since_is_converted_to_magentos_format():
    # Magento keeps whole seconds: the bound's second is read again rather than a change made in it lost
    assert magento_since("2026-03-01T10:20:30Z") == ("2026-03-01 10:20:30", "gteq")
    assert magento_since("2026-03-01T12:20:30+02:00") == ("2026-03-01 10:20:30", "gteq")
    assert magento_since("2026-03-01 10:20:30") == ("2026-03-01 10:20:30", "gteq")
    assert magento_since("2026-03-01T10:20:30.250Z") == ("2026-03-01 10:20:30", "gteq")
    with pytest.raises(ConfigError):
        magento_since("yesterday")


def test_check_ok_and_refused_credentials(shop):
    assert connector(shop).check().ok
    wrong = connector(shop, password="wrong").check()
    assert not wrong.ok and wrong.kind == "auth"
    assert "refused the admin user name or password" in wrong.message
    assert "sign-in was incorrect" in wrong.message  # Magento's own words follow
    token = connector(shop, secrets={"access_token": "not-a-token"}).check()
    assert not token.ok and token.kind == "auth" and "access token" in token.message


def test_an_access_token_is_used_directly(shop):
    token = httpx.post(
        f"{shop}/rest/default/V1/integration/admin/token",
        json={"username": CREDS.username, "password": CREDS.password},
    ).json()
    conn = connector(shop, secrets={"access_token": token}, params={"username": ""})
    recorder = Recorder(conn)
    _, orders = read_all(conn, "orders", limit=3)
    assert len(orders) == 3 and "integration/admin/token" not in recorder.paths()


def test_the_store_code_is_part_of_every_path(shop):
    conn = connector(shop, params={"store_code": "all"})
    recorder = Recorder(conn)
    assert len(read_all(conn, "orders", limit=2)[1]) == 2
    assert all(r.url.path.startswith("/rest/all/V1/") for r in recorder.requests)


def test_a_connection_test_does_not_retry(shop):
    faults(shop, error_rate=1.0)
    result = connector(shop).check()
    assert not result.ok and result.kind == "http" and stats(shop)["total"] == 1
    built = connector(shop)
    assert built.client.max_retries == 4
    assert not built.check().ok and stats(shop)["total"] == 2  # a client built earlier does not retry either


# --- reads ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "expected", "id_field"), [("customers", N_CUSTOMERS, "id"), ("orders", N_ORDERS, "entity_id")]
)
def test_full_read_to_the_last_page(shop, entity, expected, id_field):
    pages, records = read_all(connector(shop), entity)
    ids = [r[id_field] for r in records]
    # Magento repeats the last page past the end: stopping on total_count keeps each record once
    assert len(ids) == expected == len(set(ids))
    assert len(pages) == math.ceil(expected / 100)
    assert pages[-1].has_more is False and pages[-1].cursor is None
    assert all(p.has_more for p in pages[:-1])


def test_written_products_and_stock_read_back_whole(shop):
    conn = connector(shop)
    products = seed_products(150)
    results = conn.write("products", products)
    assert all(r.ok and r.action == "created" for r in results)
    assert [r.target_id for r in results] == [p["sku"] for p in products]
    pages, read = read_all(conn, "products")
    assert len(pages) == 2 and [p["sku"] for p in read] == [p["sku"] for p in products]
    first = read[0]
    assert first["name"] == products[0]["name"]
    assert first["attributes"]["description"] == products[0]["attributes"]["description"]

    stock = seed_stock({p["sku"] for p in products})
    assert len(stock) > 150
    results = conn.write("source_items", stock)
    assert all(r.ok and r.action == "created" for r in results)
    _, items = read_all(conn, "source_items")
    assert len(items) == len(stock)
    assert {i["id"] for i in items} == {f"{s['sku']}@{s['source_code']}" for s in stock}
    # written again: nothing new, every item reported as an update
    assert {r.action for r in conn.write("source_items", stock[:5])} == {"updated"}


def test_a_read_resumes_from_a_pages_cursor(shop):
    conn = connector(shop)
    _, everything = read_all(conn, "customers")
    first = next(iter(conn.read("customers")))
    _, rest = read_all(connector(shop), "customers", cursor=first.cursor)
    assert [c["id"] for c in first.records + rest] == [c["id"] for c in everything]
    # a cursor taken with a limit keeps its page size
    small = next(iter(conn.read("orders", limit=7)))
    assert len(small.records) == 7 and small.has_more is False and small.cursor
    resumed = next(iter(conn.read("orders", cursor=small.cursor)))
    assert [o["entity_id"] for o in resumed.records] == list(range(8, 15))
    with pytest.raises(ConfigError):
        next(iter(conn.read("orders", cursor="not json")))


def test_incremental_read_returns_exactly_the_written_records(shop):
    conn = connector(shop)
    for entity in ("products", "orders", "customers"):
        assert read_all(conn, entity, since=SINCE)[1] == []
    conn.write("products", seed_products(3))
    _, customers = read_all(conn, "customers", limit=2)
    changed = [{**c, "lastname": c["lastname"] + "-Hub"} for c in customers]
    new = {"email": "new.customer@example.com", "firstname": "New", "lastname": "Customer"}
    assert all(r.ok for r in conn.write("customers", [*changed, new]))
    assert all(
        r.ok
        for r in conn.write(
            "orders",
            [
                {"entity_id": 5, "comment": "Packed"},
                {"increment_id": "000000009", "comment": "Shipped", "status": "complete"},
            ],
        )
    )

    assert [p["sku"] for p in read_all(conn, "products", since=SINCE)[1]] == [
        p["sku"] for p in seed_products(3)
    ]
    recent = read_all(conn, "customers", since=SINCE)[1]
    assert [c["email"] for c in recent] == [c["email"] for c in customers] + [new["email"]]
    assert [o["entity_id"] for o in read_all(conn, "orders", since=SINCE)[1]] == [5, 9]


# --- fetch and lookup ----------------------------------------------------------------------------


def test_fetch_and_lookup(shop):
    conn = connector(shop)
    products = seed_products(3)
    conn.write("products", products)
    conn.write(
        "source_items", [{"sku": products[0]["sku"], "source_code": "paris", "quantity": 4, "status": 1}]
    )
    skus = [p["sku"] for p in products]
    assert [p["sku"] for p in conn.fetch("products", [skus[2], "NOPE-1", skus[0]])] == [skus[2], skus[0]]
    assert [o["entity_id"] for o in conn.fetch("orders", ["12", "999999", "x"])] == [12]
    customer = conn.fetch("customers", ["42"])[0]
    assert customer["id"] == 42 and conn.fetch("customers", ["424242"]) == []
    item = conn.fetch("source_items", [f"{skus[0]}@paris", f"{skus[0]}@lyon"])
    assert [i["quantity"] for i in item] == [4]

    assert [p["sku"] for p in conn.lookup("products", "sku", [skus[1], "NOPE"])] == [skus[1]]
    found = conn.lookup("customers", "email", [customer["email"].upper(), "nobody@example.com"])
    assert [c["id"] for c in found] == [42]
    orders = conn.lookup("orders", "increment_id", ["000000003", "000000004"])
    assert sorted(o["entity_id"] for o in orders) == [3, 4]
    assert [i["id"] for i in conn.lookup("source_items", "sku", [skus[0]])] == [f"{skus[0]}@paris"]


# --- writes and deletes --------------------------------------------------------------------------


def test_product_batch_with_one_bad_record(shop):
    conn = connector(shop)
    batch = seed_products(3)
    batch[1]["price"] = -5
    results = conn.write("products", batch)
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert isinstance(error, RecordError) and error.status == 400
    assert error.message == 'The Price value "-5" is invalid. Enter a positive number and try again.'
    assert [p["sku"] for p in read_all(conn, "products")[1]] == [batch[0]["sku"], batch[2]["sku"]]


def test_product_updates_and_write_modes(shop):
    conn = connector(shop)
    first = seed_products(1)[0]
    assert conn.write("products", [first], mode=WriteMode.UPDATE)[0].error.status == 404
    assert conn.write("products", [first], mode=WriteMode.CREATE)[0].action == "created"
    assert "already exists" in conn.write("products", [first], mode=WriteMode.CREATE)[0].error.message
    recorder = Recorder(conn)
    change = {"sku": first["sku"], "price": 12.5, "attributes": {"color": "Teal"}}
    result = conn.write("products", [change])[0]
    assert result.ok and result.action == "updated" and result.target_id == first["sku"]
    assert recorder.paths()[-1] == f"products/{first['sku']}" and recorder.requests[-1].method == "PUT"
    product = conn.fetch("products", [first["sku"]])[0]
    assert product["price"] == 12.5 and product["name"] == first["name"]
    assert product["attributes"] == {"description": first["attributes"]["description"], "color": "Teal"}
    assert conn.write("products", [{"name": "no sku"}])[0].error.message == "The product has no sku."


def test_source_items_batch_refused_is_retried_item_by_item(shop):
    conn = connector(shop)
    products = seed_products(2)
    conn.write("products", products)
    items = [
        {"sku": products[0]["sku"], "source_code": "paris", "quantity": 5, "status": 1},
        {"sku": "NOT-IN-SHOP", "source_code": "paris", "quantity": 1, "status": 1},
        {"sku": products[1]["sku"], "source_code": "lyon", "quantity": "0", "status": "0"},
        {"sku": products[1]["sku"], "source_code": "lille", "quantity": "lots", "status": 1},
    ]
    recorder = Recorder(conn)
    results = conn.write("source_items", items)
    assert [r.ok for r in results] == [True, False, True, False]
    assert results[1].error.message == "Could not save Source Item"
    assert results[3].error.message == 'Validation Failed: "quantity" should be numeric.'
    assert results[0].target_id == f"{products[0]['sku']}@paris"
    # one lookup, the refused batch, then each item alone
    assert recorder.paths() == ["inventory/source-items"] * 6
    assert [r.method for r in recorder.requests] == ["GET", "POST", "POST", "POST", "POST", "POST"]
    _, stock = read_all(conn, "source_items")
    assert sorted(s["id"] for s in stock) == sorted([results[0].target_id, results[2].target_id])
    assert conn.write("source_items", [items[0]], mode=WriteMode.CREATE)[0].error.status == 409
    missing = {**items[0], "source_code": "lille"}
    assert conn.write("source_items", [missing], mode=WriteMode.UPDATE)[0].error.status == 404


def test_customer_writes_keep_what_the_record_leaves_out(shop):
    conn = connector(shop)
    existing = conn.fetch("customers", ["7"])[0]
    created = conn.write(
        "customers", [{"email": "hub.new@example.com", "firstname": "Hub", "lastname": "New"}]
    )[0]
    assert created.ok and created.action == "created" and int(created.target_id) == N_CUSTOMERS + 1
    duplicate = conn.write(
        "customers", [{"email": existing["email"], "firstname": "X", "lastname": "Y"}], mode=WriteMode.CREATE
    )[0]
    assert not duplicate.ok and "same email address already exists" in duplicate.error.message
    # an upsert by e-mail updates the customer; the fields not given are kept
    updated = conn.write("customers", [{"email": existing["email"].upper(), "firstname": "Renamed"}])[0]
    assert updated.ok and updated.action == "updated" and updated.target_id == "7"
    after = conn.fetch("customers", ["7"])[0]
    assert after["firstname"] == "Renamed" and after["lastname"] == existing["lastname"]
    assert (
        after["dob"] == existing["dob"] and after["addresses"][0]["city"] == existing["addresses"][0]["city"]
    )
    by_id = conn.write("customers", [{"id": 8, "lastname": "ById"}], mode=WriteMode.UPDATE)[0]
    assert by_id.ok and conn.fetch("customers", ["8"])[0]["lastname"] == "ById"
    gone = conn.write(
        "customers",
        [{"email": "nobody@example.com", "firstname": "A", "lastname": "B"}],
        mode=WriteMode.UPDATE,
    )
    assert gone[0].error.status == 404
    bad = conn.write("customers", [{"email": "not-an-email", "firstname": "A", "lastname": "B"}])[0]
    assert bad.error.message == '"Email" is not a valid email address.'


def test_order_status_comments(shop):
    conn = connector(shop)
    results = conn.write(
        "orders",
        [
            {
                "entity_id": 3,
                "comment": "Colis remis au transporteur",
                "status": "complete",
                "is_customer_notified": True,
            },
            {"entity_id": 4},
            {"increment_id": "999999999", "comment": "x"},
            {"entity_id": 999999, "comment": "x"},
        ],
    )
    assert [r.ok for r in results] == [True, False, False, False]
    assert results[0].target_id == "3" and "comment" in results[1].error.message
    assert results[3].error.status == 404
    order = conn.fetch("orders", ["3"])[0]
    assert order["status"] == "complete"
    assert order["status_histories"][0]["comment"] == "Colis remis au transporteur"
    assert order["status_histories"][0]["is_customer_notified"] == 1
    assert order["status_histories"][0]["is_visible_on_front"] == 0


def test_delete_products_and_customers(shop):
    conn = connector(shop)
    products = seed_products(2)
    conn.write("products", products)
    results = conn.delete("products", [products[0]["sku"], "NOPE-404"])
    assert [(r.ok, r.action) for r in results] == [(True, "deleted"), (True, "deleted")]
    assert [p["sku"] for p in read_all(conn, "products")[1]] == [products[1]["sku"]]
    assert conn.delete("customers", ["11"])[0].ok and conn.fetch("customers", ["11"]) == []
    assert len(read_all(conn, "customers")[1]) == N_CUSTOMERS - 1
    with pytest.raises(ConfigError):
        conn.delete("orders", ["1"])


def test_discover_returns_entities_with_fields_and_samples(shop):
    conn = connector(shop)
    conn.write("products", seed_products(6))
    conn.write("source_items", seed_stock({p["sku"] for p in seed_products(2)}))
    assert conn.write("configurable_products", [{"sku": "DISC-TEE", "name": "T-shirt", "price": 9}])[0].ok
    found = {e.key: e for e in conn.discover()}
    assert set(found) == {
        "products",
        "configurable_products",
        "stock_items",
        "source_items",
        "orders",
        "customers",
    }
    for entity in found.values():
        assert entity.fields and entity.samples
    assert len(found["products"].samples) == 5 and "attributes" in found["products"].samples[0]
    names = {f.name for f in found["orders"].fields}
    assert {"increment_id", "customer_email", "billing_address.city"} <= names


def children(skus_colors, prefix="TEE"):
    """Simple products that differ by colour (Magento option ids of the ``color`` attribute)."""
    return [
        {
            "sku": f"{prefix}-{n}",
            "name": f"T-shirt {n}",
            "price": 19.9,
            "type_id": "simple",
            "visibility": 1,
            "attributes": {"color": color} if color else {},
        }
        for n, color in skus_colors
    ]


COLOR_OPTION = {"attribute_id": 93, "label": "Color", "position": 0, "values": [58, 59, 60]}


def test_configurable_products_are_written_with_their_children_and_read_back(shop):
    conn = connector(shop)
    assert all(
        r.ok
        for r in conn.write("products", children([(1, "58"), (2, "59"), (3, "60"), (4, None), (5, "58")]))
    )
    parents = [
        {"sku": "TEE", "name": "T-shirt", "price": 19.9, "attributes": {"description": "Coton bio"},
         "configurable_options": [COLOR_OPTION], "children": ["TEE-1", "TEE-2", "TEE-3"]},
        # TEE-4 has no colour: Magento refuses to link it, the record fails, TEE-1 stays linked
        {"sku": "TEE-B", "name": "T-shirt B", "price": 19.9, "configurable_options": [COLOR_OPTION],
         "children": ["TEE-1", "TEE-4"]},
        # TEE-5 repeats TEE-1's colour under the same parent
        {"sku": "TEE-C", "name": "T-shirt C", "price": 19.9, "configurable_options": [COLOR_OPTION],
         "children": [{"sku": "TEE-1"}, {"sku": "TEE-5"}]},
    ]  # fmt: skip
    results = conn.write("configurable_products", parents)
    assert [r.ok for r in results] == [True, False, False]
    assert results[0].target_id == "TEE" and results[0].action == "created"
    assert results[1].error.status == 400
    assert results[1].error.message == (
        'Child TEE-4: The child product doesn\'t have the "color" attribute value. Verify the value and try again.'
    )
    assert "have the same set of attribute values" in results[2].error.message

    _, read = read_all(conn, "configurable_products")
    assert [(p["sku"], p["type_id"], p["children"]) for p in read] == [
        ("TEE", "configurable", ["TEE-1", "TEE-2", "TEE-3"]),
        ("TEE-B", "configurable", ["TEE-1"]),
        ("TEE-C", "configurable", ["TEE-1"]),
    ]
    option = read[0]["configurable_options"][0]
    assert (option["attribute_id"], option["label"]) == ("93", "Color")
    assert [v["value_index"] for v in option["values"]] == [58, 59, 60]
    assert read[0]["attributes"]["description"] == "Coton bio"
    # the parents and children are products all the same
    assert len(read_all(conn, "products")[1]) == 8
    assert [p["sku"] for p in read_all(conn, "configurable_products", since=SINCE)[1]] == [
        "TEE",
        "TEE-B",
        "TEE-C",
    ]

    # written again, as read: the parent is saved, nothing is linked twice, the read ids are not sent
    recorder = Recorder(conn)
    again = conn.write("configurable_products", [read[0]])[0]
    assert again.ok and again.action == "updated"
    assert not [r for r in recorder.requests if r.method == "POST"]
    sent = json.loads(next(r for r in recorder.requests if r.method == "PUT").content)["product"]
    assert set(sent["extension_attributes"]) == {"website_ids", "category_links"}
    assert conn.fetch("configurable_products", ["TEE"])[0]["children"] == ["TEE-1", "TEE-2", "TEE-3"]
    # a child added later is linked; fetch and lookup give the children too
    assert conn.write("products", children([(6, "61")]))[0].ok
    added = {**parents[0], "children": [*parents[0]["children"], "TEE-6"]}
    assert conn.write("configurable_products", [added])[0].ok
    assert conn.fetch("configurable_products", ["TEE", "TEE-1"])[0]["children"] == [
        "TEE-1", "TEE-2", "TEE-3", "TEE-6",
    ]  # fmt: skip
    assert [p["sku"] for p in conn.lookup("configurable_products", "sku", ["TEE-B", "TEE-2"])] == ["TEE-B"]
    # an option Magento refuses fails the record with its own message
    bad = {"sku": "TEE-D", "name": "T-shirt D", "price": 1, "configurable_options": [{"attribute_id": 93}]}
    error = conn.write("configurable_products", [bad])[0].error
    assert error.message.startswith(
        "One or more input exceptions have occurred: Option label is not specified."
    )


def test_legacy_stock_items_one_bad_sku_fails_alone(shop):
    conn = connector(shop)
    products = seed_products(3)
    conn.write("products", products)
    skus = [p["sku"] for p in products]
    recorder = Recorder(conn)
    results = conn.write(
        "stock_items",
        [
            {"sku": skus[0], "qty": 5},
            {"sku": "NOT-IN-SHOP", "qty": 1, "is_in_stock": True},
            {"sku": skus[1], "qty": "12", "is_in_stock": "0"},
            {"sku": skus[2], "qty": "lots"},
        ],
    )
    assert [r.ok for r in results] == [True, False, True, False]
    assert [r.target_id for r in results if r.ok] == [skus[0], skus[1]]
    assert results[1].error.status == 404
    assert results[1].error.message == (
        "The product that was requested doesn't exist. Verify the product and try again."
    )
    assert results[3].error.message == "“qty” must be a number, not “lots”."
    # per SKU: the current item, then the item sent back; nothing sent for a SKU Magento does not know
    assert [(r.method, p) for r, p in zip(recorder.requests, recorder.paths(), strict=True)] == [
        ("GET", f"stockItems/{skus[0]}"),
        ("PUT", f"products/{skus[0]}/stockItems/{conn.fetch('products', [skus[0]])[0]['id']}"),
        ("GET", "stockItems/NOT-IN-SHOP"),
        ("GET", f"stockItems/{skus[1]}"),
        ("PUT", f"products/{skus[1]}/stockItems/{conn.fetch('products', [skus[1]])[0]['id']}"),
    ]
    items = {i["sku"]: i for i in conn.fetch("stock_items", [*skus, "NOT-IN-SHOP"])}
    assert set(items) == set(skus)
    assert (items[skus[0]]["qty"], items[skus[0]]["is_in_stock"]) == (5, True)
    assert (items[skus[1]]["qty"], items[skus[1]]["is_in_stock"]) == (12, False)
    assert (items[skus[2]]["qty"], items[skus[2]]["is_in_stock"]) == (0, False)
    # the item's own settings are kept and used: with backorders a product at 0 stays in stock
    assert conn.write("stock_items", [{"sku": skus[2], "backorders": 1, "qty": 0}])[0].ok
    after = conn.lookup("stock_items", "sku", [skus[2]])[0]
    assert (after["backorders"], after["qty"], after["is_in_stock"]) == (1, 0, True)
    assert conn.write("stock_items", [{"sku": skus[2], "qty": 3}])[0].ok
    assert conn.fetch("stock_items", [skus[2]])[0]["backorders"] == 1
    # a read lists every product's stock item, whatever the write mode was
    pages, read = read_all(conn, "stock_items")
    assert [i["id"] for i in read] == skus and pages[-1].has_more is False
    assert conn.write("stock_items", [{"sku": skus[0], "qty": 1}], mode=WriteMode.CREATE)[0].ok


# --- the admin token ----------------------------------------------------------------------------


def test_admin_token_is_shared_and_refreshed_once(shop):
    first = connector(shop, system_id=9001)
    one = Recorder(first)
    read_all(first, "orders", limit=1)
    assert one.paths().count("integration/admin/token") == 1

    second = connector(shop, system_id=9001)
    two = Recorder(second)
    read_all(second, "orders", limit=1)
    assert "integration/admin/token" not in two.paths()  # another worker's token

    # Magento forgot the token: one refusal, one new token, the call goes through
    set_shared(token_key(9001), json.dumps({"token": "expired", "for": second._fingerprint()}), 60)
    third = connector(shop, system_id=9001)
    three = Recorder(third)
    assert len(read_all(third, "orders", limit=2)[1]) == 2
    assert three.paths() == ["orders", "integration/admin/token", "orders"]
    assert three.requests[0].headers["Authorization"] == "Bearer expired"

    # a changed password never rides on the old token
    changed = connector(shop, system_id=9001, password="changed")
    with pytest.raises(AuthError, match="admin user name or password"):
        read_all(changed, "orders", limit=1)


# --- faults and the budget ------------------------------------------------------------------------


def test_rate_limit_is_honoured_and_the_read_completes(shop):
    conn = connector(shop)
    conn.ping()
    faults(shop, rate_limit_rate=1.0, retry_after=1)
    threading.Timer(0.3, faults, args=(shop,), kwargs={"rate_limit_rate": 0.0}).start()
    start = time.monotonic()
    _, orders = read_all(conn, "orders")
    assert len(orders) == N_ORDERS and time.monotonic() - start >= 0.9  # Retry-After: 1
    assert stats(shop)["by_status"].get("429", 0) >= 1


def test_malformed_json_is_a_transient_error(shop):
    conn = connector(shop)
    conn.ping()
    faults(shop, malformed_rate=1.0)
    with pytest.raises(TransientError) as caught:
        read_all(conn, "customers")
    assert caught.value.reason == "malformed"
    faults(shop, malformed_rate=0.0)
    assert conn.check().ok


def test_retries_give_up_as_transient(shop):
    conn = connector(shop)
    conn.ping()
    conn.client.backoff = 0.001
    faults(shop, error_rate=1.0, error_status=503)
    with pytest.raises(TransientError, match="unavailable"):
        read_all(conn, "orders")


@pytest.mark.django_db(transaction=True)
def test_concurrency_budget_holds_across_threads():
    with running("shop", latency_ms=60) as url:
        failures = []

        def worker():
            try:
                read_all(connector(url, system_id=9002, max_concurrency=2), "orders", limit=20)
            except Exception as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        figures = stats(url)
        assert not failures
        assert figures["total"] == 7  # one shared token, one page each
        assert figures["max_in_flight"] <= 2


# --- every request against Adobe's specification --------------------------------------------------


@pytest.fixture(scope="module")
def openapi():
    # The spec document itself is checked by tests/sandbox/test_shop_conforms.py; skipping that
    # check here saves ~3 s. Requests are validated all the same.
    return OpenAPI.from_file_path(str(MAGENTO_SPEC), config=Config(spec_validator_cls=None))


class SpecRequest:
    """An httpx request as openapi-core sees it, on the spec's server (http://example.com/rest/default)."""

    def __init__(self, request: httpx.Request):
        path = request.url.path
        store_path = path.split("/V1/", 1)
        self.host_url = "http://example.com"
        self.path = f"/rest/default/V1/{store_path[1]}" if len(store_path) == 2 else path
        self.method = request.method.lower()
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(request.url.params.multi_items())),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
            path={},
        )
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


def test_every_request_of_a_full_cycle_conforms_to_the_magento_spec(shop, openapi):
    conn = connector(shop)
    recorder = Recorder(conn)
    assert conn.check().ok
    products = seed_products(120)
    conn.write("products", products)
    conn.write("products", [{"sku": products[0]["sku"], "price": 99.0}, {"sku": "BROKEN"}])
    conn.write(
        "source_items",
        [
            *seed_stock({products[0]["sku"]}),
            {"sku": "NOPE", "source_code": "paris", "quantity": 1, "status": 1},
        ],
    )
    # a configurable parent, its colour option and children (one refused), and legacy stock
    conn.write("products", children([(1, "58"), (2, "59"), (3, None)]))
    parents = [
        {"sku": "TEE", "name": "T-shirt", "price": 19.9, "configurable_options": [COLOR_OPTION],
         "children": ["TEE-1", "TEE-2"]},
        {"sku": "TEE-B", "name": "T-shirt B", "price": 19.9, "configurable_options": [COLOR_OPTION],
         "children": ["TEE-3"]},
    ]  # fmt: skip
    assert [r.ok for r in conn.write("configurable_products", parents)] == [True, False]
    assert conn.write("configurable_products", [{**parents[0], "children": ["TEE-1", "TEE-2"]}])[0].ok
    stock = conn.write(
        "stock_items",
        [{"sku": products[0]["sku"], "qty": 7}, {"sku": "NOPE", "qty": 1}, {"sku": "TEE-1", "qty": 0}],
    )
    assert [r.ok for r in stock] == [True, False, True]
    conn.write(
        "orders",
        [
            {"entity_id": 2, "comment": "Expédiée", "status": "complete"},
            {"increment_id": "000000006", "comment": "Vu"},
        ],
    )
    conn.write(
        "customers",
        [
            {"email": "spec.check@example.com", "firstname": "Spec", "lastname": "Check"},
            {"id": 3, "firstname": "Three"},
        ],
    )
    for entity in ("products", "configurable_products", "stock_items", "source_items", "orders", "customers"):
        read_all(conn, entity)
    for entity in ("products", "configurable_products", "orders", "customers"):
        read_all(conn, entity, since=SINCE)
    conn.fetch("products", [products[1]["sku"]])
    conn.fetch("configurable_products", ["TEE"])
    conn.fetch("stock_items", ["TEE-1"])
    conn.fetch("orders", ["2"])
    conn.fetch("customers", ["3"])
    conn.lookup("customers", "email", ["spec.check@example.com"])
    conn.delete("products", [products[2]["sku"]])
    conn.delete("customers", ["4"])
    # GDPR: a subject found by e-mail and id, an account erased, an order masked
    email = dataset(42).customers[6]["email"]
    found = conn.find_subject({"email": [email], "customer_id": ["7"]})
    assert {r.entity for r in found} >= {"customers"}
    assert conn.erase_subject("customers", "7", strategy="delete").action == "erased"
    assert conn.erase_subject("orders", "2", strategy="mask").action == "masked"

    operations = set()
    for request in recorder.requests:
        spec_request = SpecRequest(request)
        openapi.validate_request(spec_request)  # raises on any mismatch of path, query or body
        operations.add((request.method, spec_request.path.split("/V1/")[1].split("/")[0]))
    assert len(recorder.requests) > 40
    assert {m for m, _ in operations} == {"GET", "POST", "PUT", "DELETE"}
    assert {p for _, p in operations} == {
        "integration",
        "products",
        "configurable-products",
        "stockItems",
        "inventory",
        "orders",
        "customers",
    }
    shapes = {
        (r.method, re.sub(r"^products/[^/]+/stockItems/\d+$", "products/{sku}/stockItems/{id}", p))
        for r, p in zip(recorder.requests, recorder.paths(), strict=True)
    }
    assert {
        ("POST", "configurable-products/TEE/options"),
        ("GET", "configurable-products/TEE/options/all"),
        ("POST", "configurable-products/TEE/child"),
        ("GET", "configurable-products/TEE/children"),
        ("GET", "stockItems/TEE-1"),
        ("PUT", "products/{sku}/stockItems/{id}"),
    } <= shapes


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        # a status comment without the flags and parent_id the spec requires (the connector fills them)
        ("orders/2/comments", None, {"statusHistory": {"comment": "Shipped"}}),
        ("orders", {"searchCriteria[pageSize]": "ten"}, None),
        # the legacy stock item without the settings the spec requires (the connector sends them back)
        ("products/SKU-1/stockItems/1", None, {"stockItem": {"qty": 1, "is_in_stock": True}}),
        ("configurable-products/TEE/child", None, {"sku": "TEE-1"}),
    ],
)
def test_the_validator_rejects_a_wrong_request(openapi, path, params, body):
    from openapi_core.validation.request.exceptions import RequestValidationError

    method = ("PUT" if "stockItems" in path else "POST") if body else "GET"
    request = httpx.Request(method, f"http://127.0.0.1/rest/default/V1/{path}", params=params, json=body)
    with pytest.raises(RequestValidationError):
        openapi.validate_request(SpecRequest(request))
