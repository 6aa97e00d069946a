"""Shop stand-in: the shape of the Adobe Commerce (Magento) 2.4 admin REST API.

Served under ``/rest/default/V1/`` and ``/rest/V1/``; requests and responses follow
``sandbox/specs/magento-admin-2.4.9.openapi3.json`` (checked by tests/sandbox/test_shop_conforms.py).

- ``POST integration/admin/token`` ``{"username", "password"}`` → the token as a JSON string;
  wrong → 401 ``{"message": "The account sign-in was incorrect ..."}``. Everything else needs
  ``Authorization: Bearer <token>`` (401 ``The consumer isn't authorized to access ...``).
- ``products`` (GET searchCriteria, POST create-or-update by sku), ``products/{sku}`` (GET, PUT
  create-or-update, DELETE → ``true``).
- Configurable products (``type_id`` ``configurable``): ``configurable-products/{sku}/options``
  (POST ``{"option": {attribute_id, label, position, values: [{value_index}]}}`` → the option id; the
  attributes known are ``93`` color and ``144`` size), ``.../options/all`` (GET), ``.../child`` (POST
  ``{"childSku"}`` → ``true``; 400 when the child lacks a value of a configurable attribute, is already
  attached, or repeats another child's values) and ``.../children`` (GET, the child products). The
  parent shows them as ``extension_attributes.configurable_product_options`` and
  ``configurable_product_links`` (child ids), which a product save may also set.
- Legacy stock (CatalogInventory): ``stockItems/{productSku}`` (GET the stock item) and PUT
  ``products/{productSku}/stockItems/{itemId}`` ``{"stockItem": {...}}`` → the item id: the fields
  given are laid over the item (the path's item id is not used, as in Magento), the status is worked
  out (out of stock at or under ``min_qty`` without backorders) and ``low_stock_date`` set when the
  quantity is under ``notify_stock_qty``. As with MSI installed, quantity and status are those of the
  product's ``default`` source item; an unknown SKU is a 404.
- MSI ``inventory/source-items``: GET searchCriteria; POST ``{"sourceItems": [...]}`` saves the
  whole batch or nothing: ``[]`` on success, 400 ``Validation Failed`` (with ``errors``) for a
  malformed item, 400 ``Could not save Source Item`` for an unknown sku or source.
- ``orders`` (GET searchCriteria, e.g. ``updated_at`` ``gt``), ``orders/{id}``, POST
  ``orders/{id}/comments`` → ``true``. POST ``orders`` and PUT ``orders/create``
  ``{"entity": {...}}`` save an order: without an existing ``entity_id`` a new one is placed
  (``customer_id`` or ``customer_email``, ``items`` of ``sku``, ``qty_ordered``, ``price``; totals
  computed as the seed's: 20 % tax, shipping 9.90 under 150), with one its ``status``/``state`` and
  other plain fields are updated.
- Webhooks (``sandbox.webhooks``): ``orders/created``, ``orders/updated``, ``customers/created``,
  ``customers/updated``, ``customers/deleted``, ``products/created``, ``products/updated``,
  ``products/deleted``, with ``entity_id`` (and ``increment_id`` for orders, ``sku`` for
  products), whether the change came through the API or the sandbox activity.
- ``PUT orders/{parent_id}`` ``{"entity": address}`` saves the order's billing address (Magento's
  order-address repository) and answers it; an existing order's ``customer_email``,
  ``customer_firstname`` and ``customer_lastname`` change through ``POST orders`` with its
  ``entity_id`` — together the way an order is anonymised (Magento has no anonymise endpoint).
- ``customers/search``, ``customers/{id}`` (GET, PUT, DELETE → ``true``), POST ``customers``.
  Deleting a customer keeps their orders and takes the ``customer_id`` off them (Magento's foreign
  key is ``ON DELETE SET NULL``).

searchCriteria: ``filterGroups``/``filter_groups`` (groups ANDed, filters of a group ORed),
condition types ``eq neq gt gteq lt lteq like nlike in nin null notnull from to finset``,
``sortOrders``, ``pageSize``, ``currentPage`` (camelCase and snake_case keys both accepted).
Like Magento's collections, ``orders`` and ``customers/search`` answer a ``currentPage`` past
the end with the last page again (use ``total_count``); ``products`` answers it with no items.

Dates are Magento's ``YYYY-MM-DD HH:MM:SS`` (UTC). Error ``parameters`` follow the spec (a list of
``{resources|fieldName|fieldValue}`` objects) and the message has its placeholders filled in.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, dumps, sandbox_of
from .credentials import ShopCredentials
from .faults import FaultConfig
from .seed import dataset, load
from .store import Store

SOURCES = ("default", "paris", "lyon", "lille")
TOKEN_TTL = 4 * 3600
JSON = "application/json; charset=utf-8"
CONDITIONS = {
    "eq",
    "neq",
    "gt",
    "gteq",
    "lt",
    "lteq",
    "like",
    "nlike",
    "in",
    "nin",
    "null",
    "notnull",
    "from",
    "to",
    "finset",
}
ORDER_STATES = {"pending": "new", "processing": "processing", "complete": "complete", "canceled": "canceled"}
PRODUCT_KEYS = {
    "id", "sku", "name", "attribute_set_id", "price", "status", "visibility", "type_id", "created_at",
    "updated_at", "weight", "extension_attributes", "product_links", "options", "media_gallery_entries",
    "tier_prices", "custom_attributes",
}  # fmt: skip
CUSTOMER_KEYS = {
    "id", "group_id", "default_billing", "default_shipping", "confirmation", "created_at", "updated_at",
    "created_in", "dob", "email", "firstname", "lastname", "middlename", "prefix", "suffix", "gender",
    "store_id", "taxvat", "website_id", "addresses", "disable_auto_group_change", "extension_attributes",
    "custom_attributes",
}  # fmt: skip


def magento_datetime(stamp: str) -> str:
    return f"{stamp[:10]} {stamp[11:19]}"


def _dt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def respond(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON)


class MagentoError(Exception):
    def __init__(
        self, status: int, message: str, parameters: dict[str, Any] | None = None, errors: list | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.parameters, self.errors = status, message, parameters, errors

    def response(self) -> Response:
        message = self.message
        body: dict[str, Any] = {}
        if self.parameters:
            for key, value in self.parameters.items():
                message = message.replace(f"%{key}", str(value))
            body["parameters"] = [{k: str(v)} for k, v in self.parameters.items()]
        body = {"message": message, **body}
        if self.errors:
            body["errors"] = self.errors
        return respond(body, self.status)


def error_body(status: int, message: str) -> tuple[bytes, str]:
    return dumps({"message": message}), JSON


# -- seed --------------------------------------------------------------------------------------
def customer_doc(c: dict[str, Any]) -> dict[str, Any]:
    cid = c["index"] + 1
    return {
        "id": cid,
        "group_id": 1,
        "default_billing": str(cid),
        "default_shipping": str(cid),
        "created_at": _dt(c["created"]),
        "created_in": "Default Store View",
        "dob": c["birthdate"],
        "email": c["email"],
        "firstname": c["firstname"],
        "lastname": c["lastname"],
        "gender": c["gender"],
        "store_id": 1,
        "website_id": 1,
        "addresses": [
            {
                "id": cid,
                "customer_id": cid,
                "region": {"region_code": "", "region": "", "region_id": 0},
                "region_id": 0,
                "country_id": c["country"],
                "street": [c["street"]],
                "telephone": c["phone"],
                "postcode": c["postcode"],
                "city": c["city"],
                "firstname": c["firstname"],
                "lastname": c["lastname"],
                "default_shipping": True,
                "default_billing": True,
            }
        ],
        "disable_auto_group_change": 0,
        "extension_attributes": {"is_subscribed": False},
    }


def order_doc(o: dict[str, Any], customer: dict[str, Any]) -> dict[str, Any]:
    oid = o["number"]
    state = ORDER_STATES[o["status"]]
    created = _dt(o["created"])
    items = []
    for n, line in enumerate(o["lines"], start=1):
        items.append(
            {
                "item_id": oid * 10 + n,
                "order_id": oid,
                "sku": line["sku"],
                "name": line["name"],
                "product_type": "simple",
                "qty_ordered": line["qty"],
                "price": line["price"],
                "base_price": line["price"],
                "original_price": line["price"],
                "price_incl_tax": round(line["price"] * 1.2, 2),
                "row_total": line["row_total"],
                "base_row_total": line["row_total"],
                "row_total_incl_tax": round(line["row_total"] * 1.2, 2),
                "tax_percent": 20,
                "tax_amount": round(line["row_total"] * 0.2, 2),
                "store_id": 1,
                "created_at": created,
                "updated_at": created,
            }
        )
    return {
        "entity_id": oid,
        "increment_id": o["increment_id"],
        "state": state,
        "status": o["status"],
        "created_at": created,
        "customer_id": customer["index"] + 1,
        "customer_email": customer["email"],
        "customer_firstname": customer["firstname"],
        "customer_lastname": customer["lastname"],
        "customer_is_guest": 0,
        "customer_group_id": 1,
        "store_id": 1,
        "store_name": "Main Website\nMain Website Store\nDefault Store View",
        "base_currency_code": "EUR",
        "order_currency_code": "EUR",
        "global_currency_code": "EUR",
        "store_currency_code": "EUR",
        "subtotal": o["subtotal"],
        "base_subtotal": o["subtotal"],
        "subtotal_incl_tax": round(o["subtotal"] + o["tax"], 2),
        "shipping_amount": o["shipping"],
        "base_shipping_amount": o["shipping"],
        "shipping_description": "Colissimo - Domicile" if customer["country"] == "FR" else "DHL Express",
        "tax_amount": o["tax"],
        "base_tax_amount": o["tax"],
        "grand_total": o["total"],
        "base_grand_total": o["total"],
        "total_paid": o["total"] if state == "complete" else 0,
        "total_due": 0 if state == "complete" else o["total"],
        "total_qty_ordered": sum(line["qty"] for line in o["lines"]),
        "total_item_count": len(o["lines"]),
        "items": items,
        "billing_address": {
            "address_type": "billing",
            "entity_id": oid,
            "parent_id": oid,
            "email": customer["email"],
            "firstname": customer["firstname"],
            "lastname": customer["lastname"],
            "street": [customer["street"]],
            "city": customer["city"],
            "postcode": customer["postcode"],
            "country_id": customer["country"],
            "telephone": customer["phone"],
        },
        "payment": {
            "entity_id": oid,
            "parent_id": oid,
            "method": "checkmo",
            "account_status": "",
            "additional_information": ["Check / Money order"],
            "cc_last4": "",
            "amount_ordered": o["total"],
            "base_amount_ordered": o["total"],
        },
        "status_histories": [],
        "extension_attributes": {},
    }


def seed_shop(store: Store, seed: int) -> None:
    data = dataset(seed)
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    for c in data.customers:
        records.append(("customer", c["index"] + 1, customer_doc(c), c["updated"]))
        records.append(("customer_email", c["email"].lower(), {"id": c["index"] + 1}, c["updated"]))
    for o in data.orders:
        records.append(("order", o["number"], order_doc(o, data.customers[o["customer"]]), o["updated"]))
    load(store, records)
    store.set_meta("seq:customer", len(data.customers))
    store.set_meta("seq:order", len(data.orders))
    store.set_meta("seq:product", 0)


def next_id(store: Store, entity: str) -> int:
    current = max(int(store.get_meta(f"seq:{entity}", 0) or 0), int(store.max_id(entity) or 0))
    store.set_meta(f"seq:{entity}", current + 1)
    return current + 1


# -- auth --------------------------------------------------------------------------------------
def _shop(request: Request) -> SandboxApp:
    return sandbox_of(request)


def check_bearer(request: Request, resource: str) -> None:
    tokens: dict[str, float] = _shop(request).options["tokens"]
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    expires = tokens.get(token)
    if expires is None or time.monotonic() > expires:
        raise MagentoError(
            401, "The consumer isn't authorized to access %resources.", {"resources": resource}
        )


async def admin_token(request: Request) -> Response:
    app = _shop(request)
    creds: ShopCredentials = app.credentials
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return MagentoError(400, "Decoding error: \nSyntax error").response()
    if not isinstance(payload, dict) or not payload.get("username") or not payload.get("password"):
        return MagentoError(400, "One or more input exceptions have occurred.", errors=[
            {"message": '"username" is required. Enter and try again.', "parameters": [{"fieldName": "username"}]},
        ]).response()  # fmt: skip
    if (payload["username"], payload["password"]) != (creds.username, creds.password):
        return MagentoError(
            401,
            "The account sign-in was incorrect or your account is disabled temporarily. Please wait and try again later.",
        ).response()
    token = secrets.token_hex(16)
    app.options["tokens"][token] = time.monotonic() + app.options["token_ttl"]
    return respond(token)


# -- searchCriteria ----------------------------------------------------------------------------
_KEY = re.compile(r"\[([^\]]*)\]")
_ALIASES = {
    "filterGroups": "filter_groups", "sortOrders": "sort_orders", "pageSize": "page_size",
    "currentPage": "current_page", "conditionType": "condition_type",
}  # fmt: skip


def parse_criteria(request: Request) -> dict[str, Any]:
    """``searchCriteria[...]`` query keys → {filter_groups, sort_orders, page_size, current_page}."""
    tree: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if not key.startswith("searchCriteria["):
            continue
        parts = [_ALIASES.get(p, p) for p in _KEY.findall(key[len("searchCriteria") :])]
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise MagentoError(400, '"%fieldName" is not a valid searchCriteria key.', {"fieldName": key})
        node[parts[-1]] = value

    def ordered(mapping: Any) -> list[Any]:
        if not isinstance(mapping, dict):
            return []
        try:
            return [mapping[k] for k in sorted(mapping, key=int)]
        except ValueError as exc:
            raise MagentoError(400, "Invalid searchCriteria index.") from exc

    criteria: dict[str, Any] = {"filter_groups": []}
    for group in ordered(tree.get("filter_groups")):
        filters = []
        for f in ordered(group.get("filters") if isinstance(group, dict) else None):
            if not isinstance(f, dict) or "field" not in f:
                raise MagentoError(
                    400, '"%fieldName" is required. Enter and try again.', {"fieldName": "field"}
                )
            condition = f.get("condition_type", "eq") or "eq"
            if condition not in CONDITIONS:
                raise MagentoError(400, 'Invalid condition type "%fieldValue".', {"fieldValue": condition})
            filters.append({"field": f["field"], "value": f.get("value", ""), "condition_type": condition})
        criteria["filter_groups"].append({"filters": filters})
    sorts = []
    for s in ordered(tree.get("sort_orders")):
        if isinstance(s, dict) and s.get("field"):
            sorts.append({"field": s["field"], "direction": (s.get("direction") or "ASC").upper()})
    if sorts:
        criteria["sort_orders"] = sorts
    for key in ("page_size", "current_page"):
        if key in tree:
            try:
                criteria[key] = int(tree[key])
            except (TypeError, ValueError) as exc:
                raise MagentoError(
                    400, 'The "%fieldValue" value\'s type is invalid.', {"fieldValue": tree[key]}
                ) from exc
    return criteria


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _compare(a: Any, b: str) -> int:
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    sa = "" if a is None else str(a)
    return (sa > b) - (sa < b)


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "^" + ".*".join(re.escape(part) for part in pattern.split("%")).replace("_", ".") + "$",
        re.IGNORECASE | re.DOTALL,
    )


_ORDERINGS = {
    "gt": lambda c: c > 0, "from": lambda c: c >= 0, "gteq": lambda c: c >= 0,
    "lt": lambda c: c < 0, "to": lambda c: c <= 0, "lteq": lambda c: c <= 0,
}  # fmt: skip


def _filter_predicate(f: dict[str, Any], getter):
    field, value, cond = f["field"], str(f["value"]), f["condition_type"]
    if cond in ("eq", "neq"):
        want = cond == "eq"

        def equal(d: dict[str, Any]) -> bool:
            got = getter(d, field)
            return (got is not None and _compare(got, value) == 0) is want

        return equal
    if cond in _ORDERINGS:
        accept = _ORDERINGS[cond]

        def ordered(d: dict[str, Any]) -> bool:
            got = getter(d, field)
            return got is not None and accept(_compare(got, value))

        return ordered
    if cond in ("like", "nlike"):
        rx, want = _like(value), cond == "like"
        return lambda d: bool(rx.match("" if getter(d, field) is None else str(getter(d, field)))) is want
    if cond in ("in", "nin"):
        values, want = [v.strip() for v in value.split(",")], cond == "in"
        return lambda d: (
            any(getter(d, field) is not None and _compare(getter(d, field), v) == 0 for v in values) is want
        )
    if cond == "null":
        return lambda d: getter(d, field) in (None, "")
    if cond == "notnull":
        return lambda d: getter(d, field) not in (None, "")
    if cond == "finset":
        return lambda d: value in str(getter(d, field) or "").split(",")
    raise MagentoError(400, 'Invalid condition type "%fieldValue".', {"fieldValue": cond})


def _default_getter(doc: dict[str, Any], field: str) -> Any:
    if field == "updated_at":
        return magento_datetime(doc["updated_at"])
    if field in doc:
        return doc[field]
    for attr in doc.get("custom_attributes") or ():
        if attr.get("attribute_code") == field:
            return attr.get("value")
    return None


def search(
    store: Store, entity: str, criteria: dict[str, Any], *, getter=_default_getter, clamp_last_page: bool
) -> tuple[list[dict[str, Any]], int]:
    """(page of raw docs, total_count) for a parsed searchCriteria."""
    groups = [g["filters"] for g in criteria["filter_groups"] if g["filters"]]
    predicates = []
    since = None
    for filters in groups:
        preds = [_filter_predicate(f, getter) for f in filters]
        predicates.append(
            preds[0] if len(preds) == 1 else (lambda ps: lambda d: any(p(d) for p in ps))(preds)
        )
        if (
            len(filters) == 1
            and filters[0]["field"] == "updated_at"
            and filters[0]["condition_type"] in ("gt", "gteq", "from")
        ):
            value = str(filters[0]["value"])
            if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value):
                bound = f"{value[:10]}T{value[11:19]}.{'999999' if filters[0]['condition_type'] == 'gt' else '000000'}Z"
                since = bound if since is None or bound > since else since
    sorts = criteria.get("sort_orders") or []
    size = criteria.get("page_size")
    page = max(1, criteria.get("current_page") or 1)
    if not predicates and not sorts:
        total = store.count(entity)
        if size is None:
            return store.scan_by_id(entity), total
        if size <= 0:
            return [], total
        if clamp_last_page and total and (page - 1) * size >= total:
            page = (total - 1) // size + 1
        return store.scan_by_id(entity, limit=size, offset=(page - 1) * size), total
    source = store.iter_by_updated(entity, since=since, inclusive=True) if since else store.iter_by_id(entity)
    matches = [d for d in source if all(p(d) for p in predicates)]
    if since and not sorts:
        matches.sort(key=_natural_key)
    for s in reversed(sorts):
        field, reverse = s["field"], s["direction"] == "DESC"
        matches.sort(key=lambda d, f=field: _sort_key(getter(d, f)), reverse=reverse)
    total = len(matches)
    if size is None:
        return matches, total
    if size <= 0:
        return [], total
    if clamp_last_page and total and (page - 1) * size >= total:
        page = (total - 1) // size + 1
    start = (page - 1) * size
    return matches[start : start + size], total


def _natural_key(doc: dict[str, Any]) -> Any:
    """The store's id order (entity_id / id / sku+source), for results taken from the updated index."""
    if "entity_id" in doc:
        return (doc["entity_id"], "")
    if "id" in doc:
        return (doc["id"], "")
    return (0, f"{doc.get('sku')}|{doc.get('source_code')}")


