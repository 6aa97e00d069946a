"""CRM stand-in (HubSpot CRM v3 contacts, companies, deals and products shapes) over real HTTP."""

import httpx
import pytest

from sandbox.crm import N_COMPANIES
from sandbox.seed import N_CRM_CONTACTS, N_ORDERS, N_PRODUCTS, dataset
from sandbox.server import build, store_file
from sandbox.testing import running

from .conftest import AFTER_SEED_MS, crm_client

CONTACTS = "/crm/v3/objects/contacts"


def reset(url):
    assert httpx.post(f"{url}/_sandbox/reset").status_code == 200


def test_auth(crm_url):
    anonymous = httpx.get(f"{crm_url}{CONTACTS}")
    assert anonymous.status_code == 401
    body = anonymous.json()
    assert (
        body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION" and body["correlationId"]
    )
    wrong = httpx.get(f"{crm_url}{CONTACTS}", headers={"Authorization": "Bearer pat-wrong"})
    assert wrong.status_code == 401 and wrong.json()["category"] == "INVALID_AUTHENTICATION"
    ok = crm_client(crm_url).get(CONTACTS)
    assert ok.status_code == 200
    assert ok.headers["X-HubSpot-RateLimit-Max"] == "190"
    assert int(ok.headers["X-HubSpot-RateLimit-Remaining"]) < 190


