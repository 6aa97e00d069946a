"""Every request this test sends to the shop stand-in and every response it gets back are checked
against Adobe's Magento 2.4.9 admin REST specification (OpenAPI 3, sandbox/specs/) with openapi-core,
over a full read + write cycle.

The spec's server is http://example.com/rest/default: requests to <sandbox>/rest/default/V1/... and
<sandbox>/rest/V1/... are validated as http://example.com/rest/default/V1/...

One spec gap: Magento's void service methods (``POST /V1/inventory/source-items``) answer 200 with
``[]`` but the spec declares no 2xx response for them (only 400/401/default). Such responses are
checked to be exactly ``[]`` instead of against a schema.

Another: the spec makes the legacy stock item's ``low_stock_date`` a required string, but Magento
answers ``null`` while the stock is not low (``GET /V1/stockItems/{productSku}``). Such an answer is
checked with that one ``null`` read as ``""``; every other field is checked as it is.
"""

import functools
import json
import re

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from sandbox import MAGENTO_SPEC
from sandbox.credentials import ShopCredentials
from sandbox.testing import running

from .conftest import AFTER_SEED

SPEC = MAGENTO_SPEC


@pytest.fixture(scope="module")
def openapi():
    return OpenAPI.from_file_path(str(SPEC))


class SpecRequest:
    def __init__(self, request: httpx.Request) -> None:
        path = request.url.path
        for prefix in ("/rest/default/", "/rest/"):
            if path.startswith(prefix):
                path = "/rest/default/" + path[len(prefix) :]
                break
        self.host_url = "http://example.com"
        self.path = path
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


STOCK_ITEM_PATH = re.compile(r"/V1/stockItems/[^/]+$")


class SpecResponse:
    def __init__(self, response: httpx.Response, path: str = "") -> None:
        self.status_code = response.status_code
        self.data = response.content
        if response.is_success and STOCK_ITEM_PATH.search(path):
            body = response.json()
            if body.get("low_stock_date") is None:  # the spec gap above
                self.data = json.dumps({**body, "low_stock_date": ""}).encode()
        self.headers = Headers(list(response.headers.items()))
        self.content_type = response.headers.get("content-type", "")


class CheckedClient:
    """An httpx client whose every exchange is validated against the spec."""

    def __init__(self, openapi: OpenAPI, base: str) -> None:
        self.openapi = openapi
        self.http = httpx.Client(base_url=base, timeout=30)
        self.checked: list[tuple[str, str, int]] = []
        self.headers: dict[str, str] = {}

    def send(self, method: str, url: str, **kwargs) -> httpx.Response:
        request = self.http.build_request(method, url, headers=self.headers, **kwargs)
        spec_request = SpecRequest(request)
        self.openapi.validate_request(spec_request)
        response = self.http.send(request)
        declared_2xx = self._declares_success(spec_request)
        if response.is_success and not declared_2xx:
            assert response.json() == [], f"void operation answered {response.text!r}"
        else:
            self.openapi.validate_response(spec_request, SpecResponse(response, spec_request.path))
        self.checked.append((method, spec_request.path, response.status_code))
        return response

    def _declares_success(self, spec_request: SpecRequest) -> bool:
        path = spec_request.path[len("/rest/default") :]
        for pattern, item in _raw_paths():
            if pattern.match(path) and spec_request.method in item:
                return any(str(code).startswith("2") for code in item[spec_request.method]["responses"])
        raise AssertionError(f"no spec path for {path}")

    def get(self, url, **kw):
        return self.send("GET", url, **kw)

    def post(self, url, **kw):
        return self.send("POST", url, **kw)

    def put(self, url, **kw):
        return self.send("PUT", url, **kw)

    def delete(self, url, **kw):
        return self.send("DELETE", url, **kw)


@functools.cache
def _raw_paths() -> list[tuple[re.Pattern[str], dict]]:
    """The spec's paths as (regex, operations), most specific (fewest parameters) first."""
    paths = json.loads(SPEC.read_text())["paths"]
    out = []
    for template, item in paths.items():
        regex = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}]+\})", template)
        )
        out.append((template.count("{"), re.compile(f"^{regex}$"), item))
    out.sort(key=lambda entry: entry[0])
    return [(pattern, item) for _, pattern, item in out]


