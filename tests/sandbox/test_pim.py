"""PIM stand-in (Akeneo REST API v1 shape) over real HTTP."""

import json
import threading

import httpx

from sandbox.credentials import PimCredentials
from sandbox.seed import N_PRODUCTS
from sandbox.testing import running

from .conftest import AFTER_SEED, pim_client

COLLECTION = "application/vnd.akeneo.collection+json"


def reset(url):
    assert httpx.post(f"{url}/_sandbox/reset").status_code == 200


def updated_since(value):
    return json.dumps({"updated": [{"operator": ">", "value": value}]})


def test_token_success_and_failures(pim_url):
    creds = PimCredentials()
    ok = httpx.post(
        f"{pim_url}/api/oauth/v1/token",
        json={"grant_type": "password", "username": creds.username, "password": creds.password},
        auth=(creds.client_id, creds.secret),
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["expires_in"] == 3600 and body["token_type"] == "bearer"
    assert body["access_token"] and body["refresh_token"]

    wrong_password = httpx.post(
        f"{pim_url}/api/oauth/v1/token",
        json={"grant_type": "password", "username": creds.username, "password": "nope"},
        auth=(creds.client_id, creds.secret),
    )
    assert wrong_password.status_code == 422
    assert wrong_password.json() == {
        "code": 422,
        "message": "No user found for the given username and password",
    }

    wrong_secret = httpx.post(
        f"{pim_url}/api/oauth/v1/token",
        json={"grant_type": "password", "username": creds.username, "password": creds.password},
        auth=(creds.client_id, "nope"),
    )
    assert wrong_secret.status_code == 422
    assert wrong_secret.json()["message"].startswith('Parameter "client_id" is missing or does not match')

    refreshed = httpx.post(
        f"{pim_url}/api/oauth/v1/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(creds.client_id, creds.secret),
    )
    assert refreshed.status_code == 200 and refreshed.json()["access_token"] != body["access_token"]
    reused = httpx.post(
        f"{pim_url}/api/oauth/v1/token",
        json={"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
        auth=(creds.client_id, creds.secret),
    )
    assert reused.status_code == 422 and reused.json()["message"] == "Refresh token is invalid or has expired"

    assert httpx.get(f"{pim_url}/api/rest/v1/products").status_code == 401
    bad = httpx.get(f"{pim_url}/api/rest/v1/products", headers={"Authorization": "Bearer forged"})
    assert bad.status_code == 401
    assert bad.json() == {"code": 401, "message": "The access token provided is invalid."}


def test_expired_token():
    with running("pim", options={"pim": {"token_ttl": 0}}) as url:
        client = pim_client(url)
        response = client.get("/api/rest/v1/products")
        assert response.status_code == 401
        assert response.json()["message"] == "The access token provided has expired."


def read_all(client, limit=100, search=None):
    params = {"pagination_type": "search_after", "limit": limit}
    if search:
        params["search"] = search
    response = client.get("/api/rest/v1/products", params=params)
    items = []
    while True:
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["_embedded"]["items"]
        nxt = page["_links"].get("next")
        if not nxt:
            return items
        response = client.get(nxt["href"])


def test_search_after_paging_reaches_the_last_page(pim_url):
    reset(pim_url)
    client = pim_client(pim_url)
    items = read_all(client)
    assert len(items) == N_PRODUCTS
    codes = [p["identifier"] for p in items]
    assert codes == sorted(codes) and len(set(codes)) == N_PRODUCTS
    product = items[0]
    assert set(product) >= {
        "identifier",
        "family",
        "categories",
        "enabled",
        "values",
        "created",
        "updated",
        "_links",
    }
    names = {v["locale"]: v["data"] for v in product["values"]["name"]}
    assert set(names) == {"fr_FR", "en_US"}
    assert product["values"]["price"][0]["data"][0]["currency"] == "EUR"
    assert set(product["values"]["weight"][0]["data"]) == {"amount", "unit"}
    assert client.get("/api/rest/v1/products", params={"limit": 101}).json() == {
        "code": 422,
        "message": "You cannot request more than 100 items.",
    }


def test_page_pagination_with_count(pim_url):
    client = pim_client(pim_url)
    page = client.get("/api/rest/v1/products", params={"page": 2, "limit": 7, "with_count": "true"}).json()
    assert page["current_page"] == 2 and page["items_count"] >= 1
    assert len(page["_embedded"]["items"]) == 7
    assert "previous" in page["_links"] and "next" in page["_links"]


def test_incremental_filter_and_round_trip(pim_url):
    reset(pim_url)
    client = pim_client(pim_url)
    assert read_all(client, search=updated_since(AFTER_SEED)) == []

    one = client.get("/api/rest/v1/products/CHR-10001").json()
    patched = client.patch(
        "/api/rest/v1/products/CHR-10001",
        json={"values": {"name": [{"locale": "en_US", "scope": None, "data": "Renamed stool"}]}},
    )
    assert patched.status_code == 204
    assert patched.headers["location"].endswith("/api/rest/v1/products/CHR-10001")
    created = client.patch(
        "/api/rest/v1/products/NEW-0001",
        json={"identifier": "NEW-0001", "family": "chairs", "categories": ["master_chairs"], "values": {
            "name": [{"locale": "fr_FR", "scope": None, "data": "Chaise neuve"}],
            "price": [{"locale": None, "scope": None, "data": [{"amount": "49.90", "currency": "EUR"}]}],
        }},
    )  # fmt: skip
    assert created.status_code == 201

    changed = read_all(client, search=updated_since(AFTER_SEED))
    assert sorted(p["identifier"] for p in changed) == ["CHR-10001", "NEW-0001"]

    after = client.get("/api/rest/v1/products/CHR-10001").json()
    names = {v["locale"]: v["data"] for v in after["values"]["name"]}
    assert names["en_US"] == "Renamed stool"
    assert (
        names["fr_FR"] == {v["locale"]: v["data"] for v in one["values"]["name"]}["fr_FR"]
    )  # merged, not replaced
    assert after["updated"] > one["updated"]

    # an unchanged PATCH does not touch "updated" (Akeneo does not save an unchanged product)
    again = client.patch(
        "/api/rest/v1/products/CHR-10001",
        json={"values": {"name": [{"locale": "en_US", "scope": None, "data": "Renamed stool"}]}},
    )
    assert again.status_code == 204
    assert client.get("/api/rest/v1/products/CHR-10001").json()["updated"] == after["updated"]

    assert client.delete("/api/rest/v1/products/NEW-0001").status_code == 204
    gone = client.get("/api/rest/v1/products/NEW-0001")
    assert gone.status_code == 404 and gone.json()["code"] == 404
    assert client.delete("/api/rest/v1/products/NEW-0001").status_code == 404

    mismatch = client.patch("/api/rest/v1/products/CHR-10001", json={"identifier": "OTHER"})
    assert mismatch.status_code == 422 and "must match" in mismatch.json()["message"]


def test_collection_patch_reports_each_line(pim_url):
    reset(pim_url)
    client = pim_client(pim_url)
    lines = [
        {"identifier": "CHR-10002", "enabled": False},
        {
            "identifier": "BATCH-1",
            "family": "lighting",
            "values": {"ean": [{"locale": None, "scope": None, "data": "3760000000017"}]},
        },
        {"identifier": "BATCH-2", "family": "no_such_family"},
        {
            "identifier": "BATCH-3",
            "values": {
                "price": [{"locale": None, "scope": None, "data": [{"amount": "1", "currency": "XXX"}]}]
            },
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n{not json"
    response = client.patch("/api/rest/v1/products", content=body, headers={"Content-Type": COLLECTION})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(COLLECTION)
    results = [json.loads(line) for line in response.text.splitlines()]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5]
    assert [r["status_code"] for r in results] == [204, 201, 422, 422, 400]
    assert results[2]["identifier"] == "BATCH-2" and "family" in results[2]["message"]
    assert results[3]["errors"][0]["attribute"] == "price"
    assert client.get("/api/rest/v1/products/CHR-10002").json()["enabled"] is False
    assert client.get("/api/rest/v1/products/BATCH-1").status_code == 200
    assert client.get("/api/rest/v1/products/BATCH-2").status_code == 404

    wrong_type = client.patch(
        "/api/rest/v1/products", content=body, headers={"Content-Type": "application/json"}
    )
    assert wrong_type.status_code == 415


def test_search_after_is_stable_while_writing(pim_url):
    """Writes during paging (updates, new codes, deletes of unseen codes) never duplicate or skip
    a product that existed throughout."""
    reset(pim_url)
    reader, writer = pim_client(pim_url), pim_client(pim_url)
    seen = []
    stop = threading.Event()
    written = []

    def write():
        n = 0
        while not stop.is_set() and n < 400:
            code = f"ZZZ-{n:04d}" if n % 2 else f"AAA-{n:04d}"
            response = writer.patch(f"/api/rest/v1/products/{code}", json={"family": "decor"})
            assert response.status_code == 201
            updated = writer.patch(
                "/api/rest/v1/products/DEC-11751",
                json={"values": {"ean": [{"locale": None, "scope": None, "data": f"{n:013d}"}]}},
            )
            assert updated.status_code == 204
            written.append(code)
            n += 1

    thread = threading.Thread(target=write)
    thread.start()
    try:
        response = reader.get(
            "/api/rest/v1/products", params={"pagination_type": "search_after", "limit": 25}
        )
        while True:
            page = response.json()
            seen += [p["identifier"] for p in page["_embedded"]["items"]]
            if "next" not in page["_links"]:
                break
            response = reader.get(page["_links"]["next"]["href"])
    finally:
        stop.set()
        thread.join()
    assert written, "the writer ran during paging"
    assert len(seen) == len(set(seen)), "no duplicates"
    seeded = [p for p in seen if not p.startswith(("AAA-", "ZZZ-"))]
    assert len(seeded) == N_PRODUCTS, "no seeded product skipped"
    assert seen == sorted(seen)


def test_families_attributes_categories(pim_url):
    client = pim_client(pim_url)
    families = client.get("/api/rest/v1/families", params={"limit": 100, "with_count": "true"}).json()
    assert families["items_count"] == 8
    assert {f["code"] for f in families["_embedded"]["items"]} >= {"chairs", "lighting"}
    attributes = client.get("/api/rest/v1/attributes", params={"limit": 3}).json()
    assert len(attributes["_embedded"]["items"]) == 3 and "next" in attributes["_links"]
    category = client.get("/api/rest/v1/categories/master_chairs").json()
    assert category["parent"] == "master" and category["labels"]["fr_FR"] == "Assises"
