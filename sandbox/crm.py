"""CRM stand-in: the shape of the HubSpot CRM v3 objects API — contacts, companies, deals, products.

Every object type answers under ``/crm/v3/objects/{objectType}`` (its name, or HubSpot's type id:
``0-1`` contacts, ``0-2`` companies, ``0-3`` deals, ``0-7`` products; another name → 400
``Unable to infer object type``) with the same endpoints; each has its own properties (validated
on write: 400 ``VALIDATION_ERROR`` whose message embeds the per-property problems, as HubSpot's),
its modified-date property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for the
others) and its unique-value properties, usable as ``idProperty``: contacts ``email``, companies
``domain``, products ``hs_sku``, deals ``hub_ref``. HubSpot itself marks neither ``domain`` nor
``hs_sku`` unique, and deals have no natural unique property: a portal that upserts by them declares
unique-value properties (``hub_ref`` is such a custom deal property); the stand-in behaves as such a
portal. Seeded from ``sandbox.seed``'s dataset: 400 contacts (ids from 1001), 60 companies named
after CRM customers (ids from 5000001), a deal per shop order (ids from 7000001; ``hub_ref`` = the
order number, ``associations`` to its customer's contact answered with ``?associations=contacts``),
a product per catalogue SKU (ids from 9000001), seeded on the first request for one of those
types. What follows is said of contacts and holds for every type unless it says otherwise.

- Private-app token: ``Authorization: Bearer <token>`` (401 ``INVALID_AUTHENTICATION`` otherwise).
- ``GET /crm/v3/objects/contacts?limit=&after=&properties=&archived=`` → ``{results, paging}``
  (ordered by id; ``after`` is an opaque cursor; ``limit`` at most 100).
- ``POST /crm/v3/objects/contacts`` (create; 409 ``CONFLICT`` when the email exists).
- ``POST /crm/v3/objects/contacts/search``: ``filterGroups`` (groups ORed, filters ANDed;
  ``EQ NEQ LT LTE GT GTE BETWEEN IN NOT_IN HAS_PROPERTY NOT_HAS_PROPERTY CONTAINS_TOKEN``;
  dates such as ``lastmodifieddate`` as epoch milliseconds), ``sorts``, ``properties``,
  ``limit`` (≤ 200), ``after``; no more than 10,000 results can be paged through (400 beyond).
- ``GET/PATCH/DELETE /crm/v3/objects/contacts/{id}`` (``?idProperty=email`` too); DELETE
  archives (204).
- ``POST /crm/v3/objects/contacts/batch/upsert|read|create|update|archive`` (≤ 100 inputs):
  200 ``{"status": "COMPLETE", "results"}``, 207 with ``errors`` and ``numErrors`` when some
  inputs failed.
- ``POST /crm/v3/objects/contacts/gdpr-delete`` (contacts only) ``{"objectId", "idProperty"}`` → 204: the
  contact is gone for good (not even archived) and its email joins the GDPR blocklist (kept as a
  SHA-256 digest: the store holds no trace of the address); an unknown id → 404
  ``OBJECT_NOT_FOUND``, no ``objectId`` → 400 ``VALIDATION_ERROR``. HubSpot's knowledge base
  (2025) says such an email cannot be added back through the UI or imports but can through the
  API: so by default the API re-creates it as a new contact (new id); ``block_gdpr_recreate=True``
  refuses it (400 ``VALIDATION_ERROR``) for tests of the stricter reading. An unknown email is
  blocklisted all the same (as HubSpot documents).
- ``hs_email_optout`` ("Unsubscribed from all email", ``"true"``/``"false"``) is read like any
  property but, as on HubSpot, refused on write (``READ_ONLY_VALUE``): opting out goes through
  HubSpot's subscription preferences, not the contacts API. About one seeded contact in seven has
  opted out.
- Every answer carries ``X-HubSpot-RateLimit-*`` headers (10-second window of 190 requests,
  secondly 19; not enforced unless ``enforce_rate_limit=True``, then 429 ``RATE_LIMIT``).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, base_url, dumps, sandbox_of
from .credentials import CrmCredentials
from .faults import FaultConfig
from .seed import dataset, load
from .store import Store

PROPERTIES = {
    "email", "firstname", "lastname", "phone", "mobilephone", "address", "city", "zip", "country", "state",
    "date_of_birth", "company", "jobtitle", "website", "lifecyclestage", "hs_language", "hs_lead_status",
    "hs_email_optout",
}  # fmt: skip
READONLY = {"hs_object_id", "createdate", "lastmodifieddate"}
# Properties HubSpot reads back but refuses to set through the contacts API (subscription preferences).
SUBSCRIPTION_PROPERTIES = {"hs_email_optout"}
OPTOUT_RATE = 0.15
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
LIFECYCLE = {
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
}
LIST_MAX = 100
SEARCH_MAX = 200
SEARCH_CAP = 10000
BATCH_MAX = 100
FIRST_ID = 1001
WINDOW_MS = 10000
WINDOW_MAX = 190
SECONDLY = 19
DAILY = 250000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type: its properties (name → kind: ``string``, ``email``, ``date``,
    ``datetime``, ``number`` or a frozenset of allowed options), its modified-date property, the
    properties whose values are unique (usable as ``idProperty``) and its store entity."""

    name: str  # the path segment: contacts, companies, deals, products
    entity: str  # the store entity: contact, company, deal, product
    type_id: str  # HubSpot's object type id (``0-1``…), accepted in the path too
    properties: dict[str, Any]
    defaults: tuple[str, ...]  # the properties answered when none are asked for
    modified: str  # lastmodifieddate for contacts, hs_lastmodifieddate for the others
    unique: tuple[str, ...]  # idProperty candidates besides hs_object_id
    query_fields: tuple[str, ...]  # what the search's free-text ``query`` looks into
    first_id: int
    noun: str  # in messages: Contact, Company…

    @property
    def readonly(self) -> set[str]:
        return {"hs_object_id", "createdate", self.modified}

    def index(self, prop: str) -> str:
        """The store entity that maps a unique property's (lower-cased) value to an id."""
        return f"{self.entity}_{prop}"