def _sort_key(value: Any) -> tuple[int, float, str]:
    if value is None:
        return (0, 0.0, "")
    number = _number(value)
    if number is not None and not isinstance(value, str):
        return (1, number, "")
    return (2, 0.0, str(value))


def search_result(items: list[Any], criteria: dict[str, Any], total: int) -> Response:
    return respond({"items": items, "search_criteria": criteria, "total_count": total})


# -- products ----------------------------------------------------------------------------------
def render_product(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "updated_at"}
    out["updated_at"] = magento_datetime(doc["updated_at"])
    # Magento shows the options and children (ids) of configurable products only
    extension = {
        k: v for k, v in (doc.get("extension_attributes") or {}).items() if not k.startswith("configurable_")
    }
    if doc.get("type_id") == "configurable":
        for key in ("configurable_product_options", "configurable_product_links"):
            extension[key] = doc["extension_attributes"].get(key) or []
    out["extension_attributes"] = extension
    return out


def _product_by_sku(store: Store, sku: str) -> dict[str, Any] | None:
    ref = store.get("product_sku", sku)
    return store.get("product", ref["id"]) if ref else None


def _not_found_product() -> MagentoError:
    return MagentoError(
        404, "The product that was requested doesn't exist. Verify the product and try again."
    )


async def list_products(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    criteria = parse_criteria(request)
    docs, total = search(_shop(request).store, "product", criteria, clamp_last_page=False)
    return search_result([render_product(d) for d in docs], criteria, total)


async def get_product(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    doc = _product_by_sku(_shop(request).store, request.path_params["sku"])
    if doc is None:
        raise _not_found_product()
    return respond(render_product(doc))


async def _body(request: Request) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body())
    except ValueError as exc:
        raise MagentoError(400, "Decoding error: \nSyntax error") from exc
    if not isinstance(payload, dict):
        raise MagentoError(400, "Decoding error: \nSyntax error")
    return payload


def save_product(store: Store, product: Any, sku: str | None = None) -> dict[str, Any]:
    if not isinstance(product, dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "product"})
    sku = sku or product.get("sku")
    if not isinstance(sku, str) or not sku.strip():
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "sku"})
    sku = sku.strip()
    if len(sku) > 64:
        raise MagentoError(400, "SKU length should be 64 characters maximum.")
    for key in product:
        if key not in PRODUCT_KEYS:
            raise MagentoError(
                400, 'Property "%fieldName" does not have accessor method "%fieldValue" in class "Magento\\Catalog\\Api\\Data\\ProductInterface".',
                {"fieldName": key, "fieldValue": "get" + "".join(p.capitalize() for p in key.split("_"))},
            )  # fmt: skip
    old = _product_by_sku(store, sku)
    now = _dt(datetime.now(UTC))
    if old is None:
        for field, label in (("name", "Product Name"), ("price", "Price")):
            if product.get(field) in (None, ""):
                raise MagentoError(
                    400, f'The "{label}" attribute value is empty. Set the attribute and try again.'
                )
        doc: dict[str, Any] = {
            "id": next_id(store, "product"),
            "sku": sku,
            "name": "",
            "attribute_set_id": 4,
            "price": 0,
            "status": 1,
            "visibility": 4,
            "type_id": "simple",
            "created_at": now,
            "weight": 0,
            "extension_attributes": {"website_ids": [1], "category_links": []},
            "product_links": [],
            "options": [],
            "media_gallery_entries": [],
            "tier_prices": [],
            "custom_attributes": [],
        }
    else:
        doc = json.loads(json.dumps(old))
        doc.pop("updated_at", None)
    for field in ("name", "attribute_set_id", "price", "status", "visibility", "type_id", "weight"):
        if field in product and product[field] is not None:
            doc[field] = product[field]
    for field, kind in (
        ("price", (int, float)),
        ("weight", (int, float)),
        ("status", int),
        ("visibility", int),
        ("attribute_set_id", int),
    ):
        if not isinstance(doc[field], kind) or isinstance(doc[field], bool):
            raise MagentoError(
                400,
                'The "%fieldValue" value\'s type is invalid. The "%fieldName" type was expected. Verify and try again.',
                {"fieldValue": str(doc[field]), "fieldName": "int" if kind is int else "float"},
            )
    if doc["price"] < 0:
        raise MagentoError(
            400,
            'The Price value "%fieldValue" is invalid. Enter a positive number and try again.',
            {"fieldValue": doc["price"]},
        )
    if doc["status"] not in (1, 2):
        raise MagentoError(400, 'Invalid status "%fieldValue".', {"fieldValue": doc["status"]})
    extension = product.get("extension_attributes") or {}
    stock_item = extension.get("stock_item") if isinstance(extension, dict) else None
    for key in ("website_ids", "category_links"):
        if isinstance(extension, dict) and key in extension:
            doc["extension_attributes"][key] = extension[key]
    if doc["type_id"] == "configurable" and isinstance(extension, dict):
        _save_configurable(store, doc, extension)
    attrs = product.get("custom_attributes")
    if attrs is not None:
        if not isinstance(attrs, list):
            raise MagentoError(
                400, '"%fieldName" is required. Enter and try again.', {"fieldName": "custom_attributes"}
            )
        current = {a["attribute_code"]: a for a in doc["custom_attributes"]}
        for attr in attrs:
            if not isinstance(attr, dict) or "attribute_code" not in attr or "value" not in attr:
                raise MagentoError(
                    400, '"%fieldName" is required. Enter and try again.', {"fieldName": "attribute_code"}
                )
            current[attr["attribute_code"]] = {
                "attribute_code": attr["attribute_code"],
                "value": attr["value"],
            }
        doc["custom_attributes"] = list(current.values())
    if old is not None and {k: v for k, v in old.items() if k != "updated_at"} == doc and not stock_item:
        return old
    store.put("product", doc["id"], doc)
    if old is None:
        store.put("product_sku", sku, {"id": doc["id"]})
    if isinstance(stock_item, dict) and stock_item.get("qty") is not None:
        _put_source_item(
            store,
            {
                "sku": sku,
                "source_code": "default",
                "quantity": float(stock_item["qty"]),
                "status": 1 if stock_item.get("is_in_stock", True) else 0,
            },
        )
    return doc


