"""The Odoo connector over real HTTP against the ERP sandbox (Odoo 17 JSON-RPC, and Odoo 19's JSON-2 over
the same store): credentials, discovery, full and incremental keyset reads, fetch and lookup,
per-record writes and deletes, product templates, the uid cache, and the failure taxonomy (429,
malformed answers, the request budget). The tests that take the ``erp`` fixture run through both
transports."""

import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import AuthError, ConfigError, RecordError, TransientError
from flows.connectors.odoo import (
    API_JSON2,
    API_JSONRPC,
    OdooConnector,
    keyset_domain,
    next_state,
    odoo_datetime,
    odoo_error,
    uid_key,
)
from flows.coordination import get_shared, set_shared
from sandbox.credentials import ErpCredentials
from sandbox.seed import SEED_HORIZON, dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

CREDS = ErpCredentials()
DATA = dataset(42)
NO_FAULTS = {"latency_ms": 0, "error_rate": 0, "rate_limit_rate": 0, "malformed_rate": 0, "timeout_rate": 0}


@pytest.fixture(scope="module")
def server():
    with running("erp") as url:
        yield url


class Endpoint(str):
    """The sandbox's URL, carrying the API (transport) the test's connectors speak."""

    def __new__(cls, url: str, api: str):
        endpoint = super().__new__(cls, url)
        endpoint.api = api
        return endpoint


def _at_rest(server):
    httpx.put(f"{server}/_sandbox/faults", json=NO_FAULTS).raise_for_status()
    httpx.post(f"{server}/_sandbox/stats/reset").raise_for_status()


@pytest.fixture(params=[API_JSONRPC, API_JSON2])
def erp(server, request):
    """The module's sandbox, as seeded, without faults, with fresh stats; once per transport."""
    _at_rest(server)
    return Endpoint(server, request.param)


@pytest.fixture
def erp_rpc(server):
    """The sandbox for the tests of JSON-RPC alone (login, uid cache)."""
    _at_rest(server)
    return Endpoint(server, API_JSONRPC)


@pytest.fixture
def writable(erp):
    """The sandbox for a test that writes: reseeded afterwards, so the others see the seed."""
    yield erp
    httpx.post(f"{erp}/_sandbox/reset").raise_for_status()


def connector(url, *, password=None, database=CREDS.db, system_id=None, params=None, **settings):
    """A connector to ``url`` through its transport (JSON-RPC for a plain URL); ``password`` is the
    secret of that transport (the API key for JSON-2)."""
    api = getattr(url, "api", API_JSONRPC)
    if api == API_JSON2:
        secrets = {"api_key": CREDS.api_key if password is None else password}
    else:
        secrets = {"password": CREDS.password if password is None else password}
    return OdooConnector(
        ConnectionSettings(
            system_id=system_id,
            name="odoo",
            params={
                "base_url": str(url),
                "database": database,
                "login": CREDS.login,
                "api": api,
                **(params or {}),
            },
            secrets=secrets,
            **settings,
        )
    )


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def stats(url):
    return httpx.get(f"{url}/_sandbox/stats").json()


def now_iso():
    return datetime.now(UTC).isoformat()


# --- configuration and credentials ----------------------------------------------------------------


def test_json2_check_with_the_api_key_and_refusals(server):
    erp = Endpoint(server, API_JSON2)
    _at_rest(server)
    result = connector(erp).check()
    assert result.ok and result.message == "Connected"
    assert connector(erp, database="").check().ok  # the database header is optional
    seen = stats(server)
    assert seen["total"] == 2

    httpx.post(f"{server}/_sandbox/stats/reset").raise_for_status()
    bad = connector(erp, password="not-the-key").check()
    assert not bad.ok and bad.kind == "auth" and "API key" in bad.message
    assert "not-the-key" not in f"{bad.message} {bad.detail}"
    with pytest.raises(AuthError) as refused:
        read_all(connector(erp, password="not-the-key"), "products", limit=1)
    assert refused.value.status == 401 and refused.value.remote["name"] == "werkzeug.exceptions.Unauthorized"
    assert stats(server)["total"] == 2  # one request each: a refusal is not retried

    result = connector(erp, database="nope").check()
    assert not result.ok and result.kind == "config" and "database" in result.message
    result = connector(Endpoint(f"{server}/somewhere-else", API_JSON2)).check()
    assert not result.ok and result.kind == "config" and "/json/2" in result.message

    # An unknown model is Odoo's 404 (an app not installed), a refused read a config error.
    conn = connector(erp)
    with pytest.raises(ConfigError, match="is the app installed"):
        conn._execute("mrp.production", "search_count", [[]])
    with pytest.raises(ConfigError, match="Invalid field"):
        conn._execute("res.partner", "search_read", [[("no_such_field", "=", 1)]], {"fields": ["id"]})


