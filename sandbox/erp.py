"""ERP stand-in: the shape of Odoo's external JSON-RPC API (``POST /jsonrpc``).

- ``{"service": "common", "method": "authenticate", "args": [db, login, password, {}]}`` → uid
  or ``false`` (also ``login`` and ``version``).
- ``{"service": "object", "method": "execute_kw", "args": [db, uid, password, model, method,
  args, kwargs]}`` with ``search_read``, ``search``, ``search_count``, ``read``, ``create``
  (a dict → id, a list of dicts → ids), ``write`` (ids, vals → true), ``unlink``, ``fields_get``
  and ``name_get``-like ``display_name`` on the models ``product.product``, ``stock.quant``,
  ``stock.location``, ``res.partner``, ``res.country``, ``sale.order``, ``sale.order.line``.
- Domains in prefix notation (``&``, ``|``, ``!``; implicit ``&``) with ``= != > >= < <= in not in
  like ilike =like =ilike``; ``fields``, ``limit``, ``offset``, ``order`` (``"write_date asc, id
  asc"``).
- Many2one values read as ``[id, "display name"]`` (or ``false``), one2many as lists of ids;
  ``write_date``/``create_date`` as ``"YYYY-MM-DD HH:MM:SS"`` (UTC).
- ``unlink`` of a partner that a sale order points to is refused as Odoo does (``partner_id`` is a
  required many2one, so ``ondelete="restrict"``): a ``ValidationError`` "another model requires the
  record being deleted. If possible, archive it instead." Odoo keeps such partners for the
  accounting; a GDPR erasure anonymises them with ``write`` instead (name, e-mail, phone, address
  overwritten), after which no search by the old e-mail finds them.
- Errors as Odoo: HTTP 200 with ``{"jsonrpc": "2.0", "id": ..., "error": {"code": 200, "message":
  "Odoo Server Error", "data": {"name": "odoo.exceptions.AccessDenied", "message": ...}}}``.
  A ``create`` of several records is one transaction: one bad record fails them all.
- ``product.template`` and its variants ``product.product`` (``product_tmpl_id``,
  ``product_variant_ids``, ``product_variant_count``): every seeded product has its own template with
  the same id; creating a variant without a template creates one, creating a template creates its
  variant, and writes go through in both directions (see ``TEMPLATE_OWNED``).
- Odoo 19's JSON-2 API next to it, over the same store: ``POST /json/2/<model>/<method>`` with
  ``Authorization: bearer <API key>`` (optional ``X-Odoo-Database``) and a JSON object of named
  arguments (``ids``, ``context`` and the method's parameters, e.g. ``domain``, ``fields``,
  ``limit``, ``offset``, ``order`` for ``search_read``; ``ids`` and ``vals`` for ``write``;
  ``vals_list`` for ``create``, which answers a list of ids); the result is the body. Errors are a
  4xx/5xx status with ``{"name", "message", "arguments", "context", "debug"}``: 401 for a wrong key,
  403 ``AccessError``, 404 ``MissingError`` or an unknown model or method, 422 ``ValidationError`` /
  ``UserError``, 500 for anything else (``builtins.ValueError``…). ``res.users/context_get`` answers
  the key's user.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, dumps, json_response, sandbox_of
from .credentials import ErpCredentials
from .faults import FaultConfig
from .seed import dataset, load
from .store import Store

SERVER_VERSION = "17.0"

# field -> (type, relation, required, readonly)
Field = tuple[str, str | None, bool, bool]
COMMON: dict[str, Field] = {
    "id": ("integer", None, False, True),
    "display_name": ("char", None, False, True),
    "create_date": ("datetime", None, False, True),
    "write_date": ("datetime", None, False, True),
}
MODELS: dict[str, dict[str, Field]] = {
    "res.country": {"name": ("char", None, True, False), "code": ("char", None, False, False)},
    "stock.location": {
        "name": ("char", None, True, False),
        "complete_name": ("char", None, False, True),
        "usage": ("selection", None, False, False),
        "active": ("boolean", None, False, False),
        "barcode": ("char", None, False, False),
    },
    "product.template": {
        "name": ("char", None, True, False),
        "default_code": ("char", None, False, False),
        "barcode": ("char", None, False, False),
        "list_price": ("float", None, False, False),
        "standard_price": ("float", None, False, False),
        "weight": ("float", None, False, False),
        "type": ("selection", None, False, False),
        "sale_ok": ("boolean", None, False, False),
        "purchase_ok": ("boolean", None, False, False),
        "active": ("boolean", None, False, False),
        "description_sale": ("text", None, False, False),
        "categ_id": ("char", None, False, False),
        "product_variant_ids": ("one2many", "product.product", False, False),
        "product_variant_count": ("integer", None, False, True),
    },
    "product.product": {
        "product_tmpl_id": ("many2one", "product.template", False, False),
        "name": ("char", None, True, False),
        "default_code": ("char", None, False, False),
        "barcode": ("char", None, False, False),
        "list_price": ("float", None, False, False),
        "standard_price": ("float", None, False, False),
        "weight": ("float", None, False, False),
        "type": ("selection", None, False, False),
        "sale_ok": ("boolean", None, False, False),
        "active": ("boolean", None, False, False),
        "description_sale": ("text", None, False, False),
        "categ_id": ("char", None, False, False),
    },
    "stock.quant": {
        "product_id": ("many2one", "product.product", True, False),
        "location_id": ("many2one", "stock.location", True, False),
        "quantity": ("float", None, False, False),
        "reserved_quantity": ("float", None, False, False),
    },
    "res.partner": {
        "name": ("char", None, True, False),
        "email": ("char", None, False, False),
        "phone": ("char", None, False, False),
        "mobile": ("char", None, False, False),
        "street": ("char", None, False, False),
        "street2": ("char", None, False, False),
        "city": ("char", None, False, False),
        "zip": ("char", None, False, False),
        "country_id": ("many2one", "res.country", False, False),
        "lang": ("char", None, False, False),
        "is_company": ("boolean", None, False, False),
        "customer_rank": ("integer", None, False, False),
        "active": ("boolean", None, False, False),
        "ref": ("char", None, False, False),
    },
    "sale.order": {
        "name": ("char", None, False, False),
        "partner_id": ("many2one", "res.partner", True, False),
        "date_order": ("datetime", None, False, False),
        "client_order_ref": ("char", None, False, False),
        "amount_untaxed": ("float", None, False, True),
        "amount_tax": ("float", None, False, True),
        "amount_total": ("float", None, False, True),
        "state": ("selection", None, False, False),
        "order_line": ("one2many", "sale.order.line", False, False),
        "currency_id": ("char", None, False, True),
        "note": ("text", None, False, False),
    },
    "sale.order.line": {
        "order_id": ("many2one", "sale.order", True, False),
        "product_id": ("many2one", "product.product", False, False),
        "name": ("text", None, False, False),
        "product_uom_qty": ("float", None, False, False),
        "price_unit": ("float", None, False, False),
        "price_subtotal": ("float", None, False, True),
        "price_total": ("float", None, False, True),
        "tax_rate": ("float", None, False, False),
    },
}
LABELS = {
    "res.country": "Country", "stock.location": "Inventory Locations", "product.template": "Product",
    "product.product": "Product Variant",
    "stock.quant": "Quants", "res.partner": "Contact", "sale.order": "Sales Order", "sale.order.line": "Sales Order Line",
}  # fmt: skip
DEFAULTS: dict[str, dict[str, Any]] = {
    "res.country": {"code": False},
    "stock.location": {"usage": "internal", "active": True, "barcode": False},
    "product.template": {
        "default_code": False, "barcode": False, "list_price": 1.0, "standard_price": 0.0, "weight": 0.0, "type": "product",
        "sale_ok": True, "purchase_ok": True, "active": True, "description_sale": False, "categ_id": "All", "product_variant_ids": [],
    },
    "product.product": {
        "product_tmpl_id": False, "default_code": False, "barcode": False, "list_price": 1.0, "standard_price": 0.0, "weight": 0.0,
        "type": "product", "sale_ok": True, "active": True, "description_sale": False, "categ_id": "All",
    },
    "stock.quant": {"quantity": 0.0, "reserved_quantity": 0.0},
    "res.partner": {
        "email": False, "phone": False, "mobile": False, "street": False, "street2": False, "city": False, "zip": False,
        "country_id": False, "lang": "en_US", "is_company": False, "customer_rank": 0, "active": True, "ref": False,
    },
    "sale.order": {"date_order": None, "client_order_ref": False, "state": "draft", "order_line": [], "currency_id": "EUR", "note": False},
    "sale.order.line": {"product_id": False, "name": False, "product_uom_qty": 1.0, "price_unit": 0.0, "tax_rate": 20.0},
}  # fmt: skip
SELECTIONS = {
    ("stock.location", "usage"): {"internal", "view", "customer", "supplier", "inventory", "transit"},
    ("product.product", "type"): {"consu", "service", "product"},
    ("product.template", "type"): {"consu", "service", "product"},
    ("sale.order", "state"): {"draft", "sent", "sale", "done", "cancel"},
}
# Odoo's product.product inherits product.template (``_inherits``): the template owns the name,
# price, type…; default_code, barcode, cost and weight belong to the variant, and a template shows
# them when it has a single variant (its inverse writes them through). The stand-in keeps a copy on
# both sides and writes changes through in both directions (a variant's write_date moves when its
# template's owned fields change; in Odoo only the template's does).
TEMPLATE_OWNED = ("name", "list_price", "type", "sale_ok", "active", "description_sale", "categ_id")
VARIANT_OWNED = ("default_code", "barcode", "standard_price", "weight")
TEMPLATE_FIELDS = TEMPLATE_OWNED + VARIANT_OWNED
SO_STATES = {"pending": "draft", "processing": "sale", "complete": "done", "canceled": "cancel"}
COUNTRY_IDS = {"FR": 75, "GB": 231, "US": 233, "BE": 20, "DE": 57, "ES": 68, "IT": 109}
COUNTRY_NAMES = {
    "FR": "France",
    "GB": "United Kingdom",
    "US": "United States",
    "BE": "Belgium",
    "DE": "Germany",
    "ES": "Spain",
    "IT": "Italy",
}


def odoo_datetime(stamp: str) -> str:
    return f"{stamp[:10]} {stamp[11:19]}"


def _dt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# -- errors ------------------------------------------------------------------------------------
class OdooError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message

    def payload(self) -> dict[str, Any]:
        return {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {
                "name": self.name,
                "debug": f"Traceback (most recent call last):\n  ...\n{self.name}: {self.message}\n",
                "message": self.message,
                "arguments": [self.message],
                "context": {},
            },
        }


def access_denied() -> OdooError:
    return OdooError("odoo.exceptions.AccessDenied", "Access Denied")


def validation(message: str) -> OdooError:
    return OdooError("odoo.exceptions.ValidationError", message)


def value_error(message: str) -> OdooError:
    return OdooError("builtins.ValueError", message)


def error_body(status: int, message: str) -> tuple[bytes, str]:
    """Faults arrive as HTTP errors before Odoo answers: an HTML-free JSON body like a proxy's."""
    return dumps(
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": status,
                "message": message,
                "data": {"name": "werkzeug.exceptions.HTTPException", "message": message},
            },
        }
    ), "application/json"


