"""WooCommerce stand-in: the shape of the WooCommerce REST API v3 (``/wp-json/wc/v3/``).

- Auth: the REST key's consumer key and secret, as HTTP Basic credentials or as the
  ``consumer_key`` / ``consumer_secret`` query parameters. No credentials → 401
  ``woocommerce_rest_cannot_view`` ("Sorry, you cannot list resources.", ``_cannot_create``,
  ``_cannot_edit``, ``_cannot_delete`` for the other methods); an unknown key → 401
  ``woocommerce_rest_authentication_error`` "Consumer key is invalid."; a wrong secret → the same
  code with "Consumer secret is invalid.". Every error body is WordPress's
  ``{"code", "message", "data": {"status"}}``.
- ``products`` (simple and variable), ``products/{id}/variations``, ``orders``, ``customers``:
  ``GET`` list, ``POST`` create, ``GET/PUT/PATCH/DELETE {id}``, and ``POST/PUT/PATCH .../batch``.
- Lists: ``page`` (≥ 1) and ``per_page`` (1-100, default 10; anything else → 400
  ``rest_invalid_param`` with ``data.params``), ``offset``; ``X-WP-Total`` and ``X-WP-TotalPages``
  headers and a ``Link`` header (``rel="next"``/``"prev"``); a page past the end is ``[]``.
  ``orderby`` / ``order`` (products, variations and orders: ``date`` descending by default;
  customers: ``name`` ascending by default; ties broken by id). ``include``/``exclude``.
- ``products?sku=a,b`` finds variations too (``type: "variation"``, as WooCommerce widens the query
  to ``product_variation`` posts when ``sku`` is given), and ``products/{id}`` answers a variation's
  id with the variation.
- Filters: ``modified_after``/``modified_before`` and ``after``/``before`` (ISO 8601, with
  ``dates_are_gmt``; the site's time zone is UTC so both readings agree) on products, variations and
  orders; customers have none (WooCommerce ignores an unknown parameter: ``customers?modified_after=``
  answers every customer). Products: ``sku`` (comma-separated), ``type``, ``status``,
  ``stock_status``, ``parent``, ``search``. Orders: ``status`` (comma-separated), ``customer``,
  ``search`` (number, billing name and e-mail). Customers: ``email`` (exact), ``search``, ``role``.
- Stock: ``manage_stock`` + ``stock_quantity`` on simple products and on variations (a variable
  product's stock is its variations'); ``stock_status`` follows the quantity when stock is managed.
- Batch: ``{"create": [...], "update": [...], "delete": [ids]}``, at most 100 items in all (413
  ``rest_request_entity_too_large`` above). As WooCommerce's ``batch_items`` does, each item goes
  through the item handler on its own, without the schema validation of a direct request: a refused
  item answers ``{"id": <its id, 0 for a create>, "error": {"code", "message", "data": {"status"}}}``
  in its place and the others are saved. Refusals: a duplicated SKU (``product_invalid_sku``), an
  unknown id (``woocommerce_rest_product_invalid_id``, ``woocommerce_rest_product_variation_invalid_id``,
  ``woocommerce_rest_shop_order_invalid_id``, ``woocommerce_rest_invalid_id`` for customers), a
  customer e-mail taken or malformed (``registration-error-email-exists``,
  ``registration-error-invalid-email``, ``woocommerce_rest_customer_invalid_email`` on update), a
  malformed billing e-mail (``customer_invalid_billing_email``), an unknown product type or order
  status.
- Direct ``POST``/``PUT`` bodies are checked against the schema's types first (400
  ``rest_invalid_param``: "regular_price is not of type string.").
- ``DELETE customers/{id}?force=true`` erases the account (without ``force`` → 501
  ``woocommerce_rest_trash_not_supported``); the customer's orders stay, their ``customer_id``
  set to 0 (WooCommerce's ``wc_reset_order_customer_id_on_deleted_user``), billing and shipping
  untouched. Products and orders without ``force`` go to the trash (``status: "trash"``, left out
  of lists unless ``status=trash``).
- Webhooks (``sandbox.webhooks``): ``product.created|updated|deleted``, ``customer.…``,
  ``order.…`` with the record's ``id``.

Where it may differ from a real store (written from WooCommerce's REST API documentation and source,
no store to compare with offline): real WooCommerce accepts Basic and query-string keys over HTTPS
only (plain HTTP needs OAuth 1.0a signatures; the sandbox takes them over HTTP); dates have second
precision as WordPress's, but ties in an ordering are broken by id here (MySQL leaves them
unspecified); a variation's save does not touch its parent's ``date_modified``; a customer's
deletion does touch their orders' (the sandbox stamps every write); the 429 and 5xx fault bodies
use WordPress's error shape with sandbox codes (WooCommerce's REST API v3 has no rate limit of its
own: hosts and proxies add one).
"""

from __future__ import annotations

import base64
import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, dumps, sandbox_of
from .credentials import WooCredentials
from .faults import FaultConfig
from .seed import COLORS, FAMILIES, dataset, load
from .store import Store

BASE = "/wp-json/wc/v3"
JSON = "application/json; charset=UTF-8"
PER_PAGE_MAX = 100
BATCH_MAX = 100
SIMPLE_PER_FAMILY = 30
VARIABLE_PER_FAMILY = 2
VARIATIONS_PER_PRODUCT = 3
N_CUSTOMERS = 150
FIRST_POST_ID = 100  # products, variations and orders share WordPress's post ids
FIRST_USER_ID = 2  # user 1 is the shop's administrator
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")
SEED_STATUS = {
    "complete": "completed",
    "processing": "processing",
    "pending": "pending",
    "canceled": "cancelled",
}
PRODUCT_TYPES = ("simple", "variable", "grouped", "external")
PRODUCT_STATUSES = ("draft", "pending", "private", "publish")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?$")