def test_check_ok_and_wrong_credentials_and_database(erp_rpc):
    erp = erp_rpc
    good = connector(erp)
    result = good.check()
    assert result.ok and result.message == "Connected"

    bad = connector(erp, password="wrong")
    result = bad.check()
    assert not result.ok and result.kind == "auth"
    assert "refused the login “hub”" in result.message and "“sandbox”" in result.message
    with pytest.raises(AuthError, match="refused the login"):
        read_all(connector(erp, password="wrong"), "products", limit=1)

    result = connector(erp, database="nope").check()
    assert not result.ok and result.kind == "config" and "database" in result.message

    result = connector(f"{erp}/somewhere-else").check()
    assert not result.ok and result.kind == "config" and "/jsonrpc" in result.message


def test_declaration_and_clean_parameters():
    assert OdooConnector.key == "odoo" and OdooConnector.roles == ("erp",)
    assert OdooConnector.sensitive_parameters == ("password", "api_key")
    assert {"api", "base_url", "database", "login"} <= set(OdooConnector.parameters)
    assert "Account Security" in str(OdooConnector.parameters["api"].help_text)
    json2 = {"api": "json2", "base_url": "https://acme.odoo.com"}
    assert OdooConnector.clean_parameters(json2, {"api_key": "k"}) == {}  # no login, no database
    assert set(OdooConnector.clean_parameters(json2, {"password": "p"})) == {"api_key"}
    assert set(OdooConnector.clean_parameters({**json2, "api": "soap"}, {"api_key": "k"})) == {"api"}
    good = {"base_url": "https://acme.odoo.com", "database": "acme", "login": "hub@acme.test"}
    assert OdooConnector.clean_parameters(good, {"password": "k"}) == {}
    errors = OdooConnector.clean_parameters(
        {**good, "base_url": "https://acme.odoo.com/web#action=1", "page_size": "0"}, {}
    )
    assert set(errors) == {"password", "base_url", "page_size"}
    assert "API key" in errors["password"]


def test_the_system_form_takes_either_api():
    from flows.forms import validate_connector_config

    json2 = {"api": "json2", "base_url": "https://acme.odoo.com"}
    params, secrets, errors = validate_connector_config("odoo", json2, {"api_key": "k"}, {})
    assert errors == {} and params == json2 and secrets == {"api_key": "k"}
    _, _, errors = validate_connector_config("odoo", json2, {"password": "p"}, {})
    assert set(errors["secrets"]) == {"api_key"}
    rpc = {"base_url": "https://acme.odoo.com", "database": "acme"}  # the API left out: JSON-RPC
    _, _, errors = validate_connector_config("odoo", rpc, {"api_key": "k"}, {})
    assert set(errors["secrets"]) == {"password"} and set(errors["parameters"]) == {"login"}


def test_discover_returns_the_entities_with_fields_and_samples(erp):
    found = {e.key: e for e in connector(erp).discover(sample_size=3)}
    assert set(found) == {"products", "product_templates", "stock", "partners", "sale_orders"}
    for entity in found.values():
        assert entity.fields and len(entity.samples) == 3
        assert entity.cursor_field == "write_date" and entity.natural_keys
        assert Capability.READ in entity.capabilities
    assert found["products"].natural_keys == ("default_code",)
    assert found["stock"].natural_keys == ("sku", "location")
    personal = {f.name: f.personal for f in found["partners"].fields}
    assert personal["email"] == "email" and personal["name"] == "name" and personal["phone"] == "phone"
    assert personal["street"] == "address"
    assert Capability.DELETE not in found["stock"].capabilities


