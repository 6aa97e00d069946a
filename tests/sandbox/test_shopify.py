"""Shopify stand-in (Admin GraphQL API 2025-10 shape) over real HTTP."""

import base64

import httpx
import pytest

from sandbox.credentials import ShopifyCredentials
from sandbox.seed import N_CUSTOMERS, N_ORDERS, dataset
from sandbox.shopify import PRODUCT_EVERY, parse_search
from sandbox.testing import running

ENDPOINT = "/admin/api/2025-10/graphql.json"
TOKEN = ShopifyCredentials().token
SEED = dataset(42)
PRODUCTS = SEED.products[::PRODUCT_EVERY]


@pytest.fixture(scope="module")
def url():
    with running("shopify", options={"shopify": {"bucket_max": 20000, "restore_rate": 1000}}) as base:
        yield base


def post(url, query, variables=None, token=TOKEN, **kwargs):
    return httpx.post(
        f"{url}{ENDPOINT}",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
        **kwargs,
    )


def gql(url, query, variables=None):
    response = post(url, query, variables)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def reset(url):
    assert httpx.post(f"{url}/_sandbox/reset").status_code == 200


def test_auth_version_and_body_errors(url):
    for token in ("", "shpat_wrong"):
        refused = post(url, "{ shop { name } }", token=token)
        assert refused.status_code == 401
        assert refused.json() == {
            "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
        }
    other = httpx.post(
        f"{url}/admin/api/2019-04/graphql.json",
        json={"query": "{ shop { name } }"},
        headers={"X-Shopify-Access-Token": TOKEN},
    )
    assert other.status_code == 404 and other.json() == {"errors": "Not Found"}
    empty = httpx.post(f"{url}{ENDPOINT}", content=b"{}", headers={"X-Shopify-Access-Token": TOKEN})
    assert empty.status_code == 400 and empty.json() == {
        "errors": {"query": "Required parameter missing or invalid"}
    }
    raw = httpx.post(
        f"{url}{ENDPOINT}",
        content=b"{ shop { currencyCode } }",
        headers={"X-Shopify-Access-Token": TOKEN, "Content-Type": "application/graphql"},
    )
    assert raw.json()["data"] == {"shop": {"currencyCode": "EUR"}}


def test_bad_queries_answer_graphql_errors_with_200(url):
    unknown = post(url, "{ products(first: 2) { nodes { id colour } } }")
    assert unknown.status_code == 200
    body = unknown.json()
    assert "data" not in body and "colour" in body["errors"][0]["message"]
    assert body["errors"][0]["locations"][0]["line"] == 1
    syntax = post(url, "{ products(first: 2) { nodes { id }").json()
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    bad_var = post(
        url,
        "query($n: Int!) { products(first: $n) { nodes { id } } }",
        {"n": "ten"},
    ).json()
    assert "$n" in bad_var["errors"][0]["message"]
    no_first = post(url, "{ customers { nodes { id } } }").json()
    assert no_first["errors"][0]["message"] == "you must provide one of first or last"
    assert no_first["data"] is None
    too_many = post(url, "{ customers(first: 251) { nodes { id } } }").json()
    assert "250" in too_many["errors"][0]["message"]


