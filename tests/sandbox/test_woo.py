"""WooCommerce stand-in (REST API v3 shape) over real HTTP: auth, paging headers, the empty page past
the end, the per_page limit, batch writes with per-item errors, modified_after, customer erasure."""

import httpx
import pytest

from sandbox.credentials import WooCredentials
from sandbox.testing import running

from .conftest import AFTER_SEED

CREDS = WooCredentials()
API = "/wp-json/wc/v3"
SINCE = AFTER_SEED.replace(" ", "T")


@pytest.fixture
def woo():
    with running("woo") as url:
        yield url


def client(url):
    return httpx.Client(base_url=f"{url}{API}", auth=(CREDS.key, CREDS.secret), timeout=30)


def test_auth_basic_and_query_string(woo):
    anonymous = httpx.get(f"{woo}{API}/products")
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "woocommerce_rest_cannot_view",
        "message": "Sorry, you cannot list resources.",
        "data": {"status": 401},
    }
    assert httpx.post(f"{woo}{API}/products", json={}).json()["code"] == "woocommerce_rest_cannot_create"
    wrong_key = httpx.get(f"{woo}{API}/products", auth=("ck_wrong", CREDS.secret))
    assert wrong_key.status_code == 401 and wrong_key.json()["message"] == "Consumer key is invalid."
    wrong_secret = httpx.get(f"{woo}{API}/products", auth=(CREDS.key, "cs_wrong"))
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["code"] == "woocommerce_rest_authentication_error"
    assert wrong_secret.json()["message"] == "Consumer secret is invalid."
    query = httpx.get(
        f"{woo}{API}/products", params={"consumer_key": CREDS.key, "consumer_secret": CREDS.secret}
    )
    assert query.status_code == 200 and len(query.json()) == 10  # WordPress's default page size
    assert client(woo).get("/products").status_code == 200