# --- reads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("products", len(DATA.products)),
        ("product_templates", len(DATA.products)),
        ("stock", len(DATA.stock)),
        ("partners", len(DATA.customers)),
        ("sale_orders", len(DATA.orders)),
    ],
)
def test_a_full_read_reaches_the_last_page_with_every_seeded_record(erp, entity, expected):
    pages, records = read_all(connector(erp), entity)
    assert len(records) == expected
    assert len({r["id"] for r in records}) == expected
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]
    stamps = [(r["write_date"], r["id"]) for r in records]
    assert stamps == sorted(stamps)
    if entity == "stock":
        assert all(r["sku"] and r["location"] for r in records)
        assert {(r["sku"], r["location"].split("/")[0]) for r in records} == {
            (q["sku"], q["warehouse"]) for q in DATA.stock
        }
    if entity == "partners":
        assert {r["email"] for r in records} == {c["email"] for c in DATA.customers}
        assert all(r["country_code"] for r in records)
    if entity == "sale_orders":
        assert sum(len(r["lines"]) for r in records) == sum(len(o["lines"]) for o in DATA.orders)
        assert all(r["partner_email"] and all(li["sku"] for li in r["lines"]) for r in records)


def test_sale_order_lines_are_read_once_per_page_not_per_order(erp):
    conn = connector(erp, params={"page_size": 100})
    calls = []
    original = conn._execute

    def spy(model, method, *args, **kwargs):
        calls.append((model, method))
        return original(model, method, *args, **kwargs)

    conn._execute = spy
    pages, records = read_all(conn, "sale_orders")
    assert len(records) == len(DATA.orders) and len(pages) == 3
    assert calls.count(("sale.order.line", "search_read")) == 3


def test_a_read_resumes_from_a_pages_cursor_and_skips_nothing_written_meanwhile(writable):
    erp = writable
    conn = connector(erp, params={"page_size": 300})
    _, everything = read_all(conn, "products")
    reader = conn.read("products")
    first = next(reader)
    assert first.has_more and len(first.records) == 300
    # Written during the read: one product already read, one not yet read.
    already, not_yet = first.records[0]["id"], everything[1000]["id"]
    results = conn.write("products", [{"id": already, "weight": 1.5}, {"id": not_yet, "weight": 2.5}])
    assert [r.action for r in results] == ["updated", "updated"]
    rest = [r for page in conn.read("products", cursor=first.cursor) for r in page.records]
    ids = [r["id"] for r in first.records + rest]
    assert set(ids) == {r["id"] for r in everything}
    assert ids.count(not_yet) == 1  # moved to the end, read once
    assert ids.count(already) == 2  # changed after it was read: read again at the end
    assert rest[-1]["weight"] in (1.5, 2.5)


def test_keyset_paging_through_many_records_of_one_second(writable):
    erp = writable
    conn = connector(erp, params={"page_size": 7})
    since = now_iso()
    created = conn.write(
        "partners", [{"name": f"Same Second {n}", "email": f"s{n}@example.org"} for n in range(40)]
    )
    assert all(r.ok and r.action == "created" for r in created)
    pages, records = read_all(conn, "partners", since=since)
    assert sorted(r["id"] for r in records) == sorted(int(r.target_id) for r in created)
    assert len(pages) == 6 and all(len(p.records) == 7 for p in pages[:-1])


def test_cursor_domain_and_since_format():
    assert odoo_datetime("2025-03-01T10:15:30.900+02:00") == "2025-03-01 08:15:30"
    assert odoo_datetime("2025-03-01T10:15:30Z") == "2025-03-01 10:15:30"
    state = next_state(
        {}, [{"id": 4, "write_date": "2025-01-01 00:00:59"}, {"id": 2, "write_date": "2025-01-01 00:01:00"}]
    )
    assert state == {"after": "2025-01-01 00:01:00", "seen": [2]}
    state = next_state(state, [{"id": 9, "write_date": "2025-01-01 00:01:00"}])
    assert state["seen"] == [2, 9]
    assert keyset_domain(state) == [
        ("write_date", ">=", "2025-01-01 00:01:00"),
        "!",
        "&",
        ("write_date", "<", "2025-01-01 00:01:01"),
        ("id", "in", [2, 9]),
    ]
    with pytest.raises(ConfigError):
        list(
            OdooConnector(ConnectionSettings(system_id=None, name="x")).read("products", cursor='{"page": 2}')
        )