def _save_configurable(store: Store, doc: dict[str, Any], extension: dict[str, Any]) -> None:
    """The options and children given in a configurable product's save replace its own (Magento's
    configurable SaveHandler), checked as its ProductRepositorySave plugin does."""
    own = doc["extension_attributes"]
    options = own.get("configurable_product_options") or []
    links = own.get("configurable_product_links") or []
    given = extension.get("configurable_product_options")
    if isinstance(given, list):
        by_attribute = {o["attribute_id"]: o for o in options}
        options = []
        for option in given:
            old = by_attribute.get(str(option.get("attribute_id"))) if isinstance(option, dict) else None
            options.append(old if old is not None else _option_doc(store, option, doc["id"]))
    given = extension.get("configurable_product_links")
    if isinstance(given, list):
        if any(not isinstance(i, int) or isinstance(i, bool) for i in given):
            raise MagentoError(
                400,
                'The "%fieldValue" value\'s type is invalid. The "%fieldName" type was expected. Verify and try again.',
                {"fieldValue": next(str(i) for i in given if not isinstance(i, int) or isinstance(i, bool)), "fieldName": "int"},
            )  # fmt: skip
        links = list(dict.fromkeys(given))
    _check_links(store, options, links)
    own["configurable_product_options"], own["configurable_product_links"] = options, links