LIFECYCLE_OPTIONS = frozenset(LIFECYCLE)
INDUSTRIES = frozenset(
    {
        "APPAREL_FASHION", "COSMETICS", "CONSUMER_GOODS", "FURNITURE", "INTERNET", "LOGISTICS_AND_SUPPLY_CHAIN",
        "LUXURY_GOODS_JEWELRY", "RETAIL", "SPORTING_GOODS", "WHOLESALE",
    }
)  # fmt: skip
DEAL_STAGES = frozenset(
    {
        "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
        "contractsent", "closedwon", "closedlost",
    }
)  # fmt: skip
CONTACTS = ObjectType(
    name="contacts",
    entity="contact",
    type_id="0-1",
    properties={
        **dict.fromkeys(PROPERTIES, "string"),
        "email": "email",
        "date_of_birth": "date",
        "lifecyclestage": LIFECYCLE_OPTIONS,
    },
    defaults=DEFAULT_PROPERTIES,
    modified="lastmodifieddate",
    unique=("email",),
    query_fields=("email", "firstname", "lastname", "phone", "company"),
    first_id=FIRST_ID,
    noun="Contact",
)
COMPANIES = ObjectType(
    name="companies",
    entity="company",
    type_id="0-2",
    properties={
        "name": "string",
        "domain": "string",
        "website": "string",
        "phone": "string",
        "address": "string",
        "city": "string",
        "zip": "string",
        "country": "string",
        "industry": INDUSTRIES,
        "numberofemployees": "number",
        "annualrevenue": "number",
        "lifecyclestage": LIFECYCLE_OPTIONS,
        "description": "string",
    },
    defaults=("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    modified="hs_lastmodifieddate",
    # HubSpot's own ``domain`` is not a unique-value property: a portal that upserts by it declares
    # it so (or uses a custom unique property); the stand-in treats it as one.
    unique=("domain",),
    query_fields=("name", "domain", "website", "phone"),
    first_id=5_000_001,
    noun="Company",
)
DEALS = ObjectType(
    name="deals",
    entity="deal",
    type_id="0-3",
    properties={
        "dealname": "string",
        "amount": "number",
        "dealstage": DEAL_STAGES,
        "pipeline": frozenset({"default"}),
        "closedate": "datetime",
        "description": "string",
        # A custom property "with unique values" (HubSpot deals have no natural unique property):
        # the hub's reference of the deal (the shop's order number for the seeded ones).
        "hub_ref": "string",
    },
    defaults=(
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    modified="hs_lastmodifieddate",
    unique=("hub_ref",),
    query_fields=("dealname", "hub_ref"),
    first_id=7_000_001,
    noun="Deal",
)
PRODUCTS = ObjectType(
    name="products",
    entity="product",
    type_id="0-7",
    properties={
        "name": "string",
        "description": "string",
        "price": "number",
        "hs_sku": "string",
        "hs_cost_of_goods_sold": "number",
        "hs_product_type": frozenset({"inventory", "non_inventory", "service"}),
        "hs_url": "string",
    },
    defaults=("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name", "price"),
    modified="hs_lastmodifieddate",
    unique=("hs_sku",),  # as for companies' domain: unique in the stand-in
    query_fields=("name", "description", "hs_sku"),
    first_id=9_000_001,
    noun="Product",
)
OBJECT_TYPES = {t.name: t for t in (CONTACTS, COMPANIES, DEALS, PRODUCTS)}
_BY_TYPE_ID = {t.type_id: t for t in OBJECT_TYPES.values()}
N_COMPANIES = 60


def iso(stamp: str) -> str:
    """Store stamp → HubSpot's ``2025-05-27T05:03:44.123Z`` (milliseconds)."""
    return f"{stamp[:23]}Z"


def epoch_ms(stamp: str) -> int:
    moment = datetime.strptime(stamp[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _iso_dt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class HubSpotError(Exception):
    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra

    def body(self) -> dict[str, Any]:
        return {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
            "category": self.category,
            **self.extra,
        }


def error_body(status: int, message: str) -> tuple[bytes, str]:
    category = "RATE_LIMITS" if status == 429 else "INTERNAL_ERROR"
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if status == 429:
        body = {
            "status": "error",
            "message": "You have reached your secondly limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": body["correlationId"],
            "policyName": "SECONDLY",
        }
    return dumps(body), "application/json;charset=utf-8"


# -- seed --------------------------------------------------------------------------------------
def seed_crm(store: Store, seed: int) -> None:
    data = dataset(seed)
    buyers = {o["customer"] for o in data.orders}
    # Its own generator: the shared dataset (and so every other system's data) stays as it is.
    optout = random.Random(f"crm-optout-{seed}")  # noqa: S311 - reproducible data, not crypto
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    for n, index in enumerate(data.crm_customers):
        c = data.customers[index]
        cid = FIRST_ID + n
        props = {
            "email": c["email"],
            "firstname": c["firstname"],
            "lastname": c["lastname"],
            "phone": c["phone"],
            "address": c["street"],
            "city": c["city"],
            "zip": c["postcode"],
            "country": "France" if c["country"] == "FR" else "United Kingdom",
            "date_of_birth": c["birthdate"],
            "lifecyclestage": "customer" if index in buyers else "lead",
            "hs_language": "fr" if c["country"] == "FR" else "en",
            "hs_email_optout": "true" if optout.random() < OPTOUT_RATE else "false",
        }
        doc = {"id": cid, "properties": props, "createdAt": _iso_dt(c["created"]), "archived": False}
        records.append(("contact", cid, doc, c["updated"]))
        records.append(("contact_email", c["email"].lower(), {"id": cid}, c["updated"]))
    load(store, records)
    store.set_meta("seq:contact", FIRST_ID + len(data.crm_customers) - 1)
    # Companies, deals and products are seeded on the first request for one of them
    # (``_ensure_objects``): most uses of the stand-in want contacts only.


COMPANY_FORMS = ("SARL", "SAS", "& Fils", "Ltd", "Trading", "Maison", "Atelier", "Group")
DEAL_STAGE_OF_ORDER = {
    "complete": "closedwon",
    "canceled": "closedlost",
    "processing": "contractsent",
    "pending": "decisionmakerboughtin",
}


def seed_objects(store: Store, seed: int) -> None:
    """Companies, deals and products from the shared dataset, loaded on their own (the contacts'
    stamps stay exactly as they were): companies named after CRM customers (the dataset has no
    companies), a deal per shop order (``hub_ref`` = the order number, associated with its
    customer's contact when the CRM knows them), a product per catalogue SKU (``hs_sku``)."""
    data = dataset(seed)
    rng = random.Random(f"crm-objects-{seed}")  # noqa: S311 - reproducible data, not crypto
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    domains: set[str] = set()
    for n, index in enumerate(data.crm_customers[:N_COMPANIES]):
        c = data.customers[index]
        form = rng.choice(COMPANY_FORMS)
        name = f"{form} {c['lastname']}" if form in ("Maison", "Atelier") else f"{c['lastname']} {form}"
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")
        domain, k = f"{slug}.example", 2
        while domain in domains:
            domain, k = f"{slug}-{k}.example", k + 1
        domains.add(domain)
        cid = COMPANIES.first_id + n
        props = {
            "name": name,
            "domain": domain,
            "website": f"https://www.{domain}",
            "phone": c["phone"],
            "city": c["city"],
            "zip": c["postcode"],
            "country": "France" if c["country"] == "FR" else "United Kingdom",
            "industry": rng.choice(sorted(INDUSTRIES)),
            "numberofemployees": str(rng.randrange(2, 500)),
            "annualrevenue": str(rng.randrange(50, 20000) * 1000),
            "lifecyclestage": rng.choice(("lead", "opportunity", "customer")),
        }
        doc = {"id": cid, "properties": props, "createdAt": _iso_dt(c["created"]), "archived": False}
        records.append(("company", cid, doc, c["updated"]))
        records.append(("company_domain", domain, {"id": cid}, c["updated"]))
    contact_of = {index: FIRST_ID + n for n, index in enumerate(data.crm_customers)}
    for n, order in enumerate(data.orders):
        did = DEALS.first_id + n
        stage = DEAL_STAGE_OF_ORDER.get(order["status"], "appointmentscheduled")
        props = {
            "dealname": f"Order {order['increment_id']}",
            "amount": f"{order['total']:.2f}",
            "dealstage": stage,
            "pipeline": "default",
            "closedate": _iso_dt(order["updated"]) if stage.startswith("closed") else None,
            "hub_ref": order["increment_id"],
        }
        doc = {
            "id": did,
            "properties": {k: v for k, v in props.items() if v is not None},
            "createdAt": _iso_dt(order["created"]),
            "archived": False,
        }
        if order["customer"] in contact_of:
            doc["associations"] = {"contacts": [contact_of[order["customer"]]]}
        records.append(("deal", did, doc, order["updated"]))
        records.append(("deal_hub_ref", order["increment_id"].lower(), {"id": did}, order["updated"]))
    for n, p in enumerate(data.products):
        pid = PRODUCTS.first_id + n
        props = {
            "name": p["name_en"],
            "description": p["description_en"],
            "price": f"{p['price']:.2f}",
            "hs_sku": p["sku"],
            "hs_product_type": "inventory",
        }
        doc = {"id": pid, "properties": props, "createdAt": _iso_dt(p["created"]), "archived": False}
        records.append(("product", pid, doc, p["updated"]))
        records.append(("product_hs_sku", p["sku"].lower(), {"id": pid}, p["updated"]))
    load(store, records)
    store.set_meta("seq:company", COMPANIES.first_id + min(N_COMPANIES, len(data.crm_customers)) - 1)
    store.set_meta("seq:deal", DEALS.first_id + len(data.orders) - 1)
    store.set_meta("seq:product", PRODUCTS.first_id + len(data.products) - 1)
    store.set_meta("seeded:objects", seed)


def _ensure_objects(app: SandboxApp) -> None:
    """Seed companies, deals and products on first use (after a start or a reset, and in a file
    store seeded before they existed). Same data whenever it happens: it depends on the seed only."""
    store = app.store
    if store.get_meta("seeded:objects") is None:
        with store._lock:
            if store.get_meta("seeded:objects") is None:
                seed_objects(store, int(store.get_meta("seeded", app.seed)))


def _next_id(store: Store, t: ObjectType = CONTACTS) -> int:
    key = f"seq:{t.entity}"
    current = max(int(store.get_meta(key, t.first_id - 1) or 0), int(store.max_id(t.entity) or 0))
    store.set_meta(key, current + 1)
    return current + 1


# -- rendering ---------------------------------------------------------------------------------
def render(
    doc: dict[str, Any],
    wanted: list[str] | None,
    t: ObjectType = CONTACTS,
    associations: list[str] | None = None,
) -> dict[str, Any]:
    props = doc["properties"]
    updated = iso(doc["updated_at"])
    names = list(t.defaults) if not wanted else [*wanted, "createdate", t.modified, "hs_object_id"]
    out: dict[str, Any] = {}
    for name in names:
        if name == "hs_object_id":
            out[name] = str(doc["id"])
        elif name == "createdate":
            out[name] = doc["createdAt"]
        elif name == t.modified:
            out[name] = updated
        elif name in t.properties:
            out[name] = props.get(name)
    result: dict[str, Any] = {
        "id": str(doc["id"]),
        "properties": out,
        "createdAt": doc["createdAt"],
        "updatedAt": updated,
        "archived": doc.get("archived", False),
    }
    if doc.get("archived"):
        result["archivedAt"] = doc.get("archivedAt", updated)
    linked = {
        kind: ids
        for kind, ids in (doc.get("associations") or {}).items()
        if kind in (associations or ()) and ids
    }
    if linked:
        result["associations"] = {
            kind: {"results": [{"id": str(i), "type": f"{t.entity}_to_{kind[:-1]}"} for i in ids]}
            for kind, ids in linked.items()
        }
    return result


def _wanted(raw: Any) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        names = [p.strip() for p in raw.split(",") if p.strip()]
    elif isinstance(raw, list):
        names = [str(p).strip() for p in raw if str(p).strip()]
    else:
        return None
    return names or None


# -- auth and rate headers ---------------------------------------------------------------------
def _crm(request: Request) -> SandboxApp:
    return sandbox_of(request)


NO_CREDENTIALS = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more "
    "details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def check_token(request: Request) -> None:
    """A missing or unknown private-app token: 401 ``INVALID_AUTHENTICATION`` (HubSpot's answer
    for both; an expired OAuth access token would be ``EXPIRED_AUTHENTICATION``, which private-app
    tokens never are)."""
    creds: CrmCredentials = _crm(request).credentials
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if token != creds.token:
        raise HubSpotError(401, NO_CREDENTIALS, "INVALID_AUTHENTICATION")


class RateWindow:
    def __init__(self) -> None:
        self.hits: deque[float] = deque()
        self.day = 0

    def hit(self) -> dict[str, str]:
        now = time.monotonic()
        self.hits.append(now)
        self.day += 1
        while self.hits and self.hits[0] <= now - WINDOW_MS / 1000:
            self.hits.popleft()
        last_second = sum(1 for t in self.hits if t > now - 1)
        return {
            "X-HubSpot-RateLimit-Daily": str(DAILY),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY - self.day)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_MS),
            "X-HubSpot-RateLimit-Max": str(WINDOW_MAX),
            "X-HubSpot-RateLimit-Remaining": str(max(0, WINDOW_MAX - len(self.hits))),
            "X-HubSpot-RateLimit-Secondly": str(SECONDLY),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, SECONDLY - last_second)),
        }