ORDERBY = {
    "product": (
        "date",
        "modified",
        "id",
        "include",
        "title",
        "slug",
        "price",
        "popularity",
        "rating",
        "menu_order",
    ),
    "variation": ("date", "modified", "id", "include", "title", "slug", "price", "menu_order"),
    "order": ("date", "modified", "id", "include", "title", "slug"),
    "customer": ("id", "include", "name", "registered_date"),
}
# The schema's types of what a direct request may send (a batch item is not checked: see above).
STRING, INTEGER, BOOLEAN, OBJECT, ARRAY = "string", "integer", "boolean", "object", "array"
SCHEMA = {
    "product": {
        "name": STRING, "slug": STRING, "type": STRING, "status": STRING, "sku": STRING,
        "description": STRING, "short_description": STRING, "regular_price": STRING,
        "sale_price": STRING, "manage_stock": BOOLEAN, "stock_quantity": INTEGER, "stock_status": STRING,
        "weight": STRING, "dimensions": OBJECT, "categories": ARRAY, "attributes": ARRAY,
        "meta_data": ARRAY, "featured": BOOLEAN, "catalog_visibility": STRING,
    },
    "variation": {
        "sku": STRING, "description": STRING, "regular_price": STRING, "sale_price": STRING,
        "status": STRING, "manage_stock": BOOLEAN, "stock_quantity": INTEGER, "stock_status": STRING,
        "weight": STRING, "dimensions": OBJECT, "attributes": ARRAY, "menu_order": INTEGER, "meta_data": ARRAY,
    },
    "order": {
        "status": STRING, "currency": STRING, "customer_id": INTEGER, "customer_note": STRING,
        "billing": OBJECT, "shipping": OBJECT, "payment_method": STRING, "payment_method_title": STRING,
        "transaction_id": STRING, "line_items": ARRAY, "meta_data": ARRAY, "set_paid": BOOLEAN,
    },
    "customer": {
        "email": STRING, "first_name": STRING, "last_name": STRING, "username": STRING, "password": STRING,
        "billing": OBJECT, "shipping": OBJECT, "meta_data": ARRAY,
    },
}  # fmt: skip
BILLING_KEYS = (
    "first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country",
    "email", "phone",
)  # fmt: skip
SHIPPING_KEYS = tuple(k for k in BILLING_KEYS if k != "email")
WEBHOOK_TOPICS = {"product": "product", "variation": "product", "order": "order", "customer": "customer"}


class WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.data = status, code, message, data

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": {"status": self.status, **self.data}}

    def response(self) -> Response:
        return Response(dumps(self.body()), status_code=self.status, media_type=JSON)


def invalid_param(name: str, problem: str, *, code: str = "rest_invalid_type") -> WooError:
    return WooError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        params={name: problem},
        details={name: {"code": code, "message": problem, "data": None}},
    )


def error_body(status: int, message: str) -> tuple[bytes, str]:
    code = {429: "sandbox_too_many_requests", 500: "internal_server_error"}.get(status, "sandbox_unavailable")
    return dumps({"code": code, "message": message, "data": {"status": status}}), JSON


def wp_date(stamp: str) -> str:
    """A store stamp (or an ISO date) → WordPress's ``2025-05-27T05:03:44`` (seconds, no zone)."""
    return stamp[:19]


def _dt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _money(value: float) -> str:
    return f"{value:.2f}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# -- seed --------------------------------------------------------------------------------------
def seed_woo(store: Store, seed: int) -> None:
    """A small catalog (30 simple and 2 variable products of 3 variations per family), 150
    customers and their orders, from ``sandbox.seed.dataset(seed)``."""
    data = dataset(seed)
    quantities: dict[str, float] = {}
    for quant in data.stock:
        quantities[quant["sku"]] = quantities.get(quant["sku"], 0.0) + quant["quantity"]
    by_family: dict[str, list[dict[str, Any]]] = {}
    for product in data.products:
        by_family.setdefault(product["family"], []).append(product)
    categories = {code: (n + 15, en) for n, (code, _p, _fr, en, *_rest) in enumerate(FAMILIES)}
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    next_id = FIRST_POST_ID
    product_ids: dict[str, int] = {}
    for code, *_rest in FAMILIES:
        family = by_family[code]
        category_id, category_name = categories[code]
        category = [{"id": category_id, "name": category_name, "slug": _slug(category_name)}]
        for p in family[:SIMPLE_PER_FAMILY]:
            next_id += 1
            quantity = int(quantities.get(p["sku"], 0))
            doc = {
                **_product_base(next_id, p, category),
                "type": "simple",
                "sku": p["sku"],
                "regular_price": _money(p["price"]),
                "manage_stock": True,
                "stock_quantity": quantity,
                "stock_status": "instock" if quantity > 0 else "outofstock",
            }
            product_ids[p["sku"]] = next_id
            records.append(("product", next_id, doc, p["updated"]))
        start = SIMPLE_PER_FAMILY
        for p in family[start : start + VARIABLE_PER_FAMILY]:
            next_id += 1
            parent_id = next_id
            own = next(n for n, (_fr, en) in enumerate(COLORS) if en == p["color"])
            colors = [COLORS[(own + k) % len(COLORS)][1] for k in range(VARIATIONS_PER_PRODUCT)]
            variation_ids = []
            for k, color in enumerate(colors):
                next_id += 1
                quantity = int(quantities.get(p["sku"], 0)) // (k + 2)
                variation = {
                    "id": next_id,
                    "parent_id": parent_id,
                    "date_created": _dt(p["created"]),
                    "description": "",
                    "sku": f"{p['sku']}-{_slug(color)}",
                    "regular_price": _money(p["price"] + 5 * k),
                    "sale_price": "",
                    "status": "publish",
                    "virtual": False,
                    "downloadable": False,
                    "tax_status": "taxable",
                    "tax_class": "",
                    "manage_stock": True,
                    "stock_quantity": quantity,
                    "stock_status": "instock" if quantity > 0 else "outofstock",
                    "backorders": "no",
                    "weight": f"{p['weight']:g}",
                    "dimensions": {"length": "", "width": "", "height": ""},
                    "attributes": [{"id": 0, "name": "Color", "option": color}],
                    "menu_order": k,
                    "meta_data": [],
                }
                variation_ids.append(next_id)
                product_ids[variation["sku"]] = next_id
                records.append(("variation", next_id, variation, p["updated"] + timedelta(seconds=k + 1)))
            doc = {
                **_product_base(parent_id, p, category),
                "type": "variable",
                "sku": p["sku"],
                "regular_price": "",
                "manage_stock": False,
                "stock_quantity": None,
                "stock_status": "instock",
                "attributes": [
                    {
                        "id": 0,
                        "name": "Color",
                        "position": 0,
                        "visible": True,
                        "variation": True,
                        "options": colors,
                    }
                ],
                "variations": variation_ids,
            }
            product_ids[p["sku"]] = parent_id
            records.append(("product", parent_id, doc, p["updated"]))
    customers = data.customers[:N_CUSTOMERS]
    for c in customers:
        cid = FIRST_USER_ID + c["index"]
        records.append(("customer", cid, _customer_doc(cid, c), c["updated"]))
    for o in data.orders:
        if o["customer"] >= N_CUSTOMERS:
            continue
        next_id += 1
        doc = _order_doc(next_id, o, data.customers[o["customer"]], product_ids)
        records.append(("order", next_id, doc, o["updated"]))
    load(store, records)
    store.set_meta("seq:post", next_id)
    store.set_meta("seq:user", FIRST_USER_ID + N_CUSTOMERS - 1)


def _product_base(pid: int, p: dict[str, Any], categories: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": pid,
        "name": p["name_en"],
        "slug": _slug(p["name_en"]),
        "date_created": _dt(p["created"]),
        "status": "publish" if p["enabled"] else "draft",
        "featured": False,
        "catalog_visibility": "visible",
        "description": f"<p>{p['description_en']}</p>",
        "short_description": "",
        "sale_price": "",
        "total_sales": 0,
        "virtual": False,
        "downloadable": False,
        "tax_status": "taxable",
        "tax_class": "",
        "backorders": "no",
        "weight": f"{p['weight']:g}",
        "dimensions": {"length": "", "width": "", "height": ""},
        "categories": categories,
        "tags": [],
        "images": [],
        "attributes": [
            {
                "id": 0,
                "name": "Material",
                "position": 0,
                "visible": True,
                "variation": False,
                "options": [p["material"]],
            }
        ],
        "default_attributes": [],
        "variations": [],
        "parent_id": 0,
        "meta_data": [{"id": pid * 10, "key": "_ean", "value": p["ean"]}],
    }


