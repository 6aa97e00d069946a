"""ERP stand-in (Odoo JSON-RPC shape, and Odoo 19's JSON-2 over the same store) over real HTTP."""

import httpx

from sandbox.credentials import ErpCredentials
from sandbox.seed import N_CUSTOMERS, N_ORDERS, N_PRODUCTS

from .conftest import AFTER_SEED, Odoo


def reset(url):
    assert httpx.post(f"{url}/_sandbox/reset").status_code == 200


def test_authenticate_and_access_denied(erp_url):
    odoo = Odoo(erp_url)
    assert odoo.uid == 2
    assert odoo.call("common", "authenticate", "sandbox", "hub", "wrong", {}) is False
    version = odoo.call("common", "version")
    assert version["server_version"] == "17.0"
    denied = odoo.raw("object", "execute_kw", "sandbox", 2, "wrong", "res.partner", "search_count", [[]], {})
    assert denied["jsonrpc"] == "2.0" and denied["id"] == 7 and "result" not in denied
    error = denied["error"]
    assert error["code"] == 200 and error["message"] == "Odoo Server Error"
    assert (
        error["data"]["name"] == "odoo.exceptions.AccessDenied"
        and error["data"]["message"] == "Access Denied"
    )


def test_paging_to_the_last_page(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    for model, expected in (
        ("product.product", N_PRODUCTS),
        ("res.partner", N_CUSTOMERS),
        ("sale.order", N_ORDERS),
    ):
        assert odoo.execute(model, "search_count", []) == expected
        seen, offset = [], 0
        while True:
            page = odoo.execute(
                model,
                "search_read",
                [],
                fields=["id", "write_date"],
                limit=300,
                offset=offset,
                order="write_date asc, id asc",
            )
            seen += page
            if len(page) < 300:
                break
            offset += 300
        assert len(seen) == expected == len({r["id"] for r in seen})
        assert [(r["write_date"], r["id"]) for r in seen] == sorted((r["write_date"], r["id"]) for r in seen)
    quants = odoo.execute(
        "stock.quant",
        "search_read",
        [["location_id.complete_name", "=", "PAR/Stock"]],
        fields=["product_id", "location_id", "quantity"],
        limit=2,
    )
    assert quants[0]["location_id"] == [8, "PAR/Stock"]
    assert quants[0]["product_id"][1].startswith("[")
    partner = odoo.execute(
        "res.partner", "read", [100], fields=["name", "email", "country_id", "customer_rank", "write_date"]
    )[0]
    assert partner["country_id"][1] in ("France", "United Kingdom") and partner["customer_rank"] == 1
    assert len(partner["write_date"]) == 19


def test_domains(erp_url):
    odoo = Odoo(erp_url)
    chairs = odoo.execute("product.product", "search_count", [["default_code", "=like", "CHR-%"]])
    lamps = odoo.execute("product.product", "search_count", [["default_code", "=like", "LGT-%"]])
    either = odoo.execute(
        "product.product",
        "search_count",
        ["|", ["default_code", "=like", "CHR-%"], ["default_code", "=like", "LGT-%"]],
    )
    assert chairs == lamps == 250 and either == 500
    cheap_chairs = odoo.execute(
        "product.product",
        "search_read",
        ["&", ["default_code", "ilike", "chr-"], ["list_price", "<", 100]],
        fields=["list_price"],
    )
    assert cheap_chairs and all(p["list_price"] < 100 for p in cheap_chairs)
    picked = odoo.execute(
        "product.product", "search_read", [["id", "in", [3, 1, 2]]], fields=["default_code"], order="id desc"
    )
    assert [p["id"] for p in picked] == [3, 2, 1]
    not_fr = odoo.execute("res.partner", "search_count", ["!", ["country_id.code", "=", "FR"]])
    fr = odoo.execute("res.partner", "search_count", [["country_id.code", "=", "FR"]])
    assert fr + not_fr == N_CUSTOMERS and fr > not_fr
    bad = odoo.execute_raw("res.partner", "search_read", [["no_such_field", "=", 1]])
    assert bad["error"]["data"]["name"] == "builtins.ValueError"


def test_incremental_create_write_unlink(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    since = [["write_date", ">", AFTER_SEED]]
    assert odoo.execute("res.partner", "search_read", since, fields=["id"]) == []
    pid = odoo.execute(
        "res.partner",
        "create",
        {"name": "Nouvelle Cliente", "email": "nouvelle@example.com", "country_id": 75, "customer_rank": 1},
    )
    assert isinstance(pid, int)
    assert odoo.execute("res.partner", "write", [101], {"phone": "+33 1 02 03 04 05"}) is True
    changed = odoo.execute(
        "res.partner", "search_read", since, fields=["name", "phone"], order="write_date asc, id asc"
    )
    assert sorted(r["id"] for r in changed) == sorted([pid, 101])
    assert {r["id"]: r["phone"] for r in changed}[101] == "+33 1 02 03 04 05"
    assert odoo.execute("res.partner", "unlink", [pid]) is True
    assert odoo.execute("res.partner", "search_count", [["id", "=", pid]]) == 0
    missing = odoo.execute_raw("res.partner", "read", [pid], fields=["name"])
    assert missing["error"]["data"]["name"] == "odoo.exceptions.MissingError"

    order_id = odoo.execute("sale.order", "create", {"partner_id": 101, "client_order_ref": "HUB-1", "order_line": [
        [0, 0, {"product_id": 1, "product_uom_qty": 2, "price_unit": 10.0}],
        [0, 0, {"product_id": 2, "product_uom_qty": 1, "price_unit": 5.0}],
    ]})  # fmt: skip
    order = odoo.execute(
        "sale.order", "read", [order_id], fields=["name", "amount_total", "order_line", "partner_id", "state"]
    )[0]
    assert order["amount_total"] == 30.0 and len(order["order_line"]) == 2 and order["state"] == "draft"
    lines = odoo.execute(
        "sale.order.line",
        "search_read",
        [["order_id", "=", order_id]],
        fields=["product_id", "price_subtotal"],
    )
    assert sorted(line["price_subtotal"] for line in lines) == [5.0, 20.0]


def test_batch_create_is_atomic(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    before = odoo.execute("product.product", "search_count", [])
    ids = odoo.execute("product.product", "create", [
        {"name": "Lampe A", "default_code": "NEW-A", "list_price": 20, "barcode": "3769999999991"},
        {"name": "Lampe B", "default_code": "NEW-B", "list_price": 25},
    ])  # fmt: skip
    assert len(ids) == 2 and ids[1] == ids[0] + 1
    failed = odoo.execute_raw("product.product", "create", [
        {"name": "Lampe C", "default_code": "NEW-C"},
        {"default_code": "NEW-D"},  # no name: a mandatory field
    ])  # fmt: skip
    data = failed["error"]["data"]
    assert (
        data["name"] == "odoo.exceptions.ValidationError" and "mandatory field is not set" in data["message"]
    )
    duplicate = odoo.execute_raw("product.product", "create", [{"name": "Copy", "barcode": "3769999999991"}])
    assert duplicate["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
    assert "Barcode(s) already assigned" in duplicate["error"]["data"]["message"]
    assert odoo.execute("product.product", "search_count", []) == before + 2, "a failed batch creates nothing"
    quant = odoo.execute("stock.quant", "create", {"product_id": ids[0], "location_id": 8, "quantity": 12})
    assert odoo.execute("stock.quant", "read", [quant], fields=["quantity", "product_id"])[0][
        "product_id"
    ] == [ids[0], "[NEW-A] Lampe A"]


def test_a_partner_with_sale_orders_is_not_unlinked_but_can_be_anonymised(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    (order,) = odoo.execute("sale.order", "search_read", [["id", "=", 1]], fields=["partner_id"])
    partner_id = order["partner_id"][0]
    refused = odoo.execute_raw("res.partner", "unlink", [partner_id])
    assert refused["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
    message = refused["error"]["data"]["message"]
    assert "another model requires the record being deleted" in message and "sale.order" in message
    assert odoo.execute("res.partner", "search_count", [["id", "=", partner_id]]) == 1
    (before,) = odoo.execute("res.partner", "read", [partner_id], fields=["email"])
    blank = dict.fromkeys(
        ("email", "phone", "mobile", "street", "street2", "city", "zip", "country_id"), False
    )
    assert odoo.execute("res.partner", "write", [partner_id], {"name": "Anonymised", **blank}) is True
    assert odoo.execute("res.partner", "search", [["email", "=ilike", before["email"]]]) == []
    (order,) = odoo.execute("sale.order", "read", [1], fields=["partner_id"])
    assert order["partner_id"] == [partner_id, "Anonymised"]
    reset(erp_url)


# --- JSON-2 (Odoo 19) and product templates -------------------------------------------------------


def json2(url, model, method, body=None, *, key=None, database=None):
    creds = ErpCredentials()
    headers = {"Authorization": f"bearer {creds.api_key if key is None else key}"}
    if database is not None:
        headers["X-Odoo-Database"] = database
    return httpx.post(f"{url}/json/2/{model}/{method}", json=body or {}, headers=headers)


def test_json2_named_arguments_over_the_same_store(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    answer = json2(
        erp_url,
        "res.partner",
        "search_read",
        {"domain": [["id", "in", [101, 100]]], "fields": ["email"], "order": "id desc", "limit": 1},
        database="sandbox",
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    assert answer.json() == [
        {"id": 101, "email": odoo.execute("res.partner", "read", [101], fields=["email"])[0]["email"]}
    ]
    assert json2(erp_url, "res.partner", "write", {"ids": [101], "vals": {"phone": "+33 9"}}).json() is True
    assert odoo.execute("res.partner", "read", [101], fields=["phone"])[0]["phone"] == "+33 9"
    created = json2(erp_url, "res.partner", "create", {"vals_list": [{"name": "A"}, {"name": "B"}]}).json()
    assert len(created) == 2 and odoo.execute("res.partner", "search_count", [["id", "in", created]]) == 2
    assert json2(erp_url, "res.users", "context_get").json()["uid"] == 2
    reset(erp_url)


def test_json2_errors_are_http_statuses_with_odoo_exceptions(erp_url):
    refused = json2(erp_url, "res.partner", "search_count", {"domain": []}, key="wrong")
    assert refused.status_code == 401
    assert (
        refused.json()["name"] == "werkzeug.exceptions.Unauthorized"
        and refused.json()["message"] == "Invalid apikey"
    )
    assert json2(erp_url, "res.partner", "search_count", {}, database="other").status_code == 404
    unknown = json2(erp_url, "mrp.production", "search_count", {})
    assert unknown.status_code == 404 and unknown.json()["name"] == "werkzeug.exceptions.NotFound"
    invalid = json2(erp_url, "product.product", "create", {"vals_list": [{"default_code": "X"}]})
    assert invalid.status_code == 422 and invalid.json()["name"] == "odoo.exceptions.ValidationError"
    missing = json2(erp_url, "res.partner", "write", {"ids": [999999], "vals": {"name": "x"}})
    assert missing.status_code == 404 and missing.json()["name"] == "odoo.exceptions.MissingError"
    bad_value = json2(erp_url, "res.partner", "search_read", {"domain": [["nope", "=", 1]]})
    assert bad_value.status_code == 500 and bad_value.json()["name"] == "builtins.ValueError"
    positional = json2(erp_url, "res.partner", "search_read", {"args": [[]]})
    assert positional.status_code == 500 and "unexpected keyword argument" in positional.json()["message"]


def test_product_templates_and_variants(erp_url):
    reset(erp_url)
    odoo = Odoo(erp_url)
    assert odoo.execute("product.template", "search_count", []) == N_PRODUCTS
    (variant,) = odoo.execute(
        "product.product", "read", [3], fields=["default_code", "name", "product_tmpl_id"]
    )
    (template,) = odoo.execute(
        "product.template",
        "read",
        [3],
        fields=["default_code", "name", "product_variant_ids", "product_variant_count"],
    )
    assert variant["product_tmpl_id"][0] == 3 and template["product_variant_ids"] == [3]
    assert (template["default_code"], template["name"], template["product_variant_count"]) == (
        variant["default_code"],
        variant["name"],
        1,
    )
    # a template's own fields reach its variant; a variant's code reaches its single-variant template
    assert odoo.execute("product.template", "write", [3], {"name": "Renamed", "list_price": 9.0}) is True
    assert odoo.execute("product.product", "read", [3], fields=["name", "list_price"])[0] == {
        "id": 3,
        "name": "Renamed",
        "list_price": 9.0,
    }
    odoo.execute("product.product", "write", [3], {"default_code": "NEW-3"})
    assert (
        odoo.execute("product.template", "read", [3], fields=["default_code"])[0]["default_code"] == "NEW-3"
    )
    # a second variant: the template shows no single code any more; both share the template's name
    second = odoo.execute("product.product", "create", {"product_tmpl_id": 3, "default_code": "NEW-3B"})
    (template,) = odoo.execute(
        "product.template",
        "read",
        [3],
        fields=["default_code", "product_variant_ids", "product_variant_count"],
    )
    assert template["product_variant_ids"] == [3, second] and template["product_variant_count"] == 2
    assert template["default_code"] is False
    assert odoo.execute("product.product", "read", [second], fields=["name"])[0]["name"] == "Renamed"
    # creating a template creates its variant; unlinking the template unlinks its variants
    tid = odoo.execute("product.template", "create", {"name": "Fresh", "default_code": "FRESH-1"})
    (fresh,) = odoo.execute("product.template", "read", [tid], fields=["product_variant_ids"])
    assert (
        odoo.execute("product.product", "read", fresh["product_variant_ids"], fields=["default_code"])[0][
            "default_code"
        ]
        == "FRESH-1"
    )
    duplicate = odoo.execute_raw(
        "product.template", "create", {"name": "Dup", "barcode": seeded_barcode(erp_url)}
    )
    assert "Barcode(s) already assigned" in duplicate["error"]["data"]["message"]
    assert odoo.execute("product.template", "unlink", [tid]) is True
    assert odoo.execute("product.product", "search_count", [["id", "in", fresh["product_variant_ids"]]]) == 0
    reset(erp_url)


def seeded_barcode(url):
    """A barcode a seeded product holds."""
    return Odoo(url).execute("product.product", "read", [1], fields=["barcode"])[0]["barcode"]
