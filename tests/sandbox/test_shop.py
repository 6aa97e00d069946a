"""Shop stand-in (Magento 2.4 REST shape) over real HTTP."""

import httpx

from sandbox.credentials import ShopCredentials
from sandbox.seed import N_CUSTOMERS, N_ORDERS

from .conftest import AFTER_SEED, shop_client


def reset(url):
    assert httpx.post(f"{url}/_sandbox/reset").status_code == 200


def criteria(*filters, size=None, page=None, sort=None):
    params = {}
    for n, (field, value, condition) in enumerate(filters):
        params[f"searchCriteria[filterGroups][{n}][filters][0][field]"] = field
        params[f"searchCriteria[filterGroups][{n}][filters][0][value]"] = value
        params[f"searchCriteria[filterGroups][{n}][filters][0][conditionType]"] = condition
    if size is not None:
        params["searchCriteria[pageSize]"] = size
    if page is not None:
        params["searchCriteria[currentPage]"] = page
    if sort:
        params["searchCriteria[sortOrders][0][field]"] = sort[0]
        params["searchCriteria[sortOrders][0][direction]"] = sort[1]
    return params


def test_admin_token(shop_url):
    creds = ShopCredentials()
    ok = httpx.post(
        f"{shop_url}/rest/default/V1/integration/admin/token",
        json={"username": creds.username, "password": creds.password},
    )
    assert ok.status_code == 200 and isinstance(ok.json(), str) and len(ok.json()) == 32
    wrong = httpx.post(
        f"{shop_url}/rest/V1/integration/admin/token", json={"username": creds.username, "password": "nope"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {
        "message": "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later."
    }
    anonymous = httpx.get(f"{shop_url}/rest/default/V1/orders")
    assert anonymous.status_code == 401
    assert (
        anonymous.json()["message"] == "The consumer isn't authorized to access Magento_Sales::actions_view."
    )


def test_paging_customers_to_the_last_page(shop_url):
    reset(shop_url)
    client = shop_client(shop_url)
    seen, page = [], 1
    while True:
        body = client.get("/customers/search", params=criteria(size=64, page=page)).json()
        assert body["total_count"] == N_CUSTOMERS
        assert body["search_criteria"]["page_size"] == 64
        seen += [c["id"] for c in body["items"]]
        if page * 64 >= body["total_count"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == N_CUSTOMERS
    # like Magento's collections: a page past the end repeats the last one
    beyond = client.get("/customers/search", params=criteria(size=64, page=page + 3)).json()
    assert [c["id"] for c in beyond["items"]] == seen[-len(beyond["items"]) :]
    orders = client.get("/orders", params=criteria(size=1000)).json()
    assert orders["total_count"] == N_ORDERS == len(orders["items"])
    assert client.get("/products", params=criteria(size=10)).json() == {
        "items": [],
        "search_criteria": {"filter_groups": [], "page_size": 10},
        "total_count": 0,
    }


def test_order_incremental_filter_and_comment(shop_url):
    reset(shop_url)
    client = shop_client(shop_url)
    since = criteria(("updated_at", AFTER_SEED, "gt"))
    assert client.get("/orders", params=since).json()["total_count"] == 0
    added = client.post("/orders/7/comments", json={"statusHistory": {
        "comment": "Shipped by the hub", "is_customer_notified": 0, "is_visible_on_front": 0, "parent_id": 7,
    }})  # fmt: skip
    assert added.status_code == 200 and added.json() is True
    changed = client.get("/orders", params=since).json()
    assert [o["entity_id"] for o in changed["items"]] == [7]
    assert changed["items"][0]["status_histories"][0]["comment"] == "Shipped by the hub"
    assert client.get("/orders/7").json()["updated_at"] > AFTER_SEED
    missing = client.get("/orders/99999")
    assert missing.status_code == 404 and "doesn't exist" in missing.json()["message"]


def test_product_round_trip_and_source_items(shop_url):
    reset(shop_url)
    client = shop_client(shop_url)
    created = client.post("/products", json={"product": {
        "sku": "CHR-10001", "name": "Tabouret Zéphyr", "price": 619.0, "status": 1, "visibility": 4,
        "type_id": "simple", "attribute_set_id": 4, "weight": 11.653,
        "custom_attributes": [{"attribute_code": "description", "value": "Tabouret"}, {"attribute_code": "ean", "value": "3760341263966"}],
    }})  # fmt: skip
    assert created.status_code == 200, created.text
    product = created.json()
    assert product["id"] == 1 and product["sku"] == "CHR-10001"
    updated = client.put("/products/CHR-10001", json={"product": {"sku": "CHR-10001", "price": 599.0}})
    assert updated.status_code == 200 and updated.json()["price"] == 599.0
    assert updated.json()["name"] == "Tabouret Zéphyr"
    listed = client.get("/products", params=criteria(("sku", "CHR-%", "like"))).json()
    assert listed["total_count"] == 1 and listed["items"][0]["price"] == 599.0
    assert client.get("/products", params=criteria(("ean", "3760341263966", "eq"))).json()["total_count"] == 1

    no_name = client.post("/products", json={"product": {"sku": "X-1", "price": 1}})
    assert no_name.status_code == 400 and "Product Name" in no_name.json()["message"]

    bad_batch = client.post("/inventory/source-items", json={"sourceItems": [
        {"sku": "CHR-10001", "source_code": "paris", "quantity": 5, "status": 1},
        {"sku": "CHR-10001", "source_code": "lyon", "quantity": "many", "status": 1},
    ]})  # fmt: skip
    assert bad_batch.status_code == 400
    assert bad_batch.json()["message"] == "Validation Failed"
    assert bad_batch.json()["errors"][0]["message"] == '"quantity" should be numeric.'
    unknown = client.post(
        "/inventory/source-items",
        json={"sourceItems": [{"sku": "NOPE", "source_code": "paris", "quantity": 1, "status": 1}]},
    )
    assert unknown.status_code == 400 and unknown.json() == {"message": "Could not save Source Item"}
    assert client.get("/inventory/source-items", params=criteria()).json()["total_count"] == 0, (
        "all or nothing"
    )
    good = client.post("/inventory/source-items", json={"sourceItems": [
        {"sku": "CHR-10001", "source_code": "paris", "quantity": 5, "status": 1},
        {"sku": "CHR-10001", "source_code": "lyon", "quantity": 0, "status": 0},
    ]})  # fmt: skip
    assert good.status_code == 200 and good.json() == []
    items = client.get("/inventory/source-items", params=criteria(("sku", "CHR-10001", "eq"))).json()["items"]
    assert {(i["source_code"], i["quantity"], i["status"]) for i in items} == {
        ("paris", 5, 1),
        ("lyon", 0, 0),
    }

    assert client.delete("/products/CHR-10001").json() is True
    assert client.get("/products/CHR-10001").status_code == 404
    assert client.get("/inventory/source-items", params=criteria()).json()["total_count"] == 0


def test_customer_round_trip(shop_url):
    reset(shop_url)
    client = shop_client(shop_url)
    existing = client.get("/customers/1").json()
    duplicate = client.post(
        "/customers", json={"customer": {"email": existing["email"], "firstname": "A", "lastname": "B"}}
    )
    assert duplicate.status_code == 400
    assert (
        duplicate.json()["message"]
        == "A customer with the same email address already exists in an associated website."
    )
    created = client.post(
        "/customers",
        json={"customer": {"email": "new.person@example.com", "firstname": "New", "lastname": "Person"}},
    )
    assert created.status_code == 200 and created.json()["id"] == N_CUSTOMERS + 1
    cid = created.json()["id"]
    found = client.get("/customers/search", params=criteria(("email", "new.person@example.com", "eq"))).json()
    assert found["total_count"] == 1 and found["items"][0]["id"] == cid
    changed = client.put(
        f"/customers/{cid}",
        json={"customer": {"email": "new.person@example.com", "firstname": "Renamed", "lastname": "Person"}},
    )
    assert changed.status_code == 200 and changed.json()["firstname"] == "Renamed"
    recent = client.get("/customers/search", params=criteria(("updated_at", AFTER_SEED, "gt"))).json()
    assert [c["id"] for c in recent["items"]] == [cid]
    assert client.delete(f"/customers/{cid}").json() is True
    gone = client.get(f"/customers/{cid}")
    assert gone.status_code == 404 and gone.json()["message"] == f"No such entity with customerId = {cid}"