def test_list_paging_to_the_last_page(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    seen = []
    response = client.get(CONTACTS, params={"limit": 100, "properties": "email,firstname,phone"})
    while True:
        body = response.json()
        seen += body["results"]
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            break
        response = client.get(nxt["link"])
    assert len(seen) == N_CRM_CONTACTS == len({c["id"] for c in seen})
    first = seen[0]
    assert set(first) == {"id", "properties", "createdAt", "updatedAt", "archived"}
    assert set(first["properties"]) == {
        "email",
        "firstname",
        "phone",
        "createdate",
        "lastmodifieddate",
        "hs_object_id",
    }
    assert first["properties"]["hs_object_id"] == first["id"]
    assert len(client.get(CONTACTS, params={"limit": 500}).json()["results"]) == 100


def test_search_incremental_and_caps(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    since = {
        "filterGroups": [
            {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": str(AFTER_SEED_MS)}]}
        ]
    }
    assert client.post(f"{CONTACTS}/search", json=since).json() == {"total": 0, "results": []}
    target = client.get(CONTACTS, params={"limit": 1}).json()["results"][0]
    patched = client.patch(f"{CONTACTS}/{target['id']}", json={"properties": {"phone": "+33 6 00 00 00 00"}})
    assert patched.status_code == 200 and patched.json()["properties"]["phone"] == "+33 6 00 00 00 00"
    found = client.post(f"{CONTACTS}/search", json={**since, "properties": ["email", "phone"]}).json()
    assert found["total"] == 1 and found["results"][0]["id"] == target["id"]
    by_email = client.post(
        f"{CONTACTS}/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "email",
                            "operator": "EQ",
                            "value": target["properties"]["email"].upper(),
                        }
                    ]
                }
            ]
        },
    ).json()
    assert [r["id"] for r in by_email["results"]] == [target["id"]]
    sorted_page = client.post(
        f"{CONTACTS}/search",
        json={"sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}], "limit": 3},
    ).json()
    assert sorted_page["results"][0]["id"] == target["id"] and sorted_page["paging"]["next"]["after"] == "3"
    assert sorted_page["total"] == N_CRM_CONTACTS
    beyond = client.post(f"{CONTACTS}/search", json={"after": "10000", "limit": 100})
    assert beyond.status_code == 400 and beyond.json()["category"] == "VALIDATION_ERROR"


def test_round_trip_by_id_and_email(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    created = client.post(
        CONTACTS,
        json={"properties": {"email": "nina.new@example.com", "firstname": "Nina", "lastname": "New"}},
    )
    assert created.status_code == 201
    cid = created.json()["id"]
    conflict = client.post(CONTACTS, json={"properties": {"email": "nina.new@example.com"}})
    assert conflict.status_code == 409 and conflict.json()["category"] == "CONFLICT"
    by_email = client.get(
        f"{CONTACTS}/nina.new@example.com", params={"idProperty": "email", "properties": "firstname"}
    )
    assert by_email.status_code == 200 and by_email.json()["id"] == cid
    assert by_email.json()["properties"]["firstname"] == "Nina"
    bad = client.patch(
        f"{CONTACTS}/{cid}", json={"properties": {"favourite_colour": "blue", "email": "not-an-email"}}
    )
    assert bad.status_code == 400 and bad.json()["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in bad.json()["message"] and "INVALID_EMAIL" in bad.json()["message"]
    assert client.delete(f"{CONTACTS}/{cid}").status_code == 204
    assert client.get(f"{CONTACTS}/{cid}").status_code == 404
    archived = client.get(f"{CONTACTS}/{cid}", params={"archived": "true"})
    assert archived.status_code == 200 and archived.json()["archived"] is True
    missing = client.get(f"{CONTACTS}/999999")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"


def test_batch_upsert_and_read(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    existing = client.get(CONTACTS, params={"limit": 1, "properties": "email"}).json()["results"][0]
    email = existing["properties"]["email"]
    response = client.post(f"{CONTACTS}/batch/upsert", json={"inputs": [
        {"idProperty": "email", "id": email, "properties": {"lifecyclestage": "customer", "city": "Lyon"}},
        {"idProperty": "email", "id": "brand.new@example.com", "properties": {"firstname": "Brand", "lastname": "New"}},
        {"idProperty": "email", "id": "bad.one@example.com", "properties": {"no_such_property": "x"}},
    ]})  # fmt: skip
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert body["errors"][0]["category"] == "VALIDATION_ERROR" and body["errors"][0]["context"]["ids"] == [
        "bad.one@example.com"
    ]
    results = {r["properties"]["email"]: r for r in body["results"]}
    assert results[email]["new"] is False and results[email]["id"] == existing["id"]
    assert results[email]["properties"]["city"] == "Lyon"
    assert results["brand.new@example.com"]["new"] is True
    ok = client.post(
        f"{CONTACTS}/batch/upsert",
        json={"inputs": [{"idProperty": "email", "id": email, "properties": {"city": "Lille"}}]},
    )
    assert ok.status_code == 200 and "errors" not in ok.json()

    read = client.post(
        f"{CONTACTS}/batch/read",
        json={
            "idProperty": "email",
            "properties": ["city"],
            "inputs": [{"id": email}, {"id": "nobody@example.com"}],
        },
    )
    assert read.status_code == 207
    assert read.json()["results"][0]["properties"]["city"] == "Lille"
    assert read.json()["errors"][0]["context"]["ids"] == ["nobody@example.com"]
    too_many = client.post(
        f"{CONTACTS}/batch/upsert",
        json={
            "inputs": [
                {"idProperty": "email", "id": f"x{n}@example.com", "properties": {}} for n in range(101)
            ]
        },
    )
    assert too_many.status_code == 400


def test_gdpr_delete(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    target = client.get(CONTACTS, params={"limit": 1, "properties": "email"}).json()["results"][0]
    email = target["properties"]["email"]
    gone = client.post(f"{CONTACTS}/gdpr-delete", json={"objectId": email, "idProperty": "email"})
    assert gone.status_code == 204
    assert client.get(f"{CONTACTS}/{target['id']}").status_code == 404
    assert client.get(f"{CONTACTS}/{target['id']}", params={"archived": "true"}).status_code == 404, (
        "not even archived"
    )
    # HubSpot (2025): a GDPR-deleted email may come back only through the API, as a new contact
    again = client.post(
        f"{CONTACTS}/batch/upsert",
        json={"inputs": [{"idProperty": "email", "id": email, "properties": {"firstname": "Back"}}]},
    )
    assert again.status_code == 200 and again.json()["results"][0]["id"] != target["id"]
    assert client.post(f"{CONTACTS}/gdpr-delete", json={"objectId": "424242"}).status_code == 404

    with running("crm", options={"crm": {"block_gdpr_recreate": True}}) as url:
        strict = crm_client(url)
        victim = strict.get(CONTACTS, params={"limit": 1, "properties": "email"}).json()["results"][0][
            "properties"
        ]["email"]
        assert (
            strict.post(
                f"{CONTACTS}/gdpr-delete", json={"objectId": victim, "idProperty": "email"}
            ).status_code
            == 204
        )
        refused = strict.post(
            f"{CONTACTS}/batch/upsert",
            json={"inputs": [{"idProperty": "email", "id": victim, "properties": {}}]},
        )
        assert refused.status_code == 207 and refused.json()["errors"][0]["category"] == "VALIDATION_ERROR"
        assert strict.post(CONTACTS, json={"properties": {"email": victim}}).status_code == 400


# --- companies, deals, products -----------------------------------------------------------------

SEED = dataset(42)
OBJECTS = "/crm/v3/objects"


def read_every_page(client, path, **params):
    seen, pages = [], 0
    response = client.get(path, params={"limit": 100, **params})
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        seen += body["results"]
        pages += 1
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            return seen, pages
        response = client.get(nxt["link"])


@pytest.mark.parametrize(
    ("object_type", "count", "modified", "defaults"),
    [
        ("companies", N_COMPANIES, "hs_lastmodifieddate", {"name", "domain"}),
        (
            "deals",
            N_ORDERS,
            "hs_lastmodifieddate",
            {"dealname", "amount", "dealstage", "pipeline", "closedate"},
        ),
        ("products", N_PRODUCTS, "hs_lastmodifieddate", {"name", "description", "price"}),
    ],
)
def test_each_object_type_lists_to_its_last_page(crm_url, object_type, count, modified, defaults):
    reset(crm_url)
    client = crm_client(crm_url)
    seen, pages = read_every_page(client, f"{OBJECTS}/{object_type}")
    assert len(seen) == count == len({r["id"] for r in seen})
    assert pages == -(-count // 100)
    # HubSpot's defaults of the type when no properties are asked for, with its own modified date
    assert set(seen[0]["properties"]) == defaults | {"createdate", modified, "hs_object_id"}
    assert "lastmodifieddate" not in seen[0]["properties"]
    # the type id works in the path too; an unknown type is HubSpot's 400
    type_id = {"companies": "0-2", "deals": "0-3", "products": "0-7"}[object_type]
    assert client.get(f"{OBJECTS}/{type_id}", params={"limit": 3}).json()["results"] == seen[:3]
    unknown = client.get(f"{OBJECTS}/widgets")
    assert unknown.status_code == 400 and unknown.json()["category"] == "VALIDATION_ERROR"


def test_seeded_objects_come_from_the_shared_dataset(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    products, _ = read_every_page(client, f"{OBJECTS}/products", properties="hs_sku,price,name")
    by_sku = {p["sku"]: p for p in SEED.products}
    assert {r["properties"]["hs_sku"] for r in products} == set(by_sku)
    sample = products[17]["properties"]
    assert float(sample["price"]) == by_sku[sample["hs_sku"]]["price"]
    assert sample["name"] == by_sku[sample["hs_sku"]]["name_en"]
    deals, _ = read_every_page(
        client, f"{OBJECTS}/deals", properties="hub_ref,amount,dealstage", associations="contacts"
    )
    orders = {o["increment_id"]: o for o in SEED.orders}
    assert {r["properties"]["hub_ref"] for r in deals} == set(orders)
    for deal in deals:
        order = orders[deal["properties"]["hub_ref"]]
        assert float(deal["properties"]["amount"]) == order["total"]
        assert (deal["properties"]["dealstage"] == "closedwon") is (order["status"] == "complete")
    # a deal is associated with its customer's contact when the CRM knows the customer
    crm_emails = {SEED.customers[i]["email"] for i in SEED.crm_customers}
    linked = [d for d in deals if "associations" in d]
    assert len(linked) == sum(1 for o in SEED.orders if o["email"] in crm_emails) > 0
    deal = linked[0]
    (contact_ref,) = deal["associations"]["contacts"]["results"]
    contact = client.get(f"{CONTACTS}/{contact_ref['id']}", params={"properties": "email"}).json()
    assert contact["properties"]["email"] == orders[deal["properties"]["hub_ref"]]["email"]
    companies, _ = read_every_page(client, f"{OBJECTS}/companies", properties="name,domain")
    assert len({c["properties"]["domain"] for c in companies}) == N_COMPANIES


def test_search_on_hs_lastmodifieddate_is_incremental(crm_url):
    reset(crm_url)
    client = crm_client(crm_url)
    bound = sorted(p["updated"] for p in SEED.products)[1500]
    bound_ms = int(bound.timestamp() * 1000)
    query = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GT", "value": str(bound_ms)}]}
        ],
        "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["hs_sku"],
        "limit": 200,
    }
    found, after = [], None
    while True:
        body = client.post(
            f"{OBJECTS}/products/search", json={**query, **({"after": after} if after else {})}
        ).json()
        found += body["results"]
        after = body.get("paging", {}).get("next", {}).get("after")
        if not after:
            break
    assert body["total"] == len(found) == 499
    assert {r["properties"]["hs_sku"] for r in found} == {
        p["sku"] for p in SEED.products if p["updated"] > bound
    }
    stamps = [r["properties"]["hs_lastmodifieddate"] for r in found]
    assert stamps == sorted(stamps)
    # contacts' property is not the products' one; a number compares as a number
    wrong = client.post(
        f"{OBJECTS}/products/search",
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "0"}]}
            ]
        },
    )
    assert wrong.status_code == 400 and wrong.json()["category"] == "VALIDATION_ERROR"
    dear = client.post(
        f"{OBJECTS}/products/search",
        json={"filterGroups": [{"filters": [{"propertyName": "price", "operator": "GTE", "value": "1000"}]}]},
    ).json()
    assert dear["total"] == sum(1 for p in SEED.products if p["price"] >= 1000)
    beyond = client.post(f"{OBJECTS}/deals/search", json={"after": "10000"})
    assert beyond.status_code == 400 and beyond.json()["category"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("object_type", "id_property", "good", "bad", "error"),
    [
        ("companies", "domain", {"name": "Acme"}, {"numberofemployees": "many"}, "INVALID_NUMBER"),
        (
            "deals",
            "hub_ref",
            {"dealname": "Big one", "amount": "10"},
            {"dealstage": "won-ish"},
            "INVALID_OPTION",
        ),
        ("products", "hs_sku", {"name": "Widget", "price": "9.90"}, {"price": "free"}, "INVALID_NUMBER"),
    ],
)
def test_batch_upsert_by_id_property_with_a_bad_input(crm_url, object_type, id_property, good, bad, error):
    reset(crm_url)
    client = crm_client(crm_url)
    path = f"{OBJECTS}/{object_type}"
    (existing,) = client.get(path, params={"limit": 1, "properties": id_property}).json()["results"]
    key = existing["properties"][id_property]
    response = client.post(f"{path}/batch/upsert", json={"inputs": [
        {"idProperty": id_property, "id": key, "properties": {"description": "changed"}},
        {"idProperty": id_property, "id": "new-key-1", "properties": good},
        {"idProperty": id_property, "id": "new-key-2", "properties": bad},
        {"idProperty": id_property, "id": "new-key-3", "properties": {"hs_lastmodifieddate": "2020-01-01"}},
    ]})  # fmt: skip
    assert response.status_code == 207
    body = response.json()
    assert body["numErrors"] == 2
    errors = {e["context"]["ids"][0]: e for e in body["errors"]}
    assert errors["new-key-2"]["category"] == "VALIDATION_ERROR" and error in errors["new-key-2"]["message"]
    assert "READ_ONLY_VALUE" in errors["new-key-3"]["message"]
    results = {r["properties"][id_property]: r for r in body["results"]}
    assert results[key]["new"] is False and results[key]["id"] == existing["id"]
    assert results["new-key-1"]["new"] is True
    read = client.post(
        f"{path}/batch/read",
        json={
            "idProperty": id_property,
            "properties": ["description", *good],
            "inputs": [{"id": key}, {"id": "NEW-KEY-1"}],
        },
    ).json()
    assert [r["id"] for r in read["results"]] == [existing["id"], results["new-key-1"]["id"]]
    assert read["results"][0]["properties"]["description"] == "changed"
    assert all(read["results"][1]["properties"][k] == v for k, v in good.items())
    # the unique property is unique: a second record with it is a conflict
    clash = client.post(path, json={"properties": {id_property: key}})
    assert clash.status_code == 409 and clash.json()["category"] == "CONFLICT"
    # other types' natural keys are not this type's idProperty
    refused = client.get(f"{path}/x", params={"idProperty": "email"})
    assert refused.status_code == 400 and refused.json()["category"] == "VALIDATION_ERROR"
    # archived, the key is free again; GDPR deletion is for contacts only
    assert client.delete(f"{path}/{existing['id']}").status_code == 204
    assert client.get(f"{path}/{key}", params={"idProperty": id_property}).status_code == 404
    assert client.post(path, json={"properties": {id_property: key}}).status_code == 201
    assert client.post(f"{path}/gdpr-delete", json={"objectId": existing["id"]}).status_code in (404, 405)


def test_objects_are_seeded_on_first_use_in_a_file_store_too(tmp_path):
    path = store_file(str(tmp_path), "crm")
    app = build("crm", store_path=path, seed=42)  # contacts only, as the stand-in once seeded
    assert app.store.count("contact") == N_CRM_CONTACTS and app.store.count("product") == 0
    app.close()
    with running("crm", memory=False, data_dir=str(tmp_path)) as url:
        client = crm_client(url)
        products, _ = read_every_page(client, f"{OBJECTS}/products")  # the first request seeds them
        assert len(products) == N_PRODUCTS
        contacts, _ = read_every_page(client, CONTACTS)
        assert len(contacts) == N_CRM_CONTACTS
        # after a reset, the same objects again
        reset(url)
        again, _ = read_every_page(client, f"{OBJECTS}/products")
        assert [p["id"] for p in again] == [p["id"] for p in products]