async def post_product(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    payload = await _body(request)
    product = payload.get("product")
    sku = product.get("sku") if isinstance(product, dict) else None
    app = _shop(request)
    before = _product_by_sku(app.store, sku.strip()) if isinstance(sku, str) and sku.strip() else None
    doc = save_product(app.store, product)
    _emit_product(app, before, doc)
    return respond(render_product(doc))


def _emit_product(app: SandboxApp, before: dict[str, Any] | None, doc: dict[str, Any]) -> None:
    if before is None or before.get("updated_at") != doc.get("updated_at"):
        topic = "products/created" if before is None else "products/updated"
        app.emit(topic, {"entity_id": doc["id"], "sku": doc["sku"]})


async def put_product(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    payload = await _body(request)
    product = payload.get("product")
    sku = request.path_params["sku"]
    if isinstance(product, dict) and product.get("sku") not in (None, sku):
        raise MagentoError(400, "The sku in the request body doesn't match the sku in the URL.")
    app = _shop(request)
    before = _product_by_sku(app.store, sku.strip()) if sku.strip() else None
    doc = save_product(
        app.store, {**(product or {}), "sku": sku} if isinstance(product, dict) else product, sku
    )
    _emit_product(app, before, doc)
    return respond(render_product(doc))


async def delete_product(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    store = _shop(request).store
    sku = request.path_params["sku"]
    doc = _product_by_sku(store, sku)
    if doc is None:
        raise _not_found_product()
    store.delete("product", doc["id"])
    store.delete("product_sku", sku)
    store.delete("stock_item", sku)
    for source in SOURCES:
        store.delete("source_item", f"{sku}|{source}")
    # catalog_product_super_link rows go with the child (ON DELETE CASCADE)
    for parent in list(store.iter_by_id("product")):
        links = (parent.get("extension_attributes") or {}).get("configurable_product_links") or []
        if doc["id"] in links:
            kept = {k: v for k, v in parent.items() if k != "updated_at"}
            kept["extension_attributes"] = {
                **parent["extension_attributes"],
                "configurable_product_links": [i for i in links if i != doc["id"]],
            }
            store.put("product", parent["id"], kept)
    _shop(request).emit("products/deleted", {"entity_id": doc["id"], "sku": sku})
    return respond(True)


# -- MSI source items --------------------------------------------------------------------------
def _put_source_item(store: Store, item: dict[str, Any]) -> None:
    key = f"{item['sku']}|{item['source_code']}"
    old = store.get("source_item", key)
    doc = {
        "sku": item["sku"],
        "source_code": item["source_code"],
        "quantity": item["quantity"],
        "status": item["status"],
    }
    if old is not None and {k: v for k, v in old.items() if k != "updated_at"} == doc:
        return
    store.put("source_item", key, doc)


async def list_source_items(request: Request) -> Response:
    check_bearer(request, "Magento_InventoryApi::source")
    criteria = parse_criteria(request)
    docs, total = search(_shop(request).store, "source_item", criteria, clamp_last_page=False)
    return search_result([{k: v for k, v in d.items() if k != "updated_at"} for d in docs], criteria, total)


async def post_source_items(request: Request) -> Response:
    check_bearer(request, "Magento_InventoryApi::source")
    store = _shop(request).store
    payload = await _body(request)
    items = payload.get("sourceItems")
    if not isinstance(items, list):
        raise MagentoError(
            400, '"%fieldName" is required. Enter and try again.', {"fieldName": "sourceItems"}
        )
    errors = []
    clean = []
    for item in items:
        if not isinstance(item, dict):
            errors.append({"message": "Source item is not an object."})
            continue
        sku, source, qty, status = (
            item.get("sku"),
            item.get("source_code"),
            item.get("quantity"),
            item.get("status"),
        )
        if not isinstance(sku, str) or not sku.strip():
            errors.append({"message": '"sku" can not be empty.', "parameters": [{"fieldName": "sku"}]})
        if not isinstance(source, str) or not source.strip():
            errors.append(
                {"message": '"source_code" can not be empty.', "parameters": [{"fieldName": "source_code"}]}
            )
        if _number(qty) is None or isinstance(qty, bool):
            errors.append(
                {"message": '"quantity" should be numeric.', "parameters": [{"fieldName": "quantity"}]}
            )
        if status not in (0, 1):
            errors.append(
                {
                    "message": '"status" should be numeric.'
                    if _number(status) is None
                    else "Invalid status.",
                    "parameters": [{"fieldName": "status"}],
                }
            )
        clean.append({"sku": sku, "source_code": source, "quantity": _number(qty), "status": status})
    if errors:
        raise MagentoError(400, "Validation Failed", errors=errors)
    for item in clean:
        if item["source_code"] not in SOURCES or _product_by_sku(store, item["sku"]) is None:
            raise MagentoError(400, "Could not save Source Item")
    for item in clean:
        _put_source_item(store, item)
    return respond([])


# -- configurable products ---------------------------------------------------------------------
# The configurable attributes the stand-in knows, by Magento attribute id (a default install's
# ``color`` and ``size``): a child is linked only when it has a value for each of its parent's.
CONFIGURABLE_ATTRIBUTES = {"93": "color", "144": "size"}


def _configurable_product(store: Store, sku: str) -> dict[str, Any]:
    """The parent for the options endpoints (Magento's OptionRepository::getProduct)."""
    doc = _product_by_sku(store, sku)
    if doc is None:
        raise _not_found_product()
    if doc.get("type_id") != "configurable":
        raise MagentoError(
            400, 'This is implemented for the "%fieldValue" configurable product only.', {"fieldValue": sku}
        )
    return doc


def _child_value(child: dict[str, Any], code: str) -> Any:
    for attr in child.get("custom_attributes") or ():
        if attr.get("attribute_code") == code:
            return attr.get("value")
    return None


def _check_links(store: Store, options: list[dict[str, Any]], child_ids: list[int]) -> None:
    """Magento's ProductRepositorySave plugin: every child exists, has a value for each configurable
    attribute, and no two children share the same set of values."""
    codes = [CONFIGURABLE_ATTRIBUTES.get(str(o.get("attribute_id")), "") for o in options]
    seen: dict[tuple, int] = {}
    for child_id in child_ids:
        child = store.get("product", child_id) if isinstance(child_id, int) else None
        if child is None:
            raise MagentoError(
                404, "The product that was requested doesn't exist. Verify the product and try again."
            )
        values = []
        for code in codes:
            value = _child_value(child, code)
            if value in (None, ""):
                raise MagentoError(
                    400, 'Product with id "%fieldValue" does not contain required attribute "%fieldName".',
                    {"fieldValue": child_id, "fieldName": code},
                )  # fmt: skip
            values.append(str(value))
        key = tuple(values)
        if key in seen and codes:
            raise MagentoError(
                400, 'Products "%fieldName" and "%fieldValue" have the same set of attribute values.',
                {"fieldName": seen[key], "fieldValue": child_id},
            )  # fmt: skip
        seen[key] = child_id


def _option_doc(store: Store, option: Any, product_id: int) -> dict[str, Any]:
    """A new configurable option, checked as Magento's OptionRepository::validateNewOptionData."""
    option = option if isinstance(option, dict) else {}
    errors = []
    if not option.get("attribute_id"):
        errors.append({"message": "Option attribute ID is not specified."})
    if not option.get("label"):
        errors.append({"message": "Option label is not specified."})
    values = option.get("values")
    if not values or not isinstance(values, list):
        errors.append({"message": "Option values are not specified."})
    elif any(not isinstance(v, dict) or not isinstance(v.get("value_index"), int) for v in values):
        errors.append({"message": "Value index is not specified for an option."})
    if len(errors) == 1:
        raise MagentoError(400, errors[0]["message"])
    if errors:
        raise MagentoError(400, "One or more input exceptions have occurred.", errors=errors)
    if str(option["attribute_id"]) not in CONFIGURABLE_ATTRIBUTES:
        # the option row's foreign key to the attribute fails
        raise MagentoError(400, "An error occurred while saving the option. Please try to save again.")
    return {
        "id": next_id(store, "configurable_option"),
        "attribute_id": str(option["attribute_id"]),
        "label": str(option["label"]),
        "position": int(option.get("position") or 0),
        "values": [{"value_index": v["value_index"]} for v in values],
        "product_id": product_id,
    }


async def configurable_children(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    store = _shop(request).store
    doc = _product_by_sku(store, request.path_params["sku"])
    if doc is None:
        raise _not_found_product()
    if doc.get("type_id") != "configurable":
        return respond([])
    links = doc["extension_attributes"].get("configurable_product_links") or []
    children = [store.get("product", child_id) for child_id in links]
    return respond([render_product(c) for c in children if c is not None])


async def add_configurable_child(request: Request) -> Response:
    """``POST configurable-products/{sku}/child`` ``{"childSku"}``: Magento's LinkManagement::addChild."""
    check_bearer(request, "Magento_Catalog::products")
    app = _shop(request)
    store = app.store
    payload = await _body(request)
    child_sku = payload.get("childSku")
    if not isinstance(child_sku, str) or not child_sku.strip():
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "childSku"})
    parent = _product_by_sku(store, request.path_params["sku"])
    child = _product_by_sku(store, child_sku)
    if parent is None or child is None:
        raise _not_found_product()
    extension = parent["extension_attributes"]
    links = list(extension.get("configurable_product_links") or [])
    if child["id"] in links:
        raise MagentoError(400, "The product is already attached.")
    options = extension.get("configurable_product_options") or []
    if parent.get("type_id") != "configurable" or not options:
        raise MagentoError(400, "The parent product doesn't have configurable product options.")
    for option in options:
        code = CONFIGURABLE_ATTRIBUTES.get(option["attribute_id"], "")
        if _child_value(child, code) in (None, ""):
            raise MagentoError(
                400, 'The child product doesn\'t have the "%fieldName" attribute value. Verify the value and try again.',
                {"fieldName": code},
            )  # fmt: skip
    _check_links(store, options, [*links, child["id"]])
    doc = json.loads(json.dumps(parent))
    doc.pop("updated_at", None)
    doc["extension_attributes"]["configurable_product_links"] = [*links, child["id"]]
    store.put("product", doc["id"], doc)
    _emit_product(app, parent, doc)
    return respond(True)


async def add_configurable_option(request: Request) -> Response:
    """``POST configurable-products/{sku}/options`` ``{"option"}`` → the new option's id."""
    check_bearer(request, "Magento_Catalog::products")
    app = _shop(request)
    store = app.store
    parent = _configurable_product(store, request.path_params["sku"])
    payload = await _body(request)
    if not isinstance(payload.get("option"), dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "option"})
    options = list(parent["extension_attributes"].get("configurable_product_options") or [])
    if any(o["attribute_id"] == str(payload["option"].get("attribute_id")) for o in options):
        # catalog_product_super_attribute is unique on (product_id, attribute_id)
        raise MagentoError(400, "An error occurred while saving the option. Please try to save again.")
    option = _option_doc(store, payload["option"], parent["id"])
    doc = json.loads(json.dumps(parent))
    doc.pop("updated_at", None)
    doc["extension_attributes"]["configurable_product_options"] = [*options, option]
    store.put("product", doc["id"], doc)
    _emit_product(app, parent, doc)
    return respond(option["id"])


async def configurable_options(request: Request) -> Response:
    check_bearer(request, "Magento_Catalog::products")
    parent = _configurable_product(_shop(request).store, request.path_params["sku"])
    return respond(parent["extension_attributes"].get("configurable_product_options") or [])


# -- legacy stock items (CatalogInventory) ----------------------------------------------------
# With MSI installed, Magento keeps the legacy stock item in step with the product's ``default``
# source item: the stand-in keeps the quantity and status there, the item's settings apart.
STOCK_ITEM_SETTINGS = {
    "is_qty_decimal": False, "show_default_notification_message": False, "use_config_min_qty": True,
    "min_qty": 0, "use_config_min_sale_qty": 1, "min_sale_qty": 1, "use_config_max_sale_qty": True,
    "max_sale_qty": 10000, "use_config_backorders": True, "backorders": 0, "use_config_notify_stock_qty": True,
    "notify_stock_qty": 1, "use_config_qty_increments": True, "qty_increments": 0,
    "use_config_enable_qty_inc": True, "enable_qty_increments": False, "use_config_manage_stock": True,
    "manage_stock": True, "low_stock_date": None, "is_decimal_divided": False, "stock_status_changed_auto": 0,
}  # fmt: skip
STOCK_ITEM_KEYS = {"item_id", "product_id", "stock_id", "qty", "is_in_stock", "extension_attributes"} | set(
    STOCK_ITEM_SETTINGS
)
_STOCK_NUMBERS = ("qty", "min_qty", "min_sale_qty", "max_sale_qty", "notify_stock_qty", "qty_increments")


def render_stock_item(store: Store, product: dict[str, Any]) -> dict[str, Any]:
    source = store.get("source_item", f"{product['sku']}|default") or {}
    settings = {**STOCK_ITEM_SETTINGS, **(store.get("stock_item", product["sku"]) or {})}
    settings.pop("updated_at", None)
    return {
        "item_id": product["id"], "product_id": product["id"], "stock_id": 1,
        "qty": source.get("quantity", 0), "is_in_stock": bool(source.get("status", 0)), **settings,
    }  # fmt: skip


async def get_stock_item(request: Request) -> Response:
    check_bearer(request, "Magento_CatalogInventory::cataloginventory")
    store = _shop(request).store
    product = _product_by_sku(store, request.path_params["productSku"])
    if product is None:
        raise _not_found_product()
    return respond(render_stock_item(store, product))


async def put_stock_item(request: Request) -> Response:
    """``PUT products/{productSku}/stockItems/{itemId}`` ``{"stockItem"}`` → the item id. As Magento's
    StockRegistry::updateStockItemBySku: the product is found by SKU (the path's item id is not used),
    the fields given are laid over the current item, then the save works out the stock status
    (out of stock at or under the minimum quantity without backorders) and the low-stock date."""
    check_bearer(request, "Magento_CatalogInventory::cataloginventory")
    store = _shop(request).store
    product = _product_by_sku(store, request.path_params["productSku"])
    if product is None:
        raise _not_found_product()
    payload = await _body(request)
    item = payload.get("stockItem")
    if not isinstance(item, dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "stockItem"})
    for key in item:
        if key not in STOCK_ITEM_KEYS:
            raise MagentoError(
                400, 'Property "%fieldName" does not have accessor method "%fieldValue" in class "Magento\\CatalogInventory\\Api\\Data\\StockItemInterface".',
                {"fieldName": key, "fieldValue": "get" + "".join(p.capitalize() for p in key.split("_"))},
            )  # fmt: skip
    for key in _STOCK_NUMBERS:
        if key in item and (_number(item[key]) is None or isinstance(item[key], bool)):
            raise MagentoError(
                400,
                'The "%fieldValue" value\'s type is invalid. The "%fieldName" type was expected. Verify and try again.',
                {"fieldValue": item[key], "fieldName": "float"},
            )
    current = render_stock_item(store, product)
    merged = {**current, **{k: v for k, v in item.items() if k not in ("item_id", "product_id", "stock_id")}}
    for key in _STOCK_NUMBERS:
        merged[key] = _number(merged[key])
    merged["is_in_stock"] = merged["is_in_stock"] in (True, 1, "1", "true")
    merged["stock_status_changed_auto"] = 0
    if product.get("type_id") == "configurable":
        merged["qty"], merged["low_stock_date"] = 0.0, None  # no quantity of its own
    elif merged["manage_stock"]:
        if merged["is_in_stock"] and merged["qty"] <= merged["min_qty"] and not merged["backorders"]:
            merged["is_in_stock"], merged["stock_status_changed_auto"] = False, 1
        low = merged["qty"] < merged["notify_stock_qty"]
        merged["low_stock_date"] = _dt(datetime.now(UTC)) if low else None
    _put_source_item(
        store,
        {"sku": product["sku"], "source_code": "default", "quantity": merged["qty"],
         "status": 1 if merged["is_in_stock"] else 0},
    )  # fmt: skip
    settings = {k: merged[k] for k in STOCK_ITEM_SETTINGS}
    old = store.get("stock_item", product["sku"])
    if old is None or {k: v for k, v in old.items() if k != "updated_at"} != settings:
        store.put("stock_item", product["sku"], settings)
    return respond(product["id"])