# -- seed --------------------------------------------------------------------------------------
def seed_erp(store: Store, seed: int) -> None:
    data = dataset(seed)
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    origin = datetime(2024, 12, 1, tzinfo=UTC)
    for code, cid in COUNTRY_IDS.items():
        records.append(
            (
                "res.country",
                cid,
                {"name": COUNTRY_NAMES[code], "code": code, "create_date": _dt(origin)},
                origin,
            )
        )
    location_ids = {}
    for n, wh in enumerate(data.warehouses):
        lid = 8 + n * 10
        location_ids[wh["code"]] = lid
        doc = {
            "name": "Stock",
            "complete_name": f"{wh['code']}/Stock",
            "usage": "internal",
            "active": True,
            "barcode": f"{wh['code']}-STOCK",
            "create_date": _dt(origin),
        }
        records.append(("stock.location", lid, doc, origin))
    product_ids = {}
    for n, p in enumerate(data.products, start=1):
        product_ids[p["sku"]] = n
        doc = {
            "name": p["name_fr"],
            "default_code": p["sku"],
            "barcode": p["ean"],
            "list_price": p["price"],
            "standard_price": round(p["price"] * 0.45, 2),
            "weight": p["weight"],
            "type": "product",
            "sale_ok": True,
            "active": p["enabled"],
            "description_sale": p["description_fr"],
            "categ_id": f"All / Saleable / {p['family'].capitalize()}",
            "create_date": _dt(p["created"]),
        }
        template = {k: doc[k] for k in TEMPLATE_FIELDS}
        template.update(purchase_ok=True, product_variant_ids=[n], create_date=doc["create_date"])
        records.append(("product.template", n, template, p["updated"]))
        doc["product_tmpl_id"] = n  # each seeded variant has its own template, with the same id
        records.append(("product.product", n, doc, p["updated"]))
        records.append(("_barcode", p["ean"], {"id": n}, p["updated"]))
    for n, q in enumerate(data.stock, start=1):
        doc = {
            "product_id": product_ids[q["sku"]],
            "location_id": location_ids[q["warehouse"]],
            "quantity": q["quantity"],
            "reserved_quantity": 0.0,
            "create_date": _dt(q["updated"]),
        }
        records.append(("stock.quant", n, doc, q["updated"]))
    partner_ids = {}
    for c in data.customers:
        pid = 100 + c["index"]
        partner_ids[c["index"]] = pid
        doc = {
            "name": f"{c['firstname']} {c['lastname']}",
            "email": c["email"],
            "phone": c["phone"],
            "mobile": False,
            "street": c["street"],
            "street2": False,
            "city": c["city"],
            "zip": c["postcode"],
            "country_id": COUNTRY_IDS[c["country"]],
            "lang": c["locale"] if c["locale"] == "fr_FR" else "en_GB",
            "is_company": False,
            "customer_rank": 1,
            "active": True,
            "ref": False,
            "create_date": _dt(c["created"]),
        }
        records.append(("res.partner", pid, doc, c["updated"]))
    line_id = 0
    for o in data.orders:
        lines = []
        for line in o["lines"]:
            line_id += 1
            lines.append(line_id)
            doc = {
                "order_id": o["number"],
                "product_id": product_ids[line["sku"]],
                "name": f"[{line['sku']}] {line['name']}",
                "product_uom_qty": float(line["qty"]),
                "price_unit": line["price"],
                "price_subtotal": line["row_total"],
                "price_total": round(line["row_total"] * 1.2, 2),
                "tax_rate": 20.0,
                "create_date": _dt(o["created"]),
            }
            records.append(("sale.order.line", line_id, doc, o["updated"]))
        doc = {
            "name": f"S{o['number']:05d}",
            "partner_id": partner_ids[o["customer"]],
            "date_order": _dt(o["created"]),
            "client_order_ref": o["increment_id"],
            "amount_untaxed": round(o["subtotal"] + o["shipping"], 2),
            "amount_tax": o["tax"],
            "amount_total": o["total"],
            "state": SO_STATES[o["status"]],
            "order_line": lines,
            "currency_id": "EUR",
            "note": False,
            "create_date": _dt(o["created"]),
        }
        records.append(("sale.order", o["number"], doc, o["updated"]))
    load(store, records)