def sc(*filters, size=None, page=None, sort=None):
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


def test_full_cycle_conforms_to_the_magento_spec(openapi):
    creds = ShopCredentials()
    with running("shop") as url:
        client = CheckedClient(openapi, url)
        # auth
        assert (
            client.post(
                "/rest/V1/integration/admin/token", json={"username": creds.username, "password": "wrong"}
            ).status_code
            == 401
        )
        token = client.post(
            "/rest/default/V1/integration/admin/token",
            json={"username": creds.username, "password": creds.password},
        ).json()
        assert client.get("/rest/default/V1/products", params=sc(size=5)).status_code == 401
        client.headers = {"Authorization": f"Bearer {token}"}
        v1 = "/rest/default/V1"

        # reads
        customers = client.get(
            f"{v1}/customers/search", params=sc(size=50, page=3, sort=("email", "ASC"))
        ).json()
        assert len(customers["items"]) == 50
        customer = client.get(f"{v1}/customers/{customers['items'][0]['id']}").json()
        orders = client.get(
            f"{v1}/orders", params=sc(("status", "complete,processing", "in"), size=20)
        ).json()
        assert orders["items"] and all(o["status"] in ("complete", "processing") for o in orders["items"])
        order = client.get(f"/rest/V1/orders/{orders['items'][0]['entity_id']}").json()
        assert order["items"][0]["sku"]
        assert client.get(f"{v1}/orders/424242").status_code == 404
        # placing an order, then changing its status (the sandbox computes the totals itself)
        placed = client.post(f"{v1}/orders", json={"entity": {
            "customer_email": customer["email"], "base_grand_total": 129.9, "grand_total": 129.9,
            "items": [{"sku": "CHR-10001", "qty_ordered": 2, "price": 50.0}],
        }}).json()  # fmt: skip
        assert placed["grand_total"] == 129.9 and placed["customer_id"] == customer["id"]
        changed = client.put(f"{v1}/orders/create", json={"entity": {
            "entity_id": placed["entity_id"], "customer_email": customer["email"], "base_grand_total": 129.9,
            "grand_total": 129.9, "items": [], "status": "processing",
        }}).json()  # fmt: skip
        assert (changed["status"], changed["state"]) == ("processing", "processing")
        guest = client.post(f"{v1}/orders", json={"entity": {
            "customer_email": "guest@example.org", "base_grand_total": 60.0, "grand_total": 60.0,
            "items": [{"sku": "CHR-10001", "qty_ordered": 1, "price": 50.0}],
        }}).json()  # fmt: skip
        assert guest["customer_is_guest"] == 1 and "customer_id" not in guest

        # product writes
        for n, sku in enumerate(["CHR-10001", "CHR-10002", "LGT-10501"]):
            response = client.post(f"{v1}/products", json={"product": {
                "sku": sku, "name": f"Produit {n}", "price": 10.0 + n, "status": 1, "visibility": 4, "type_id": "simple",
                "attribute_set_id": 4, "weight": 1.5,
                "extension_attributes": {"website_ids": [1], "category_links": [{"position": 0, "category_id": "3"}]},
                "custom_attributes": [{"attribute_code": "description", "value": "Texte"}, {"attribute_code": "url_key", "value": sku.lower()}],
            }})  # fmt: skip
            assert response.status_code == 200, response.text
        assert (
            client.put(
                f"{v1}/products/CHR-10002", json={"product": {"sku": "CHR-10002", "price": 15.5}}
            ).json()["price"]
            == 15.5
        )
        assert client.post(f"{v1}/products", json={"product": {"sku": "BROKEN"}}).status_code == 400
        products = client.get(
            f"{v1}/products", params=sc(("updated_at", AFTER_SEED, "gt"), size=10, sort=("sku", "DESC"))
        ).json()
        assert [p["sku"] for p in products["items"]] == ["LGT-10501", "CHR-10002", "CHR-10001"]
        assert client.get(f"{v1}/products/CHR-10001").json()["name"] == "Produit 0"
        assert client.get(f"{v1}/products/NOPE").status_code == 404

        # stock
        assert client.post(f"{v1}/inventory/source-items", json={"sourceItems": [
            {"sku": "CHR-10001", "source_code": "paris", "quantity": 12, "status": 1},
            {"sku": "CHR-10002", "source_code": "lyon", "quantity": 0, "status": 0},
        ]}).status_code == 200  # fmt: skip
        assert (
            client.post(
                f"{v1}/inventory/source-items",
                json={"sourceItems": [{"sku": "NOPE", "source_code": "paris", "quantity": 1, "status": 1}]},
            ).status_code
            == 400
        )
        stock = client.get(f"{v1}/inventory/source-items", params=sc(("source_code", "paris", "eq"))).json()
        assert stock["total_count"] == 1

        # order comment
        assert client.post(f"{v1}/orders/{order['entity_id']}/comments", json={"statusHistory": {
            "comment": "Expédiée", "is_customer_notified": 1, "is_visible_on_front": 1, "parent_id": order["entity_id"], "status": "complete",
        }}).json() is True  # fmt: skip
        recent = client.get(f"{v1}/orders", params=sc(("updated_at", AFTER_SEED, "gt"))).json()
        assert [o["entity_id"] for o in recent["items"]] == [
            order["entity_id"],
            placed["entity_id"],
            guest["entity_id"],
        ]

        # customers
        created = client.post(f"{v1}/customers", json={"customer": {
            "email": "hub.created@example.com", "firstname": "Hub", "lastname": "Created", "dob": "1990-05-01", "gender": 1,
            "addresses": [{"firstname": "Hub", "lastname": "Created", "street": ["1 rue de la Paix"], "city": "Paris",
                           "postcode": "75002", "country_id": "FR", "telephone": "0102030405", "default_billing": True, "default_shipping": True}],
        }}).json()  # fmt: skip
        assert (
            client.post(
                f"{v1}/customers",
                json={"customer": {"email": customer["email"], "firstname": "X", "lastname": "Y"}},
            ).status_code
            == 400
        )
        updated = client.put(
            f"{v1}/customers/{created['id']}",
            json={
                "customer": {"email": "hub.created@example.com", "firstname": "Hubert", "lastname": "Created"}
            },
        ).json()
        assert updated["firstname"] == "Hubert" and updated["addresses"][0]["city"] == "Paris"
        bought = client.post(f"{v1}/orders", json={"entity": {
            "customer_email": "hub.created@example.com", "base_grand_total": 69.9, "grand_total": 69.9,
            "items": [{"sku": "CHR-10001", "qty_ordered": 1, "price": 50.0}],
        }}).json()  # fmt: skip
        assert bought["customer_id"] == created["id"]
        assert client.delete(f"{v1}/customers/{created['id']}").json() is True
        assert client.get(f"{v1}/customers/{created['id']}").status_code == 404
        # the order stays, without its customer (ON DELETE SET NULL)…
        kept = client.get(f"{v1}/orders/{bought['entity_id']}").json()
        assert "customer_id" not in kept and kept["customer_email"] == "hub.created@example.com"
        # …and is anonymised through the order save and the order-address save (no anonymise endpoint)
        masked = client.post(f"{v1}/orders", json={"entity": {
            "entity_id": bought["entity_id"], "customer_email": "anonymised@example.invalid",
            "customer_firstname": "Anonymised", "customer_lastname": "Anonymised", "items": [],
            "base_grand_total": bought["base_grand_total"], "grand_total": bought["grand_total"],
        }}).json()  # fmt: skip
        assert masked["customer_email"] == "anonymised@example.invalid"
        assert masked["grand_total"] == bought["grand_total"]
        address = {**kept["billing_address"], "firstname": "Anonymised", "lastname": "Anonymised",
                   "email": "anonymised@example.invalid", "street": ["Anonymised"], "city": "Anonymised",
                   "postcode": "00000", "telephone": "0000000000"}  # fmt: skip
        saved = client.put(f"{v1}/orders/{bought['entity_id']}", json={"entity": address}).json()
        assert saved["street"] == ["Anonymised"] and saved["parent_id"] == bought["entity_id"]
        assert client.get(f"{v1}/orders/{bought['entity_id']}").json()["billing_address"] == saved
        incomplete = {k: v for k, v in address.items() if k != "telephone"}
        # (sent unchecked: the spec itself rejects the request)
        refused = client.http.put(
            f"{v1}/orders/{bought['entity_id']}", json={"entity": incomplete}, headers=client.headers
        )
        assert refused.status_code == 400 and "telephone" in refused.json()["message"]
        assert client.put(f"{v1}/orders/424242", json={"entity": address}).status_code == 404
        assert client.delete(f"{v1}/products/LGT-10501").json() is True

        operations = {(method, path) for method, path, _ in client.checked}
        assert len(client.checked) >= 25 and len(operations) >= 15


