"""PIM stand-in: the shape of the Akeneo PIM REST API v1.

- ``POST /api/oauth/v1/token``: password grant (HTTP Basic ``client_id:secret``, JSON or form
  body ``{"grant_type": "password", "username", "password"}``) and ``refresh_token`` grant;
  errors are 422 ``{"code": 422, "message": ...}`` with Akeneo's messages.
- ``/api/rest/v1/*`` needs ``Authorization: Bearer <access_token>``; unknown or expired → 401.
- ``GET /api/rest/v1/products``: ``pagination_type=search_after`` (ordered by identifier,
  ``search_after=<identifier>``) or ``page`` (``page``, ``with_count``); ``limit`` 10 by default,
  at most 100 (``max_limit`` option or ``SANDBOX_PIM_MAX_LIMIT`` raise it for benchmarks);
  ``search`` = URL-encoded JSON filters on ``updated`` (``>``, ``<``, ``=``, ``!=``, ``BETWEEN``,
  ``NOT BETWEEN``, ``SINCE LAST N DAYS``; ``Y-m-d H:i:s``, UTC), ``enabled``, ``family``,
  ``categories``, ``identifier``.
- ``GET/PATCH/DELETE /api/rest/v1/products/{code}`` and ``PATCH /api/rest/v1/products``
  (``application/vnd.akeneo.collection+json``, one product per line, one status line back each).
  A PATCH that changes nothing does not touch ``updated`` (as Akeneo, which does not save an
  unchanged product).
- ``GET /api/rest/v1/families|attributes|categories`` (page pagination) and ``/{code}``.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, base_url, dumps, env_int, json_response, sandbox_of
from .credentials import PimCredentials
from .faults import FaultConfig
from .seed import dataset, load
from .store import Store

LOCALES = ("fr_FR", "en_US")
ALL_LOCALES = ("de_DE", "en_GB", "en_US", "es_ES", "fr_FR", "it_IT")  # GET /locales lists them all
CHANNEL = "ecommerce"
# code -> (labels, locales)
CHANNELS = (
    ("ecommerce", {"en_US": "Ecommerce", "fr_FR": "E-commerce"}, ("en_US", "fr_FR")),
    ("print", {"en_US": "Print", "fr_FR": "Impression"}, ("fr_FR",)),
)
PRODUCT_MODEL_FIELDS = {
    "code", "family", "family_variant", "parent", "categories", "values", "associations",
    "quantified_associations", "created", "updated", "_links", "metadata",
}  # fmt: skip
CURRENCIES = ("EUR", "USD", "GBP")
WEIGHT_UNITS = ("KILOGRAM", "GRAM", "POUND")
COLLECTION_TYPE = "application/vnd.akeneo.collection+json"
DEFAULT_LIMIT = 10
PAGE_MODE_MAX_ITEMS = 10000

# code -> (type, localizable, scopable, labels)
ATTRIBUTES: dict[str, tuple[str, bool, bool, dict[str, str]]] = {
    "sku": ("pim_catalog_identifier", False, False, {"fr_FR": "SKU", "en_US": "SKU"}),
    "name": ("pim_catalog_text", True, False, {"fr_FR": "Nom", "en_US": "Name"}),
    "description": ("pim_catalog_textarea", True, True, {"fr_FR": "Description", "en_US": "Description"}),
    "price": ("pim_catalog_price_collection", False, False, {"fr_FR": "Prix", "en_US": "Price"}),
    "weight": ("pim_catalog_metric", False, False, {"fr_FR": "Poids", "en_US": "Weight"}),
    "ean": ("pim_catalog_text", False, False, {"fr_FR": "EAN", "en_US": "EAN"}),
    "color": ("pim_catalog_simpleselect", False, False, {"fr_FR": "Couleur", "en_US": "Color"}),
    "material": ("pim_catalog_simpleselect", False, False, {"fr_FR": "Matière", "en_US": "Material"}),
}
PRODUCT_FIELDS = {
    "identifier", "family", "categories", "enabled", "groups", "parent", "values", "associations",
    "quantified_associations", "created", "updated", "uuid", "_links", "metadata",
}  # fmt: skip


# -- formats -----------------------------------------------------------------------------------
def akeneo_datetime(stamp: str) -> str:
    """Store stamp → Akeneo's ``2025-05-27T05:03:44+00:00``."""
    return f"{stamp[:19]}+00:00"


def search_datetime(stamp: str) -> str:
    """Store stamp → the ``Y-m-d H:i:s`` that search filters compare."""
    return f"{stamp[:10]} {stamp[11:19]}"


def _v(data: Any, locale: str | None = None, scope: str | None = None) -> dict[str, Any]:
    return {"locale": locale, "scope": scope, "data": data}


def product_doc(p: dict[str, Any]) -> dict[str, Any]:
    created = p["created"].strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return {
        "identifier": p["sku"],
        "enabled": p["enabled"],
        "family": p["family"],
        "categories": list(p["categories"]),
        "groups": [],
        "parent": None,
        "values": {
            "sku": [_v(p["sku"])],
            "name": [_v(p["name_fr"], "fr_FR"), _v(p["name_en"], "en_US")],
            "description": [
                _v(p["description_fr"], "fr_FR", CHANNEL),
                _v(p["description_en"], "en_US", CHANNEL),
            ],
            "price": [_v([{"amount": f"{p['price']:.2f}", "currency": "EUR"}])],
            "weight": [_v({"amount": f"{p['weight']:.4f}", "unit": "KILOGRAM"})],
            "ean": [_v(p["ean"])],
            "color": [_v(p["color"].replace(" ", "_"))],
            "material": [_v(p["material"])],
        },
        "created": created,
        "associations": {},
        "quantified_associations": {},
    }