# -- records -----------------------------------------------------------------------------------
def _fields(model: str) -> dict[str, Field]:
    return {**COMMON, **MODELS[model]}


def display_name(store: Store, model: str, rid: int, doc: dict[str, Any] | None = None) -> str:
    doc = doc if doc is not None else store.get(model, rid)
    if doc is None:
        return ""
    if model in ("product.product", "product.template"):
        return f"[{doc['default_code']}] {doc['name']}" if doc.get("default_code") else doc["name"]
    if model == "stock.location":
        return doc.get("complete_name") or doc["name"]
    if model == "stock.quant":
        return display_name(store, "product.product", doc["product_id"])
    if model == "sale.order.line":
        order = store.get("sale.order", doc["order_id"])
        return f"{order['name'] if order else ''} - {doc.get('name') or ''}"
    return doc.get("name") or f"{model},{rid}"


class Context:
    """One model of one store, with the helpers the ORM methods need."""

    def __init__(self, store: Store, model: str) -> None:
        if model not in MODELS:
            raise OdooError("builtins.KeyError", f"'{model}'")
        self.store, self.model, self.fields = store, model, _fields(model)

    def value(self, rid: int, doc: dict[str, Any], field: str) -> Any:
        """A field as Odoo returns it from read()."""
        if field == "id":
            return rid
        if field == "write_date":
            return odoo_datetime(doc["updated_at"])
        if field == "display_name":
            return display_name(self.store, self.model, rid, doc)
        if field == "product_variant_count":
            return len(doc.get("product_variant_ids") or [])
        kind, relation, _, _ = self.fields[field]
        raw = doc.get(field, False)
        if kind == "many2one":
            if not raw:
                return False
            return [raw, display_name(self.store, relation, raw)]  # type: ignore[arg-type]
        if raw is None:
            return False
        return raw

    def raw(self, rid: int, doc: dict[str, Any], field: str) -> Any:
        """A field for comparisons in domains (many2one as its id)."""
        if field == "id":
            return rid
        if field == "write_date":
            return odoo_datetime(doc["updated_at"])
        if field == "display_name":
            return display_name(self.store, self.model, rid, doc)
        if field == "product_variant_count":
            return len(doc.get("product_variant_ids") or [])
        raw = doc.get(field, False)
        return False if raw is None else raw

    def read(self, rid: int, doc: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        names = fields or list(self.fields)
        out: dict[str, Any] = {"id": rid}
        for name in names:
            if name not in self.fields:
                raise value_error(f"Invalid field {name!r} on model {self.model!r}")
            out[name] = self.value(rid, doc, name)
        return out


# -- domains -----------------------------------------------------------------------------------
Predicate = Callable[[int, dict[str, Any]], bool]


def _like(pattern: str, case: bool, wrap: bool) -> re.Pattern[str]:
    body = (
        ".*".join(re.escape(p).replace("_", ".") for p in pattern.split("%"))
        if not wrap
        else ".*" + re.escape(pattern) + ".*"
    )
    return re.compile(f"^{body}$", 0 if case else re.IGNORECASE | re.DOTALL)


def _leaf(ctx: Context, leaf: Any) -> Predicate:
    if not isinstance(leaf, list | tuple) or len(leaf) != 3:
        raise value_error(f"Invalid leaf {leaf!r}")
    field, op, value = leaf
    if not isinstance(field, str):
        raise value_error(f"Invalid leaf {leaf!r}")
    path = field.split(".")
    if path[0] not in ctx.fields:
        raise value_error(f"Invalid field {ctx.model}.{path[0]} in leaf {tuple(leaf)!r}")
    if len(path) == 2:  # e.g. ("product_id.default_code", "=", "X"): follow one many2one
        kind, relation, _, _ = ctx.fields[path[0]]
        if kind != "many2one" or relation is None:
            raise value_error(f"Invalid field path {field!r}")
        sub = Context(ctx.store, relation)
        inner = _leaf(sub, [path[1], op, value])

        def follow(rid: int, doc: dict[str, Any]) -> bool:
            target = doc.get(path[0])
            tdoc = ctx.store.get(relation, target) if target else None
            return tdoc is not None and inner(target, tdoc)

        return follow
    kind = ctx.fields[field][0]
    get = ctx.raw
    op = op.lower() if isinstance(op, str) else op

    def cmp_ok(a: Any, b: Any, fn: Callable[[Any, Any], bool]) -> bool:
        if a is False or a is None or b is False or b is None:
            return False
        if kind == "many2one" and isinstance(b, list | tuple):
            b = b[0]
        try:
            return fn(a, b)
        except TypeError:
            return fn(str(a), str(b))

    if op in ("=", "=="):
        if kind == "many2one" and isinstance(value, str):
            rx = _like(value, False, True)
            return lambda rid, d: (
                bool(get(rid, d, field))
                and bool(rx.match(display_name(ctx.store, ctx.fields[field][1], get(rid, d, field))))
            )  # type: ignore[arg-type]
        if value is False or value is None:
            return lambda rid, d: get(rid, d, field) in (False, None, "", [])
        return lambda rid, d: get(rid, d, field) == value
    if op in ("!=", "<>"):
        if value is False or value is None:
            return lambda rid, d: get(rid, d, field) not in (False, None, "", [])
        return lambda rid, d: get(rid, d, field) != value
    if op in (">", ">=", "<", "<="):
        fn = {
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }[op]
        return lambda rid, d: cmp_ok(get(rid, d, field), value, fn)
    if op in ("in", "not in"):
        if not isinstance(value, list | tuple):
            value = [value]
        values = {v for v in value if not isinstance(v, list)}
        want = op == "in"
        if kind == "one2many":
            return lambda rid, d: bool(values.intersection(get(rid, d, field) or [])) is want
        falsy = False in values
        return lambda rid, d: ((get(rid, d, field) in values) or (falsy and not get(rid, d, field))) is want
    if op in ("like", "ilike", "not like", "not ilike", "=like", "=ilike"):
        case = op in ("like", "not like", "=like")
        wrap = not op.startswith("=")
        rx = _like(str(value), case, wrap)
        negate = op.startswith("not")

        def like(rid: int, d: dict[str, Any]) -> bool:
            got = get(rid, d, field)
            if kind == "many2one":
                got = display_name(ctx.store, ctx.fields[field][1], got) if got else ""  # type: ignore[arg-type]
            matched = bool(got) and bool(rx.match(str(got)))
            return matched is not negate

        return like
    raise value_error(f"Invalid domain operator {op!r}")


def compile_domain(ctx: Context, domain: Any) -> Predicate | None:
    if not domain:
        return None
    if not isinstance(domain, list):
        raise value_error(f"Invalid domain {domain!r}")
    items = list(domain)
    pos = 0

    def parse() -> Predicate:
        nonlocal pos
        if pos >= len(items):
            raise value_error(f"Invalid domain {domain!r}")
        item = items[pos]
        pos += 1
        if item == "&" or item == "|":
            left, right = parse(), parse()
            if item == "&":
                return lambda rid, d: left(rid, d) and right(rid, d)
            return lambda rid, d: left(rid, d) or right(rid, d)
        if item == "!":
            inner = parse()
            return lambda rid, d: not inner(rid, d)
        return _leaf(ctx, item)

    terms = []
    while pos < len(items):
        terms.append(parse())
    if len(terms) == 1:
        return terms[0]
    return lambda rid, d: all(t(rid, d) for t in terms)


def _index_hints(domain: Any) -> tuple[str | None, bool, int | None]:
    """From top-level AND leaves: the tightest write_date lower bound (as a store stamp, with
    inclusiveness) and id lower bound, to start scans from the indexes."""
    since, inclusive, after_id = None, False, None
    if not isinstance(domain, list) or any(isinstance(x, str) for x in domain):
        return since, inclusive, after_id
    for leaf in domain:
        if not isinstance(leaf, list | tuple) or len(leaf) != 3:
            continue
        field, op, value = leaf
        if (
            field == "write_date"
            and op in (">", ">=")
            and isinstance(value, str)
            and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value)
        ):
            bound = f"{value[:10]}T{value[11:19]}.{'999999' if op == '>' else '000000'}Z"
            if since is None or bound > since:
                since, inclusive = bound, op == ">="
        if field == "id" and op in (">", ">=") and isinstance(value, int) and not isinstance(value, bool):
            bound = value if op == ">" else value - 1
            after_id = bound if after_id is None else max(after_id, bound)
    return since, inclusive, after_id