def test_configurable_products_and_legacy_stock_conform_to_the_magento_spec(openapi):
    creds = ShopCredentials()
    with running("shop") as url:
        client = CheckedClient(openapi, url)
        token = client.post(
            "/rest/V1/integration/admin/token", json={"username": creds.username, "password": creds.password}
        ).json()
        client.headers = {"Authorization": f"Bearer {token}"}
        v1 = "/rest/default/V1"
        ids = {}
        for sku, color in (("TEE-1", "58"), ("TEE-2", "59"), ("TEE-3", None), ("TEE-4", "58")):
            attributes = [{"attribute_code": "color", "value": color}] if color else []
            ids[sku] = client.post(f"{v1}/products", json={"product": {
                "sku": sku, "name": sku, "price": 19.9, "type_id": "simple", "visibility": 1,
                "custom_attributes": attributes,
            }}).json()["id"]  # fmt: skip
        parent = client.post(
            f"{v1}/products",
            json={"product": {"sku": "TEE", "name": "T-shirt", "price": 19.9, "type_id": "configurable"}},
        ).json()
        assert parent["extension_attributes"]["configurable_product_options"] == []

        def error(response, status):
            assert response.status_code == status, response.text
            return response.json()["message"]

        # no option yet: no child can be linked
        no_options = client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": "TEE-1"})
        assert error(no_options, 400) == "The parent product doesn't have configurable product options."
        color = {"attribute_id": "93", "label": "Color", "position": 0,
                 "values": [{"value_index": 58}, {"value_index": 59}]}  # fmt: skip
        option_id = client.post(f"{v1}/configurable-products/TEE/options", json={"option": color}).json()
        assert isinstance(option_id, int)
        twice = client.post(f"{v1}/configurable-products/TEE/options", json={"option": color})
        assert error(twice, 400) == "An error occurred while saving the option. Please try to save again."
        on_simple = client.post(f"{v1}/configurable-products/TEE-1/options", json={"option": color})
        assert error(on_simple, 400) == 'This is implemented for the "TEE-1" configurable product only.'
        empty = client.post(f"{v1}/configurable-products/TEE/options", json={"option": {"position": 1}})
        assert error(empty, 400) == "One or more input exceptions have occurred."
        assert [e["message"] for e in empty.json()["errors"]] == [
            "Option attribute ID is not specified.",
            "Option label is not specified.",
            "Option values are not specified.",
        ]

        # children
        for sku in ("TEE-1", "TEE-2"):
            assert client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": sku}).json() is True
        again = client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": "TEE-1"})
        assert error(again, 400) == "The product is already attached."
        colourless = client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": "TEE-3"})
        assert error(colourless, 400) == (
            'The child product doesn\'t have the "color" attribute value. Verify the value and try again.'
        )
        same = client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": "TEE-4"})
        assert "have the same set of attribute values" in error(same, 400)
        missing = client.post(f"{v1}/configurable-products/TEE/child", json={"childSku": "NOPE"})
        assert error(missing, 404) == (
            "The product that was requested doesn't exist. Verify the product and try again."
        )
        linked = client.get(f"{v1}/configurable-products/TEE/children").json()
        assert [p["sku"] for p in linked] == ["TEE-1", "TEE-2"]
        options = client.get(f"{v1}/configurable-products/TEE/options/all").json()
        assert [(o["id"], o["attribute_id"], o["product_id"]) for o in options] == [
            (option_id, "93", parent["id"])
        ]
        extension = client.get(f"{v1}/products/TEE").json()["extension_attributes"]
        assert extension["configurable_product_links"] == [ids["TEE-1"], ids["TEE-2"]]
        assert extension["configurable_product_options"] == options
        assert (
            "configurable_product_links"
            not in client.get(f"{v1}/products/TEE-1").json()["extension_attributes"]
        )
        assert client.get(f"{v1}/configurable-products/TEE-1/children").json() == []
        assert client.get(f"{v1}/configurable-products/NOPE/children").status_code == 404
        # a product save may set the options and children too
        saved = client.post(f"{v1}/products", json={"product": {
            "sku": "TEE-X", "name": "T-shirt X", "price": 19.9, "type_id": "configurable",
            "extension_attributes": {"configurable_product_options": [color],
                                     "configurable_product_links": [ids["TEE-4"]]},
        }}).json()  # fmt: skip
        assert saved["extension_attributes"]["configurable_product_links"] == [ids["TEE-4"]]
        assert [p["sku"] for p in client.get(f"{v1}/configurable-products/TEE-X/children").json()] == [
            "TEE-4"
        ]
        # a deleted child leaves its parents
        assert client.delete(f"{v1}/products/TEE-2").json() is True
        assert [p["sku"] for p in client.get(f"{v1}/configurable-products/TEE/children").json()] == ["TEE-1"]

        # legacy stock items
        item = client.get(f"{v1}/stockItems/TEE-1").json()
        assert (item["item_id"], item["product_id"], item["qty"], item["is_in_stock"]) == (
            ids["TEE-1"], ids["TEE-1"], 0, False,
        )  # fmt: skip
        body = {**item, "qty": 10, "is_in_stock": True, "low_stock_date": ""}
        assert (
            client.put(f"{v1}/products/TEE-1/stockItems/{item['item_id']}", json={"stockItem": body}).json()
            == ids["TEE-1"]
        )
        item = client.get(f"{v1}/stockItems/TEE-1", params={"scopeId": 0}).json()
        assert (item["qty"], item["is_in_stock"], item["low_stock_date"]) == (10, True, None)
        # with MSI installed the legacy item is the default source's stock
        msi = client.get(f"{v1}/inventory/source-items", params=sc(("sku", "TEE-1", "eq"))).json()
        assert [(i["source_code"], i["quantity"], i["status"]) for i in msi["items"]] == [("default", 10, 1)]
        # at the minimum quantity without backorders the item goes out of stock by itself
        body = {**body, "qty": 0}
        client.put(f"{v1}/products/TEE-1/stockItems/{item['item_id']}", json={"stockItem": body})
        item = client.get(f"{v1}/stockItems/TEE-1").json()
        assert (item["is_in_stock"], item["stock_status_changed_auto"]) == (False, 1)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["low_stock_date"])
        body = {**body, "qty": 0, "backorders": 1, "use_config_backorders": False, "low_stock_date": ""}
        client.put(f"{v1}/products/TEE-1/stockItems/{item['item_id']}", json={"stockItem": body})
        assert client.get(f"{v1}/stockItems/TEE-1").json()["is_in_stock"] is True
        # a configurable product has no quantity of its own
        body = {
            **client.get(f"{v1}/stockItems/TEE").json(),
            "qty": 50,
            "is_in_stock": True,
            "low_stock_date": "",
        }
        client.put(f"{v1}/products/TEE/stockItems/1", json={"stockItem": body})
        assert client.get(f"{v1}/stockItems/TEE").json()["qty"] == 0
        nope = client.put(f"{v1}/products/NOPE/stockItems/1", json={"stockItem": body})
        assert (
            error(nope, 404)
            == "The product that was requested doesn't exist. Verify the product and try again."
        )
        assert error(client.get(f"{v1}/stockItems/NOPE"), 404).startswith("The product that was requested")
        # (sent unchecked: the spec itself rejects the request)
        lots = client.http.put(
            f"{v1}/products/TEE-1/stockItems/1",
            json={"stockItem": {**body, "qty": "lots"}},
            headers=client.headers,
        )
        assert lots.status_code == 400 and lots.json()["parameters"] == [
            {"fieldValue": "lots"},
            {"fieldName": "float"},
        ]

        operations = {(method, path) for method, path, _ in client.checked}
        assert len(operations) >= 12