def seed_pim(store: Store, seed: int) -> None:
    data = dataset(seed)
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    start = datetime(2025, 1, 2, tzinfo=UTC)
    for n, (code, (kind, localizable, scopable, labels)) in enumerate(ATTRIBUTES.items()):
        doc = {
            "code": code,
            "type": kind,
            "group": "marketing" if code in ("name", "description") else "technical",
            "unique": kind == "pim_catalog_identifier",
            "useable_as_grid_filter": True,
            "localizable": localizable,
            "scopable": scopable,
            "labels": labels,
            "sort_order": n,
            "available_locales": [],
            "metric_family": "Weight" if kind == "pim_catalog_metric" else None,
            "default_metric_unit": "KILOGRAM" if kind == "pim_catalog_metric" else None,
            "decimals_allowed": True
            if kind in ("pim_catalog_metric", "pim_catalog_price_collection")
            else None,
            "negative_allowed": False
            if kind in ("pim_catalog_metric", "pim_catalog_price_collection")
            else None,
        }
        records.append(("attribute", code, doc, start + timedelta(seconds=n)))
    for n, c in enumerate(data.categories):
        doc = {"code": c["code"], "parent": c["parent"], "labels": dict(c["labels"])}
        records.append(("category", c["code"], doc, start + timedelta(minutes=1, seconds=n)))
    for n, f in enumerate(data.families):
        doc = {
            "code": f["code"],
            "attribute_as_label": "name",
            "attribute_as_image": None,
            "attributes": list(ATTRIBUTES),
            "attribute_requirements": {CHANNEL: ["sku", "name", "price"]},
            "labels": dict(f["labels"]),
        }
        records.append(("family", f["code"], doc, start + timedelta(minutes=2, seconds=n)))
    for p in data.products:
        records.append(("product", p["sku"], product_doc(p), p["updated"]))
    records.extend(catalog_structure(data, start))
    load(store, records)