def _order_keys(ctx: Context, order: str | None) -> list[tuple[str, bool]]:
    if not order:
        return [("id", False)]
    keys = []
    for part in order.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        field = bits[0]
        if field not in ctx.fields:
            raise value_error(f"Invalid field {field!r} on model {ctx.model!r}")
        direction = bits[1].lower() if len(bits) > 1 else "asc"
        if direction not in ("asc", "desc"):
            raise value_error(f"Invalid order {order!r}")
        keys.append((field, direction == "desc"))
    return keys or [("id", False)]


def search(
    ctx: Context, domain: Any, *, offset: int = 0, limit: int | None = None, order: str | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Matching (id, doc) pairs, ordered, sliced."""
    predicate = compile_domain(ctx, domain)
    keys = _order_keys(ctx, order)
    since, inclusive, after_id = _index_hints(domain)
    store, model = ctx.store, ctx.model
    by_id = keys == [("id", False)]
    by_write = keys in ([("write_date", False), ("id", False)], [("write_date", False)])
    if by_id and predicate is None:
        return [
            (doc["_id"], doc) for doc in store.scan_by_id(model, after=after_id, limit=limit, offset=offset)
        ]
    if by_id or by_write:
        source = (
            _by_write_date(store, model, since, inclusive)
            if by_write
            else store.iter_by_id(model, after=after_id)
        )
        # ordered source: stream and stop early
        out = []
        skipped = 0
        for doc in source:
            rid = doc["_id"]
            if predicate is None or predicate(rid, doc):
                if skipped < offset:
                    skipped += 1
                    continue
                out.append((rid, doc))
                if limit is not None and len(out) >= limit:
                    break
        return out
    if since is not None:
        candidates = store.iter_by_updated(model, since=since, inclusive=inclusive)
    else:
        candidates = store.iter_by_id(model, after=after_id)
    matches = [(doc["_id"], doc) for doc in candidates if predicate is None or predicate(doc["_id"], doc)]
    for field, reverse in reversed(keys):
        matches.sort(key=lambda pair, f=field: _sortable(ctx.raw(pair[0], pair[1], f)), reverse=reverse)
    end = None if limit is None else offset + limit
    return matches[offset:end]


def _by_write_date(store: Store, model: str, since: str | None, inclusive: bool):
    """Records in Odoo's ``write_date asc, id asc`` order: write_date has whole seconds, so
    records written within one second come by id (the store's index has microseconds)."""
    group: list[dict[str, Any]] = []
    second = None
    for doc in store.iter_by_updated(model, since=since, inclusive=inclusive):
        key = doc["updated_at"][:19]
        if key != second:
            if group:
                group.sort(key=lambda d: d["_id"])
                yield from group
            group, second = [], key
        group.append(doc)
    if group:
        group.sort(key=lambda d: d["_id"])
        yield from group


def _sortable(value: Any) -> tuple[int, Any]:
    if value is False or value is None:
        return (0, 0)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value))