# -- orders ------------------------------------------------------------------------------------
def render_order(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "updated_at"}
    out["updated_at"] = magento_datetime(doc["updated_at"])
    return out


async def list_orders(request: Request) -> Response:
    check_bearer(request, "Magento_Sales::actions_view")
    criteria = parse_criteria(request)
    docs, total = search(_shop(request).store, "order", criteria, clamp_last_page=True)
    return search_result([render_order(d) for d in docs], criteria, total)


def _order(store: Store, raw: str) -> dict[str, Any]:
    try:
        oid = int(raw)
    except ValueError as exc:
        raise MagentoError(
            404, "The entity that was requested doesn't exist. Verify the entity and try again."
        ) from exc
    doc = store.get("order", oid)
    if doc is None:
        raise MagentoError(
            404, "The entity that was requested doesn't exist. Verify the entity and try again."
        )
    return doc


async def get_order(request: Request) -> Response:
    check_bearer(request, "Magento_Sales::actions_view")
    return respond(render_order(_order(_shop(request).store, request.path_params["id"])))


async def post_order_comment(request: Request) -> Response:
    check_bearer(request, "Magento_Sales::comment")
    store = _shop(request).store
    old = _order(store, request.path_params["id"])
    payload = await _body(request)
    history = payload.get("statusHistory")
    if not isinstance(history, dict) or "comment" not in history:
        raise MagentoError(
            400, '"%fieldName" is required. Enter and try again.', {"fieldName": "statusHistory"}
        )
    doc = json.loads(json.dumps(old))
    doc.pop("updated_at", None)
    histories = doc.setdefault("status_histories", [])
    entry_id = old["entity_id"] * 1000 + len(histories) + 1
    entry = {
        "comment": str(history.get("comment", "")),
        "created_at": _dt(datetime.now(UTC)),
        "entity_id": entry_id,
        "entity_name": "order",
        "is_customer_notified": int(history.get("is_customer_notified") or 0),
        "is_visible_on_front": int(history.get("is_visible_on_front") or 0),
        "parent_id": old["entity_id"],
        "status": history.get("status") or doc["status"],
    }
    histories.insert(0, entry)
    if history.get("status"):
        doc["status"] = history["status"]
    store.put("order", old["entity_id"], doc)
    _emit_order(_shop(request), "orders/updated", doc)
    return respond(True)