def test_paging_headers_odd_page_size_and_the_empty_page_past_the_end(woo):
    http = client(woo)
    first = http.get("/products", params={"per_page": 37, "orderby": "id", "order": "asc"})
    total = int(first.headers["X-WP-Total"])
    pages = int(first.headers["X-WP-TotalPages"])
    assert total > 37 and pages == -(-total // 37)
    assert 'rel="next"' in first.headers["Link"] and 'rel="prev"' not in first.headers["Link"]
    seen = []
    for page in range(1, pages + 1):
        response = http.get(
            "/products", params={"per_page": 37, "page": page, "orderby": "id", "order": "asc"}
        )
        assert response.headers["X-WP-TotalPages"] == str(pages)
        seen += [p["id"] for p in response.json()]
    assert len(seen) == total == len(set(seen)) and seen == sorted(seen)
    assert len(response.json()) == total - 37 * (pages - 1)  # the last page holds the rest
    assert 'rel="next"' not in response.headers.get("Link", "")
    past = http.get("/products", params={"per_page": 37, "page": pages + 1})
    assert past.status_code == 200 and past.json() == [] and past.headers["X-WP-Total"] == str(total)
    newest = http.get("/products", params={"per_page": 5}).json()  # default: date, descending
    assert [p["date_created"] for p in newest] == sorted((p["date_created"] for p in newest), reverse=True)


def test_per_page_above_100_and_bad_parameters_are_refused(woo):
    http = client(woo)
    too_many = http.get("/products", params={"per_page": 101})
    assert too_many.status_code == 400
    body = too_many.json()
    assert body["code"] == "rest_invalid_param" and body["message"] == "Invalid parameter(s): per_page"
    assert body["data"]["status"] == 400
    assert body["data"]["params"]["per_page"] == "per_page must be between 1 (inclusive) and 100 (inclusive)"
    assert len(http.get("/products", params={"per_page": 100}).json()) == 100
    assert http.get("/orders", params={"page": 0}).status_code == 400
    assert http.get("/orders", params={"orderby": "price"}).json()["code"] == "rest_invalid_param"
    assert http.get("/orders", params={"modified_after": "last week"}).status_code == 400
    typed = http.post("/products", json={"name": "Typed", "regular_price": 12.5})
    assert typed.status_code == 400 and typed.json()["data"]["params"] == {
        "regular_price": "regular_price is not of type string."
    }


def test_modified_after_filters_products_orders_and_variations_but_not_customers(woo):
    http = client(woo)
    for path in ("/products", "/orders"):
        assert http.get(path, params={"modified_after": SINCE}).json() == []
    product = http.get("/products", params={"type": "simple", "per_page": 1}).json()[0]
    changed = http.put(f"/products/{product['id']}", json={"stock_quantity": 0, "manage_stock": True})
    assert changed.status_code == 200 and changed.json()["stock_status"] == "outofstock"
    assert changed.json()["date_modified_gmt"] > SINCE
    found = http.get("/products", params={"modified_after": SINCE, "dates_are_gmt": "true"})
    assert [p["id"] for p in found.json()] == [product["id"]] and found.headers["X-WP-Total"] == "1"
    stamp = changed.json()["date_modified_gmt"]
    assert http.get("/products", params={"modified_after": stamp}).json() == []  # strictly after
    assert len(http.get("/products", params={"modified_after": stamp + "+01:00"}).json()) == 1
    parent = http.get("/products", params={"type": "variable", "per_page": 1}).json()[0]
    variation = parent["variations"][1]
    http.put(
        f"/products/{parent['id']}/variations/{variation}", json={"regular_price": "9.90"}
    ).raise_for_status()
    updated = http.get(f"/products/{parent['id']}/variations", params={"modified_after": SINCE}).json()
    assert [v["id"] for v in updated] == [variation] and updated[0]["price"] == "9.90"
    # WooCommerce's customers endpoint has no date filter: the parameter is ignored.
    everyone = http.get("/customers", params={"modified_after": SINCE, "per_page": 1})
    assert int(everyone.headers["X-WP-Total"]) == 150


def test_batch_saves_the_good_items_and_answers_errors_in_place(woo):
    http = client(woo)
    existing = http.get(
        "/products", params={"type": "simple", "per_page": 2, "orderby": "id", "order": "asc"}
    ).json()
    answer = http.post(
        "/products/batch",
        json={
            "create": [
                {"name": "A", "sku": "NEW-A", "regular_price": "5.00"},
                {"name": "Dup", "sku": existing[0]["sku"]},
                {"name": "B", "sku": "NEW-B"},
            ],
            "update": [
                {"id": existing[1]["id"], "stock_quantity": 7, "manage_stock": True},
                {"id": 999999, "name": "x"},
            ],
            "delete": [existing[0]["id"], 888888],
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert [item.get("sku") for item in body["create"]] == ["NEW-A", None, "NEW-B"]
    assert body["create"][1] == {
        "id": 0,
        "error": {
            "code": "product_invalid_sku",
            "message": "Invalid or duplicated SKU.",
            "data": {"status": 400, "resource_id": 0, "unique_sku": existing[0]["sku"]},
        },
    }
    assert body["update"][0]["stock_quantity"] == 7
    assert (
        body["update"][1]["id"] == 999999
        and body["update"][1]["error"]["code"] == "woocommerce_rest_product_invalid_id"
    )
    assert (
        body["delete"][0]["id"] == existing[0]["id"] and body["delete"][1]["error"]["data"]["status"] == 404
    )
    assert http.get(f"/products/{existing[0]['id']}").status_code == 404
    assert len(http.get("/products", params={"sku": "NEW-A,NEW-B"}).json()) == 2
    too_big = http.post(
        "/customers/batch", json={"create": [{"email": f"c{i}@example.org"} for i in range(101)]}
    )
    assert too_big.status_code == 413
    assert too_big.json()["message"] == "Unable to accept more than 100 items for this request."


def test_variations_batch_and_lookups_by_sku(woo):
    http = client(woo)
    parent = http.get("/products", params={"type": "variable", "per_page": 1}).json()[0]
    variations = http.get(f"/products/{parent['id']}/variations").json()
    answer = http.post(
        f"/products/{parent['id']}/variations/batch",
        json={"update": [{"id": variations[0]["id"], "stock_quantity": 0}, {"id": 1, "stock_quantity": 1}]},
    ).json()
    assert answer["update"][0]["stock_status"] == "outofstock"
    assert answer["update"][1]["error"]["code"] == "woocommerce_rest_product_variation_invalid_id"
    by_sku = http.get("/products", params={"sku": variations[0]["sku"]}).json()
    assert [(v["id"], v["type"], v["parent_id"]) for v in by_sku] == [
        (variations[0]["id"], "variation", parent["id"])
    ]
    direct = http.get(f"/products/{variations[0]['id']}").json()
    assert direct["type"] == "variation" and direct["parent_id"] == parent["id"]


def test_customer_erasure_needs_force_and_keeps_the_orders(woo):
    http = client(woo)
    order = next(o for o in http.get("/orders", params={"per_page": 100}).json() if o["customer_id"])
    customer_id = order["customer_id"]
    trash = http.delete(f"/customers/{customer_id}")
    assert trash.status_code == 501 and trash.json()["code"] == "woocommerce_rest_trash_not_supported"
    gone = http.delete(f"/customers/{customer_id}", params={"force": "true"})
    assert gone.status_code == 200 and gone.json()["id"] == customer_id
    assert http.get(f"/customers/{customer_id}").json()["code"] == "woocommerce_rest_invalid_id"
    kept = http.get(f"/orders/{order['id']}").json()
    assert kept["customer_id"] == 0 and kept["billing"]["email"] == order["billing"]["email"]
    taken = http.post("/customers", json={"email": order["billing"]["email"]})
    assert taken.status_code == 201  # the address is free again
    again = http.post("/customers", json={"email": order["billing"]["email"]})
    assert again.status_code == 400 and again.json()["code"] == "registration-error-email-exists"


def test_seed_is_deterministic_and_faults_use_woocommerce_error_shape(woo):
    http = client(woo)
    first = http.get("/customers", params={"per_page": 5, "orderby": "id"}).json()
    with running("woo") as other:
        assert (
            client(other).get("/customers", params={"per_page": 5, "orderby": "id"}).json()[0]["email"]
            == first[0]["email"]
        )
    httpx.put(f"{woo}/_sandbox/faults", json={"error_rate": 1.0, "error_status": 500}).raise_for_status()
    failed = http.get("/products")
    assert failed.status_code == 500 and failed.json()["data"] == {"status": 500}
    assert failed.json()["code"] == "internal_server_error"