def count(ctx: Context, domain: Any) -> int:
    if not domain:
        return ctx.store.count(ctx.model)
    return len(search(ctx, domain))


# -- writes ------------------------------------------------------------------------------------
def _next_id(store: Store, model: str) -> int:
    current = max(int(store.get_meta(f"seq:{model}", 0) or 0), int(store.max_id(model) or 0))
    store.set_meta(f"seq:{model}", current + 1)
    return current + 1


def _check_vals(ctx: Context, vals: Any, creating: bool) -> dict[str, Any]:
    if not isinstance(vals, dict):
        raise value_error(f"Invalid values {vals!r}")
    clean: dict[str, Any] = {}
    for name, value in vals.items():
        spec = ctx.fields.get(name)
        if spec is None:
            raise value_error(f"Invalid field {name!r} on model {ctx.model!r}")
        kind, relation, _required_flag, readonly = spec
        if name in COMMON or (readonly and name not in ("complete_name",)):
            continue  # Odoo ignores writes to readonly computed fields
        if kind == "many2one":
            if isinstance(value, list | tuple) and value:
                value = value[0]
            if value in (False, None, 0):
                value = False
            elif not isinstance(value, int) or ctx.store.get(relation, value) is None:  # type: ignore[arg-type]
                raise OdooError(
                    "odoo.exceptions.MissingError",
                    f"Record does not exist or has been deleted.\n(Record: {relation}({value},), User: 2)",
                )
        elif kind in ("float",):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise value_error(
                    f"could not convert string to float: {value!r}"
                    if isinstance(value, str)
                    else f"Invalid value {value!r} for field {name!r}"
                )
            value = float(value)
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise value_error(f"invalid literal for int() with base 10: {value!r}")
        elif kind == "boolean":
            value = bool(value)
        elif kind == "selection":
            allowed = SELECTIONS.get((ctx.model, name))
            if allowed and value not in allowed:
                raise value_error(f"Wrong value for {ctx.model}.{name}: {value!r}")
        elif kind in ("char", "text", "datetime"):
            if value is not False and value is not None and not isinstance(value, str):
                value = str(value)
        elif kind == "one2many":
            continue  # handled by the caller
        clean[name] = value
    return clean


def _required(ctx: Context, doc: dict[str, Any]) -> None:
    for name, (_kind, _rel, required, _ro) in ctx.fields.items():
        if required and doc.get(name) in (None, False, ""):
            raise validation(
                "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
                "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
                f"Model: {LABELS[ctx.model]} ({ctx.model})\nField: {name.replace('_', ' ').title()} ({name})"
            )


def _unique_barcode(ctx: Context, rid: int | None, doc: dict[str, Any], pending: dict[str, int]) -> None:
    """Odoo 17 refuses a barcode already on another product (``_barcode`` is the store's index)."""
    if ctx.model != "product.product" or not doc.get("barcode"):
        return
    barcode = doc["barcode"]
    ref = ctx.store.get("_barcode", barcode)
    owner = pending.get(barcode, ref["id"] if ref else None)
    if owner is not None and owner != rid:
        name = display_name(ctx.store, "product.product", owner) if owner > 0 else barcode
        raise validation(
            f'Barcode(s) already assigned:\n\n- Barcode "{barcode}" already assigned to product(s): {name}'
        )


def _index_barcode(store: Store, rid: int, old: dict[str, Any] | None, new: dict[str, Any] | None) -> None:
    before = (old or {}).get("barcode") or None
    after = (new or {}).get("barcode") or None
    if before == after:
        return
    if before:
        store.delete("_barcode", before)
    if after:
        store.put("_barcode", after, {"id": rid})


def _new_template(store: Store, variant: dict[str, Any], now: str) -> int:
    """The template Odoo creates for a variant created without one."""
    tid = _next_id(store, "product.template")
    doc = {**DEFAULTS["product.template"], **{k: variant.get(k) for k in TEMPLATE_FIELDS}}
    doc.update(create_date=now, product_variant_ids=[], _id=tid)
    store.put("product.template", tid, doc)
    return tid


def _join_template(store: Store, vid: int, variant: dict[str, Any]) -> None:
    template = store.get("product.template", variant["product_tmpl_id"])
    if template is None:
        return
    doc = {k: v for k, v in template.items() if k != "updated_at"}
    doc["product_variant_ids"] = [*doc.get("product_variant_ids", []), vid]
    if len(doc["product_variant_ids"]) == 1:
        doc.update({k: variant.get(k) for k in VARIANT_OWNED})
    else:  # several variants: the template shows no single variant's code, barcode, cost or weight
        doc.update(default_code=False, barcode=False)
    store.put("product.template", doc["_id"], doc)


def _put_changed(store: Store, model: str, rid: int, changes: dict[str, Any]) -> None:
    old = store.get(model, rid)
    if old is None:
        return
    doc = {k: v for k, v in old.items() if k != "updated_at"}
    if any(doc.get(k) != v for k, v in changes.items()):
        doc.update(changes)
        store.put(model, rid, doc)
        if model == "product.product":
            _index_barcode(store, rid, old, doc)


def _through_template(store: Store, variant: dict[str, Any], clean: dict[str, Any]) -> None:
    """A variant's write reaches its template (and, for the template's own fields, its siblings)."""
    tid = variant.get("product_tmpl_id")
    template = store.get("product.template", tid) if tid else None
    if template is None:
        return
    siblings = template.get("product_variant_ids") or []
    owned = {k: v for k, v in clean.items() if k in TEMPLATE_OWNED}
    changes = dict(owned)
    if len(siblings) == 1:
        changes.update({k: v for k, v in clean.items() if k in VARIANT_OWNED})
    _put_changed(store, "product.template", tid, changes)
    for vid in siblings:
        if vid != variant["_id"] and owned:
            _put_changed(store, "product.product", vid, owned)