def test_incremental_read_after_writes_returns_exactly_the_written_records(writable):
    erp = writable
    conn = connector(erp)
    _, before = read_all(conn, "products", since=SEED_HORIZON.isoformat())
    assert before == []  # every seeded date is before the horizon
    since = now_iso()
    sku = DATA.products[5]["sku"]
    results = conn.write(
        "products",
        [
            {"name": "Hub Chair", "default_code": "HUB-1", "list_price": 99.0},
            {"default_code": sku, "list_price": 12.5},  # upsert by natural key
        ],
    )
    assert [r.action for r in results] == ["created", "updated"]
    _, changed = read_all(conn, "products", since=since)
    assert sorted(r["default_code"] for r in changed) == sorted(["HUB-1", sku])
    assert {r["id"] for r in changed} == {int(r.target_id) for r in results}


# --- product templates ---------------------------------------------------------------------------


def test_product_templates_and_their_variants_point_at_each_other(erp):
    conn = connector(erp, params={"page_size": 500})
    _, templates = read_all(conn, "product_templates")
    _, variants = read_all(conn, "products")
    by_id = {t["id"]: t for t in templates}
    assert len(by_id) == len(DATA.products)
    for variant in variants:
        template = by_id[variant["product_tmpl_id"][0]]
        assert template["product_variant_ids"] == [variant["id"]] and template["product_variant_count"] == 1
        assert (template["default_code"], template["name"], template["list_price"]) == (
            variant["default_code"],
            variant["name"],
            variant["list_price"],
        )
    # the seeded ids did not move: variant n is the seed's n-th product, on template n
    first = conn.fetch("products", ["1"])[0]
    assert first["default_code"] == DATA.products[0]["sku"] and first["product_tmpl_id"][0] == 1
    [found] = conn.lookup("product_templates", "default_code", [DATA.products[4]["sku"]])
    assert found["id"] == 5


def test_product_templates_incremental_read_and_write(writable):
    erp = writable
    conn = connector(erp)
    _, before = read_all(conn, "product_templates", since=SEED_HORIZON.isoformat())
    assert before == []
    since = now_iso()
    sku = DATA.products[7]["sku"]
    results = conn.write(
        "product_templates",
        [
            {"name": "Hub Table", "default_code": "HUB-TMPL-1", "list_price": 250.0, "sale_ok": True},
            {"default_code": sku, "name": "Renamed on the template", "list_price": 42.0},  # upsert by key
            {"default_code": "HUB-TMPL-BAD"},  # no name: Odoo's mandatory field
            {"name": "Bad Count", "product_variant_count": 3},  # computed: left out, so it is written
        ],
    )
    assert [r.ok for r in results] == [True, True, False, True]
    assert [r.action for r in results[:2]] == ["created", "updated"] and results[1].target_id == "8"
    assert isinstance(results[2].error, RecordError) and "mandatory field" in results[2].error.message
    _, changed = read_all(conn, "product_templates", since=since)
    assert sorted(r["id"] for r in changed) == sorted(int(r.target_id) for r in results if r.ok)
    created = next(r for r in changed if r["default_code"] == "HUB-TMPL-1")
    assert created["product_variant_count"] == 1
    # Creating a template created its variant; the renamed template's variant reads the new name.
    [variant] = conn.fetch("products", [str(created["product_variant_ids"][0])])
    assert variant["default_code"] == "HUB-TMPL-1" and variant["product_tmpl_id"][0] == created["id"]
    assert variant["list_price"] == 250.0
    [renamed] = conn.lookup("products", "default_code", [sku])
    assert renamed["name"] == "Renamed on the template" and renamed["list_price"] == 42.0
    # A variant created alone gets its template, and a variant's rename reaches its template.
    [alone] = conn.write("products", [{"name": "Lone Variant", "default_code": "HUB-VAR-1"}])
    [lone] = conn.fetch("products", [alone.target_id])
    [template] = conn.fetch("product_templates", [str(lone["product_tmpl_id"][0])])
    assert template["name"] == "Lone Variant" and template["product_variant_ids"] == [lone["id"]]
    conn.write("products", [{"id": lone["id"], "name": "Lone Variant, renamed"}])
    assert conn.fetch("product_templates", [str(template["id"])])[0]["name"] == "Lone Variant, renamed"
    with pytest.raises(ConfigError):
        conn.delete("product_templates", [str(template["id"])])