def _address(c: dict[str, Any], *, email: bool) -> dict[str, Any]:
    out = {
        "first_name": c["firstname"],
        "last_name": c["lastname"],
        "company": "",
        "address_1": c["street"],
        "address_2": "",
        "city": c["city"],
        "state": "",
        "postcode": c["postcode"],
        "country": c["country"],
    }
    if email:
        out["email"] = c["email"]
    out["phone"] = c["phone"]
    return out


def _customer_doc(cid: int, c: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": cid,
        "date_created": _dt(c["created"]),
        "email": c["email"],
        "first_name": c["firstname"],
        "last_name": c["lastname"],
        "role": "customer",
        "username": c["email"].split("@")[0],
        "billing": _address(c, email=True),
        "shipping": _address(c, email=False),
        "is_paying_customer": False,
        "meta_data": [],
    }


def _order_doc(oid: int, o: dict[str, Any], c: dict[str, Any], product_ids: dict[str, int]) -> dict[str, Any]:
    status = SEED_STATUS[o["status"]]
    lines = []
    for n, line in enumerate(o["lines"], start=1):
        lines.append(
            {
                "id": oid * 10 + n,
                "name": line["name"],
                "product_id": product_ids.get(line["sku"], 0),
                "variation_id": 0,
                "quantity": line["qty"],
                "tax_class": "",
                "subtotal": _money(line["row_total"]),
                "subtotal_tax": _money(line["row_total"] * 0.2),
                "total": _money(line["row_total"]),
                "total_tax": _money(line["row_total"] * 0.2),
                "sku": line["sku"],
                "price": line["price"],
                "meta_data": [],
            }
        )
    return {
        "id": oid,
        "parent_id": 0,
        "number": str(oid),
        "order_key": f"wc_order_{oid:010d}",
        "created_via": "checkout",
        "status": status,
        "currency": "EUR",
        "date_created": _dt(o["created"]),
        "discount_total": "0.00",
        "shipping_total": _money(o["shipping"]),
        "total": _money(o["total"]),
        "total_tax": _money(o["tax"]),
        "prices_include_tax": False,
        "customer_id": FIRST_USER_ID + c["index"],
        "customer_note": "",
        "billing": _address(c, email=True),
        "shipping": _address(c, email=False),
        "payment_method": "bacs",
        "payment_method_title": "Direct bank transfer",
        "transaction_id": "",
        "date_paid": _dt(o["created"]) if status == "completed" else None,
        "date_completed": _dt(o["updated"]) if status == "completed" else None,
        "line_items": lines,
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "meta_data": [],
    }


def _next(store: Store, seq: str) -> int:
    current = int(store.get_meta(f"seq:{seq}", 0) or 0)
    store.set_meta(f"seq:{seq}", current + 1)
    return current + 1


# -- rendering -----------------------------------------------------------------------------------
def render(entity: str, doc: dict[str, Any], url: str) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "updated_at"}
    created = doc.get("date_created") or wp_date(doc["updated_at"])
    modified = wp_date(doc["updated_at"])
    dates = {
        "date_created": created,
        "date_created_gmt": created,
        "date_modified": modified,
        "date_modified_gmt": modified,
    }
    if entity in ("product", "variation"):
        price = doc.get("sale_price") or doc.get("regular_price") or ""
        out["price"] = price
        out["on_sale"] = bool(doc.get("sale_price"))
        out["purchasable"] = price != ""
        path = (
            f"products/{doc['parent_id']}/variations/{doc['id']}"
            if entity == "variation"
            else f"products/{doc['id']}"
        )
        out["permalink"] = f"{url}/?p={doc['id']}"
        out["_links"] = {"self": [{"href": f"{url}{BASE}/{path}"}]}
    elif entity == "order":
        for key in ("date_paid", "date_completed"):
            out[f"{key}_gmt"] = doc.get(key)
        out["_links"] = {"self": [{"href": f"{url}{BASE}/orders/{doc['id']}"}]}
    else:
        out["avatar_url"] = ""
        out["_links"] = {"self": [{"href": f"{url}{BASE}/customers/{doc['id']}"}]}
    if entity == "product" and doc.get("type") == "variation":
        out["_links"] = {
            "self": [{"href": f"{url}{BASE}/products/{doc['parent_id']}/variations/{doc['id']}"}]
        }
    return {"id": doc["id"], **dates, **{k: v for k, v in out.items() if k != "id"}}


def _url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


# -- auth ----------------------------------------------------------------------------------------
DENIED = {
    "GET": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "POST": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "PUT": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "PATCH": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "DELETE": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
}


def check_key(request: Request) -> None:
    creds: WooCredentials = sandbox_of(request).credentials
    key = secret = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            key, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key = secret = None
    if key is None and "consumer_key" in request.query_params:
        key, secret = (
            request.query_params.get("consumer_key"),
            request.query_params.get("consumer_secret", ""),
        )
    if not key:
        code, message = DENIED.get(request.method, DENIED["GET"])
        raise WooError(401, code, message)
    if key != creds.key:
        raise WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    if secret != creds.secret:
        raise WooError(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.")


def _guard(handler):
    async def wrapped(request: Request) -> Response:
        try:
            check_key(request)
            return await handler(request)
        except WooError as exc:
            return exc.response()

    wrapped.__name__ = handler.__name__
    return wrapped


def respond(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(payload), status_code=status, headers=headers, media_type=JSON)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise WooError(
            400, "rest_invalid_json", "Invalid JSON body passed.", json_error_message="Syntax error"
        ) from exc
    if not isinstance(payload, dict):
        raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return payload


def check_types(entity: str, body: dict[str, Any]) -> None:
    """A direct request's body against the schema's types (WordPress's ``rest_invalid_param``)."""
    for name, kind in SCHEMA[entity].items():
        if name not in body or (body[name] is None and kind != BOOLEAN):
            continue
        value = body[name]
        ok = {
            STRING: isinstance(value, str),
            INTEGER: (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, str) and value.strip().lstrip("-").isdigit()),
            BOOLEAN: isinstance(value, bool) or value in ("true", "false", "1", "0", 1, 0),
            OBJECT: isinstance(value, dict),
            ARRAY: isinstance(value, list),
        }[kind]
        if not ok:
            raise invalid_param(name, f"{name} is not of type {kind}.")