def _guard(handler):
    async def wrapped(request: Request) -> Response:
        app = _crm(request)
        headers = app.options["rate"].hit()
        try:
            check_token(request)
            if app.options["enforce_rate_limit"] and (
                int(headers["X-HubSpot-RateLimit-Remaining"]) <= 0
                or int(headers["X-HubSpot-RateLimit-Secondly-Remaining"]) <= 0
            ):
                policy = (
                    "SECONDLY"
                    if int(headers["X-HubSpot-RateLimit-Secondly-Remaining"]) <= 0
                    else "TEN_SECONDLY_ROLLING"
                )
                body = {
                    "status": "error",
                    "message": "You have reached your secondly limit."
                    if policy == "SECONDLY"
                    else "You have reached your ten_secondly_rolling limit.",
                    "errorType": "RATE_LIMIT",
                    "correlationId": str(uuid.uuid4()),
                    "policyName": policy,
                }
                return Response(
                    dumps(body), status_code=429, headers=headers, media_type="application/json;charset=utf-8"
                )
            status, payload = await handler(request)
        except HubSpotError as exc:
            return Response(
                dumps(exc.body()),
                status_code=exc.status,
                headers=headers,
                media_type="application/json;charset=utf-8",
            )
        if status == 204:
            return Response(status_code=204, headers=headers)
        return Response(
            dumps(payload), status_code=status, headers=headers, media_type="application/json;charset=utf-8"
        )

    wrapped.__name__ = handler.__name__
    return wrapped


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError as exc:
        raise HubSpotError(
            400,
            "Invalid input JSON on line 1, column 1: Cannot build PublicObjectInput, some of required attributes are not set",
            "VALIDATION_ERROR",
        ) from exc


