"""The HubSpot connector's companies, deals and products over real HTTP against the CRM stand-in:
discovery, full reads to the last page, exact incremental reads on ``hs_lastmodifieddate`` (across
the search cap), batch upserts by each type's ``idProperty`` with a bad record, create mode,
writes by id when an entity has no unique property, fetch, lookup and delete."""

import pytest

from flows.connectors.base import Capability, ConnectionSettings, WriteMode
from flows.connectors.errors import RecordError
from flows.connectors.hubspot import HubSpotConnector, modified_ms
from sandbox.credentials import CrmCredentials
from sandbox.seed import N_ORDERS, N_PRODUCTS, SEED_HORIZON, dataset
from sandbox.testing import running

pytestmark = pytest.mark.django_db

SEED = dataset(42)
OBJECTS = ("companies", "deals", "products")
ID_PROPERTY = {"companies": "domain", "deals": "hub_ref", "products": "hs_sku"}
# A record each type's HubSpot validation refuses on its own (not the hub's checks).
BAD = {
    "companies": {"numberofemployees": "a few"},
    "deals": {"dealstage": "nearly-won"},
    "products": {"price": "free"},
}
GOOD = {
    "companies": lambda i: {"name": f"Company {i}", "city": "Lyon", "numberofemployees": str(10 + i)},
    "deals": lambda i: {"dealname": f"Deal {i}", "amount": f"{100 + i}.50", "dealstage": "qualifiedtobuy"},
    "products": lambda i: {"name": f"Product {i}", "price": f"{10 + i}.90", "hs_product_type": "inventory"},
}


@pytest.fixture
def crm():
    with running("crm") as url:
        yield url


def connector(url, **params):
    conn = HubSpotConnector(
        ConnectionSettings(
            system_id=None,
            name="crm",
            params={"base_url": url, **params},
            secrets={"access_token": CrmCredentials().token},
        )
    )
    conn.sleep = lambda seconds: None  # the rate-limit pauses are tested in test_hubspot_connector
    return conn


def read_all(conn, entity, **kwargs):
    pages = list(conn.read(entity, **kwargs))
    return pages, [r for p in pages for r in p.records]


def keys(records, entity):
    return [r["properties"][ID_PROPERTY[entity]] for r in records]


def records_with(entity, n, prefix):
    prop = ID_PROPERTY[entity]
    return [{"properties": {prop: f"{prefix}-{i}", **GOOD[entity](i)}} for i in range(n)]


def test_discover_declares_each_object_with_its_keys_and_cursor(crm):
    found = {e.key: e for e in connector(crm).discover(sample_size=2)}
    for entity in OBJECTS:
        declared = found[entity]
        assert declared.cursor_field == "properties.hs_lastmodifieddate"
        assert declared.natural_keys == (f"properties.{ID_PROPERTY[entity]}",)
        assert len(declared.samples) == 2 and all(keys(declared.samples, entity))
        assert Capability.WRITE in declared.capabilities
        assert Capability.SUBJECT_ERASE not in declared.capabilities  # GDPR is the contacts' business
        fields = {f.name: f for f in declared.fields}
        assert fields[f"properties.{ID_PROPERTY[entity]}"].required
        assert fields["properties.hs_lastmodifieddate"].type == "datetime"
    assert found["deals"].reference_field == "properties.hub_ref"
    assert {f.name: f for f in found["products"].fields}["properties.price"].type == "number"
    # a company's phone and address are a business's: not personal data
    company = {f.name: f for f in found["companies"].fields}
    assert company["properties.phone"].personal == "" and company["properties.city"].personal == ""