# --- fetch and lookup ----------------------------------------------------------------------------


def test_fetch_and_lookup(erp):
    conn = connector(erp)
    assert [r["id"] for r in conn.fetch("products", ["3", "99999", "1", "x"])] == [3, 1]
    order = conn.fetch("sale_orders", [str(DATA.orders[0]["number"])])[0]
    assert len(order["lines"]) == len(DATA.orders[0]["lines"]) and order["partner_email"]

    sku = DATA.products[9]["sku"]
    assert [r["default_code"] for r in conn.lookup("products", "default_code", [sku, "NOPE"])] == [sku]
    email = DATA.customers[3]["email"]
    found = conn.lookup("partners", "email", [email.upper()])
    assert [r["email"] for r in found] == [email]
    quants = conn.lookup("stock", "sku", [sku])
    assert len(quants) == sum(1 for q in DATA.stock if q["sku"] == sku) and all(
        q["sku"] == sku for q in quants
    )
    ref = DATA.orders[1]["increment_id"]
    assert [r["client_order_ref"] for r in conn.lookup("sale_orders", "client_order_ref", [ref])] == [ref]
    with pytest.raises(ConfigError, match="no field"):
        conn.lookup("products", "colour", ["red"])


# --- writes and deletes --------------------------------------------------------------------------


def test_a_batch_write_with_one_bad_record_fails_only_that_record(writable):
    erp = writable
    conn = connector(erp)
    since = now_iso()
    results = conn.write(
        "products",
        [
            {"name": "Good One", "default_code": "GOOD-1"},
            {"default_code": "BAD-1"},  # no name: Odoo refuses it
            {"name": "Good Two", "default_code": "GOOD-2", "list_price": 10},
            {"name": "Bad Price", "default_code": "BAD-2", "list_price": "cheap"},
            {"name": "Bad Field", "colour": "red"},
        ],
    )
    assert [r.ok for r in results] == [True, False, True, False, False]
    assert (
        isinstance(results[1].error, RecordError) and "mandatory field is not set" in results[1].error.message
    )
    assert results[1].error.detail == "odoo.exceptions.ValidationError"
    assert "could not convert string to float" in results[3].error.message
    assert "no field “colour”" in results[4].error.message
    _, changed = read_all(conn, "products", since=since)
    assert sorted(r["default_code"] for r in changed) == ["GOOD-1", "GOOD-2"]
    # A duplicate barcode is refused by Odoo with its own message.
    taken = DATA.products[0]["ean"]
    [dup] = conn.write("products", [{"name": "Dup", "barcode": taken}])
    assert not dup.ok and "already assigned" in dup.error.message


def test_json2_refused_records_do_not_open_the_circuit_breaker(writable):
    from flows import breaker

    conn = connector(Endpoint(writable, API_JSON2), system_id=9101)
    results = conn.write("products", [{"id": i, "list_price": "cheap"} for i in range(1, 8)])
    assert all(not r.ok and isinstance(r.error, RecordError) for r in results)
    assert "could not convert string to float" in results[0].error.message  # Odoo's 500 ValueError
    assert breaker.state_of(9101).is_closed
    assert conn.fetch("products", ["1"])[0]["list_price"] == DATA.products[0]["price"]


def test_write_modes(writable):
    erp = writable
    conn = connector(erp)
    sku = DATA.products[2]["sku"]
    [existing] = conn.lookup("products", "default_code", [sku])
    [updated] = conn.write("products", [{"default_code": sku, "name": "Renamed"}], mode=WriteMode.UPDATE)
    assert updated.ok and updated.target_id == str(existing["id"]) and updated.action == "updated"
    [missing] = conn.write("products", [{"default_code": "NOT-THERE", "name": "x"}], mode=WriteMode.UPDATE)
    assert not missing.ok and "No Odoo record to update" in missing.error.message
    [gone] = conn.write("products", [{"id": 999999, "name": "x"}])
    assert not gone.ok and "does not exist" in gone.error.message
    [created] = conn.write("products", [{"default_code": sku, "name": "Copy"}], mode=WriteMode.CREATE)
    assert created.action == "created" and created.target_id != str(existing["id"])
    [twice] = conn.write("products", [{"default_code": sku, "name": "x"}])
    assert not twice.ok and "Several Odoo records" in twice.error.message
    [same] = conn.write("products", [{"id": existing["id"], "write_date": "2020-01-01 00:00:00"}])
    assert same.ok and same.action == "unchanged"