def test_products_page_to_the_end_with_cursors(url):
    reset(url)
    seen, after, pages = [], None, 0
    query = """query($after: String) { products(first: 60, after: $after) {
        pageInfo { hasNextPage hasPreviousPage endCursor startCursor }
        edges { cursor node { id variants(first: 5) { nodes { sku price inventoryItem { id } } } } } } }"""
    while True:
        block = gql(url, query, {"after": after})["products"]
        pages += 1
        seen += [e["node"] for e in block["edges"]]
        assert block["pageInfo"]["hasPreviousPage"] is (after is not None)
        if block["edges"]:
            assert block["pageInfo"]["endCursor"] == block["edges"][-1]["cursor"]
        if not block["pageInfo"]["hasNextPage"]:
            break
        after = block["pageInfo"]["endCursor"]
    assert pages == -(-len(PRODUCTS) // 60) and len(seen) == len(PRODUCTS)
    ids = [int(n["id"].rsplit("/", 1)[1]) for n in seen]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [n["variants"]["nodes"][0]["sku"] for n in seen] == [p["sku"] for p in PRODUCTS]
    assert seen[0]["variants"]["nodes"][0]["inventoryItem"]["id"].startswith("gid://shopify/InventoryItem/")
    # the last page, asked exactly: nothing after it
    last = gql(url, query, {"after": after})["products"]
    assert last["pageInfo"]["hasNextPage"] is False
    bad = post(url, query, {"after": base64.b64encode(b"nope").decode()}).json()
    assert "Invalid cursor" in bad["errors"][0]["message"]


def test_counts_of_the_seed(url):
    def count(field, page=250):
        total, after = 0, None
        while True:
            block = gql(
                url,
                f"query($a: String) {{ {field}(first: {page}, after: $a) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ id }} }} }}",
                {"a": after},
            )[field]
            total += len(block["nodes"])
            if not block["pageInfo"]["hasNextPage"]:
                return total
            after = block["pageInfo"]["endCursor"]

    assert count("customers") == N_CUSTOMERS
    assert count("orders") == N_ORDERS
    assert count("productVariants") == len(PRODUCTS)
    locations = gql(url, "{ locations(first: 10) { nodes { name } } }")["locations"]["nodes"]
    assert [loc["name"] for loc in locations] == [w["name"] for w in SEED.warehouses]


def test_search_filters_and_updated_at_sort(url):
    reset(url)
    since = "2025-09-01T00:00:00Z"
    query = """query($q: String) { products(first: 250, query: $q, sortKey: UPDATED_AT) { nodes { id updatedAt } } }"""
    nodes = gql(url, query, {"q": f"updated_at:>'{since}'"})["products"]["nodes"]
    expected = [p for p in PRODUCTS if p["updated"].strftime("%Y-%m-%dT%H:%M:%SZ") > since]
    assert len(nodes) == len(expected) > 0
    stamps = [n["updatedAt"] for n in nodes]
    assert stamps == sorted(stamps) and all(s > since for s in stamps)
    skus = [PRODUCTS[0]["sku"], PRODUCTS[5]["sku"]]
    found = gql(
        url,
        "query($q: String) { productVariants(first: 10, query: $q) { nodes { sku } } }",
        {"q": f"sku:{skus[0]} OR sku:'{skus[1]}'"},
    )["productVariants"]["nodes"]
    assert sorted(n["sku"] for n in found) == sorted(skus)
    email = SEED.customers[7]["email"]
    body = post(
        url,
        "query($q: String) { customers(first: 5, query: $q) { nodes { email } } }",
        {"q": f"email:{email.upper()}"},
    ).json()
    assert [n["email"] for n in body["data"]["customers"]["nodes"]] == [email]
    # an unknown search field is ignored with a warning, as Shopify does
    warned = post(url, '{ customers(first: 3, query: "colour:red") { nodes { id } } }').json()
    assert len(warned["data"]["customers"]["nodes"]) == 3
    assert warned["extensions"]["search"][0]["warnings"][0]["field"] == "colour"
    assert parse_search("a:1 b:>'x y' OR c:2") == [[("a", ":", "1"), ("b", ">", "x y")], [("c", ":", "2")]]


def test_write_then_updated_at_moves(url):
    reset(url)
    (first,) = gql(url, "{ products(first: 1) { nodes { id updatedAt } } }")["products"]["nodes"]
    data = gql(
        url,
        "mutation($p: ProductUpdateInput!) { productUpdate(product: $p) { product { id title updatedAt } userErrors { field message } } }",
        {"p": {"id": first["id"], "title": "Renamed"}},
    )["productUpdate"]
    assert data["userErrors"] == [] and data["product"]["title"] == "Renamed"
    assert data["product"]["updatedAt"] > first["updatedAt"]
    newer = gql(
        url,
        "query($q: String) { products(first: 5, query: $q) { nodes { id } } }",
        {"q": "updated_at:>'2025-12-01T00:00:00Z'"},
    )["products"]["nodes"]
    assert newer == [{"id": first["id"]}]


def test_user_errors_one_per_aliased_mutation(url):
    reset(url)
    doc = """mutation($a: ProductCreateInput!, $b: ProductCreateInput!, $c: CustomerInput!) {
      a: productCreate(product: $a) { product { id handle variants(first: 1) { nodes { id price } } } userErrors { field message } }
      b: productCreate(product: $b) { product { id } userErrors { field message } }
      c: customerCreate(input: $c) { customer { id } userErrors { field message } }
    }"""
    body = post(
        url,
        doc,
        {"a": {"title": "New chair"}, "b": {"title": " "}, "c": {"email": SEED.customers[0]["email"]}},
    ).json()
    data = body["data"]
    assert data["a"]["userErrors"] == [] and data["a"]["product"]["handle"] == "new-chair"
    assert data["a"]["product"]["variants"]["nodes"][0]["price"] == "0.00"  # the standalone variant
    assert data["b"] == {
        "product": None,
        "userErrors": [{"field": ["title"], "message": "Title can't be blank"}],
    }
    assert data["c"]["userErrors"] == [{"field": ["email"], "message": "Email has already been taken"}]
    assert body["extensions"]["cost"]["requestedQueryCost"] == 30
    # variants: bulk create replacing the standalone variant, then a refused bulk update
    pid = data["a"]["product"]["id"]
    created = gql(
        url,
        """mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkCreate(productId: $p, variants: $v,
           strategy: REMOVE_STANDALONE_VARIANT) { productVariants { id sku price } userErrors { field message code } } }""",
        {"p": pid, "v": [{"price": "19.9", "inventoryItem": {"sku": "NEW-1"}}]},
    )["productVariantsBulkCreate"]
    assert created["userErrors"] == [] and created["productVariants"][0]["price"] == "19.90"
    refused = gql(
        url,
        """mutation($p: ID!, $v: [ProductVariantsBulkInput!]!) { productVariantsBulkUpdate(productId: $p, variants: $v)
           { productVariants { id } userErrors { field message code } } }""",
        {"p": pid, "v": [{"id": created["productVariants"][0]["id"], "price": "-1"}]},
    )["productVariantsBulkUpdate"]
    assert refused["productVariants"] is None
    assert refused["userErrors"][0]["field"] == ["variants", "0", "price"]
    product = gql(
        url,
        "query($id: ID!) { product(id: $id) { variants(first: 5) { nodes { sku price } } } }",
        {"id": pid},
    )
    assert product["product"]["variants"]["nodes"] == [{"sku": "NEW-1", "price": "19.90"}]


def test_inventory_set_quantities_all_or_nothing(url):
    reset(url)
    levels = gql(
        url,
        """{ location(id: "gid://shopify/Location/70001") { inventoryLevels(first: 2) { nodes {
            item { id } quantities(names: ["available"]) { quantity } } } } }""",
    )["location"]["inventoryLevels"]["nodes"]
    doc = """mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) {
        inventoryAdjustmentGroup { reason changes { name delta } } userErrors { field message code } } }"""
    loc = "gid://shopify/Location/70001"
    bad = {
        "name": "available",
        "reason": "correction",
        "ignoreCompareQuantity": True,
        "quantities": [
            {"inventoryItemId": levels[0]["item"]["id"], "locationId": loc, "quantity": 5},
            {"inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": loc, "quantity": 5},
        ],
    }
    answer = gql(url, doc, {"input": bad})["inventorySetQuantities"]
    assert answer["inventoryAdjustmentGroup"] is None
    assert answer["userErrors"] == [
        {
            "field": ["input", "quantities", "1", "inventoryItemId"],
            "message": "The specified inventory item could not be found.",
            "code": "INVALID_INVENTORY_ITEM",
        }
    ]
    check = """query($id: ID!) { inventoryItem(id: $id) { inventoryLevel(locationId: "gid://shopify/Location/70001") {
        quantities(names: ["available", "on_hand"]) { name quantity } } } }"""
    before = levels[0]["quantities"][0]["quantity"]
    now = gql(url, check, {"id": levels[0]["item"]["id"]})["inventoryItem"]["inventoryLevel"]["quantities"]
    assert now[0]["quantity"] == before  # nothing applied
    good = {**bad, "quantities": bad["quantities"][:1]}
    answer = gql(url, doc, {"input": good})["inventorySetQuantities"]
    assert (
        answer["userErrors"] == [] and answer["inventoryAdjustmentGroup"]["changes"][0]["delta"] == 5 - before
    )
    now = gql(url, check, {"id": levels[0]["item"]["id"]})["inventoryItem"]["inventoryLevel"]["quantities"]
    assert now == [{"name": "available", "quantity": 5}, {"name": "on_hand", "quantity": 5}]
    stale = {
        **good,
        "ignoreCompareQuantity": False,
        "quantities": [{**good["quantities"][0], "compareQuantity": 99}],
    }
    assert (
        gql(url, doc, {"input": stale})["inventorySetQuantities"]["userErrors"][0]["code"]
        == "COMPARE_QUANTITY_STALE"
    )


def test_cost_and_throttling():
    with running(
        "shopify", options={"shopify": {"bucket_max": 100, "restore_rate": 10, "max_query_cost": 90}}
    ) as url:
        cheap = post(url, "{ customers(first: 5) { nodes { id defaultAddress { city } } } }").json()
        cost = cheap["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 2 + 5 * 2 and cost["actualQueryCost"] == 12
        status = cost["throttleStatus"]
        assert status["maximumAvailable"] == 100.0 and status["restoreRate"] == 10.0
        assert 85 <= status["currentlyAvailable"] <= 90
        # actual below requested is refunded: 2 + 3 nodes asked 50, none of them has an address
        nested = post(
            url, "{ products(first: 8) { nodes { id variants(first: 3) { nodes { id } } } } }"
        ).json()
        assert nested["extensions"]["cost"]["requestedQueryCost"] == 2 + 8 * (1 + 2 + 3)
        assert nested["extensions"]["cost"]["actualQueryCost"] == 2 + 8 * (1 + 2 + 1)
        too_big = post(url, "{ products(first: 100) { nodes { id } } }").json()
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        for _ in range(3):
            last = post(url, "{ products(first: 80) { nodes { id } } }")
        body = last.json()
        assert last.status_code == 200
        assert body["errors"] == [
            {
                "message": "Throttled",
                "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits",
                },
            }
        ]
        assert body["extensions"]["cost"]["actualQueryCost"] is None
        assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 82
        assert httpx.get(f"{url}/_sandbox/info").json()["throttled"] >= 1


def test_gdpr_erasure_and_delete(url):
    reset(url)
    buyer = SEED.customers[SEED.orders[0]["customer"]]
    idle = next(c for c in SEED.customers if c["index"] not in {o["customer"] for o in SEED.orders})
    find = "query($q: String) { customers(first: 2, query: $q) { nodes { id email numberOfOrders } } }"
    (customer,) = gql(url, find, {"q": f"email:{buyer['email']}"})["customers"]["nodes"]
    refused = gql(
        url,
        "mutation($id: ID!) { customerDelete(input: {id: $id}) { deletedCustomerId userErrors { field message } } }",
        {"id": customer["id"]},
    )["customerDelete"]
    assert refused["deletedCustomerId"] is None and "orders" in refused["userErrors"][0]["message"]
    erased = gql(
        url,
        "mutation($id: ID!) { customerRequestDataErasure(customerId: $id) { customerId userErrors { field message code } } }",
        {"id": customer["id"]},
    )["customerRequestDataErasure"]
    assert erased == {"customerId": customer["id"], "userErrors": []}
    assert gql(url, find, {"q": f"email:{buyer['email']}"})["customers"]["nodes"] == []
    orders = gql(
        url,
        "query($q: String) { orders(first: 50, query: $q) { nodes { id } } }",
        {"q": f"email:{buyer['email']}"},
    )
    assert orders["orders"]["nodes"] == []
    order = gql(
        url,
        '{ order(id: "gid://shopify/Order/6000001") { email customer { id } billingAddress { city } totalPriceSet { shopMoney { amount } } } }',
    )
    assert (
        order["order"]["email"] is None
        and order["order"]["customer"] is None
        and order["order"]["billingAddress"] is None
    )
    assert float(order["order"]["totalPriceSet"]["shopMoney"]["amount"]) == SEED.orders[0]["total"]
    again = gql(
        url,
        "mutation($id: ID!) { customerRequestDataErasure(customerId: $id) { customerId userErrors { code } } }",
        {"id": customer["id"]},
    )["customerRequestDataErasure"]
    assert again == {"customerId": None, "userErrors": [{"code": "DOES_NOT_EXIST"}]}
    (other,) = gql(url, find, {"q": f"email:{idle['email']}"})["customers"]["nodes"]
    deleted = gql(
        url,
        "mutation($id: ID!) { customerDelete(input: {id: $id}) { deletedCustomerId userErrors { message } } }",
        {"id": other["id"]},
    )["customerDelete"]
    assert deleted == {"deletedCustomerId": other["id"], "userErrors": []}