def catalog_structure(data: Any, start: datetime) -> list[tuple[str, Any, dict[str, Any], datetime]]:
    """Channels, locales, the options of the select attributes and product models (two per family,
    varying on colour), dated after the attributes; the seeded products keep no parent."""
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    at = start + timedelta(minutes=3)
    for n, (code, labels, locales) in enumerate(CHANNELS):
        doc = {
            "code": code,
            "currencies": list(CURRENCIES),
            "locales": list(locales),
            "category_tree": "master",
            "conversion_units": {},
            "labels": labels,
        }
        records.append(("channel", code, doc, at + timedelta(seconds=n)))
    for n, code in enumerate(ALL_LOCALES):
        records.append(
            ("locale", code, {"code": code, "enabled": code in LOCALES}, at + timedelta(seconds=10 + n))
        )
    used: dict[str, set[str]] = {"color": set(), "material": set()}
    for p in data.products:
        used["color"].add(p["color"].replace(" ", "_"))
        used["material"].add(p["material"])
    for attribute, codes in used.items():
        for n, code in enumerate(sorted(codes)):
            label = code.replace("_", " ")
            doc = {
                "code": code,
                "attribute": attribute,
                "sort_order": n,
                "labels": {"en_US": label.capitalize(), "fr_FR": label.capitalize()},
            }
            records.append(("attribute_option", f"{attribute}/{code}", doc, at + timedelta(seconds=30 + n)))
    for n, family in enumerate(data.families):
        for k in (1, 2):
            code = f"{family['code']}_model_{k}"
            doc = {
                "code": code,
                "family": family["code"],
                "family_variant": f"{family['code']}_by_color",
                "parent": None,
                "categories": [f"master_{family['code']}"],
                "values": {
                    "name": [
                        _v(f"{family['labels']['fr_FR']} modèle {k}", "fr_FR"),
                        _v(f"{family['labels']['en_US']} model {k}", "en_US"),
                    ]
                },
                "associations": {},
                "quantified_associations": {},
                "created": (at + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            }
            records.append(("product_model", code, doc, at + timedelta(minutes=1, seconds=2 * n + k)))
    return records


# -- errors ------------------------------------------------------------------------------------
def error(status: int, message: str, **extra: Any) -> Response:
    return json_response({"code": status, "message": message, **extra}, status)


def error_body(status: int, message: str) -> tuple[bytes, str]:
    return dumps({"code": status, "message": message}), "application/json"


class Invalid(Exception):
    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": 422, "message": self.message}
        if self.errors:
            out["errors"] = self.errors
        return out


# -- auth --------------------------------------------------------------------------------------
class Tokens:
    def __init__(self, ttl: int) -> None:
        self.ttl = ttl
        self.access: dict[str, float] = {}
        self.refresh: dict[str, str] = {}

    def issue(self, username: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self.access[access] = time.monotonic() + self.ttl
        self.refresh[refresh] = username
        return {
            "access_token": access,
            "expires_in": self.ttl,
            "token_type": "bearer",
            "scope": None,
            "refresh_token": refresh,
        }


def _pim(request: Request) -> tuple[SandboxApp, Tokens]:
    app = sandbox_of(request)
    return app, app.options["tokens"]


def check_bearer(request: Request) -> Response | None:
    _, tokens = _pim(request)
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        return error(401, "Authentication is required")
    token = header[7:].strip()
    expires = tokens.access.get(token)
    if expires is None:
        return error(401, "The access token provided is invalid.")
    if time.monotonic() > expires:
        return error(401, "The access token provided has expired.")
    return None


def _basic(request: Request) -> tuple[str, str] | None:
    import base64

    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        raw = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None
    client, _, secret = raw.partition(":")
    return client, secret


async def token(request: Request) -> Response:
    app, tokens = _pim(request)
    creds: PimCredentials = app.credentials
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if content_type == "application/json":
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return error(400, "Invalid json message received")
    elif content_type == "application/x-www-form-urlencoded":
        params = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
    else:
        return error(
            415,
            f'"{content_type}" in "Content-Type" header is not valid. Only "application/json" or '
            '"application/x-www-form-urlencoded" are allowed.',
        )
    grant = params.get("grant_type")
    if grant == "refresh_token":
        refresh = params.get("refresh_token")
        if not refresh:
            return error(422, 'Parameter "grant_type" or "refresh_token" is missing or empty')
        if _basic(request) != (creds.client_id, creds.secret):
            return error(
                422, 'Parameter "client_id" is missing or does not match any client, or secret is invalid'
            )
        username = tokens.refresh.pop(refresh, None)
        if username is None:
            return error(422, "Refresh token is invalid or has expired")
        return json_response(tokens.issue(username))
    if grant not in ("password",) or not params.get("username") or not params.get("password"):
        if grant in ("token", "client_credentials", "authorization_code"):
            return error(422, "This grant type is not authorized for this client")
        return error(422, 'Parameter "grant_type", "username" or "password" is missing, empty or invalid')
    if _basic(request) != (creds.client_id, creds.secret):
        return error(
            422, 'Parameter "client_id" is missing or does not match any client, or secret is invalid'
        )
    if (params["username"], params["password"]) != (creds.username, creds.password):
        return error(422, "No user found for the given username and password")
    return json_response(tokens.issue(params["username"]))


# -- rendering ---------------------------------------------------------------------------------
def render_product(doc: dict[str, Any], base: str) -> dict[str, Any]:
    code = doc["identifier"]
    out = {"_links": {"self": {"href": f"{base}/api/rest/v1/products/{code}"}}}
    for key, value in doc.items():
        if key != "updated_at":
            out[key] = value
    out["updated"] = akeneo_datetime(doc["updated_at"])
    return out


# -- search filters ----------------------------------------------------------------------------
def _parse_search(raw: str | None) -> dict[str, list[dict[str, Any]]]:
    if not raw:
        return {}
    try:
        search = json.loads(raw)
    except ValueError as exc:
        raise Invalid("Search query parameter should be valid JSON.") from exc
    if not isinstance(search, dict):
        raise Invalid("Search query parameter should be valid JSON.")
    for prop, conditions in search.items():
        if not isinstance(conditions, list) or not all(isinstance(c, dict) for c in conditions):
            raise Invalid(
                f'Structure of filter "{prop}" should respect this structure: {{"{prop}":[{{"operator": "my_operator", "value": "my_value"}}]}}'
            )
        if prop not in ("updated", "created", "enabled", "family", "categories", "identifier"):
            raise Invalid(
                f'Filter on property "{prop}" is not supported or does not support operator "{conditions[0].get("operator") if conditions else ""}"'
            )
    return search


def _check_datetime(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid('Property "updated" expects a string with the format "yyyy-mm-dd H:i:s" as data.')
    try:
        datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise Invalid(
            f'Property "updated" expects a string with the format "yyyy-mm-dd H:i:s" as data, "{value}" given.'
        ) from exc
    return value


def _date_predicate(field: str, condition: dict[str, Any]):
    op = condition.get("operator")
    value = condition.get("value")
    key = "updated_at" if field == "updated" else "created"

    def seconds(doc: dict[str, Any]) -> str:
        raw = doc[key]
        return search_datetime(raw) if key == "updated_at" else f"{raw[:10]} {raw[11:19]}"

    if op in (">", "<", "=", "!="):
        v = _check_datetime(value)
        return {
            ">": lambda d: seconds(d) > v,
            "<": lambda d: seconds(d) < v,
            "=": lambda d: seconds(d) == v,
            "!=": lambda d: seconds(d) != v,
        }[op]
    if op in ("BETWEEN", "NOT BETWEEN"):
        if not isinstance(value, list) or len(value) != 2:
            raise Invalid(f'Property "{field}" expects an array with 2 elements as data.')
        low, high = _check_datetime(value[0]), _check_datetime(value[1])
        if op == "BETWEEN":
            return lambda d: low <= seconds(d) <= high
        return lambda d: not (low <= seconds(d) <= high)
    if op == "SINCE LAST N DAYS":
        if not isinstance(value, int) or value < 0:
            raise Invalid(f'Property "{field}" expects an integer as data.')
        edge = (datetime.now(UTC) - timedelta(days=value)).strftime("%Y-%m-%d %H:%M:%S")
        return lambda d: seconds(d) >= edge
    raise Invalid(f'Filter on property "{field}" is not supported or does not support operator "{op}"')


def build_filter(search: dict[str, list[dict[str, Any]]]) -> tuple[Any, str | None]:
    """A predicate over product docs, and the strictest ``updated >`` bound as a store stamp."""
    predicates = []
    since: str | None = None
    for field, conditions in search.items():
        for condition in conditions:
            op, value = condition.get("operator"), condition.get("value")
            if field in ("updated", "created"):
                predicates.append(_date_predicate(field, condition))
                if field == "updated" and op == ">":
                    bound = f"{value[:10]}T{value[11:19]}.999999Z"
                    since = bound if since is None or bound > since else since
            elif field == "enabled":
                if op not in ("=", "!=") or not isinstance(value, bool):
                    raise Invalid('Property "enabled" expects a boolean as data.')
                predicates.append(
                    (lambda v: lambda d: d["enabled"] is v)(value)
                    if op == "="
                    else (lambda v: lambda d: d["enabled"] is not v)(value)
                )
            elif field in ("family", "identifier"):
                values = value if isinstance(value, list) else [value]
                key = field
                if op == "IN":
                    predicates.append((lambda k, vs: lambda d: d.get(k) in vs)(key, set(values)))
                elif op == "NOT IN":
                    predicates.append((lambda k, vs: lambda d: d.get(k) not in vs)(key, set(values)))
                elif op == "EMPTY" and field == "family":
                    predicates.append(lambda d: d.get("family") is None)
                elif op == "NOT EMPTY" and field == "family":
                    predicates.append(lambda d: d.get("family") is not None)
                else:
                    raise Invalid(
                        f'Filter on property "{field}" is not supported or does not support operator "{op}"'
                    )
            elif field == "categories":
                values = set(value if isinstance(value, list) else [value])
                if op == "IN":
                    predicates.append((lambda vs: lambda d: bool(vs.intersection(d["categories"])))(values))
                elif op == "NOT IN":
                    predicates.append((lambda vs: lambda d: not vs.intersection(d["categories"]))(values))
                elif op == "UNCLASSIFIED":
                    predicates.append(lambda d: not d["categories"])
                else:
                    raise Invalid(
                        f'Filter on property "categories" is not supported or does not support operator "{op}"'
                    )
    if not predicates:
        return None, since
    if len(predicates) == 1:
        return predicates[0], since
    return (lambda ps: lambda d: all(p(d) for p in ps))(predicates), since


# -- products ----------------------------------------------------------------------------------
def _limit(request: Request, app: SandboxApp) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError as exc:
        raise Invalid(f'"{raw}" is not a valid limit number.') from exc
    if limit < 1:
        raise Invalid(f'"{raw}" is not a valid limit number.')
    max_limit = app.options["max_limit"]
    if limit > max_limit:
        raise Invalid(f"You cannot request more than {max_limit} items.")
    return limit


def _url(base: str, path: str, params: dict[str, Any]) -> str:
    return f"{base}{path}?{urlencode({k: v for k, v in params.items() if v is not None})}"


async def list_products(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    store = app.store
    q = request.query_params
    base = base_url(request)
    try:
        limit = _limit(request, app)
        search_raw = q.get("search")
        predicate, since = build_filter(_parse_search(search_raw))
    except Invalid as exc:
        return json_response(exc.payload(), 422)
    pagination = q.get("pagination_type", "page")
    keep = {
        "search": search_raw,
        "scope": q.get("scope"),
        "locales": q.get("locales"),
        "attributes": q.get("attributes"),
    }
    path = "/api/rest/v1/products"

    if pagination == "search_after":
        after = q.get("search_after")
        page = _select(store, predicate, since, after, limit)
        links: dict[str, Any] = {
            "self": {
                "href": _url(
                    base,
                    path,
                    {"pagination_type": "search_after", "limit": limit, "search_after": after, **keep},
                )
            },
            "first": {"href": _url(base, path, {"pagination_type": "search_after", "limit": limit, **keep})},
        }
        if len(page) == limit:
            links["next"] = {
                "href": _url(
                    base,
                    path,
                    {
                        "pagination_type": "search_after",
                        "limit": limit,
                        "search_after": page[-1]["identifier"],
                        **keep,
                    },
                )
            }
        items = [_filtered(render_product(d, base), q) for d in page]
        return json_response({"_links": links, "_embedded": {"items": items}})
    if pagination != "page":
        return error(422, f'Pagination type "{pagination}" is not supported.')
    try:
        page_no = int(q.get("page", "1"))
    except ValueError:
        return error(422, f'"{q.get("page")}" is not a valid page number.')
    if page_no < 1:
        return error(422, f'"{page_no}" is not a valid page number.')
    if page_no * limit > PAGE_MODE_MAX_ITEMS:
        return error(
            422,
            'You have reached the maximum number of pages you can retrieve with the "page" pagination type. '
            "Please use the search after pagination type instead",
            _links={
                "documentation": {
                    "href": "http://api.akeneo.com/documentation/pagination.html#search-after-type"
                }
            },
        )
    with_count = q.get("with_count", "false") == "true"
    page = _select(store, predicate, since, None, limit, offset=(page_no - 1) * limit)
    links = {
        "self": {
            "href": _url(
                base,
                path,
                {
                    "page": page_no,
                    "with_count": str(with_count).lower(),
                    "pagination_type": "page",
                    "limit": limit,
                    **keep,
                },
            )
        },
        "first": {
            "href": _url(
                base,
                path,
                {
                    "page": 1,
                    "with_count": str(with_count).lower(),
                    "pagination_type": "page",
                    "limit": limit,
                    **keep,
                },
            )
        },
    }
    if page_no > 1:
        links["previous"] = {
            "href": _url(
                base,
                path,
                {
                    "page": page_no - 1,
                    "with_count": str(with_count).lower(),
                    "pagination_type": "page",
                    "limit": limit,
                    **keep,
                },
            )
        }
    if len(page) == limit:
        links["next"] = {
            "href": _url(
                base,
                path,
                {
                    "page": page_no + 1,
                    "with_count": str(with_count).lower(),
                    "pagination_type": "page",
                    "limit": limit,
                    **keep,
                },
            )
        }
    payload: dict[str, Any] = {"_links": links, "current_page": page_no}
    if with_count:
        payload["items_count"] = _count(store, predicate, since)
    payload["_embedded"] = {"items": [_filtered(render_product(d, base), q) for d in page]}
    return json_response(payload)


def _filtered(product: dict[str, Any], q: Any) -> dict[str, Any]:
    """Apply ``scope``, ``locales`` and ``attributes`` query filters to the values."""
    scope, locales, attributes = q.get("scope"), q.get("locales"), q.get("attributes")
    if not (scope or locales or attributes):
        return product
    wanted_locales = set(locales.split(",")) if locales else None
    wanted_attrs = set(attributes.split(",")) if attributes else None
    values = {}
    for attr, entries in product["values"].items():
        if wanted_attrs is not None and attr not in wanted_attrs:
            continue
        kept = [
            e
            for e in entries
            if (scope is None or e["scope"] in (None, scope))
            and (wanted_locales is None or e["locale"] is None or e["locale"] in wanted_locales)
        ]
        if kept:
            values[attr] = kept
    return {**product, "values": values}


def _select(
    store: Store, predicate: Any, since: str | None, after: str | None, limit: int, offset: int = 0
) -> list[dict[str, Any]]:
    """Products ordered by identifier, after ``after``, matching ``predicate``."""
    if predicate is None:
        return store.scan_by_id("product", after=after, limit=limit, offset=offset)
    if since is not None and store.count("product", since=since) * 4 < store.count("product"):
        # few recent changes: take them from the updated index, then order by identifier
        candidates = [d for d in store.iter_by_updated("product", since=since) if predicate(d)]
        candidates.sort(key=lambda d: d["identifier"])
        if after is not None:
            candidates = [d for d in candidates if d["identifier"] > after]
        return candidates[offset : offset + limit]
    out: list[dict[str, Any]] = []
    skipped = 0
    for doc in store.iter_by_id("product", after=after):
        if predicate(doc):
            if skipped < offset:
                skipped += 1
                continue
            out.append(doc)
            if len(out) == limit:
                break
    return out


def _count(store: Store, predicate: Any, since: str | None) -> int:
    if predicate is None:
        return store.count("product")
    source = store.iter_by_updated("product", since=since) if since else store.iter_by_id("product")
    return sum(1 for d in source if predicate(d))


async def get_product(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    code = request.path_params["code"]
    doc = app.store.get("product", code)
    if doc is None:
        return error(404, f'Product "{code}" does not exist or you do not have permission to access it.')
    return json_response(_filtered(render_product(doc, base_url(request)), request.query_params))


async def delete_product(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    code = request.path_params["code"]
    if not app.store.delete("product", code):
        return error(404, f'Product "{code}" does not exist or you do not have permission to access it.')
    return Response(status_code=204)


def _validate_values(values: Any) -> None:
    if not isinstance(values, dict):
        raise Invalid('Property "values" expects an array as data, "' + type(values).__name__ + '" given.')
    errors = []
    for attr, entries in values.items():
        spec = ATTRIBUTES.get(attr)
        if spec is None:
            raise Invalid(f'Attribute "{attr}" does not exist.')
        kind, localizable, scopable, _ = spec
        if not isinstance(entries, list):
            raise Invalid(f'Property "{attr}" expects an array as data.')
        for entry in entries:
            if not isinstance(entry, dict) or not {"locale", "scope", "data"} <= set(entry):
                raise Invalid(
                    f'Property "{attr}" expects an array with the keys "locale", "scope" and "data".'
                )
            locale, scope, data = entry["locale"], entry["scope"], entry["data"]
            if localizable and locale not in LOCALES:
                errors.append(
                    {
                        "property": "values",
                        "message": f'The {attr} attribute requires a valid locale, "{locale}" given.'
                        if locale
                        else f"The {attr} attribute requires a locale.",
                        "attribute": attr,
                        "locale": locale,
                        "scope": scope,
                    }
                )
            if not localizable and locale is not None:
                errors.append(
                    {
                        "property": "values",
                        "message": f'The {attr} attribute does not require a locale, "{locale}" was detected.',
                        "attribute": attr,
                        "locale": locale,
                        "scope": scope,
                    }
                )
            if scopable and scope != CHANNEL:
                errors.append(
                    {
                        "property": "values",
                        "message": f"The {attr} attribute requires a valid channel.",
                        "attribute": attr,
                        "locale": locale,
                        "scope": scope,
                    }
                )
            if not scopable and scope is not None:
                errors.append(
                    {
                        "property": "values",
                        "message": f'The {attr} attribute does not require a channel, "{scope}" was detected.',
                        "attribute": attr,
                        "locale": locale,
                        "scope": scope,
                    }
                )
            if data is None:
                continue
            if kind == "pim_catalog_price_collection":
                if not isinstance(data, list) or not all(
                    isinstance(x, dict) and "amount" in x and "currency" in x for x in data
                ):
                    raise Invalid(f'Property "{attr}" expects an array with the key "amount" and "currency".')
                for price in data:
                    if price["currency"] not in CURRENCIES:
                        errors.append(
                            {
                                "property": "values",
                                "message": f'The currency "{price["currency"]}" has to be a valid currency.',
                                "attribute": attr,
                                "locale": locale,
                                "scope": scope,
                            }
                        )
                    try:
                        if price["amount"] is not None and float(price["amount"]) < 0:
                            errors.append(
                                {
                                    "property": "values",
                                    "message": "This value should be 0 or more.",
                                    "attribute": attr,
                                    "locale": locale,
                                    "scope": scope,
                                }
                            )
                    except (TypeError, ValueError):
                        errors.append(
                            {
                                "property": "values",
                                "message": "This value should be a valid number.",
                                "attribute": attr,
                                "locale": locale,
                                "scope": scope,
                            }
                        )
            elif kind == "pim_catalog_metric":
                if not isinstance(data, dict) or "amount" not in data or "unit" not in data:
                    raise Invalid(f'Property "{attr}" expects an array with the key "amount".')
                if data["unit"] not in WEIGHT_UNITS:
                    errors.append(
                        {
                            "property": "values",
                            "message": f'Please specify a valid metric unit, "{data["unit"]}" given.',
                            "attribute": attr,
                            "locale": locale,
                            "scope": scope,
                        }
                    )
            elif not isinstance(data, str):
                raise Invalid(f'Property "{attr}" expects a string as data, "{type(data).__name__}" given.')
    if errors:
        raise Invalid("Validation failed.", errors)


def merge_product(store: Store, code: str, payload: Any, old: dict[str, Any] | None) -> dict[str, Any]:
    """The product after applying ``payload`` (Akeneo's PATCH semantics), or raises Invalid."""
    if not isinstance(payload, dict):
        raise Invalid("Invalid json message received")
    for key in payload:
        if key not in PRODUCT_FIELDS:
            raise Invalid(
                f'Property "{key}" does not exist. Check the expected format on the API documentation.'
            )
    new = json.loads(json.dumps(old)) if old else {
        "identifier": code, "enabled": True, "family": None, "categories": [], "groups": [], "parent": None,
        "values": {"sku": [_v(code)]}, "created": None, "associations": {}, "quantified_associations": {},
    }  # fmt: skip
    new.pop("updated_at", None)
    if "enabled" in payload:
        if not isinstance(payload["enabled"], bool):
            raise Invalid(
                'Property "enabled" expects a boolean as data, "'
                + type(payload["enabled"]).__name__
                + '" given.'
            )
        new["enabled"] = payload["enabled"]
    if "family" in payload:
        family = payload["family"]
        if family is not None and store.get("family", family) is None:
            raise Invalid(
                f'Property "family" expects a valid family code. The family does not exist, "{family}" given.'
            )
        new["family"] = family
    if "categories" in payload:
        new["categories"] = _checked_categories(store, payload["categories"])
    if "groups" in payload and isinstance(payload["groups"], list):
        new["groups"] = list(payload["groups"])
    if "associations" in payload and isinstance(payload["associations"], dict):
        new["associations"] = payload["associations"]
    if "values" in payload:
        _merge_values(new["values"], payload["values"])
    return new


def _checked_categories(store: Store, cats: Any) -> list[str]:
    if not isinstance(cats, list):
        raise Invalid('Property "categories" expects an array as data.')
    for cat in cats:
        if store.get("category", cat) is None:
            raise Invalid(
                f'Property "categories" expects a valid category code. The category does not exist, "{cat}" given.'
            )
    return list(cats)


def _merge_values(current_values: dict[str, Any], values: Any) -> None:
    """Akeneo's PATCH of ``values``: each (locale, scope) entry replaced, empty data removes it."""
    _validate_values(values)
    for attr, entries in values.items():
        if attr == "sku":
            continue
        current = current_values.get(attr, [])
        for entry in entries:
            current = [e for e in current if (e["locale"], e["scope"]) != (entry["locale"], entry["scope"])]
            if entry["data"] not in (None, "", []):
                current.append({"locale": entry["locale"], "scope": entry["scope"], "data": entry["data"]})
        if current:
            current_values[attr] = current
        else:
            current_values.pop(attr, None)


def upsert(store: Store, code: str, payload: Any) -> int:
    """Create or update one product: 201, 204, or raises Invalid."""
    if isinstance(payload, dict) and "identifier" in payload and payload["identifier"] != code:
        raise Invalid(
            f'The identifier "{payload["identifier"]}" provided in the request body must match the identifier "{code}" provided in the url.'
        )
    old = store.get("product", code)
    new = merge_product(store, code, payload, old)
    if old is not None:
        unchanged = {k: v for k, v in old.items() if k != "updated_at"}
        if unchanged == new:
            return 204
        store.put("product", code, new)
        return 204
    new["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    store.put("product", code, new)
    return 201


async def patch_product(request: Request) -> Response:
    docs = {"documentation": {"href": "http://api.akeneo.com/api-reference.html#patch_products__code_"}}
    return await _patch_one(request, "code", upsert, "products", links=docs)


async def _patch_one(
    request: Request, param: str, upsert_one, plural: str, links: dict | None = None
) -> Response:
    """A PATCH of one resource: 201 or 204 with its ``Location``, or 422 with Akeneo's error body."""
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    key = request.path_params[param]
    try:
        payload = json.loads(await request.body())
    except ValueError:
        return error(400, "Invalid json message received")
    try:
        status = upsert_one(app.store, key, payload)
    except Invalid as exc:
        body = exc.payload()
        if links:
            body["_links"] = links
        return json_response(body, 422)
    location = f"{base_url(request)}/api/rest/v1/{plural}/{key}"
    return Response(status_code=status, headers={"Location": location})


async def patch_products(request: Request) -> Response:
    return await _patch_collection(request, "identifier", "Identifier property is required", upsert)


async def _patch_collection(request: Request, key: str, missing: str, upsert_one) -> Response:
    """A collection PATCH (``application/vnd.akeneo.collection+json``): one JSON object a line, one
    status line back each, in order."""
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != COLLECTION_TYPE:
        return error(
            415,
            f'"{content_type}" in "Content-Type" header is not valid. Only "{COLLECTION_TYPE}" is allowed.',
        )
    lines = [line for line in (await request.body()).decode().split("\n") if line.strip()]
    max_lines = app.options["max_limit"]
    if len(lines) > max_lines:
        return error(413, f"Too many resources to process, {max_lines} is the maximum allowed.")
    results = []
    for n, line in enumerate(lines, start=1):
        try:
            payload = json.loads(line)
        except ValueError:
            results.append({"line": n, "status_code": 400, "message": "Invalid json message received"})
            continue
        code = payload.get(key) if isinstance(payload, dict) else None
        if not isinstance(code, str) or not code.strip():
            results.append({"line": n, "status_code": 422, "message": missing})
            continue
        try:
            status = upsert_one(app.store, code, payload)
        except Invalid as exc:
            result = {"line": n, key: code, "status_code": 422, "message": exc.message}
            if exc.errors:
                result["errors"] = exc.errors
            results.append(result)
            continue
        results.append({"line": n, key: code, "status_code": status})
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in results)
    return Response(body.encode(), status_code=200, media_type=COLLECTION_TYPE)


# -- families, attributes, categories ---------------------------------------------------------
def _offset_list(entity: str, path: str):
    async def handler(request: Request) -> Response:
        app, _ = _pim(request)
        search = request.query_params.get("search")
        if entity == "product_model" and search:
            # product models filter like products do (``updated``, ``categories``…)
            try:
                predicate, _since = build_filter(_parse_search(search))
            except Invalid as exc:
                return json_response(exc.payload(), 422)
            docs = [d for d in app.store.iter_by_id(entity) if predicate is None or predicate(d)]
        else:
            docs = None  # read a page at a time from the store

        def select(offset: int, limit: int) -> tuple[list[dict[str, Any]], int]:
            if docs is not None:
                return docs[offset : offset + limit], len(docs)
            page = app.store.scan_by_id(entity, limit=limit, offset=offset)
            total = offset + len(page) + (1 if len(page) == limit else 0)  # "a next page may exist"
            return page, total

        return _paged(
            request,
            path,
            select,
            lambda d, base: _render_simple(d, base, path),
            lambda: app.store.count(entity) if docs is None else len(docs),
        )

    return handler


def _paged(request: Request, path: str, select, render, count) -> Response:
    """Akeneo's page pagination (``page``, ``limit``, ``with_count``, ``_links``) over ``select(offset,
    limit) -> (docs, total)`` (``total`` past the page means a next link), keeping ``search``."""
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    base = base_url(request)
    q = request.query_params
    try:
        limit = _limit(request, app)
        page_no = int(q.get("page", "1"))
    except Invalid as exc:
        return json_response(exc.payload(), 422)
    except ValueError:
        return error(422, f'"{q.get("page")}" is not a valid page number.')
    if page_no < 1:
        return error(422, f'"{page_no}" is not a valid page number.')
    docs, total = select((page_no - 1) * limit, limit)
    with_count = q.get("with_count", "false") == "true"
    common = {"search": q.get("search"), "with_count": str(with_count).lower(), "limit": limit}
    links: dict[str, Any] = {
        "self": {"href": _url(base, path, {"page": page_no, **common})},
        "first": {"href": _url(base, path, {"page": 1, **common})},
    }
    if page_no > 1:
        links["previous"] = {"href": _url(base, path, {"page": page_no - 1, **common})}
    if total > page_no * limit:
        links["next"] = {"href": _url(base, path, {"page": page_no + 1, **common})}
    payload: dict[str, Any] = {"_links": links, "current_page": page_no}
    if with_count:
        payload["items_count"] = count()
    payload["_embedded"] = {"items": [render(d, base) for d in docs]}
    return json_response(payload)


def _render_simple(doc: dict[str, Any], base: str, path: str) -> dict[str, Any]:
    out = {"_links": {"self": {"href": f"{base}{path}/{doc['code']}"}}}
    out.update({k: v for k, v in doc.items() if k != "updated_at"})
    out["updated"] = akeneo_datetime(doc["updated_at"])
    return out


def _offset_get(entity: str, path: str, label: str):
    async def handler(request: Request) -> Response:
        denied = check_bearer(request)
        if denied:
            return denied
        app, _ = _pim(request)
        code = request.path_params["code"]
        doc = app.store.get(entity, code)
        if doc is None:
            return error(404, f'{label} "{code}" does not exist.')
        out = _render_simple(doc, base_url(request), path)
        out.pop("_links")
        return json_response(out)

    return handler


# -- products by UUID (Akeneo 7+) --------------------------------------------------------------
UUID_NAMESPACE = uuid.UUID("5b1f3b5e-6c1d-4a8e-9b1a-2f0e6d5c4b3a")


def product_uuid(doc: dict[str, Any]) -> str:
    """A product's UUID: the one it was created with through the UUID API, else one derived from its
    identifier (seeded products), stable across restarts."""
    return doc.get("uuid") or str(uuid.uuid5(UUID_NAMESPACE, doc["identifier"]))


def _by_uuid(store: Store) -> dict[str, dict[str, Any]]:
    return {product_uuid(d): d for d in store.iter_by_id("product")}


def render_product_uuid(doc: dict[str, Any], base: str) -> dict[str, Any]:
    out = render_product(doc, base)
    out["uuid"] = product_uuid(doc)
    out["_links"] = {"self": {"href": f"{base}/api/rest/v1/products-uuid/{out['uuid']}"}}
    return out


async def list_products_uuid(request: Request) -> Response:
    """``GET /products-uuid``: search-after paging ordered by UUID (``search_after=<uuid>``), the same
    ``search`` filters as ``/products``."""
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    q = request.query_params
    try:
        limit = _limit(request, app)
        predicate, _since = build_filter(_parse_search(q.get("search")))
    except Invalid as exc:
        return json_response(exc.payload(), 422)
    if q.get("pagination_type", "search_after") != "search_after":
        return error(422, 'Only the "search_after" pagination type is supported by this stand-in.')
    after = q.get("search_after") or ""
    rows = sorted(
        (product_uuid(d), d) for d in app.store.iter_by_id("product") if predicate is None or predicate(d)
    )
    page = [(u, d) for u, d in rows if u > after][:limit]
    base, path = base_url(request), "/api/rest/v1/products-uuid"
    keep = {"pagination_type": "search_after", "limit": limit, "search": q.get("search")}
    links: dict[str, Any] = {
        "self": {"href": _url(base, path, {**keep, "search_after": after or None})},
        "first": {"href": _url(base, path, keep)},
    }
    if len(page) == limit:
        links["next"] = {"href": _url(base, path, {**keep, "search_after": page[-1][0]})}
    items = [_filtered(render_product_uuid(d, base), q) for _u, d in page]
    return json_response({"_links": links, "_embedded": {"items": items}})


async def get_product_uuid(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    wanted = request.path_params["uuid"]
    doc = _by_uuid(app.store).get(wanted)
    if doc is None:
        return error(404, f'Product "{wanted}" does not exist or you do not have permission to access it.')
    return json_response(_filtered(render_product_uuid(doc, base_url(request)), request.query_params))


async def delete_product_uuid(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    wanted = request.path_params["uuid"]
    doc = _by_uuid(app.store).get(wanted)
    if doc is None:
        return error(404, f'Product "{wanted}" does not exist or you do not have permission to access it.')
    app.store.delete("product", doc["identifier"])
    return Response(status_code=204)


def upsert_uuid(store: Store, wanted: str, payload: Any) -> int:
    """Create or update the product of UUID ``wanted``: 201, 204, or raises Invalid. A new product
    takes its identifier from ``identifier`` or from its ``sku`` value."""
    try:
        wanted = str(uuid.UUID(wanted))
    except ValueError as exc:
        raise Invalid(f'The uuid "{wanted}" is not a valid UUID.') from exc
    if isinstance(payload, dict) and payload.get("uuid") not in (None, wanted):
        raise Invalid(
            f'The uuid "{payload["uuid"]}" provided in the request body must match the uuid "{wanted}" provided in the url.'
        )
    if not isinstance(payload, dict):
        raise Invalid("Invalid json message received")
    existing = _by_uuid(store).get(wanted)
    payload = {k: v for k, v in payload.items() if k != "uuid"}
    if existing is not None:
        return upsert(store, existing["identifier"], {**payload, "identifier": existing["identifier"]})
    sku = payload.get("identifier")
    if sku is None:
        entries = (
            (payload.get("values") or {}).get("sku") if isinstance(payload.get("values"), dict) else None
        )
        sku = (
            entries[0].get("data")
            if isinstance(entries, list) and entries and isinstance(entries[0], dict)
            else None
        )
    if not isinstance(sku, str) or not sku.strip():
        raise Invalid("The identifier attribute (sku) is required to create a product in this stand-in.")
    if store.get("product", sku) is not None:
        raise Invalid(
            "Validation failed.",
            [
                {
                    "property": "identifier",
                    "message": f"The {sku} identifier is already used for another product.",
                }
            ],
        )
    status = upsert(store, sku, {**payload, "identifier": sku})
    doc = store.get("product", sku)
    store.put("product", sku, {**{k: v for k, v in doc.items() if k != "updated_at"}, "uuid": wanted})
    return status


async def patch_product_uuid(request: Request) -> Response:
    return await _patch_one(request, "uuid", upsert_uuid, "products-uuid")


async def patch_products_uuid(request: Request) -> Response:
    return await _patch_collection(request, "uuid", "The uuid property is required", upsert_uuid)


# -- product models ----------------------------------------------------------------------------
def merge_product_model(store: Store, code: str, payload: Any, old: dict[str, Any] | None) -> dict[str, Any]:
    """The product model after applying ``payload`` (Akeneo's PATCH semantics), or raises Invalid.
    Its family comes from its family variant (``<family>_by_color`` here), which cannot change."""
    if not isinstance(payload, dict):
        raise Invalid("Invalid json message received")
    for key in payload:
        if key not in PRODUCT_MODEL_FIELDS:
            raise Invalid(
                f'Property "{key}" does not exist. Check the expected format on the API documentation.'
            )
    new = json.loads(json.dumps(old)) if old else {
        "code": code, "family": None, "family_variant": None, "parent": None, "categories": [],
        "values": {}, "created": None, "associations": {}, "quantified_associations": {},
    }  # fmt: skip
    new.pop("updated_at", None)
    variant = payload.get("family_variant", new["family_variant"])
    if old is not None and variant != old["family_variant"]:
        raise Invalid(f'Property "family_variant" cannot be modified, "{variant}" given.')
    family = (
        variant[: -len("_by_color")] if isinstance(variant, str) and variant.endswith("_by_color") else None
    )
    if family is None or store.get("family", family) is None:
        raise Invalid(
            'Property "family_variant" expects a valid family variant code. The family variant does not'
            f' exist, "{variant}" given.'
        )
    new["family_variant"], new["family"] = variant, family
    if "parent" in payload:
        parent = payload["parent"]
        if parent is not None and (parent == code or store.get("product_model", parent) is None):
            raise Invalid(
                f'Property "parent" expects a valid product model code. The product model does not exist, "{parent}" given.'
            )
        new["parent"] = parent
    if "categories" in payload:
        new["categories"] = _checked_categories(store, payload["categories"])
    if "associations" in payload and isinstance(payload["associations"], dict):
        new["associations"] = payload["associations"]
    if "values" in payload:
        _merge_values(new["values"], payload["values"])
    return new


def upsert_product_model(store: Store, code: str, payload: Any) -> int:
    """Create or update one product model: 201, 204, or raises Invalid."""
    if isinstance(payload, dict) and "code" in payload and payload["code"] != code:
        raise Invalid(
            f'The code "{payload["code"]}" provided in the request body must match the code "{code}" provided in the url.'
        )
    old = store.get("product_model", code)
    new = merge_product_model(store, code, payload, old)
    if old is not None:
        if {k: v for k, v in old.items() if k != "updated_at"} != new:
            store.put("product_model", code, new)
        return 204
    new["created"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    store.put("product_model", code, new)
    return 201


async def patch_product_models(request: Request) -> Response:
    return await _patch_collection(request, "code", "Code property is required", upsert_product_model)


async def patch_product_model(request: Request) -> Response:
    return await _patch_one(request, "code", upsert_product_model, "product-models")


# -- attribute options -------------------------------------------------------------------------
def _options_of(store: Store, attribute: str) -> list[dict[str, Any]]:
    out = []
    for doc in store.iter_by_id("attribute_option", after=f"{attribute}/"):
        if doc["attribute"] != attribute:
            break
        out.append(doc)
    return out


async def list_attribute_options(request: Request) -> Response:
    app, _ = _pim(request)
    attribute = request.path_params["attribute"]
    path = f"/api/rest/v1/attributes/{attribute}/options"
    if check_bearer(request) is None and app.store.get("attribute", attribute) is None:
        return error(404, f'Attribute "{attribute}" does not exist.')
    options = _options_of(app.store, attribute)

    def render(doc: dict[str, Any], base: str) -> dict[str, Any]:
        item: dict[str, Any] = {"_links": {"self": {"href": f"{base}{path}/{doc['code']}"}}}
        item.update({k: v for k, v in doc.items() if k != "updated_at"})
        return item

    return _paged(
        request,
        path,
        lambda offset, limit: (options[offset : offset + limit], len(options)),
        render,
        lambda: len(options),
    )


async def get_attribute_option(request: Request) -> Response:
    denied = check_bearer(request)
    if denied:
        return denied
    app, _ = _pim(request)
    attribute, code = request.path_params["attribute"], request.path_params["code"]
    doc = app.store.get("attribute_option", f"{attribute}/{code}")
    if doc is None:
        return error(
            404,
            f'Attribute option "{code}" does not exist or is not an option of the attribute "{attribute}".',
        )
    return json_response({k: v for k, v in doc.items() if k != "updated_at"})


def routes() -> list[Route]:
    r = [
        Route("/api/oauth/v1/token", token, methods=["POST"]),
        Route("/api/rest/v1/products", list_products, methods=["GET"]),
        Route("/api/rest/v1/products", patch_products, methods=["PATCH"]),
        Route("/api/rest/v1/products/{code}", get_product, methods=["GET"]),
        Route("/api/rest/v1/products/{code}", patch_product, methods=["PATCH"]),
        Route("/api/rest/v1/products/{code}", delete_product, methods=["DELETE"]),
    ]
    r += [
        Route("/api/rest/v1/products-uuid", list_products_uuid, methods=["GET"]),
        Route("/api/rest/v1/products-uuid", patch_products_uuid, methods=["PATCH"]),
        Route("/api/rest/v1/products-uuid/{uuid}", get_product_uuid, methods=["GET"]),
        Route("/api/rest/v1/products-uuid/{uuid}", patch_product_uuid, methods=["PATCH"]),
        Route("/api/rest/v1/products-uuid/{uuid}", delete_product_uuid, methods=["DELETE"]),
        Route("/api/rest/v1/product-models", patch_product_models, methods=["PATCH"]),
        Route("/api/rest/v1/product-models/{code}", patch_product_model, methods=["PATCH"]),
        Route("/api/rest/v1/attributes/{attribute}/options", list_attribute_options, methods=["GET"]),
        Route("/api/rest/v1/attributes/{attribute}/options/{code}", get_attribute_option, methods=["GET"]),
    ]
    for entity, plural, label in (
        ("family", "families", "Family"),
        ("attribute", "attributes", "Attribute"),
        ("category", "categories", "Category"),
        ("channel", "channels", "Channel"),
        ("locale", "locales", "Locale"),
        ("product_model", "product-models", "Product model"),
    ):
        path = f"/api/rest/v1/{plural}"
        r.append(Route(path, _offset_list(entity, path), methods=["GET"]))
        r.append(Route(path + "/{code}", _offset_get(entity, path, label), methods=["GET"]))
    return r


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: PimCredentials | None = None,
    faults: FaultConfig | None = None,
    *,
    max_limit: int | None = None,
    token_ttl: int = 3600,
) -> SandboxApp:
    """The PIM stand-in. ``max_limit`` (default 100, env ``SANDBOX_PIM_MAX_LIMIT``) caps ``limit``
    and the lines of a collection PATCH; ``token_ttl`` is the access tokens' lifetime (s)."""
    return SandboxApp(
        name="pim",
        routes=routes(),
        store_path=store_path,
        seed=seed,
        seeder=seed_pim,
        faults=faults,
        error_body=error_body,
        credentials=credentials or PimCredentials.from_env(),
        options={
            "max_limit": max_limit or env_int("SANDBOX_PIM_MAX_LIMIT", 100),
            "tokens": Tokens(token_ttl),
        },
    )