def test_stock_quantity_is_set_by_natural_key_or_id(writable):
    erp = writable
    conn = connector(erp)
    quant = DATA.stock[0]
    location = f"{quant['warehouse']}/Stock"
    [result] = conn.write("stock", [{"sku": quant["sku"], "location": location, "quantity": 7}])
    assert result.ok and result.action == "updated"
    [record] = conn.fetch("stock", [result.target_id])
    assert record["quantity"] == 7.0 and record["sku"] == quant["sku"] and record["location"] == location
    [by_id] = conn.write("stock", [{"id": record["id"], "quantity": 3}])
    assert by_id.ok and conn.fetch("stock", [record["id"]])[0]["quantity"] == 3.0
    [unknown] = conn.write("stock", [{"sku": "NOPE", "location": location, "quantity": 1}])
    assert not unknown.ok and "No Odoo product has the SKU “NOPE”" in unknown.error.message
    with pytest.raises(ConfigError):
        conn.delete("stock", [str(record["id"])])


def test_sale_order_with_lines_is_created_read_and_deleted(writable):
    erp = writable
    conn = connector(erp)
    customer = DATA.customers[0]["email"]
    skus = [DATA.products[0]["sku"], DATA.products[1]["sku"]]
    since = now_iso()
    results = conn.write(
        "sale_orders",
        [
            {
                "partner_email": customer,
                "client_order_ref": "HUB-ORDER-1",
                "lines": [
                    {"sku": skus[0], "product_uom_qty": 2, "price_unit": 10.0},
                    {"sku": skus[1], "product_uom_qty": 1, "price_unit": 5.0},
                ],
            },
            {"partner_email": "nobody@example.invalid", "client_order_ref": "HUB-ORDER-2"},
        ],
    )
    assert results[0].ok and results[0].action == "created"
    assert not results[1].ok and "nobody@example.invalid" in results[1].error.message
    _, changed = read_all(conn, "sale_orders", since=since)
    [order] = changed
    assert order["id"] == int(results[0].target_id) and order["partner_email"] == customer
    assert [li["sku"] for li in order["lines"]] == skus and order["amount_untaxed"] == 25.0
    deleted = conn.delete("sale_orders", [str(order["id"]), "999999", "abc"])
    assert [r.ok for r in deleted] == [True, True, False]
    assert conn.fetch("sale_orders", [str(order["id"])]) == []


def test_partner_write_with_country_code_and_delete(writable):
    erp = writable
    conn = connector(erp)
    [result] = conn.write("partners", [{"name": "Ada Hub", "email": "ada@example.org", "country_code": "be"}])
    assert result.ok
    [partner] = conn.fetch("partners", [result.target_id])
    assert partner["country_code"] == "BE" and partner["country_id"][1] == "Belgium"
    [again] = conn.write("partners", [{"email": "ADA@example.org", "city": "Gent"}])  # upsert by e-mail
    assert again.target_id == result.target_id and again.action == "updated"
    [bad] = conn.write("partners", [{"name": "X", "country_code": "ZZ"}])
    assert not bad.ok and "country" in bad.error.message
    assert [r.ok for r in conn.delete("partners", [result.target_id])] == [True]
    assert conn.fetch("partners", [result.target_id]) == []


# --- authentication cache ------------------------------------------------------------------------


def test_uid_is_shared_between_instances_and_refreshed_once_when_refused(erp_rpc):
    erp = erp_rpc
    calls = []

    def spying(conn):
        original = conn._rpc

        def spy(service, method, args, **kwargs):
            calls.append(method if service == "common" else args[4])
            return original(service, method, args, **kwargs)

        conn._rpc = spy
        return conn

    read_all(spying(connector(erp, system_id=501)), "products", limit=1)
    assert calls.count("authenticate") == 1
    assert '"uid": 2' in get_shared(uid_key(501))
    read_all(spying(connector(erp, system_id=501)), "products", limit=1)
    assert calls.count("authenticate") == 1  # the second instance used the shared uid

    # The cached uid goes stale (another user, same fingerprint): refused once, then logged in again.
    stale = spying(connector(erp, system_id=501))
    set_shared(uid_key(501), get_shared(uid_key(501)).replace('"uid": 2', '"uid": 99'), 60)
    _, records = read_all(stale, "products", limit=2)
    assert len(records) == 2 and calls.count("authenticate") == 2
    assert '"uid": 2' in get_shared(uid_key(501))

    # A changed secret does not reuse the cache: it logs in, and fails clearly.
    with pytest.raises(AuthError, match="refused the login"):
        read_all(connector(erp, system_id=501, password="changed"), "products", limit=1)