# -- list parameters -------------------------------------------------------------------------------
def _int_param(
    request: Request, name: str, default: int | None, low: int, high: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.strip().lstrip("-").isdigit():
        raise invalid_param(name, f"{name} is not of type integer.")
    value = int(raw)
    if high is not None and not low <= value <= high:
        raise invalid_param(
            name,
            f"{name} must be between {low} (inclusive) and {high} (inclusive)",
            code="rest_out_of_bounds",
        )
    if value < low:
        raise invalid_param(name, f"{name} must be greater than or equal to {low}", code="rest_out_of_bounds")
    return value


def _date_param(request: Request, name: str) -> str | None:
    """An ISO 8601 bound as ``YYYY-MM-DDTHH:MM:SS`` in UTC (the site's time zone)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    raw = raw.strip()
    if not _DATE.match(raw):
        raise invalid_param(name, "Invalid date.", code="rest_invalid_date")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid_param(name, "Invalid date.", code="rest_invalid_date") from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return _dt(moment)


def _id_list(request: Request, name: str) -> set[int] | None:
    raw = request.query_params.get(name)
    if raw is None or raw.strip() == "":
        return None
    out = set()
    for part in raw.split(","):
        part = part.strip()
        if not part.isdigit():
            raise invalid_param(name, f"{name}[0] is not of type integer.")
        out.add(int(part))
    return out


def _csv(request: Request, name: str) -> list[str]:
    raw = request.query_params.get(name) or ""
    return [p.strip() for p in raw.split(",") if p.strip()]


def _enum(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in allowed:
        raise invalid_param(name, f"{name} is not one of {', '.join(allowed)}.")
    return value


def _sort_key(entity: str, orderby: str, include: list[int]):
    def name_of(d: dict[str, Any]) -> str:
        if entity == "customer":
            return f"{d.get('first_name', '')} {d.get('last_name', '')}".lower()
        return str(d.get("name") or d.get("sku") or "").lower()

    def price_of(d: dict[str, Any]) -> float:
        try:
            return float(d.get("sale_price") or d.get("regular_price") or 0)
        except ValueError:
            return 0.0

    keys = {
        "id": lambda d: (d["id"],),
        "include": lambda d: (include.index(d["id"]) if d["id"] in include else len(include), d["id"]),
        "date": lambda d: (d.get("date_created") or "", d["id"]),
        "registered_date": lambda d: (d.get("date_created") or "", d["id"]),
        "modified": lambda d: (wp_date(d["updated_at"]), d["id"]),
        "title": lambda d: (name_of(d), d["id"]),
        "name": lambda d: (name_of(d), d["id"]),
        "slug": lambda d: (str(d.get("slug") or ""), d["id"]),
        "price": lambda d: (price_of(d), d["id"]),
        "popularity": lambda d: (d.get("total_sales") or 0, d["id"]),
        "rating": lambda d: (0, d["id"]),
        "menu_order": lambda d: (d.get("menu_order") or 0, d["id"]),
    }
    return keys[orderby]


def list_response(
    request: Request, entity: str, docs: list[dict[str, Any]], *, default_orderby: str, default_order: str
):
    per_page = _int_param(request, "per_page", 10, 1, PER_PAGE_MAX)
    page = _int_param(request, "page", 1, 1)
    offset = _int_param(request, "offset", None, 0)
    order = _enum(request, "order", ("asc", "desc"), default_order)
    orderby = _enum(request, "orderby", ORDERBY[entity], default_orderby)
    include = (
        sorted(_id_list(request, "include") or [])
        if orderby != "include"
        else [int(p) for p in _csv(request, "include") if p.isdigit()]
    )
    docs = sorted(docs, key=_sort_key(entity, orderby, include), reverse=order == "desc")
    total = len(docs)
    start = offset if offset is not None else (page - 1) * per_page
    chunk = docs[start : start + per_page]
    pages = math.ceil(total / per_page) if total else 0
    url = _url(request)
    headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
    links = []
    query = {k: v for k, v in request.query_params.items() if k not in ("consumer_key", "consumer_secret")}
    if page > 1 and pages:
        links.append(
            f'<{url}{request.url.path}?{urlencode({**query, "page": min(page - 1, pages)})}>; rel="prev"'
        )
    if page < pages:
        links.append(f'<{url}{request.url.path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    return respond([render(entity, d, url) for d in chunk], headers=headers)


def _date_filters(request: Request, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``after``/``before`` (created) and ``modified_after``/``modified_before``: strict bounds at
    WordPress's second precision, as ``WP_Date_Query`` compares them."""
    bounds = {
        name: _date_param(request, name) for name in ("after", "before", "modified_after", "modified_before")
    }
    if request.query_params.get("dates_are_gmt") not in (None, "", "true", "false", "1", "0"):
        raise invalid_param("dates_are_gmt", "dates_are_gmt is not of type boolean.")
    out = []
    for d in docs:
        created, modified = d.get("date_created") or "", wp_date(d["updated_at"])
        if bounds["after"] and not created > bounds["after"]:
            continue
        if bounds["before"] and not created < bounds["before"]:
            continue
        if bounds["modified_after"] and not modified > bounds["modified_after"]:
            continue
        if bounds["modified_before"] and not modified < bounds["modified_before"]:
            continue
        out.append(d)
    return out


def _common_filters(request: Request, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    include, exclude = _id_list(request, "include"), _id_list(request, "exclude")
    if include is not None:
        docs = [d for d in docs if d["id"] in include]
    if exclude:
        docs = [d for d in docs if d["id"] not in exclude]
    return docs


# -- the store's records -----------------------------------------------------------------------------
def _app(request: Request) -> SandboxApp:
    return sandbox_of(request)


def _get(store: Store, entity: str, ident: Any, code: str, message: str = "Invalid ID.", status: int = 404):
    try:
        key = int(ident)
    except (TypeError, ValueError):
        key = None
    doc = store.get(entity, key) if key is not None else None
    if doc is None:
        raise WooError(status, code, message)
    return doc


def _sku_taken(store: Store, sku: str, own_id: int | None) -> bool:
    if not sku:
        return False
    for entity in ("product", "variation"):
        for doc in store.iter_by_id(entity):
            if doc.get("sku") == sku and doc["id"] != own_id and doc.get("status") != "trash":
                return True
    return False


def _stock(doc: dict[str, Any]) -> None:
    if doc.get("manage_stock"):
        try:
            quantity = int(doc.get("stock_quantity") or 0)
        except (TypeError, ValueError):
            quantity = 0
        doc["stock_quantity"] = quantity
        if doc.get("backorders", "no") == "no":
            doc["stock_status"] = "instock" if quantity > 0 else "outofstock"
    else:
        doc["stock_quantity"] = None


def _bool(value: Any) -> bool:
    return value in (True, 1, "1", "true", "yes")


PRODUCT_WRITABLE = {
    "name", "slug", "type", "status", "featured", "catalog_visibility", "description", "short_description",
    "sku", "regular_price", "sale_price", "tax_status", "tax_class", "manage_stock", "stock_quantity",
    "stock_status", "backorders", "weight", "dimensions", "categories", "tags", "images", "attributes",
    "default_attributes", "meta_data", "virtual", "downloadable",
}  # fmt: skip
VARIATION_WRITABLE = {
    "description", "sku", "regular_price", "sale_price", "status", "virtual", "downloadable", "tax_status",
    "tax_class", "manage_stock", "stock_quantity", "stock_status", "backorders", "weight", "dimensions",
    "image", "attributes", "menu_order", "meta_data",
}  # fmt: skip


def _apply_product_fields(doc: dict[str, Any], body: dict[str, Any], writable: set[str]) -> None:
    for key, value in body.items():
        if key not in writable:
            continue
        if key in (
            "regular_price",
            "sale_price",
            "weight",
            "sku",
            "name",
            "description",
            "short_description",
        ):
            value = "" if value is None else str(value)
        elif key in ("manage_stock", "featured", "virtual", "downloadable"):
            value = _bool(value)
        elif key == "stock_quantity" and value is not None:
            try:
                value = int(float(value))
            except (TypeError, ValueError):
                value = 0
        doc[key] = value
    _stock(doc)


def save_product(app: SandboxApp, body: dict[str, Any], product_id: Any = None) -> dict[str, Any]:
    store = app.store
    if product_id is None and body.get("id"):
        raise WooError(400, "woocommerce_rest_product_exists", "Cannot create existing product.")
    old = (
        _get(store, "product", product_id, "woocommerce_rest_product_invalid_id", status=400)
        if product_id is not None
        else None
    )
    product_type = body.get("type", old["type"] if old else "simple")
    if product_type not in PRODUCT_TYPES:
        raise WooError(400, "woocommerce_rest_invalid_product_type", "Invalid product type.")
    if "status" in body and body["status"] not in (*PRODUCT_STATUSES, "trash"):
        raise WooError(400, "woocommerce_rest_invalid_product_status", "Invalid product status.")
    sku = str(body["sku"]).strip() if body.get("sku") is not None else None
    if sku and _sku_taken(store, sku, old["id"] if old else None):
        raise WooError(
            400,
            "product_invalid_sku",
            "Invalid or duplicated SKU.",
            resource_id=old["id"] if old else 0,
            unique_sku=sku,
        )
    if old is None:
        pid = _next(store, "post")
        doc = {
            "id": pid,
            "name": "Product",
            "slug": "",
            "date_created": _dt(datetime.now(UTC)),
            "type": product_type,
            "status": "publish",
            "featured": False,
            "catalog_visibility": "visible",
            "description": "",
            "short_description": "",
            "sku": "",
            "regular_price": "",
            "sale_price": "",
            "total_sales": 0,
            "virtual": False,
            "downloadable": False,
            "tax_status": "taxable",
            "tax_class": "",
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "backorders": "no",
            "weight": "",
            "dimensions": {"length": "", "width": "", "height": ""},
            "categories": [],
            "tags": [],
            "images": [],
            "attributes": [],
            "default_attributes": [],
            "variations": [],
            "parent_id": 0,
            "meta_data": [],
        }
    else:
        doc = {k: v for k, v in old.items() if k != "updated_at"}
    _apply_product_fields(doc, {**body, "type": product_type}, PRODUCT_WRITABLE)
    if sku is not None:
        doc["sku"] = sku
    if not doc.get("slug"):
        doc["slug"] = _slug(doc.get("name") or str(doc["id"]))
    store.put("product", doc["id"], doc)
    app.emit(f"product.{'updated' if old else 'created'}", {"id": doc["id"]})
    return doc


def save_variation(app: SandboxApp, parent: dict[str, Any], body: dict[str, Any], variation_id: Any = None):
    store = app.store
    old = None
    if variation_id is not None:
        old = _get(
            store, "variation", variation_id, "woocommerce_rest_product_variation_invalid_id", status=400
        )
        if old["parent_id"] != parent["id"]:
            raise WooError(400, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
    sku = str(body["sku"]).strip() if body.get("sku") is not None else None
    if sku and _sku_taken(store, sku, old["id"] if old else None):
        raise WooError(
            400,
            "product_invalid_sku",
            "Invalid or duplicated SKU.",
            resource_id=old["id"] if old else 0,
            unique_sku=sku,
        )
    if old is None:
        vid = _next(store, "post")
        doc = {
            "id": vid,
            "parent_id": parent["id"],
            "date_created": _dt(datetime.now(UTC)),
            "description": "",
            "sku": "",
            "regular_price": "",
            "sale_price": "",
            "status": "publish",
            "virtual": False,
            "downloadable": False,
            "tax_status": "taxable",
            "tax_class": "",
            "manage_stock": False,
            "stock_quantity": None,
            "stock_status": "instock",
            "backorders": "no",
            "weight": "",
            "dimensions": {"length": "", "width": "", "height": ""},
            "attributes": [],
            "menu_order": 0,
            "meta_data": [],
        }
    else:
        doc = {k: v for k, v in old.items() if k != "updated_at"}
    _apply_product_fields(doc, body, VARIATION_WRITABLE)
    if sku is not None:
        doc["sku"] = sku
    store.put("variation", doc["id"], doc)
    if old is None:
        fresh = {k: v for k, v in parent.items() if k != "updated_at"}
        fresh["variations"] = [*parent.get("variations", []), doc["id"]]
        store.put("product", parent["id"], fresh)
    app.emit("product.updated", {"id": parent["id"], "variation_id": doc["id"]})
    return doc


def _address_body(value: Any, keys: tuple[str, ...], current: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        return current
    merged = dict(current)
    for key in keys:
        if key in value:
            merged[key] = "" if value[key] is None else str(value[key])
    return merged


def save_customer(app: SandboxApp, body: dict[str, Any], customer_id: Any = None) -> dict[str, Any]:
    store = app.store
    old = None
    if customer_id is None and body.get("id"):
        raise WooError(400, "woocommerce_rest_customer_exists", "Cannot create existing resource.")
    if customer_id is not None:
        old = _get(
            store, "customer", customer_id, "woocommerce_rest_invalid_id", "Invalid resource ID.", status=400
        )
    email = str(body.get("email") or "").strip() if "email" in body else None
    taken = email and any(
        d["email"].lower() == email.lower() and (old is None or d["id"] != old["id"])
        for d in store.iter_by_id("customer")
    )
    if old is None:
        if not email or not _EMAIL.match(email):
            raise WooError(400, "registration-error-invalid-email", "Please provide a valid email address.")
        if taken:
            raise WooError(
                400,
                "registration-error-email-exists",
                "An account is already registered with your email address. Please log in.",
            )
    elif email is not None and (not _EMAIL.match(email) or taken):
        raise WooError(400, "woocommerce_rest_customer_invalid_email", "Email address is invalid.")
    billing_email = (
        (body.get("billing") or {}).get("email") if isinstance(body.get("billing"), dict) else None
    )
    if billing_email and not _EMAIL.match(str(billing_email)):
        raise WooError(400, "customer_invalid_billing_email", "Invalid billing email address")
    if old is None:
        doc = {
            "id": _next(store, "user"),
            "date_created": _dt(datetime.now(UTC)),
            "email": email,
            "first_name": "",
            "last_name": "",
            "role": "customer",
            "username": str(body.get("username") or email.split("@")[0]),
            "billing": dict.fromkeys(BILLING_KEYS, ""),
            "shipping": dict.fromkeys(SHIPPING_KEYS, ""),
            "is_paying_customer": False,
            "meta_data": [],
        }
    else:
        doc = {k: v for k, v in old.items() if k != "updated_at"}
        if email is not None:
            doc["email"] = email
    for key in ("first_name", "last_name"):
        if key in body:
            doc[key] = "" if body[key] is None else str(body[key])
    doc["billing"] = _address_body(body.get("billing"), BILLING_KEYS, doc["billing"])
    doc["shipping"] = _address_body(body.get("shipping"), SHIPPING_KEYS, doc["shipping"])
    if isinstance(body.get("meta_data"), list):
        doc["meta_data"] = body["meta_data"]
    store.put("customer", doc["id"], doc)
    app.emit(f"customer.{'updated' if old else 'created'}", {"id": doc["id"]})
    return doc


def save_order(app: SandboxApp, body: dict[str, Any], order_id: Any = None) -> dict[str, Any]:
    store = app.store
    old = None
    if order_id is None and body.get("id"):
        raise WooError(400, "woocommerce_rest_shop_order_exists", "Cannot create existing order.")
    if order_id is not None:
        old = _get(store, "order", order_id, "woocommerce_rest_shop_order_invalid_id", status=400)
    status = body.get("status")
    if status is not None and status not in (*ORDER_STATUSES, "trash"):
        raise WooError(400, "woocommerce_rest_invalid_order_status", "Invalid order status.")
    billing = body.get("billing")
    if isinstance(billing, dict) and billing.get("email") and not _EMAIL.match(str(billing["email"])):
        raise WooError(400, "customer_invalid_billing_email", "Invalid billing email address")
    if old is None:
        oid = _next(store, "post")
        doc = {
            "id": oid,
            "parent_id": 0,
            "number": str(oid),
            "order_key": f"wc_order_{oid:010d}",
            "created_via": "rest-api",
            "status": "pending",
            "currency": "EUR",
            "date_created": _dt(datetime.now(UTC)),
            "discount_total": "0.00",
            "shipping_total": "0.00",
            "total": "0.00",
            "total_tax": "0.00",
            "prices_include_tax": False,
            "customer_id": 0,
            "customer_note": "",
            "billing": dict.fromkeys(BILLING_KEYS, ""),
            "shipping": dict.fromkeys(SHIPPING_KEYS, ""),
            "payment_method": "",
            "payment_method_title": "",
            "transaction_id": "",
            "date_paid": None,
            "date_completed": None,
            "line_items": [],
            "shipping_lines": [],
            "fee_lines": [],
            "coupon_lines": [],
            "meta_data": [],
        }
        lines = body.get("line_items") if isinstance(body.get("line_items"), list) else []
        subtotal = 0.0
        for n, line in enumerate(lines, start=1):
            product = None
            if isinstance(line, dict) and line.get("product_id"):
                product = store.get("product", int(line["product_id"])) or store.get(
                    "variation", int(line["product_id"])
                )
            if product is None:
                raise WooError(400, "woocommerce_rest_invalid_product_id", "Invalid product ID.")
            quantity = int(line.get("quantity") or 1)
            price = float(product.get("sale_price") or product.get("regular_price") or 0)
            subtotal += quantity * price
            doc["line_items"].append(
                {
                    "id": oid * 10 + n,
                    "name": product.get("name") or product.get("sku"),
                    "product_id": product.get("parent_id") or product["id"],
                    "variation_id": product["id"] if product.get("parent_id") else 0,
                    "quantity": quantity,
                    "subtotal": _money(quantity * price),
                    "total": _money(quantity * price),
                    "total_tax": _money(quantity * price * 0.2),
                    "sku": product.get("sku"),
                    "price": price,
                    "meta_data": [],
                }
            )
        doc["total_tax"] = _money(subtotal * 0.2)
        doc["total"] = _money(subtotal * 1.2)
    else:
        doc = {k: v for k, v in old.items() if k != "updated_at"}
    for key in (
        "status",
        "currency",
        "customer_note",
        "payment_method",
        "payment_method_title",
        "transaction_id",
    ):
        if key in body and body[key] is not None:
            doc[key] = str(body[key])
    if "customer_id" in body:
        doc["customer_id"] = int(body["customer_id"] or 0)
    if isinstance(body.get("meta_data"), list):
        doc["meta_data"] = body["meta_data"]
    doc["billing"] = _address_body(body.get("billing"), BILLING_KEYS, doc["billing"])
    doc["shipping"] = _address_body(body.get("shipping"), SHIPPING_KEYS, doc["shipping"])
    if doc["status"] == "completed" and not doc.get("date_completed"):
        doc["date_completed"] = _dt(datetime.now(UTC))
    store.put("order", doc["id"], doc)
    app.emit(f"order.{'updated' if old else 'created'}", {"id": doc["id"]})
    return doc


def delete_record(
    app: SandboxApp, entity: str, ident: Any, force: bool, parent: dict[str, Any] | None = None
):
    """The deleted (or trashed) record, rendered later by the caller."""
    store = app.store
    codes = {
        "product": "woocommerce_rest_product_invalid_id",
        "variation": "woocommerce_rest_product_variation_invalid_id",
        "order": "woocommerce_rest_shop_order_invalid_id",
        "customer": "woocommerce_rest_invalid_id",
    }
    message = "Invalid resource ID." if entity == "customer" else "Invalid ID."
    doc = _get(store, entity, ident, codes[entity], message, status=404 if entity != "customer" else 400)
    if parent is not None and doc.get("parent_id") != parent["id"]:
        raise WooError(404, codes[entity], message)
    if entity == "customer" and not force:
        raise WooError(501, "woocommerce_rest_trash_not_supported", "Customers do not support trashing.")
    if not force and entity in ("product", "order"):
        if doc.get("status") == "trash":
            raise WooError(410, "woocommerce_rest_already_trashed", f"The {entity} has already been deleted.")
        trashed = {**{k: v for k, v in doc.items() if k != "updated_at"}, "status": "trash"}
        store.put(entity, doc["id"], trashed)
        app.emit(f"{WEBHOOK_TOPICS[entity]}.deleted", {"id": doc["id"]})
        return trashed
    if not force and entity == "variation":
        raise WooError(501, "woocommerce_rest_trash_not_supported", "Variations do not support trashing.")
    store.delete(entity, doc["id"])
    if entity == "product":
        for vid in doc.get("variations") or []:
            store.delete("variation", vid)
    elif entity == "variation":
        owner = store.get("product", doc["parent_id"])
        if owner is not None:
            fresh = {k: v for k, v in owner.items() if k != "updated_at"}
            fresh["variations"] = [v for v in owner.get("variations", []) if v != doc["id"]]
            store.put("product", owner["id"], fresh)
    elif entity == "customer":
        # wc_reset_order_customer_id_on_deleted_user: the orders stay, as guest orders.
        for order in list(store.iter_by_id("order")):
            if order.get("customer_id") == doc["id"]:
                store.put(
                    "order",
                    order["id"],
                    {**{k: v for k, v in order.items() if k != "updated_at"}, "customer_id": 0},
                )
    app.emit(f"{WEBHOOK_TOPICS[entity]}.deleted", {"id": doc["id"]})
    return doc


# -- handlers ----------------------------------------------------------------------------------------
def _filter_products(request: Request, docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    status = request.query_params.get("status") or "any"
    if status not in ("any", "trash", *PRODUCT_STATUSES, "future"):
        raise invalid_param(
            "status", f"status is not one of any, future, trash, {', '.join(PRODUCT_STATUSES)}."
        )
    docs = [d for d in docs if (d.get("status") == "trash") == (status == "trash")]
    if status not in ("any", "trash"):
        docs = [d for d in docs if d.get("status") == status]
    skus = set(_csv(request, "sku"))
    if skus:
        docs = [d for d in docs if d.get("sku") in skus]
    if request.query_params.get("type"):
        docs = [d for d in docs if d.get("type") == request.query_params["type"]]
    if request.query_params.get("stock_status"):
        docs = [d for d in docs if d.get("stock_status") == request.query_params["stock_status"]]
    search = (request.query_params.get("search") or "").lower()
    if search:
        docs = [
            d
            for d in docs
            if search in str(d.get("name") or "").lower() or search in str(d.get("sku") or "").lower()
        ]
    return docs


async def list_products(request: Request) -> Response:
    store = _app(request).store
    docs = list(store.iter_by_id("product"))
    if _csv(request, "sku"):
        # WooCommerce searches product_variation posts too when ``sku`` is given
        docs += [{**d, "type": "variation"} for d in store.iter_by_id("variation")]
    docs = _common_filters(request, _date_filters(request, docs))
    docs = _filter_products(request, docs)
    parents = _id_list(request, "parent")
    if parents is not None:
        docs = [d for d in docs if d.get("parent_id") in parents]
    return list_response(request, "product", docs, default_orderby="date", default_order="desc")


async def create_product(request: Request) -> Response:
    body = await _body(request)
    check_types("product", body)
    return respond(render("product", save_product(_app(request), body), _url(request)), 201)


async def get_product(request: Request) -> Response:
    store = _app(request).store
    ident = request.path_params["id"]
    doc = store.get("product", int(ident)) if ident.isdigit() else None
    if doc is None and ident.isdigit() and store.get("variation", int(ident)) is not None:
        # WooCommerce answers a variation's id on products/{id} too (type "variation")
        variation = store.get("variation", int(ident))
        return respond({**render("variation", variation, _url(request)), "type": "variation"})
    if doc is None:
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return respond(render("product", doc, _url(request)))


async def update_product(request: Request) -> Response:
    body = await _body(request)
    check_types("product", body)
    doc = save_product(_app(request), body, request.path_params["id"])
    return respond(render("product", doc, _url(request)))


async def delete_product(request: Request) -> Response:
    doc = delete_record(
        _app(request), "product", request.path_params["id"], _bool(request.query_params.get("force"))
    )
    return respond(render("product", doc, _url(request)))


def _parent(request: Request) -> dict[str, Any]:
    store = _app(request).store
    ident = request.path_params["product_id"]
    doc = store.get("product", int(ident)) if ident.isdigit() else None
    if doc is None:
        raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
    return doc


async def list_variations(request: Request) -> Response:
    parent = _parent(request)
    store = _app(request).store
    docs = [d for d in (store.get("variation", v) for v in parent.get("variations") or []) if d is not None]
    docs = _common_filters(request, _date_filters(request, docs))
    skus = set(_csv(request, "sku"))
    if skus:
        docs = [d for d in docs if d.get("sku") in skus]
    if request.query_params.get("stock_status"):
        docs = [d for d in docs if d.get("stock_status") == request.query_params["stock_status"]]
    return list_response(request, "variation", docs, default_orderby="date", default_order="desc")


async def create_variation(request: Request) -> Response:
    parent = _parent(request)
    body = await _body(request)
    check_types("variation", body)
    return respond(render("variation", save_variation(_app(request), parent, body), _url(request)), 201)


async def get_variation(request: Request) -> Response:
    parent = _parent(request)
    doc = _get(
        _app(request).store,
        "variation",
        request.path_params["id"],
        "woocommerce_rest_product_variation_invalid_id",
    )
    if doc.get("parent_id") != parent["id"]:
        raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
    return respond(render("variation", doc, _url(request)))


async def update_variation(request: Request) -> Response:
    parent = _parent(request)
    body = await _body(request)
    check_types("variation", body)
    doc = save_variation(_app(request), parent, body, request.path_params["id"])
    return respond(render("variation", doc, _url(request)))


async def delete_variation(request: Request) -> Response:
    parent = _parent(request)
    force = _bool(request.query_params.get("force"))
    doc = delete_record(_app(request), "variation", request.path_params["id"], force, parent)
    return respond(render("variation", doc, _url(request)))


async def list_orders(request: Request) -> Response:
    store = _app(request).store
    docs = _common_filters(request, _date_filters(request, list(store.iter_by_id("order"))))
    statuses = _csv(request, "status") or ["any"]
    for status in statuses:
        if status not in ("any", "trash", *ORDER_STATUSES):
            raise invalid_param(
                "status[0]", f"status[0] is not one of any, trash, {', '.join(ORDER_STATUSES)}."
            )
    if "any" in statuses:
        docs = [d for d in docs if d.get("status") != "trash"]
    else:
        docs = [d for d in docs if d.get("status") in statuses]
    if request.query_params.get("customer") not in (None, ""):
        customer = _int_param(request, "customer", None, 0)
        docs = [d for d in docs if d.get("customer_id") == customer]
    search = (request.query_params.get("search") or "").strip().lower()
    if search:
        docs = [
            d
            for d in docs
            if search == d["number"]
            or any(
                search in str(d["billing"].get(k) or "").lower() for k in ("email", "first_name", "last_name")
            )
        ]
    return list_response(request, "order", docs, default_orderby="date", default_order="desc")


async def create_order(request: Request) -> Response:
    body = await _body(request)
    check_types("order", body)
    return respond(render("order", save_order(_app(request), body), _url(request)), 201)


async def get_order(request: Request) -> Response:
    doc = _get(
        _app(request).store, "order", request.path_params["id"], "woocommerce_rest_shop_order_invalid_id"
    )
    return respond(render("order", doc, _url(request)))


async def update_order(request: Request) -> Response:
    body = await _body(request)
    check_types("order", body)
    return respond(render("order", save_order(_app(request), body, request.path_params["id"]), _url(request)))


async def delete_order(request: Request) -> Response:
    doc = delete_record(
        _app(request), "order", request.path_params["id"], _bool(request.query_params.get("force"))
    )
    return respond(render("order", doc, _url(request)))


async def list_customers(request: Request) -> Response:
    store = _app(request).store
    docs = _common_filters(request, list(store.iter_by_id("customer")))  # no date filters on customers
    email = (request.query_params.get("email") or "").strip().lower()
    if email:
        docs = [d for d in docs if d["email"].lower() == email]
    role = request.query_params.get("role") or "customer"
    if role != "all":
        docs = [d for d in docs if d.get("role") == role]
    search = (request.query_params.get("search") or "").strip().lower()
    if search:
        docs = [
            d
            for d in docs
            if any(
                search in str(d.get(k) or "").lower()
                for k in ("email", "first_name", "last_name", "username")
            )
        ]
    return list_response(request, "customer", docs, default_orderby="name", default_order="asc")


async def create_customer(request: Request) -> Response:
    body = await _body(request)
    check_types("customer", body)
    return respond(render("customer", save_customer(_app(request), body), _url(request)), 201)


async def get_customer(request: Request) -> Response:
    doc = _get(
        _app(request).store,
        "customer",
        request.path_params["id"],
        "woocommerce_rest_invalid_id",
        "Invalid resource ID.",
    )
    return respond(render("customer", doc, _url(request)))


async def update_customer(request: Request) -> Response:
    body = await _body(request)
    check_types("customer", body)
    return respond(
        render("customer", save_customer(_app(request), body, request.path_params["id"]), _url(request))
    )


async def delete_customer(request: Request) -> Response:
    doc = delete_record(
        _app(request), "customer", request.path_params["id"], _bool(request.query_params.get("force"))
    )
    return respond(render("customer", doc, _url(request)))


# -- batch -------------------------------------------------------------------------------------------
def _batch(entity: str):
    async def handler(request: Request) -> Response:
        app = _app(request)
        parent = _parent(request) if entity == "variation" else None
        body = await _body(request)
        lists = {k: body.get(k) for k in ("create", "update", "delete") if k in body}
        for key, items in lists.items():
            if not isinstance(items, list):
                raise invalid_param(key, f"{key} is not of type array.")
        if sum(len(items) for items in lists.values()) > BATCH_MAX:
            raise WooError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {BATCH_MAX} items for this request.",
            )
        url = _url(request)

        def save(item: dict[str, Any], ident: Any = None) -> dict[str, Any]:
            if entity == "product":
                return save_product(app, item, ident)
            if entity == "variation":
                return save_variation(app, parent, item, ident)  # type: ignore[arg-type]
            if entity == "order":
                return save_order(app, item, ident)
            return save_customer(app, item, ident)

        answer: dict[str, list[Any]] = {}
        for key, items in lists.items():
            results = answer[key] = []
            for item in items:
                ident: Any = 0
                try:
                    if key == "create":
                        if not isinstance(item, dict):
                            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): create")
                        doc = save(item)
                    elif key == "update":
                        ident = item.get("id", 0) if isinstance(item, dict) else 0
                        if not ident:
                            raise WooError(
                                400, f"woocommerce_rest_{_code_name(entity)}_invalid_id", "ID is invalid."
                            )
                        doc = save({k: v for k, v in item.items() if k != "id"}, ident)
                    else:
                        try:
                            ident = int(item)
                        except (TypeError, ValueError):
                            ident = 0
                        if ident == 0:
                            continue  # WooCommerce skips a zero id
                        doc = delete_record(app, entity, ident, True, parent)
                except WooError as exc:
                    results.append(
                        {
                            "id": ident,
                            "error": {
                                "code": exc.code,
                                "message": exc.message,
                                "data": {"status": exc.status, **exc.data},
                            },
                        }
                    )
                    continue
                results.append(render(entity, doc, url))
        return respond(answer)

    handler.__name__ = f"batch_{entity}"
    return handler


def _code_name(entity: str) -> str:
    return {
        "product": "product",
        "variation": "product_variation",
        "order": "shop_order",
        "customer": "customer",
    }[entity]


def routes() -> list[Route]:
    batch_methods = ["POST", "PUT", "PATCH"]
    return [
        Route(f"{BASE}/products", _guard(list_products), methods=["GET"]),
        Route(f"{BASE}/products", _guard(create_product), methods=["POST"]),
        Route(f"{BASE}/products/batch", _guard(_batch("product")), methods=batch_methods),
        Route(f"{BASE}/products/{{product_id}}/variations", _guard(list_variations), methods=["GET"]),
        Route(f"{BASE}/products/{{product_id}}/variations", _guard(create_variation), methods=["POST"]),
        Route(
            f"{BASE}/products/{{product_id}}/variations/batch",
            _guard(_batch("variation")),
            methods=batch_methods,
        ),
        Route(f"{BASE}/products/{{product_id}}/variations/{{id}}", _guard(get_variation), methods=["GET"]),
        Route(
            f"{BASE}/products/{{product_id}}/variations/{{id}}",
            _guard(update_variation),
            methods=["PUT", "PATCH"],
        ),
        Route(
            f"{BASE}/products/{{product_id}}/variations/{{id}}", _guard(delete_variation), methods=["DELETE"]
        ),
        Route(f"{BASE}/products/{{id}}", _guard(get_product), methods=["GET"]),
        Route(f"{BASE}/products/{{id}}", _guard(update_product), methods=["PUT", "PATCH"]),
        Route(f"{BASE}/products/{{id}}", _guard(delete_product), methods=["DELETE"]),
        Route(f"{BASE}/orders", _guard(list_orders), methods=["GET"]),
        Route(f"{BASE}/orders", _guard(create_order), methods=["POST"]),
        Route(f"{BASE}/orders/batch", _guard(_batch("order")), methods=batch_methods),
        Route(f"{BASE}/orders/{{id}}", _guard(get_order), methods=["GET"]),
        Route(f"{BASE}/orders/{{id}}", _guard(update_order), methods=["PUT", "PATCH"]),
        Route(f"{BASE}/orders/{{id}}", _guard(delete_order), methods=["DELETE"]),
        Route(f"{BASE}/customers", _guard(list_customers), methods=["GET"]),
        Route(f"{BASE}/customers", _guard(create_customer), methods=["POST"]),
        Route(f"{BASE}/customers/batch", _guard(_batch("customer")), methods=batch_methods),
        Route(f"{BASE}/customers/{{id}}", _guard(get_customer), methods=["GET"]),
        Route(f"{BASE}/customers/{{id}}", _guard(update_customer), methods=["PUT", "PATCH"]),
        Route(f"{BASE}/customers/{{id}}", _guard(delete_customer), methods=["DELETE"]),
    ]


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: WooCredentials | None = None,
    faults: FaultConfig | None = None,
) -> SandboxApp:
    """The WooCommerce stand-in (REST API v3)."""
    return SandboxApp(
        name="woo",
        routes=routes(),
        store_path=store_path,
        seed=seed,
        seeder=seed_woo,
        faults=faults,
        error_body=error_body,
        credentials=credentials or WooCredentials.from_env(),
    )