def _emit_order(app: SandboxApp, topic: str, doc: dict[str, Any]) -> None:
    app.emit(topic, {"entity_id": doc["entity_id"], "increment_id": doc["increment_id"]})


def _customer_of(store: Store, entity: dict[str, Any]) -> dict[str, Any] | None:
    cid = entity.get("customer_id")
    if cid not in (None, "", 0):
        try:
            return store.get("customer", int(cid))
        except (TypeError, ValueError):
            return None
    email = entity.get("customer_email")
    ref = store.get("customer_email", email.strip().lower()) if isinstance(email, str) else None
    return store.get("customer", ref["id"]) if ref else None


def place_order(
    store: Store,
    customer: dict[str, Any],
    lines: list[dict[str, Any]],
    *,
    status: str = "pending",
    billing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A new order, stamped now: ``customer`` a shop customer document (``id`` None for a guest:
    then ``email``, ``firstname``, ``lastname`` and ``billing`` give the rest), ``lines`` of
    ``{sku, name, qty, price}``. Totals follow the seed: 20 % tax, shipping 9.90 under 150."""
    address = (customer.get("addresses") or [{}])[0] if customer.get("id") else (billing or {})
    street = address.get("street") or [""]
    seed_customer = {
        "index": (customer["id"] - 1) if customer.get("id") else -1,
        "email": customer["email"],
        "firstname": customer.get("firstname") or "",
        "lastname": customer.get("lastname") or "",
        "country": address.get("country_id") or "FR",
        "street": street[0] if isinstance(street, list) else str(street),
        "city": address.get("city") or "",
        "postcode": address.get("postcode") or "",
        "phone": address.get("telephone") or "",
    }
    clean = []
    for line in lines:
        qty, price = int(line["qty"]), round(float(line["price"]), 2)
        clean.append(
            {"sku": line["sku"], "name": line.get("name") or line["sku"], "qty": qty, "price": price,
             "row_total": round(qty * price, 2)}
        )  # fmt: skip
    subtotal = round(sum(line["row_total"] for line in clean), 2)
    shipping = 0.0 if subtotal >= 150 else 9.9
    tax = round(subtotal * 0.2, 2)
    number = next_id(store, "order")
    seed_order = {
        "number": number, "increment_id": f"{number:09d}", "status": status, "created": datetime.now(UTC),
        "lines": clean, "subtotal": subtotal, "shipping": shipping, "tax": tax,
        "total": round(subtotal + tax + shipping, 2),
    }  # fmt: skip
    doc = order_doc(seed_order, seed_customer)
    if not customer.get("id"):
        doc.pop("customer_id", None)
        doc.update(customer_is_guest=1, customer_group_id=0)
    store.put("order", number, doc)
    return doc


# Fields an order save never changes on an existing order (the customer's name and e-mail do change:
# Magento's order repository saves the given fields, which is how an order is anonymised).
_ORDER_FIXED = {
    "entity_id",
    "increment_id",
    "items",
    "created_at",
    "updated_at",
    "customer_id",
}
ORDER_ADDRESS_KEYS = {
    "address_type", "city", "company", "country_id", "customer_address_id", "customer_id", "email",
    "entity_id", "fax", "firstname", "lastname", "middlename", "parent_id", "postcode", "prefix", "region",
    "region_code", "region_id", "street", "suffix", "telephone", "vat_id", "vat_is_valid",
    "vat_request_date", "vat_request_id", "vat_request_success", "extension_attributes",
}  # fmt: skip
ORDER_ADDRESS_REQUIRED = (
    "address_type",
    "city",
    "country_id",
    "firstname",
    "lastname",
    "postcode",
    "telephone",
)


def save_order(store: Store, entity: Any) -> tuple[dict[str, Any], str]:
    """``(order, topic)`` for the body of POST ``orders`` / PUT ``orders/create``: the topic is
    ``orders/created``, ``orders/updated`` or empty (nothing changed)."""
    if not isinstance(entity, dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "entity"})
    if entity.get("entity_id") not in (None, "", 0):
        old = _order(store, str(entity["entity_id"]))
        doc = json.loads(json.dumps(old))
        doc.pop("updated_at", None)
        for key, value in entity.items():
            if key not in _ORDER_FIXED and not isinstance(value, dict | list):
                doc[key] = value
        if "status" in entity and "state" not in entity:
            doc["state"] = ORDER_STATES.get(str(entity["status"]), doc["state"])
        if {k: v for k, v in old.items() if k != "updated_at"} == doc:
            return old, ""
        store.put("order", doc["entity_id"], doc)
        return doc, "orders/updated"
    items = entity.get("items")
    if not isinstance(items, list) or not items:
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "items"})
    lines = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str) or not item["sku"].strip():
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "sku"})
        qty, price = _number(item.get("qty_ordered")), _number(item.get("price"))
        product = _product_by_sku(store, item["sku"])
        if price is None and product is not None:
            price = _number(product.get("price"))
        if qty is None or qty <= 0 or price is None or price < 0:
            raise MagentoError(
                400,
                'The "%fieldValue" value\'s type is invalid. The "%fieldName" type was expected. Verify and try again.',
                {
                    "fieldValue": item.get("qty_ordered" if qty is None or qty <= 0 else "price"),
                    "fieldName": "float",
                },
            )
        name = item.get("name") or (product or {}).get("name") or item["sku"]
        lines.append({"sku": item["sku"].strip(), "name": name, "qty": qty, "price": price})
    customer = _customer_of(store, entity)
    if customer is None:
        email = entity.get("customer_email")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise MagentoError(
                400, '"%fieldName" is required. Enter and try again.', {"fieldName": "customer_email"}
            )
        customer = {
            "id": None, "email": email.strip(), "firstname": entity.get("customer_firstname") or "Guest",
            "lastname": entity.get("customer_lastname") or "",
        }  # fmt: skip
    billing = entity.get("billing_address") if isinstance(entity.get("billing_address"), dict) else None
    status = entity.get("status") if entity.get("status") in ORDER_STATES else "pending"
    return place_order(store, customer, lines, status=status, billing=billing), "orders/created"


async def post_order(request: Request) -> Response:
    check_bearer(request, "Magento_Sales::create")
    app = _shop(request)
    payload = await _body(request)
    doc, topic = save_order(app.store, payload.get("entity"))
    if topic:
        _emit_order(app, topic, doc)
    return respond(render_order(doc))


async def put_order_address(request: Request) -> Response:
    """``PUT orders/{parent_id}`` ``{"entity": address}``: Magento's order-address save (what the admin's
    "Edit address" on an order does). The address (``entity_id``, else ``address_type``) must be one
    of the order's; the fields given replace its own; the saved address is returned."""
    check_bearer(request, "Magento_Sales::actions_edit")
    app = _shop(request)
    store = app.store
    old = _order(store, request.path_params["parent_id"])
    payload = await _body(request)
    entity = payload.get("entity")
    if not isinstance(entity, dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "entity"})
    for key in entity:
        if key not in ORDER_ADDRESS_KEYS:
            raise MagentoError(
                400, 'Property "%fieldName" does not have accessor method "%fieldValue" in class "Magento\\Sales\\Api\\Data\\OrderAddressInterface".',
                {"fieldName": key, "fieldValue": "get" + "".join(p.capitalize() for p in key.split("_"))},
            )  # fmt: skip
    for key in ORDER_ADDRESS_REQUIRED:
        if entity.get(key) in (None, ""):
            raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": key})
    current = old.get("billing_address") or {}
    same = (
        str(entity.get("entity_id")) == str(current.get("entity_id"))
        if entity.get("entity_id") not in (None, "")
        else entity.get("address_type") == "billing"
    )
    if not current or not same:
        raise MagentoError(
            404, "The entity that was requested doesn't exist. Verify the entity and try again."
        )
    doc = json.loads(json.dumps(old))
    doc.pop("updated_at", None)
    address = {**current, **entity, "entity_id": current["entity_id"], "parent_id": old["entity_id"]}
    if isinstance(address.get("street"), str):
        address["street"] = [address["street"]]
    doc["billing_address"] = address
    if {k: v for k, v in old.items() if k != "updated_at"} != doc:
        store.put("order", old["entity_id"], doc)
        _emit_order(app, "orders/updated", doc)
    return respond(address)


