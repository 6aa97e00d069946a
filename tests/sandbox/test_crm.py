"""CRM stand-in (HubSpot CRM v3 contacts shape) over real HTTP."""

import httpx

from sandbox.seed import N_CRM_CONTACTS
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