# --- failures ------------------------------------------------------------------------------------


def test_odoo_errors_are_mapped_onto_the_taxonomy():
    def err(name, message="boom"):
        return {"code": 200, "message": "Odoo Server Error", "data": {"name": name, "message": message}}

    denied = odoo_error(err("odoo.exceptions.AccessDenied"))
    assert isinstance(denied, AuthError) and denied.reason == "auth"
    forbidden = odoo_error(err("odoo.exceptions.AccessError", "not allowed"))
    assert isinstance(forbidden, AuthError) and forbidden.reason == "forbidden"
    for name in (
        "odoo.exceptions.ValidationError",
        "odoo.exceptions.UserError",
        "odoo.exceptions.MissingError",
    ):
        assert isinstance(odoo_error(err(name, "bad"), writing=True), RecordError)
        assert odoo_error(err(name, "bad"), writing=True).message == "bad"
        assert isinstance(odoo_error(err(name)), ConfigError)  # a refused read cannot be retried
    assert isinstance(odoo_error(err("builtins.KeyError", "'sale.order'")), ConfigError)
    missing_db = odoo_error(err("psycopg2.OperationalError", 'FATAL:  database "x" does not exist'))
    assert isinstance(missing_db, ConfigError)
    assert isinstance(odoo_error(err("psycopg2.errors.SerializationFailure")), TransientError)
    assert type(odoo_error(err("builtins.RuntimeError"))) is TransientError


def test_429_with_retry_after_is_honoured_and_the_read_completes(erp):
    httpx.put(f"{erp}/_sandbox/faults", json={"rate_limit_rate": 1.0, "retry_after": 1}).raise_for_status()
    timer = threading.Timer(0.3, lambda: httpx.put(f"{erp}/_sandbox/faults", json={"rate_limit_rate": 0}))
    timer.start()
    try:
        start = time.monotonic()
        _, records = read_all(connector(erp), "partners")
        elapsed = time.monotonic() - start
    finally:
        timer.cancel()
    assert len(records) == len(DATA.customers)
    assert elapsed >= 0.9  # waited for Retry-After: 1
    assert stats(erp)["faults"].get("rate_limit", 0) >= 1


def test_malformed_json_is_a_transient_error_not_a_crash(erp):
    httpx.put(f"{erp}/_sandbox/faults", json={"malformed_rate": 1.0}).raise_for_status()
    with pytest.raises(TransientError) as caught:
        read_all(connector(erp), "products", limit=1)
    assert caught.value.reason == "malformed"
    result = connector(erp).check()
    assert not result.ok and result.kind == "malformed"
    httpx.put(f"{erp}/_sandbox/faults", json={"malformed_rate": 0}).raise_for_status()
    assert connector(erp).check().ok


def test_exhausted_retries_give_a_transient_error(erp):
    httpx.put(f"{erp}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 503}).raise_for_status()
    conn = connector(erp)
    conn.client.backoff = 0.001
    with pytest.raises(TransientError, match="unavailable"):
        read_all(conn, "products", limit=1)
    assert stats(erp)["total"] == conn.retries + 1


@pytest.mark.django_db(transaction=True)
def test_the_request_budget_holds_across_threads(erp):
    httpx.put(f"{erp}/_sandbox/faults", json={"latency_ms": 30}).raise_for_status()
    errors = []

    def worker():
        try:
            read_all(connector(erp, system_id=77, max_concurrency=2), "partners", limit=5)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    seen = stats(erp)
    assert seen["total"] >= 6 * 3 and seen["max_in_flight"] <= 2


def test_since_in_the_future_reads_nothing(erp):
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    pages, records = read_all(connector(erp), "stock", since=future)
    assert records == [] and len(pages) == 1 and pages[0].has_more is False