# -- customers ---------------------------------------------------------------------------------
def render_customer(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "updated_at"}
    out["updated_at"] = magento_datetime(doc["updated_at"])
    return out


def _customer(store: Store, raw: str) -> dict[str, Any]:
    try:
        cid = int(raw)
    except ValueError:
        cid = -1
    doc = store.get("customer", cid) if cid > 0 else None
    if doc is None:
        raise MagentoError(
            404,
            "No such entity with %fieldName = %fieldValue",
            {"fieldName": "customerId", "fieldValue": raw},
        )
    return doc


async def search_customers(request: Request) -> Response:
    check_bearer(request, "Magento_Customer::customer")
    criteria = parse_criteria(request)
    docs, total = search(_shop(request).store, "customer", criteria, clamp_last_page=True)
    return search_result([render_customer(d) for d in docs], criteria, total)


async def get_customer(request: Request) -> Response:
    check_bearer(request, "Magento_Customer::customer")
    return respond(render_customer(_customer(_shop(request).store, request.path_params["customerId"])))


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def save_customer(store: Store, customer: Any, old: dict[str, Any] | None) -> dict[str, Any]:
    if not isinstance(customer, dict):
        raise MagentoError(400, '"%fieldName" is required. Enter and try again.', {"fieldName": "customer"})
    for key in customer:
        if key not in CUSTOMER_KEYS:
            raise MagentoError(
                400, 'Property "%fieldName" does not have accessor method "%fieldValue" in class "Magento\\Customer\\Api\\Data\\CustomerInterface".',
                {"fieldName": key, "fieldValue": "get" + "".join(p.capitalize() for p in key.split("_"))},
            )  # fmt: skip
    for field in ("email", "firstname", "lastname"):
        value = customer.get(field, old.get(field) if old else None)
        if not isinstance(value, str) or not value.strip():
            raise MagentoError(
                400,
                '"%fieldName" is a required value.',
                {"fieldName": {"email": "Email", "firstname": "First Name", "lastname": "Last Name"}[field]},
            )
    email = customer.get("email", old["email"] if old else "").strip()
    if not _EMAIL.match(email):
        raise MagentoError(400, '"Email" is not a valid email address.')
    owner = store.get("customer_email", email.lower())
    if owner is not None and (old is None or owner["id"] != old["id"]):
        raise MagentoError(
            400, "A customer with the same email address already exists in an associated website."
        )
    now = _dt(datetime.now(UTC))
    if old is None:
        cid = next_id(store, "customer")
        doc: dict[str, Any] = {
            "id": cid, "group_id": 1, "created_at": now, "created_in": "Default Store View", "email": email,
            "firstname": "", "lastname": "", "store_id": 1, "website_id": 1, "addresses": [],
            "disable_auto_group_change": 0, "extension_attributes": {"is_subscribed": False},
        }  # fmt: skip
    else:
        doc = json.loads(json.dumps(old))
        doc.pop("updated_at", None)
        cid = doc["id"]
    for key, value in customer.items():
        if key in ("id", "created_at", "updated_at", "addresses", "extension_attributes"):
            continue
        doc[key] = value
    doc["email"] = email
    if isinstance(customer.get("extension_attributes"), dict):
        doc["extension_attributes"].update(
            {
                k: v
                for k, v in customer["extension_attributes"].items()
                if k in ("is_subscribed", "assistance_allowed")
            }
        )
    if isinstance(customer.get("addresses"), list):
        addresses = []
        for n, address in enumerate(customer["addresses"], start=1):
            if not isinstance(address, dict):
                continue
            address = {**address, "customer_id": cid}
            address.setdefault("id", cid * 100 + n)
            address.setdefault("region", {"region_code": "", "region": "", "region_id": 0})
            address.setdefault("region_id", 0)
            addresses.append(address)
            if address.get("default_billing"):
                doc["default_billing"] = str(address["id"])
            if address.get("default_shipping"):
                doc["default_shipping"] = str(address["id"])
        doc["addresses"] = addresses
    if old is not None and {k: v for k, v in old.items() if k != "updated_at"} == doc:
        return old
    store.put("customer", cid, doc)
    if old is not None and old["email"].lower() != email.lower():
        store.delete("customer_email", old["email"].lower())
    if old is None or old["email"].lower() != email.lower():
        store.put("customer_email", email.lower(), {"id": cid})
    return doc