# -- object types ------------------------------------------------------------------------------
def _type(request: Request) -> ObjectType:
    """The object type of the path (``contacts`` or ``0-1``…); 400 for one HubSpot does not know."""
    raw = request.path_params.get("object_type", "contacts")
    t = OBJECT_TYPES.get(raw.lower()) or _BY_TYPE_ID.get(raw)
    if t is None:
        raise HubSpotError(400, f"Unable to infer object type from: {raw}", "VALIDATION_ERROR")
    if t is not CONTACTS:
        _ensure_objects(_crm(request))
    return t


# -- validation and writes ---------------------------------------------------------------------
def _problem(name: str, message: str, error: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


def _check_value(name: str, kind: Any, text: str) -> tuple[str | None, dict[str, Any] | None]:
    """A written value as stored (HubSpot keeps every property as text), or its problem."""
    if not text:
        return text, None
    if kind == "email" and not _EMAIL.match(text):
        return None, _problem(name, f"Email address {text} is invalid", "INVALID_EMAIL")
    if isinstance(kind, frozenset) and text not in kind:
        return None, _problem(
            name, f"{text} was not one of the allowed options: {sorted(kind)}", "INVALID_OPTION"
        )
    if kind == "date" and not re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return None, _problem(name, f"{text} is not a valid date", "INVALID_DATE")
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        if number != number or number in (float("inf"), float("-inf")):
            return None, _problem(name, f"{text} is not a valid number", "INVALID_NUMBER")
    if kind == "datetime":
        try:
            ms = _to_ms(text)
        except ValueError:
            return None, _problem(name, f"{text} is not a valid datetime", "INVALID_DATETIME")
        return _iso_dt(datetime.fromtimestamp(ms / 1000, UTC)), None
    return text, None


def _to_ms(text: str) -> int:
    """Epoch milliseconds of ``text``: digits (already milliseconds) or ISO-8601 (naive is UTC)."""
    if text.isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _validate(properties: Any, t: ObjectType = CONTACTS) -> dict[str, Any]:
    if not isinstance(properties, dict):
        raise HubSpotError(400, 'Invalid input JSON: "properties" must be an object', "VALIDATION_ERROR")
    problems = []
    clean = {}
    for name, value in properties.items():
        if name in t.readonly or (t is CONTACTS and name in SUBSCRIPTION_PROPERTIES):
            problems.append(
                _problem(
                    name, f'"{name}" is a read only property; its value cannot be set.', "READ_ONLY_VALUE"
                )
            )
            continue
        if name not in t.properties:
            problems.append(_problem(name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST"))
            continue
        text, problem = _check_value(name, t.properties[name], "" if value is None else str(value))
        if problem is not None:
            problems.append(problem)
            continue
        clean[name] = text if text != "" else None
    if problems:
        raise HubSpotError(400, f"Property values were not valid: {json.dumps(problems)}", "VALIDATION_ERROR")
    return clean


def _find(
    store: Store, ident: str, id_property: str | None, t: ObjectType = CONTACTS
) -> dict[str, Any] | None:
    if id_property in (None, "", "hs_object_id"):
        try:
            return store.get(t.entity, int(ident))
        except (TypeError, ValueError):
            return None
    if id_property in t.unique:
        ref = store.get(t.index(id_property), str(ident).lower())
        return store.get(t.entity, ref["id"]) if ref else None
    raise HubSpotError(400, f"Property {id_property} is not a unique identifier property", "VALIDATION_ERROR")


def _conflict(store: Store, t: ObjectType, props: dict[str, Any], own_id: int | None = None) -> None:
    for prop in t.unique:
        value = (props.get(prop) or "").lower()
        if value:
            ref = store.get(t.index(prop), value)
            if ref is not None and ref["id"] != own_id:
                raise HubSpotError(409, f"{t.noun} already exists. Existing ID: {ref['id']}", "CONFLICT")


def _create(app: SandboxApp, props: dict[str, Any], t: ObjectType = CONTACTS) -> dict[str, Any]:
    store = app.store
    _conflict(store, t, props)
    email = (props.get("email") or "").lower() if t is CONTACTS else ""
    if (
        email
        and app.options["block_gdpr_recreate"]
        and store.get("gdpr_blocklist", blocklist_key(email)) is not None
    ):
        raise HubSpotError(
            400,
            f"Email address {email} was permanently deleted (GDPR) and is blocked from re-creation.",
            "VALIDATION_ERROR",
            subCategory="GDPR_BLOCKED_EMAIL",
        )
    cid = _next_id(store, t)
    now = _iso_dt(datetime.now(UTC))
    doc = {
        "id": cid,
        "properties": {k: v for k, v in props.items() if v is not None},
        "createdAt": now,
        "archived": False,
    }
    store.put(t.entity, cid, doc)
    for prop in t.unique:
        value = (props.get(prop) or "").lower()
        if value:
            store.put(t.index(prop), value, {"id": cid})
    return doc


def _update(
    app: SandboxApp, old: dict[str, Any], props: dict[str, Any], t: ObjectType = CONTACTS
) -> dict[str, Any]:
    store = app.store
    changed = {
        prop: (props.get(prop) or "").lower()
        for prop in t.unique
        if prop in props and (props.get(prop) or "").lower() != (old["properties"].get(prop) or "").lower()
    }
    _conflict(store, t, changed, own_id=old["id"])
    merged = dict(old["properties"])
    for key, value in props.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if merged == old["properties"]:
        return old
    doc = {k: v for k, v in old.items() if k != "updated_at"}
    doc["properties"] = merged
    store.put(t.entity, old["id"], doc)
    for prop, new_value in changed.items():
        old_value = (old["properties"].get(prop) or "").lower()
        if old_value:
            store.delete(t.index(prop), old_value)
        if new_value:
            store.put(t.index(prop), new_value, {"id": old["id"]})
    return doc


# -- endpoints ---------------------------------------------------------------------------------
def _limit(raw: Any, default: int, maximum: int) -> int:
    try:
        limit = int(raw) if raw not in (None, "") else default
    except (TypeError, ValueError) as exc:
        raise HubSpotError(400, f"Unable to parse limit {raw!r}", "VALIDATION_ERROR") from exc
    if limit < 1:
        raise HubSpotError(400, "limit must be greater than 0", "VALIDATION_ERROR")
    return min(limit, maximum)


async def list_objects(request: Request):
    app = _crm(request)
    t = _type(request)
    q = request.query_params
    limit = _limit(q.get("limit"), 10, app.options["list_max"])
    after = q.get("after")
    archived = q.get("archived", "false") == "true"
    try:
        cursor = int(after) - 1 if after else None
    except ValueError as exc:
        raise HubSpotError(400, f"Unable to parse after {after!r}", "VALIDATION_ERROR") from exc
    wanted = _wanted(q.get("properties"))
    associations = _wanted(q.get("associations"))
    results = []
    last = None
    for doc in app.store.iter_by_id(t.entity, after=cursor):
        if bool(doc.get("archived")) != archived:
            continue
        if len(results) == limit:
            last = doc
            break
        results.append(doc)
    payload: dict[str, Any] = {"results": [render(d, wanted, t, associations) for d in results]}
    if last is not None:
        nxt = str(last["id"])
        params = {"limit": limit, "after": nxt}
        if q.get("properties"):
            params["properties"] = q.get("properties")
        if q.get("associations"):
            params["associations"] = q.get("associations")
        if archived:
            params["archived"] = "true"
        payload["paging"] = {
            "next": {"after": nxt, "link": f"{base_url(request)}/crm/v3/objects/{t.name}?{urlencode(params)}"}
        }
    return 200, payload


async def get_object(request: Request):
    app = _crm(request)
    t = _type(request)
    q = request.query_params
    doc = _find(app.store, request.path_params["object_id"], q.get("idProperty"), t)
    archived = q.get("archived", "false") == "true"
    if doc is None or bool(doc.get("archived")) != archived:
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
    return 200, render(doc, _wanted(q.get("properties")), t, _wanted(q.get("associations")))


async def create_object(request: Request):
    app = _crm(request)
    t = _type(request)
    body = await _json(request)
    props = _validate((body or {}).get("properties") if isinstance(body, dict) else None, t)
    return 201, render(_create(app, props, t), list(props) or None, t)


async def patch_object(request: Request):
    app = _crm(request)
    t = _type(request)
    doc = _find(app.store, request.path_params["object_id"], request.query_params.get("idProperty"), t)
    if doc is None or doc.get("archived"):
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
    body = await _json(request)
    props = _validate((body or {}).get("properties") if isinstance(body, dict) else None, t)
    updated = _update(app, doc, props, t)
    return 200, render(updated, sorted(updated["properties"]), t)


def _archive(store: Store, doc: dict[str, Any], t: ObjectType = CONTACTS) -> None:
    new = {k: v for k, v in doc.items() if k != "updated_at"}
    new["archived"] = True
    new["archivedAt"] = _iso_dt(datetime.now(UTC))
    store.put(t.entity, doc["id"], new)
    for prop in t.unique:
        value = (doc["properties"].get(prop) or "").lower()
        if value:
            store.delete(t.index(prop), value)


async def delete_object(request: Request):
    app = _crm(request)
    t = _type(request)
    doc = _find(app.store, request.path_params["object_id"], request.query_params.get("idProperty"), t)
    if doc is not None and not doc.get("archived"):
        _archive(app.store, doc, t)
    return 204, None  # HubSpot answers 204 for an unknown id too


def blocklist_key(email: str) -> str:
    """The GDPR blocklist keeps a digest of the address, not the address: the erased person's e-mail is
    nowhere in the store afterwards, yet a re-created contact with it is still recognised."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _blocklist(store: Store, email: str) -> None:
    store.put("gdpr_blocklist", blocklist_key(email), {"deleted_at": _iso_dt(datetime.now(UTC))})


async def gdpr_delete(request: Request):
    app = _crm(request)
    store = app.store
    body = await _json(request)
    if not isinstance(body, dict) or not body.get("objectId"):
        raise HubSpotError(400, 'Invalid input JSON: "objectId" is required', "VALIDATION_ERROR")
    id_property = body.get("idProperty")
    doc = _find(store, str(body["objectId"]), id_property)
    if doc is None:
        if id_property == "email":
            _blocklist(store, str(body["objectId"]))
            return 204, None
        raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
    email = (doc["properties"].get("email") or "").lower()
    store.delete("contact", doc["id"])
    if email:
        store.delete("contact_email", email)
        _blocklist(store, email)
    return 204, None


# -- search ------------------------------------------------------------------------------------
def _prop_value(doc: dict[str, Any], name: str, t: ObjectType = CONTACTS) -> Any:
    if name == "hs_object_id":
        return doc["id"]
    if name == t.modified:
        return epoch_ms(doc["updated_at"])
    if name == "createdate":
        return _created_ms(doc)
    value = doc["properties"].get(name)
    kind = t.properties.get(name)
    if value is not None and kind == "number":
        try:
            return float(value)
        except ValueError:
            return None
    if value is not None and kind == "datetime":
        try:
            return _to_ms(str(value))
        except ValueError:
            return None
    return value


def _created_ms(doc: dict[str, Any]) -> int:
    moment = datetime.strptime(doc["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _coerce(name: str, value: Any, t: ObjectType = CONTACTS) -> Any:
    kind = t.properties.get(name)
    if name in (t.modified, "createdate") or kind == "datetime":
        text = str(value)
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError as exc:
            raise HubSpotError(
                400, f"{value} is not a valid datetime value for {name}", "VALIDATION_ERROR"
            ) from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    if name == "hs_object_id":
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise HubSpotError(400, f"{value} is not a valid id", "VALIDATION_ERROR") from exc
    if kind == "number":
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise HubSpotError(400, f"{value} is not a valid number for {name}", "VALIDATION_ERROR") from exc
    return None if value is None else str(value)


def _filter(f: Any, t: ObjectType = CONTACTS):
    if not isinstance(f, dict) or "propertyName" not in f or "operator" not in f:
        raise HubSpotError(400, "Invalid filter: propertyName and operator are required", "VALIDATION_ERROR")
    name, op = f["propertyName"], f["operator"]
    if name not in t.properties and name not in t.readonly:
        raise HubSpotError(
            400, f"There was a problem with the request: property {name} does not exist", "VALIDATION_ERROR"
        )
    numeric = name in t.readonly or t.properties.get(name) in ("number", "datetime")

    def value_of(d: dict[str, Any]) -> Any:
        return _prop_value(d, name, t)

    def norm(v: Any) -> Any:
        return v if numeric or v is None else str(v).lower()

    if op == "HAS_PROPERTY":
        return lambda d: value_of(d) not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return lambda d: value_of(d) in (None, "")
    if op in ("IN", "NOT_IN"):
        values = {norm(_coerce(name, v, t)) for v in f.get("values") or []}
        want = op == "IN"
        return lambda d: (norm(value_of(d)) in values) is want
    if op == "BETWEEN":
        low, high = norm(_coerce(name, f.get("value"), t)), norm(_coerce(name, f.get("highValue"), t))
        return lambda d: value_of(d) is not None and low <= norm(value_of(d)) <= high
    if op == "CONTAINS_TOKEN":
        token = str(f.get("value", "")).lower().replace("*", "")
        return lambda d: token in str(value_of(d) or "").lower()
    if op == "NOT_CONTAINS_TOKEN":
        token = str(f.get("value", "")).lower().replace("*", "")
        return lambda d: token not in str(value_of(d) or "").lower()
    value = norm(_coerce(name, f.get("value"), t))
    ops = {
        "EQ": lambda a: a == value,
        "NEQ": lambda a: a != value,
        "LT": lambda a: a < value,
        "LTE": lambda a: a <= value,
        "GT": lambda a: a > value,
        "GTE": lambda a: a >= value,
    }
    if op not in ops:
        raise HubSpotError(400, f"Unsupported operator {op}", "VALIDATION_ERROR")
    test = ops[op]

    def check(d: dict[str, Any]) -> bool:
        got = norm(value_of(d))
        if got is None:
            return op == "NEQ"
        try:
            return test(got)
        except TypeError:
            return False

    return check


async def search_objects(request: Request):
    app = _crm(request)
    t = _type(request)
    body = await _json(request)
    if not isinstance(body, dict):
        body = {}
    limit = _limit(body.get("limit"), 10, app.options["search_max"])
    try:
        after = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise HubSpotError(400, f"Unable to parse after {body.get('after')!r}", "VALIDATION_ERROR") from exc
    if after >= SEARCH_CAP:
        raise HubSpotError(
            400, f"Paging beyond {SEARCH_CAP} results is not supported (after={after}).", "VALIDATION_ERROR"
        )
    groups = body.get("filterGroups") or []
    if len(groups) > 5 or sum(len(g.get("filters") or []) for g in groups if isinstance(g, dict)) > 18:
        raise HubSpotError(
            400, "Too many filters: at most 5 filterGroups and 18 filters in all.", "VALIDATION_ERROR"
        )
    compiled = []
    for group in groups:
        filters = [_filter(f, t) for f in (group.get("filters") or [] if isinstance(group, dict) else [])]
        if filters:
            compiled.append(filters)
    query = str(body.get("query") or "").lower()
    store = app.store
    since = _modified_since(groups, t) if len(compiled) == 1 else None
    source = (
        store.iter_by_updated(t.entity, since=since, inclusive=True) if since else store.iter_by_id(t.entity)
    )
    matches = []
    for doc in source:
        if doc.get("archived"):
            continue
        if compiled and not any(all(f(doc) for f in group) for group in compiled):
            continue
        if query and not any(query in str(doc["properties"].get(p) or "").lower() for p in t.query_fields):
            continue
        matches.append(doc)
    sorts = body.get("sorts") or []
    if since:
        matches.sort(key=lambda d: d["id"])
    for sort in reversed(sorts):
        if isinstance(sort, str):
            name, reverse = sort.lstrip("-"), sort.startswith("-")
        elif isinstance(sort, dict):
            name, reverse = sort.get("propertyName"), sort.get("direction", "ASCENDING") == "DESCENDING"
        else:
            continue
        matches.sort(
            key=lambda d, n=name: (_prop_value(d, n, t) is None, _sortable(_prop_value(d, n, t))),
            reverse=reverse,
        )
    total = len(matches)
    page = matches[after : after + limit]
    payload: dict[str, Any] = {
        "total": total,
        "results": [render(d, _wanted(body.get("properties")), t) for d in page],
    }
    nxt = after + limit
    if nxt < total and nxt < SEARCH_CAP:
        payload["paging"] = {"next": {"after": str(nxt)}}
    return 200, payload


def _modified_since(groups: list[Any], t: ObjectType = CONTACTS) -> str | None:
    """A store stamp at or before which no match of the (single) filter group can be, from its
    modified-date (``lastmodifieddate``, ``hs_lastmodifieddate``) GT/GTE/EQ/BETWEEN filter: lets the
    search start from the updated index."""
    best = None
    for f in groups[0].get("filters") or []:
        if (
            isinstance(f, dict)
            and f.get("propertyName") == t.modified
            and f.get("operator") in ("GT", "GTE", "EQ", "BETWEEN")
        ):
            ms = _coerce(t.modified, f.get("value"), t)
            stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"
            if best is None or stamp > best:
                best = stamp
    return best


def _sortable(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, int | float):
        return f"{value:020.3f}"
    return str(value).lower()


# -- batch -------------------------------------------------------------------------------------
def _inputs(body: Any, app: SandboxApp) -> list[Any]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise HubSpotError(400, 'Invalid input JSON: "inputs" is required', "VALIDATION_ERROR")
    if len(inputs) > app.options["batch_max"]:
        raise HubSpotError(
            400,
            f"Batch input size exceeds the limit of {app.options['batch_max']}",
            "VALIDATION_ERROR",
            context={"limit": [str(app.options["batch_max"])]},
        )
    return inputs


def _batch_result(
    results: list[dict[str, Any]], errors: list[dict[str, Any]], started: str
) -> tuple[int, dict[str, Any]]:
    payload: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _iso_dt(datetime.now(UTC)),
    }
    if errors:
        payload["numErrors"] = len(errors)
        payload["errors"] = errors
        return 207, payload
    return 200, payload


def _input_error(exc: HubSpotError, ident: Any) -> dict[str, Any]:
    return {
        "status": "error",
        "category": exc.category,
        "message": exc.message,
        "context": {"ids": [str(ident)]},
        "errors": [],
    }


async def batch_upsert(request: Request):
    app = _crm(request)
    t = _type(request)
    started = _iso_dt(datetime.now(UTC))
    inputs = _inputs(await _json(request), app)
    results, errors = [], []
    for item in inputs:
        ident = item.get("id") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict) or not ident:
                raise HubSpotError(400, 'Each input needs an "id"', "VALIDATION_ERROR")
            id_property = item.get("idProperty") or "hs_object_id"
            props = _validate(item.get("properties") or {}, t)
            if id_property in t.unique:
                if id_property == "email" and not _EMAIL.match(str(ident)):
                    raise HubSpotError(400, f"Email address {ident} is invalid", "VALIDATION_ERROR")
                props.setdefault(id_property, str(ident))
                if props[id_property] and props[id_property].lower() != str(ident).lower():
                    raise HubSpotError(
                        400,
                        f"The {id_property} property must match the id of an {id_property} upsert",
                        "VALIDATION_ERROR",
                    )
            existing = _find(app.store, str(ident), id_property, t)
            if existing is not None and existing.get("archived"):
                existing = None
            if existing is None:
                if id_property not in t.unique:
                    raise HubSpotError(404, f"Object {ident} not found", "OBJECT_NOT_FOUND")
                doc, new = _create(app, props, t), True
            else:
                doc, new = _update(app, existing, props, t), False
        except HubSpotError as exc:
            errors.append(_input_error(exc, ident))
            continue
        result = render(doc, sorted(doc["properties"]), t)
        result["new"] = new
        results.append(result)
    return _batch_result(results, errors, started)


async def batch_create(request: Request):
    app = _crm(request)
    t = _type(request)
    started = _iso_dt(datetime.now(UTC))
    inputs = _inputs(await _json(request), app)
    planned = []
    for item in inputs:  # HubSpot validates a batch create as a whole
        planned.append(_validate(item.get("properties") if isinstance(item, dict) else None, t))
    results = [render(_create(app, props, t), sorted(props), t) for props in planned]
    return 201, {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _iso_dt(datetime.now(UTC)),
    }


async def batch_update(request: Request):
    app = _crm(request)
    t = _type(request)
    started = _iso_dt(datetime.now(UTC))
    inputs = _inputs(await _json(request), app)
    results, errors = [], []
    for item in inputs:
        ident = item.get("id") if isinstance(item, dict) else None
        try:
            doc = _find(app.store, str(ident), item.get("idProperty") if isinstance(item, dict) else None, t)
            if doc is None or doc.get("archived"):
                raise HubSpotError(404, f"Object {ident} not found", "OBJECT_NOT_FOUND")
            updated = _update(app, doc, _validate(item.get("properties") or {}, t), t)
        except HubSpotError as exc:
            errors.append(_input_error(exc, ident))
            continue
        results.append(render(updated, sorted(updated["properties"]), t))
    return _batch_result(results, errors, started)


async def batch_read(request: Request):
    app = _crm(request)
    t = _type(request)
    started = _iso_dt(datetime.now(UTC))
    body = await _json(request)
    inputs = _inputs(body, app)
    wanted = _wanted(body.get("properties"))
    id_property = body.get("idProperty")
    results, missing = [], []
    for item in inputs:
        ident = item.get("id") if isinstance(item, dict) else None
        doc = _find(app.store, str(ident), id_property, t)
        if doc is None or doc.get("archived"):
            missing.append(str(ident))
            continue
        results.append(render(doc, wanted, t))
    errors = []
    if missing:
        errors.append(
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {t.noun.upper()} objects, they may be deleted or not exist. "
                "Check that ids are valid.",
                "context": {"ids": missing},
            }
        )
    return _batch_result(results, errors, started)


async def batch_archive(request: Request):
    app = _crm(request)
    t = _type(request)
    for item in _inputs(await _json(request), app):
        doc = _find(app.store, str(item.get("id") if isinstance(item, dict) else ""), None, t)
        if doc is not None and not doc.get("archived"):
            _archive(app.store, doc, t)
    return 204, None


def routes() -> list[Route]:
    base = "/crm/v3/objects/{object_type}"
    return [
        # GDPR deletion exists for contacts only.
        Route("/crm/v3/objects/contacts/gdpr-delete", _guard(gdpr_delete), methods=["POST"]),
        Route(base, _guard(list_objects), methods=["GET"]),
        Route(base, _guard(create_object), methods=["POST"]),
        Route(base + "/search", _guard(search_objects), methods=["POST"]),
        Route(base + "/batch/upsert", _guard(batch_upsert), methods=["POST"]),
        Route(base + "/batch/create", _guard(batch_create), methods=["POST"]),
        Route(base + "/batch/update", _guard(batch_update), methods=["POST"]),
        Route(base + "/batch/read", _guard(batch_read), methods=["POST"]),
        Route(base + "/batch/archive", _guard(batch_archive), methods=["POST"]),
        Route(base + "/{object_id}", _guard(get_object), methods=["GET"]),
        Route(base + "/{object_id}", _guard(patch_object), methods=["PATCH"]),
        Route(base + "/{object_id}", _guard(delete_object), methods=["DELETE"]),
    ]


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: CrmCredentials | None = None,
    faults: FaultConfig | None = None,
    *,
    block_gdpr_recreate: bool = False,
    enforce_rate_limit: bool = False,
    list_max: int = LIST_MAX,
    search_max: int = SEARCH_MAX,
    batch_max: int = BATCH_MAX,
) -> SandboxApp:
    """The CRM stand-in (HubSpot CRM v3 contacts, companies, deals, products). The ``*_max`` options raise HubSpot's page and
    batch caps for benchmarks."""
    return SandboxApp(
        name="crm",
        routes=routes(),
        store_path=store_path,
        seed=seed,
        seeder=seed_crm,
        faults=faults,
        error_body=error_body,
        credentials=credentials or CrmCredentials.from_env(),
        options={
            "block_gdpr_recreate": block_gdpr_recreate,
            "enforce_rate_limit": enforce_rate_limit,
            "list_max": list_max,
            "search_max": search_max,
            "batch_max": batch_max,
            "rate": RateWindow(),
        },
    )