def _to_variants(ctx: Context, records, clean: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    """The variant writes a template write implies, checked (barcodes) before anything is written."""
    planned = []
    pending: dict[str, int] = {}
    variants = Context(ctx.store, "product.product")
    for _rid, template in records:
        ids = template.get("product_variant_ids") or []
        changes = {k: v for k, v in clean.items() if k in TEMPLATE_OWNED}
        if len(ids) == 1:  # the inverse of default_code, barcode…: only with a single variant
            changes.update({k: v for k, v in clean.items() if k in VARIANT_OWNED})
        for vid in ids:
            old = ctx.store.get("product.product", vid)
            if old is None or not changes:
                continue
            _unique_barcode(variants, vid, {**old, **changes}, pending)
            if changes.get("barcode"):
                pending[changes["barcode"]] = vid
            planned.append((vid, changes))
    return planned


def _recompute_order(store: Store, order_id: int, now_lines: list[int] | None = None) -> None:
    order = store.get("sale.order", order_id)
    if order is None:
        return
    doc = {k: v for k, v in order.items() if k != "updated_at"}
    lines = now_lines if now_lines is not None else doc.get("order_line", [])
    untaxed = tax = 0.0
    for lid in lines:
        line = store.get("sale.order.line", lid)
        if line:
            untaxed += line.get("price_subtotal", 0.0)
            tax += line.get("price_total", 0.0) - line.get("price_subtotal", 0.0)
    doc["order_line"] = list(lines)
    doc["amount_untaxed"], doc["amount_tax"] = round(untaxed, 2), round(tax, 2)
    doc["amount_total"] = round(untaxed + tax, 2)
    store.put("sale.order", order_id, doc)


def _line_amounts(doc: dict[str, Any]) -> None:
    subtotal = round(float(doc.get("product_uom_qty") or 0) * float(doc.get("price_unit") or 0), 2)
    doc["price_subtotal"] = subtotal
    doc["price_total"] = round(subtotal * (1 + float(doc.get("tax_rate") or 0) / 100), 2)


def create(ctx: Context, vals_list: list[dict[str, Any]]) -> list[int]:
    """Validate everything first, then write: one bad record fails the whole call."""
    store = ctx.store
    now = _dt(datetime.now(UTC))
    planned: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    barcodes: dict[str, int] = {}
    for vals in vals_list:
        clean = _check_vals(ctx, vals, True)
        doc = {**DEFAULTS[ctx.model], **clean, "create_date": now}
        if ctx.model == "stock.location":
            parent = "WH"
            doc["complete_name"] = clean.get("complete_name") or f"{parent}/{doc['name']}"
        if ctx.model == "sale.order.line":
            _line_amounts(doc)
        if ctx.model == "product.product" and doc.get("product_tmpl_id"):
            template = store.get("product.template", doc["product_tmpl_id"]) or {}
            for name in TEMPLATE_OWNED:  # a new variant of a template takes the template's values
                if name not in clean:
                    doc[name] = template.get(name, DEFAULTS["product.template"].get(name, False))
        variant: dict[str, Any] | None = None
        if ctx.model == "product.template":  # creating a template creates its (single) variant
            variant = {
                **DEFAULTS["product.product"],
                **{k: doc.get(k, False) for k in TEMPLATE_FIELDS},
                "create_date": now,
            }
            _unique_barcode(Context(store, "product.product"), None, variant, barcodes)
            if variant.get("barcode"):
                barcodes[variant["barcode"]] = -1
        lines: list[dict[str, Any]] = []
        if ctx.model == "sale.order":
            commands = vals.get("order_line") or []
            line_ctx = Context(store, "sale.order.line")
            for command in commands:
                if not isinstance(command, list | tuple) or len(command) != 3 or command[0] != 0:
                    raise value_error(
                        f"Invalid one2many command {command!r} (only (0, 0, values) is supported here)"
                    )
                line_vals = _check_vals(
                    line_ctx, {k: v for k, v in command[2].items() if k != "order_id"}, True
                )
                lines.append({**DEFAULTS["sale.order.line"], **line_vals, "create_date": now})
            doc["order_line"] = []
            doc.setdefault("date_order", now)
            if not doc.get("date_order"):
                doc["date_order"] = now
        _required(ctx, doc)
        _unique_barcode(ctx, None, doc, barcodes)
        if doc.get("barcode") and ctx.model == "product.product":
            barcodes[doc["barcode"]] = -1
        planned.append((doc, lines, variant))
    ids = []
    for doc, lines, variant in planned:
        if ctx.model == "product.product" and not doc.get("product_tmpl_id"):
            doc["product_tmpl_id"] = _new_template(store, doc, now)
        rid = _next_id(store, ctx.model)
        if ctx.model == "sale.order" and not doc.get("name"):
            doc["name"] = f"S{rid:05d}"
        doc["_id"] = rid
        store.put(ctx.model, rid, doc)
        if ctx.model == "product.product":
            _index_barcode(store, rid, None, doc)
            _join_template(store, rid, doc)
        if variant is not None:
            vid = _next_id(store, "product.product")
            variant.update(_id=vid, product_tmpl_id=rid)
            store.put("product.product", vid, variant)
            _index_barcode(store, vid, None, variant)
            store.put(
                "product.template", rid, {**store.get("product.template", rid), "product_variant_ids": [vid]}
            )  # type: ignore[dict-item]
        if ctx.model == "sale.order":
            line_ids = []
            for line in lines:
                lid = _next_id(store, "sale.order.line")
                line["order_id"] = rid
                line["_id"] = lid
                _line_amounts(line)
                store.put("sale.order.line", lid, line)
                line_ids.append(lid)
            _recompute_order(store, rid, line_ids)
        if ctx.model == "sale.order.line":
            order = store.get("sale.order", doc["order_id"])
            _recompute_order(store, doc["order_id"], [*order.get("order_line", []), rid])  # type: ignore[union-attr]
        ids.append(rid)
    return ids


def _existing(ctx: Context, ids: Any) -> list[tuple[int, dict[str, Any]]]:
    if isinstance(ids, int) and not isinstance(ids, bool):
        ids = [ids]
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise value_error(f"Invalid ids {ids!r}")
    found = []
    missing = []
    for rid in ids:
        doc = ctx.store.get(ctx.model, rid)
        if doc is None:
            missing.append(rid)
        else:
            found.append((rid, doc))
    if missing:
        raise OdooError(
            "odoo.exceptions.MissingError",
            f"Record does not exist or has been deleted.\n(Record: {ctx.model}({', '.join(map(str, missing))},), User: 2)",
        )
    return found


def write(ctx: Context, ids: Any, vals: Any) -> bool:
    records = _existing(ctx, ids)
    clean = _check_vals(ctx, vals, False)
    if ctx.model == "sale.order" and "order_line" in (vals or {}):
        raise value_error(
            "Writing order_line commands is not supported by the sandbox; create sale.order.line records instead"
        )
    pending: dict[str, int] = {}
    updates = []
    for rid, old in records:
        doc = {k: v for k, v in old.items() if k != "updated_at"}
        doc.update(clean)
        if ctx.model == "sale.order.line":
            _line_amounts(doc)
        _required(ctx, doc)
        _unique_barcode(ctx, rid, doc, pending)
        if doc.get("barcode") and ctx.model == "product.product":
            pending[doc["barcode"]] = rid
        updates.append((rid, old, doc))
    variant_writes = _to_variants(ctx, records, clean) if ctx.model == "product.template" else []
    for rid, old, doc in updates:
        if {k: v for k, v in old.items() if k != "updated_at"} != doc:
            ctx.store.put(ctx.model, rid, doc)
            if ctx.model == "product.product":
                _index_barcode(ctx.store, rid, old, doc)
                _through_template(ctx.store, doc, clean)
            if ctx.model == "sale.order.line":
                _recompute_order(ctx.store, doc["order_id"])
    for vid, changes in variant_writes:
        _put_changed(ctx.store, "product.product", vid, changes)
    return True


def _leave_template(store: Store, vid: int, variant: dict[str, Any]) -> None:
    """Odoo unlinks a template whose last variant is unlinked."""
    tid = variant.get("product_tmpl_id")
    template = store.get("product.template", tid) if tid else None
    if template is None:
        return
    rest = [v for v in template.get("product_variant_ids") or [] if v != vid]
    if not rest:
        store.delete("product.template", tid)
        return
    doc = {k: v for k, v in template.items() if k != "updated_at"}
    doc["product_variant_ids"] = rest
    if len(rest) == 1:
        remaining = store.get("product.product", rest[0]) or {}
        doc.update({k: remaining.get(k, False) for k in VARIANT_OWNED})
    store.put("product.template", tid, doc)


# Required many2one fields are ``ondelete="restrict"`` in Odoo: unlinking a record they point to
# fails with the database's foreign-key error, worded by Odoo (``_as_validation_error``).
RESTRICTS = {"res.partner": [("sale.order", "partner_id", "sale_order_partner_id_fkey")]}


def _check_restrict(ctx: Context, ids: list[int]) -> None:
    doomed = set(ids)
    for model, field, constraint in RESTRICTS.get(ctx.model, []):
        if any(doc.get(field) in doomed for doc in ctx.store.iter_by_id(model)):
            raise validation(
                "The operation cannot be completed: another model requires the record being deleted. "
                "If possible, archive it instead.\n\n"
                f"Model: {LABELS[model]} ({model})\nConstraint: {constraint}"
            )


def unlink(ctx: Context, ids: Any) -> bool:
    records = _existing(ctx, ids)
    _check_restrict(ctx, [rid for rid, _doc in records])
    for rid, doc in records:
        ctx.store.delete(ctx.model, rid)
        if ctx.model == "product.product":
            _index_barcode(ctx.store, rid, doc, None)
            _leave_template(ctx.store, rid, doc)
        if ctx.model == "product.template":  # a template's variants go with it
            for vid in doc.get("product_variant_ids") or []:
                variant = ctx.store.get("product.product", vid)
                if variant is not None:
                    ctx.store.delete("product.product", vid)
                    _index_barcode(ctx.store, vid, variant, None)
        if ctx.model == "sale.order":
            for lid in doc.get("order_line", []):
                ctx.store.delete("sale.order.line", lid)
        if ctx.model == "sale.order.line":
            order = ctx.store.get("sale.order", doc["order_id"])
            if order:
                _recompute_order(
                    ctx.store, doc["order_id"], [x for x in order.get("order_line", []) if x != rid]
                )
    return True


# -- dispatch ----------------------------------------------------------------------------------
def _kw(kwargs: dict[str, Any], args: list[Any], position: int, name: str, default: Any = None) -> Any:
    if name in kwargs:
        return kwargs[name]
    if len(args) > position:
        return args[position]
    return default


def execute(store: Store, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if model == "res.users" and method == "context_get":
        return {"lang": "en_US", "tz": "Europe/Brussels"}
    ctx = Context(store, model)
    if method == "search_read":
        domain = _kw(kwargs, args, 0, "domain", [])
        fields = _kw(kwargs, args, 1, "fields")
        offset = int(_kw(kwargs, args, 2, "offset", 0) or 0)
        limit = _kw(kwargs, args, 3, "limit")
        order = _kw(kwargs, args, 4, "order")
        return [
            ctx.read(rid, doc, fields)
            for rid, doc in search(ctx, domain, offset=offset, limit=limit or None, order=order)
        ]
    if method == "search":
        domain = _kw(kwargs, args, 0, "domain", [])
        offset = int(_kw(kwargs, args, 1, "offset", 0) or 0)
        limit = _kw(kwargs, args, 2, "limit")
        order = _kw(kwargs, args, 3, "order")
        return [rid for rid, _ in search(ctx, domain, offset=offset, limit=limit or None, order=order)]
    if method == "search_count":
        return count(ctx, _kw(kwargs, args, 0, "domain", []))
    if method == "read":
        ids = _kw(kwargs, args, 0, "ids", [])
        fields = _kw(kwargs, args, 1, "fields")
        return [ctx.read(rid, doc, fields) for rid, doc in _existing(ctx, ids)]
    if method == "create":
        vals = _kw(kwargs, args, 0, "vals_list", _kw(kwargs, args, 0, "vals"))
        if isinstance(vals, list):
            return create(ctx, vals)
        return create(ctx, [vals])[0]
    if method == "write":
        return write(ctx, _kw(kwargs, args, 0, "ids"), _kw(kwargs, args, 1, "vals"))
    if method == "unlink":
        return unlink(ctx, _kw(kwargs, args, 0, "ids"))
    if method == "fields_get":
        wanted = _kw(kwargs, args, 0, "allfields")
        out = {}
        for name, (kind, relation, required, readonly) in ctx.fields.items():
            if wanted and name not in wanted:
                continue
            info: dict[str, Any] = {
                "type": kind,
                "string": name.replace("_", " ").title(),
                "required": required,
                "readonly": readonly,
            }
            if relation:
                info["relation"] = relation
            out[name] = info
        return out
    if method == "name_get":
        return [
            [rid, display_name(store, model, rid, doc)]
            for rid, doc in _existing(ctx, _kw(kwargs, args, 0, "ids", []))
        ]
    raise OdooError("builtins.AttributeError", f"The method '{method}' does not exist on the model '{model}'")


def _erp(request: Request) -> SandboxApp:
    return sandbox_of(request)


def call(app: SandboxApp, params: Any) -> Any:
    creds: ErpCredentials = app.credentials
    if not isinstance(params, dict):
        raise OdooError("builtins.TypeError", "params must be an object")
    service, method, args = params.get("service"), params.get("method"), params.get("args") or []
    if service == "common":
        if method == "version":
            return {
                "server_version": SERVER_VERSION,
                "server_version_info": [17, 0, 0, "final", 0, ""],
                "server_serie": SERVER_VERSION,
                "protocol_version": 1,
            }
        if method in ("authenticate", "login"):
            if len(args) < 3:
                raise OdooError("builtins.TypeError", f"{method}() missing required positional arguments")
            db, login, password = args[0], args[1], args[2]
            if db != creds.db:
                raise OdooError(
                    "psycopg2.OperationalError",
                    f'connection to server failed: FATAL:  database "{db}" does not exist',
                )
            return creds.uid if (login, password) == (creds.login, creds.password) else False
        raise OdooError("builtins.AttributeError", f"Method not available {method}")
    if service == "object":
        if method not in ("execute_kw", "execute"):
            raise OdooError("builtins.AttributeError", f"Method not available {method}")
        if len(args) < 5:
            raise OdooError("builtins.TypeError", "execute_kw() missing required positional arguments")
        db, uid, password, model, rpc_method = args[:5]
        if db != creds.db:
            raise OdooError(
                "psycopg2.OperationalError",
                f'connection to server failed: FATAL:  database "{db}" does not exist',
            )
        if uid != creds.uid or password != creds.password:
            raise access_denied()
        if method == "execute":
            call_args, call_kwargs = list(args[5:]), {}
        else:
            call_args = args[5] if len(args) > 5 else []
            call_kwargs = args[6] if len(args) > 6 else {}
        if not isinstance(call_args, list) or not isinstance(call_kwargs, dict):
            raise OdooError("builtins.TypeError", "execute_kw args must be a list and kwargs an object")
        call_kwargs = {k: v for k, v in call_kwargs.items() if k != "context"}
        with app.store._lock:
            return execute(app.store, model, rpc_method, call_args, call_kwargs)
    raise OdooError("builtins.Exception", f"No such service {service!r}")


async def jsonrpc(request: Request) -> Response:
    app = _erp(request)
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return json_response(
            {
                "jsonrpc": "2.0",
                "id": None,
                "error": {
                    "code": -32700,
                    "message": "Parse error",
                    "data": {"name": "werkzeug.exceptions.BadRequest", "message": "Invalid JSON data"},
                },
            },
            400,
        )
    rid = payload.get("id") if isinstance(payload, dict) else None
    try:
        if not isinstance(payload, dict) or payload.get("method") != "call":
            raise OdooError(
                "werkzeug.exceptions.BadRequest", 'Invalid JSON-RPC request: expected method "call"'
            )
        result = call(app, payload.get("params"))
    except OdooError as exc:
        return json_response({"jsonrpc": "2.0", "id": rid, "error": exc.payload()})
    return json_response({"jsonrpc": "2.0", "id": rid, "result": result})


# -- JSON-2 (Odoo 19) --------------------------------------------------------------------------
# The named parameters each method takes over /json/2 (besides ``ids`` and ``context``): JSON-2 has
# no positional arguments, and an unknown name is the method's own TypeError (HTTP 500), as in Odoo.
JSON2_PARAMS = {
    "search_read": {"domain", "fields", "offset", "limit", "order", "load"},
    "search": {"domain", "offset", "limit", "order"},
    "search_count": {"domain", "limit"},
    "read": {"fields", "load"},
    "create": {"vals_list"},
    "write": {"vals"},
    "unlink": set(),
    "fields_get": {"allfields", "attributes"},
    "context_get": set(),
}
# The HTTP status of Odoo's exceptions over JSON-2 (``UserError.http_status`` and its subclasses).
JSON2_STATUS = {
    "odoo.exceptions.AccessDenied": 403,
    "odoo.exceptions.AccessError": 403,
    "odoo.exceptions.MissingError": 404,
    "odoo.exceptions.ValidationError": 422,
    "odoo.exceptions.UserError": 422,
    "werkzeug.exceptions.BadRequest": 400,
    "werkzeug.exceptions.Unauthorized": 401,
    "werkzeug.exceptions.NotFound": 404,
}


def json2_error(name: str, message: str, status: int | None = None) -> Response:
    """Odoo's JSON-2 error: a 4xx/5xx status and the serialised exception."""
    status = status or JSON2_STATUS.get(name, 500)
    body = {
        "name": name,
        "message": message,
        "arguments": [message, status] if name.startswith("werkzeug.") else [message],
        "context": {},
        "debug": f"Traceback (most recent call last):\n  ...\n{name}: {message}\n",
    }
    return json_response(body, status)


async def json2(request: Request) -> Response:
    """``POST /json/2/<model>/<method>`` with ``Authorization: bearer <API key>``."""
    app = _erp(request)
    creds: ErpCredentials = app.credentials
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or key.strip() != creds.api_key:
        return json2_error("werkzeug.exceptions.Unauthorized", "Invalid apikey")
    database = request.headers.get("x-odoo-database")
    if database is not None and database != creds.db:
        return json2_error("werkzeug.exceptions.NotFound", f"database {database!r} not found")
    model, method = request.path_params["model"], request.path_params["method"]
    raw = await request.body()
    try:
        params = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        return json2_error("werkzeug.exceptions.BadRequest", f"could not parse the body as json: {exc}")
    if not isinstance(params, dict):
        return json2_error("werkzeug.exceptions.BadRequest", "the body must be a JSON object")
    params = {k: v for k, v in params.items() if k != "context"}
    if model == "res.users" and method == "context_get":
        return json_response({"lang": "en_US", "tz": "Europe/Brussels", "uid": creds.uid})
    if model not in MODELS:
        return json2_error("werkzeug.exceptions.NotFound", f"the model {model!r} does not exist")
    if method not in JSON2_PARAMS:
        return json2_error(
            "werkzeug.exceptions.NotFound", f"the model {model!r} does not have a {method!r} method"
        )
    unknown = sorted(set(params) - JSON2_PARAMS[method] - {"ids"})
    if unknown:
        return json2_error(
            "builtins.TypeError", f"{method}() got an unexpected keyword argument {unknown[0]!r}"
        )
    try:
        with app.store._lock:
            result = execute(app.store, model, method, [], params)
    except OdooError as exc:
        return json2_error(exc.name, exc.message)
    if method == "create" and not isinstance(result, list):
        result = [result]  # ``vals_list`` in, a list of ids out
    return json_response(result)


def seed_with_ids(store: Store, seed: int) -> None:
    """Seed, then remember each record's id inside it (``_id``) for domain evaluation."""

    class Tagging:
        def __getattr__(self, name: str) -> Any:
            return getattr(store, name)

        def put_many(self, entity: str, items: Any, *, stamps: Any = None) -> None:
            tagged = []
            for rid, doc in items:
                doc["_id"] = rid
                tagged.append((rid, doc))
            store.put_many(entity, tagged, stamps=stamps)

    seed_erp(Tagging(), seed)  # type: ignore[arg-type]


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: ErpCredentials | None = None,
    faults: FaultConfig | None = None,
) -> SandboxApp:
    """The ERP stand-in (Odoo 17 JSON-RPC, and Odoo 19's JSON-2 over the same store)."""
    return SandboxApp(
        name="erp",
        routes=[
            Route("/jsonrpc", jsonrpc, methods=["POST"]),
            Route("/json/2/{model}/{method}", json2, methods=["POST"]),
        ],
        store_path=store_path,
        seed=seed,
        seeder=seed_with_ids,
        faults=faults,
        error_body=error_body,
        credentials=credentials or ErpCredentials.from_env(),
    )