async def post_customer(request: Request) -> Response:
    check_bearer(request, "Magento_Customer::manage")
    payload = await _body(request)
    customer = payload.get("customer")
    if isinstance(customer, dict) and customer.get("id"):
        raise MagentoError(
            400, "A customer with the same email address already exists in an associated website."
        )
    app = _shop(request)
    doc = save_customer(app.store, customer, None)
    app.emit("customers/created", {"entity_id": doc["id"]})
    return respond(render_customer(doc))


async def put_customer(request: Request) -> Response:
    check_bearer(request, "Magento_Customer::manage")
    store = _shop(request).store
    old = _customer(store, request.path_params["customerId"])
    payload = await _body(request)
    doc = save_customer(store, payload.get("customer"), old)
    if doc.get("updated_at") != old.get("updated_at"):
        _shop(request).emit("customers/updated", {"entity_id": doc["id"]})
    return respond(render_customer(doc))


async def delete_customer(request: Request) -> Response:
    check_bearer(request, "Magento_Customer::delete")
    store = _shop(request).store
    old = _customer(store, request.path_params["customerId"])
    store.delete("customer", old["id"])
    store.delete("customer_email", old["email"].lower())
    # sales_order.customer_id → customer_entity is ON DELETE SET NULL: the orders stay, as a
    # customer's orders do in Magento (their own customer_* fields keep what was ordered under).
    for order in list(store.iter_by_id("order")):
        if order.get("customer_id") == old["id"]:
            doc = {k: v for k, v in order.items() if k not in ("updated_at", "customer_id")}
            store.put("order", order["entity_id"], doc)
    _shop(request).emit("customers/deleted", {"entity_id": old["id"]})
    return respond(True)


# -- app ---------------------------------------------------------------------------------------
def _guard(handler):
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except MagentoError as exc:
            return exc.response()

    wrapped.__name__ = handler.__name__
    return wrapped


def routes() -> list[Route]:
    table = [
        ("integration/admin/token", admin_token, ["POST"]),
        ("products", list_products, ["GET"]),
        ("products", post_product, ["POST"]),
        ("products/{sku}", get_product, ["GET"]),
        ("products/{sku}", put_product, ["PUT"]),
        ("products/{sku}", delete_product, ["DELETE"]),
        ("configurable-products/{sku}/children", configurable_children, ["GET"]),
        ("configurable-products/{sku}/child", add_configurable_child, ["POST"]),
        ("configurable-products/{sku}/options", add_configurable_option, ["POST"]),
        ("configurable-products/{sku}/options/all", configurable_options, ["GET"]),
        ("products/{productSku}/stockItems/{itemId}", put_stock_item, ["PUT"]),
        ("stockItems/{productSku}", get_stock_item, ["GET"]),
        ("inventory/source-items", list_source_items, ["GET"]),
        ("inventory/source-items", post_source_items, ["POST"]),
        ("orders", list_orders, ["GET"]),
        ("orders", post_order, ["POST"]),
        ("orders/create", post_order, ["PUT"]),
        ("orders/{id}", get_order, ["GET"]),
        ("orders/{id}/comments", post_order_comment, ["POST"]),
        ("orders/{parent_id}", put_order_address, ["PUT"]),
        ("customers/search", search_customers, ["GET"]),
        ("customers", post_customer, ["POST"]),
        ("customers/{customerId}", get_customer, ["GET"]),
        ("customers/{customerId}", put_customer, ["PUT"]),
        ("customers/{customerId}", delete_customer, ["DELETE"]),
    ]
    out = []
    for prefix in ("/rest/default/V1/", "/rest/V1/", "/rest/all/V1/"):
        for path, handler, methods in table:
            out.append(Route(prefix + path, _guard(handler), methods=methods))
    return out


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: ShopCredentials | None = None,
    faults: FaultConfig | None = None,
    *,
    token_ttl: int = TOKEN_TTL,
) -> SandboxApp:
    """The shop stand-in; ``token_ttl`` is the admin tokens' lifetime (s, Magento's default 4 h)."""
    return SandboxApp(
        name="shop",
        routes=routes(),
        store_path=store_path,
        seed=seed,
        seeder=seed_shop,
        faults=faults,
        error_body=error_body,
        credentials=credentials or ShopCredentials.from_env(),
        options={"tokens": {}, "token_ttl": token_ttl},
    )