@pytest.mark.parametrize(
    ("entity", "expected"),
    [
        ("deals", {o["increment_id"] for o in SEED.orders}),
        ("products", {p["sku"] for p in SEED.products}),
    ],
)
def test_full_read_to_the_last_page(crm, entity, expected):
    conn = connector(crm)
    conn.list_page_size = 97  # an odd size: a short last page
    pages, records = read_all(conn, entity)
    assert len(records) == len(expected) == len({r["id"] for r in records})
    assert set(keys(records, entity)) == expected
    assert len(pages) == -(-len(expected) // 97)
    assert all(p.has_more for p in pages[:-1]) and not pages[-1].has_more and pages[-1].cursor is None
    # a page's cursor resumes the read
    _, rest = read_all(conn, entity, cursor=pages[0].cursor)
    assert [r["id"] for r in pages[0].records + rest] == [r["id"] for r in records]


def test_full_read_of_companies(crm):
    pages, records = read_all(connector(crm), "companies")
    domains = keys(records, "companies")
    assert len(domains) == len(set(domains)) == 60 and not pages[-1].has_more
    crm_lastnames = {SEED.customers[i]["lastname"] for i in SEED.crm_customers}
    assert all(any(last in r["properties"]["name"] for last in crm_lastnames) for r in records)


@pytest.mark.parametrize(
    ("entity", "seeded"),
    [
        ("deals", [(o["increment_id"], o["updated"]) for o in SEED.orders]),
        ("products", [(p["sku"], p["updated"]) for p in SEED.products]),
    ],
)
def test_incremental_read_of_seeded_records_is_exact(crm, entity, seeded):
    bound = sorted(moment for _, moment in seeded)[len(seeded) * 2 // 3]
    expected = {key for key, moment in seeded if moment > bound}
    _, records = read_all(connector(crm), entity, since=bound.isoformat())
    found = keys(records, entity)
    assert sorted(found) == sorted(expected)  # each once, none missing
    stamps = [modified_ms(r, "hs_lastmodifieddate") for r in records]
    assert stamps == sorted(stamps)  # oldest first


@pytest.mark.parametrize("entity", OBJECTS)
def test_incremental_read_returns_exactly_the_written_records(crm, entity):
    conn = connector(crm)
    _, everything = read_all(conn, entity)
    changed = [{"properties": {ID_PROPERTY[entity]: keys(everything, entity)[7], "description": "edited"}}]
    written = [*records_with(entity, 3, "incr"), *changed]
    assert all(r.ok for r in conn.write(entity, written))
    _, records = read_all(conn, entity, since=SEED_HORIZON.isoformat())
    assert sorted(keys(records, entity)) == sorted(keys(written, entity))
    # the engine's watermark (the greatest cursor value read) gives nothing new
    mark = max(r["properties"]["hs_lastmodifieddate"] for r in records)
    assert read_all(conn, entity, since=mark)[1] == []


def test_incremental_products_across_the_search_cap(crm):
    conn = connector(crm)
    conn.search_cap, conn.search_page_size = 20, 10  # HubSpot: 10,000 and 200
    written = records_with("products", 75, "cap")  # many share one millisecond
    assert all(r.ok for r in conn.write("products", written))
    pages, records = read_all(conn, "products", since=SEED_HORIZON.isoformat())
    assert sorted(keys(records, "products")) == sorted(keys(written, "products"))  # each once
    middle = pages[len(pages) // 2]
    _, rest = read_all(conn, "products", cursor=middle.cursor)
    before = [r for p in pages[: len(pages) // 2 + 1] for r in p.records]
    assert sorted(r["id"] for r in before + rest) == sorted(r["id"] for r in records)


@pytest.mark.parametrize("entity", OBJECTS)
def test_upsert_by_id_property_with_one_bad_record(crm, entity):
    conn = connector(crm)
    prop = ID_PROPERTY[entity]
    records = records_with(entity, 4, "batch")
    records[2]["properties"].update(BAD[entity])
    results = conn.write(entity, records)
    assert [r.ok for r in results] == [True, True, False, True]
    assert isinstance(results[2].error, RecordError)
    assert results[2].error.message.startswith("Property values were not valid:")
    assert {r.action for r in results if r.ok} == {"created"}
    found = conn.lookup(entity, f"properties.{prop}", ["BATCH-0", "batch-1", "batch-2", "batch-3"])
    assert sorted(keys(found, entity)) == ["batch-0", "batch-1", "batch-3"]
    assert {r["id"] for r in found} == {r.target_id for r in results if r.ok}
    # a record without its unique property never leaves the hub
    (missing,) = conn.write(entity, [{"properties": GOOD[entity](9)}])
    assert not missing.ok and prop in missing.error.message
    _, after = read_all(conn, entity, since=SEED_HORIZON.isoformat())
    assert len(after) == 3


def test_products_upserted_by_sku_read_back(crm):
    conn = connector(crm)
    seeded = SEED.products[3]
    (before,) = conn.lookup("products", "properties.hs_sku", [seeded["sku"]])
    results = conn.write(
        "products",
        [
            {
                "properties": {
                    "hs_sku": seeded["sku"],
                    "price": "1234.50",
                    "hs_lastmodifieddate": "2020-01-01",
                }
            },
            {"hs_sku": "NEW-SKU-1", "name": "Flat record", "price": "5"},  # flat: the rest are properties
        ],
    )
    assert [(r.ok, r.action) for r in results] == [(True, "updated"), (True, "created")]
    assert results[0].target_id == before["id"]
    (updated,) = conn.fetch("products", [before["id"]])
    assert updated["properties"]["price"] == "1234.50"
    assert updated["properties"]["name"] == seeded["name_en"]  # untouched properties kept
    (created,) = conn.lookup("products", "hs_sku", ["new-sku-1"])
    assert created["id"] == results[1].target_id and created["properties"]["name"] == "Flat record"
    _, everything = read_all(conn, "products")
    assert len(everything) == N_PRODUCTS + 1


def test_create_mode_refuses_a_known_domain_and_isolates_a_bad_record(crm):
    conn = connector(crm)
    _, companies = read_all(conn, "companies", limit=1)
    known = companies[0]["properties"]["domain"]
    records = records_with("companies", 5, "create")
    records[3]["properties"]["industry"] = "SPACE_TOURISM"
    records.append({"properties": {"domain": known, "name": "Again"}})
    results = conn.write("companies", records, mode=WriteMode.CREATE)
    assert [r.ok for r in results] == [True, True, True, False, True, False]
    assert "SPACE_TOURISM was not one of the allowed options" in results[3].error.message
    assert "already exists" in results[5].error.message and results[5].error.status == 409
    assert len(conn.lookup("companies", "domain", [f"create-{i}" for i in range(5)])) == 4


def test_deals_without_a_unique_property_are_written_by_id(crm):
    conn = connector(crm, deal_id_property="")
    entity = conn.entity("deals")
    assert entity.natural_keys == () and entity.reference_field == ""
    (first,) = read_all(conn, "deals", limit=1)[1]
    results = conn.write(
        "deals",
        [
            {"id": first["id"], "properties": {"dealname": "Renamed", "amount": "99"}},
            {"properties": {"dealname": "Brand new", "amount": "10"}},
            {"properties": {"dealname": "Bad", "amount": "lots"}},
        ],
    )
    assert [(r.ok, r.action) for r in results[:2]] == [(True, "updated"), (True, "created")]
    assert not results[2].ok and "lots is not a valid number" in results[2].error.message
    assert results[0].target_id == first["id"]
    (renamed,) = conn.fetch("deals", [first["id"]])
    assert renamed["properties"]["dealname"] == "Renamed"
    (new,) = conn.fetch("deals", [results[1].target_id])
    assert new["properties"]["dealname"] == "Brand new"
    (missing,) = conn.write("deals", [{"properties": {"dealname": "No id"}}], mode=WriteMode.UPDATE)
    assert not missing.ok and "no id" in missing.error.message
    assert len(read_all(conn, "deals")[1]) == N_ORDERS + 1


def test_lookup_by_another_property_and_delete(crm):
    conn = connector(crm)
    order = SEED.orders[5]
    (deal,) = conn.lookup("deals", "properties.dealname", [f"Order {order['increment_id']}"])
    assert deal["properties"]["hub_ref"] == order["increment_id"]
    assert float(deal["properties"]["amount"]) == order["total"]
    (result,) = conn.delete("deals", [deal["id"]])
    assert result.ok and result.action == "deleted"
    assert conn.fetch("deals", [deal["id"]]) == []
    assert conn.lookup("deals", "hub_ref", [order["increment_id"]]) == []
    assert len(read_all(conn, "deals")[1]) == N_ORDERS - 1


def test_the_form_validates_each_types_property_names():
    errors = HubSpotConnector.clean_parameters(
        {"company_properties": "name, Bad-Name", "product_id_property": "SKU code"}, {"access_token": "pat-x"}
    )
    assert set(errors) == {"company_properties", "product_id_property"}
    assert "Bad-Name" in errors["company_properties"]
