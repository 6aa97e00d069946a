"""Shopify Admin GraphQL API (pinned version, 2025-10 by default), through a custom app's Admin API
access token (``X-Shopify-Access-Token``).

Every call is ``POST <shop>/admin/api/<version>/graphql.json``. Records keep Shopify's shape, with
GIDs as ids (``gid://shopify/Product/123``) and connections flattened to lists (``variants`` is a
list of variants, not ``{nodes: [...]}``), so mapping paths read ``variants[0].sku``.

Entities:

- ``products`` (with their first variants: id, SKU, price, barcode, inventory item id): read
  ``products(first:, after:, query:, sortKey:)``; written with ``productCreate`` /
  ``productUpdate`` (matched by id, else by ``handle``); a record's ``variants`` list (``sku``,
  ``price``, ``compareAtPrice``, ``barcode``) is then written with ``productVariantsBulkCreate``
  (the standalone default variant replaced) / ``productVariantsBulkUpdate`` (matched by SKU);
  deleted with ``productDelete``.
- ``variants``: read ``productVariants``; written with ``productVariantsBulkUpdate`` (matched by id,
  else by SKU) or ``productVariantsBulkCreate`` when the record names its ``productId``.
- ``inventory_levels``: one record per inventory item and location (id ``<item>@<location>``,
  numeric ids), read through ``location.inventoryLevels`` location after location; written with
  ``inventorySetQuantities`` (name ``available``, reason ``correction``). The item is the record's
  ``inventoryItemId`` or found by its ``sku``; the location is a GID, a numeric id or a location name.
  Shopify applies such a call whole or not at all: when it answers userErrors, the quantities they
  name fail and the rest are sent again.
- ``orders`` (read only: the Admin API cannot rewrite an order's buyer), ``customers`` (read;
  ``customerCreate`` / ``customerUpdate``, matched by id, else by e-mail; ``customerDelete``).

Writes send one GraphQL document per batch with one aliased mutation per record (``r0: productUpdate(
product: $r0) {…}``): each record gets its own ``userErrors``, so one bad record fails alone. A value
Shopify's schema refuses (a price that is not a decimal) fails the whole document with a GraphQL
error naming the variable (``$r3``): that record fails and the others are sent again.

Paging: ``first``/``after`` with ``pageInfo { hasNextPage endCursor }``. Incremental reads filter
``query: "updated_at:>='<since>'"`` (inclusive: Shopify's timestamps have second precision, and a
record changed in the same second as the previous read's last one must not be missed; the engine's
change detection drops the ones that did not change) sorted by ``UPDATED_AT``.

GraphQL errors in an HTTP 200 answer are errors, never data: ``THROTTLED`` is waited out and retried,
``INTERNAL_SERVER_ERROR`` is transient, ``ACCESS_DENIED`` is an authorisation failure (a missing
scope), the rest (an invalid query, a cost above the single-query cap) a configuration error.

Cost-based throttling: each answer's ``extensions.cost`` tells the query's requested cost and the
bucket (``throttleStatus``: maximum, currently available, restore rate). Before sending a query whose
cost is known, the connector waits ``(requested - available) / restoreRate`` seconds when the bucket
(refilled by the time passed since) cannot pay for it; a ``THROTTLED`` answer is waited out the same
way and sent again (``max_throttle_retries`` times). The bucket is Shopify's per app and shop: several
processes reading one shop at once may still meet ``THROTTLED``, which is retried.

GDPR: customers are found by e-mail, phone or id; erasure is Shopify's
``customerRequestDataErasure`` (strategy ``vendor``: Shopify redacts the customer and the personal
data on their orders; it carries the request out later, not at once) or ``customerDelete``
(``delete``: refused by Shopify for a customer with orders). Orders are found by e-mail or customer
and kept (``exempt``): the Admin API cannot overwrite their billing details and Shopify itself redacts
them with the customer's erasure request. ``export_subject`` is ``fetch``.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.choices import SystemRole
from flows.connectors.base import (
    Capability,
    Connector,
    Entity,
    Field,
    Page,
    SubjectEntity,
    WriteMode,
    WriteResult,
)
from flows.connectors.errors import (
    AuthError,
    ConfigError,
    RateLimited,
    RecordError,
    TransientError,
)
from flows.connectors.http import HubClient, decode_json, remote_message
from flows.connectors.registry import register_connector

DEFAULT_API_VERSION = "2025-10"
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")
_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)")
_VARIABLE = re.compile(r"\$r(\d+)(?:_[A-Za-z]+)?\b")

MONEY = "shopMoney { amount currencyCode }"
ADDRESS = (
    "firstName lastName company address1 address2 city zip province provinceCode country countryCodeV2 phone"
)
VARIANT_NODE = "id title sku barcode price compareAtPrice position inventoryItem { id }"
PRODUCT_FIELDS = (
    "id legacyResourceId title handle descriptionHtml vendor productType status tags createdAt updatedAt "
    "totalInventory variants(first: %(variants)d) { pageInfo { hasNextPage endCursor } "
    f"nodes {{ {VARIANT_NODE} }} }}"
)
VARIANT_FIELDS = (
    "id legacyResourceId title displayName sku barcode price compareAtPrice position inventoryQuantity "
    "createdAt updatedAt product { id handle } inventoryItem { id tracked }"
)
CUSTOMER_FIELDS = (
    "id legacyResourceId firstName lastName displayName email phone state note tags locale verifiedEmail "
    f"numberOfOrders createdAt updatedAt amountSpent {{ amount currencyCode }} defaultAddress {{ {ADDRESS} }} "
    f"addresses {{ {ADDRESS} }}"
)
LINE_FIELDS = f"id sku name quantity originalUnitPriceSet {{ {MONEY} }} variant {{ id }}"
ORDER_FIELDS = (
    "id legacyResourceId name email phone createdAt updatedAt processedAt cancelledAt closed "
    "displayFinancialStatus displayFulfillmentStatus currencyCode "
    f"subtotalPriceSet {{ {MONEY} }} totalTaxSet {{ {MONEY} }} totalShippingPriceSet {{ {MONEY} }} "
    f"totalPriceSet {{ {MONEY} }} customer {{ id }} shippingAddress {{ {ADDRESS} }} "
    f"billingAddress {{ {ADDRESS} }} tags note lineItems(first: %(lines)d) {{ pageInfo {{ hasNextPage endCursor }} "
    f"nodes {{ {LINE_FIELDS} }} }}"
)
LEVEL_FIELDS = 'id updatedAt item { id sku } quantities(names: ["available", "on_hand"]) { name quantity }'
USER_ERRORS = "userErrors { field message }"
CODED_ERRORS = "userErrors { field message code }"

# entity → (the top-level connection, the node type for ``nodes(ids:)``, its sort key when incremental)
LISTS = {
    "products": ("products", "Product", "UPDATED_AT"),
    "variants": ("productVariants", "ProductVariant", None),
    "orders": ("orders", "Order", "UPDATED_AT"),
    "customers": ("customers", "Customer", "UPDATED_AT"),
}
# entity → {field a lookup may name: the search field of Shopify's query syntax}
SEARCH_FIELDS = {
    "products": {
        "handle": "handle",
        "title": "title",
        "variants.sku": "sku",
        "sku": "sku",
        "status": "status",
    },
    "variants": {"sku": "sku", "barcode": "barcode", "product.id": "product_id"},
    "orders": {"email": "email", "customer.id": "customer_id", "name": "name"},
    "customers": {"email": "email", "phone": "phone"},
}
PRODUCT_INPUT = ("title", "handle", "descriptionHtml", "vendor", "productType", "status", "tags")
CUSTOMER_INPUT = ("email", "firstName", "lastName", "phone", "note", "tags", "locale")
ADDRESS_INPUT = (
    "firstName",
    "lastName",
    "company",
    "address1",
    "address2",
    "city",
    "zip",
    "provinceCode",
    "countryCode",
    "phone",
)
VARIANT_INPUT = ("price", "compareAtPrice", "barcode")


def _f(name, kind="string", label="", personal="", required=False) -> Field:
    return Field(name, kind, str(label or name), required=required, personal=personal)


def _fields(entity: str) -> tuple[Field, ...]:
    common = (_f("id", label=_("ID"), required=True), _f("legacyResourceId", label=_("Numeric ID")))
    stamps = (_f("createdAt", "datetime", _("Created")), _f("updatedAt", "datetime", _("Updated")))
    if entity == "products":
        return (
            *common,
            _f("title", label=_("Title"), required=True),
            _f("handle", label=_("Handle")),
            _f("descriptionHtml", label=_("Description (HTML)")),
            _f("vendor", label=_("Vendor")),
            _f("productType", label=_("Product type")),
            _f("status", label=_("Status")),
            _f("tags", "array", _("Tags")),
            _f("totalInventory", "integer", _("Total inventory")),
            _f("variants", "array", _("Variants")),
            _f("variants[0].sku", label=_("SKU (first variant)")),
            _f("variants[0].price", "number", _("Price (first variant)")),
            _f("variants[0].barcode", label=_("Barcode (first variant)")),
            *stamps,
        )
    if entity == "variants":
        return (
            *common,
            _f("sku", label=_("SKU")),
            _f("title", label=_("Title")),
            _f("price", "number", _("Price")),
            _f("compareAtPrice", "number", _("Compare-at price")),
            _f("barcode", label=_("Barcode")),
            _f("inventoryQuantity", "integer", _("Inventory quantity")),
            _f("product.id", label=_("Product ID")),
            _f("inventoryItem.id", label=_("Inventory item ID")),
            *stamps,
        )
    if entity == "inventory_levels":
        return (
            _f("id", label=_("ID (item@location)"), required=True),
            _f("inventoryItemId", label=_("Inventory item ID"), required=True),
            _f("locationId", label=_("Location ID"), required=True),
            _f("locationName", label=_("Location")),
            _f("sku", label=_("SKU")),
            _f("available", "integer", _("Available")),
            _f("on_hand", "integer", _("On hand")),
            _f("updatedAt", "datetime", _("Updated")),
        )
    if entity == "orders":
        return (
            *common,
            _f("name", label=_("Order number")),
            _f("email", label=_("E-mail"), personal="email"),
            _f("phone", label=_("Phone"), personal="phone"),
            _f("customer.id", label=_("Customer ID")),
            _f("displayFinancialStatus", label=_("Financial status")),
            _f("displayFulfillmentStatus", label=_("Fulfilment status")),
            _f("currencyCode", label=_("Currency")),
            _f("totalPriceSet.shopMoney.amount", "number", _("Total")),
            _f("subtotalPriceSet.shopMoney.amount", "number", _("Subtotal")),
            _f("totalTaxSet.shopMoney.amount", "number", _("Tax")),
            _f("totalShippingPriceSet.shopMoney.amount", "number", _("Shipping")),
            _f("lineItems", "array", _("Line items")),
            _f("shippingAddress", "object", _("Shipping address"), personal="address"),
            _f("billingAddress", "object", _("Billing address"), personal="address"),
            _f("processedAt", "datetime", _("Processed")),
            _f("cancelledAt", "datetime", _("Cancelled")),
            *stamps,
        )
    return (  # customers
        *common,
        _f("email", label=_("E-mail"), personal="email"),
        _f("firstName", label=_("First name"), personal="name"),
        _f("lastName", label=_("Last name"), personal="name"),
        _f("phone", label=_("Phone"), personal="phone"),
        _f("state", label=_("Account state")),
        _f("locale", label=_("Language")),
        _f("note", label=_("Note")),
        _f("tags", "array", _("Tags")),
        _f("numberOfOrders", "integer", _("Orders")),
        _f("defaultAddress", "object", _("Default address"), personal="address"),
        _f("addresses", "array", _("Addresses"), personal="address"),
        *stamps,
    )


def gid_number(value) -> str | None:
    """The numeric part of a GID (or a number given as text); None otherwise."""
    text = str(value or "").strip()
    match = _GID.match(text)
    if match:
        return match["id"]
    return text if text.isdigit() else None


def as_gid(kind: str, value) -> str | None:
    """A GID of ``kind`` from a GID or a bare number; None for anything else."""
    text = str(value or "").strip()
    match = _GID.match(text)
    if match:
        return text if match["type"] == kind else None
    return f"gid://shopify/{kind}/{text}" if text.isdigit() else None


def shopify_time(value: str) -> str:
    """An ISO-8601 bound as Shopify's search wants it (UTC, seconds)."""
    moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def flatten(value):
    """Connections (``{nodes: [...], pageInfo}``) become plain lists, recursively."""
    if isinstance(value, dict):
        if "nodes" in value and set(value) <= {"nodes", "pageInfo", "edges"}:
            return [flatten(v) for v in value["nodes"] or []]
        return {k: flatten(v) for k, v in value.items()}
    if isinstance(value, list):
        return [flatten(v) for v in value]
    return value


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def user_error_text(errors) -> str:
    parts = []
    for error in errors or []:
        if not isinstance(error, dict):
            continue
        field = ".".join(str(f) for f in error.get("field") or [])
        message = str(error.get("message") or "").strip()
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(p for p in parts if p)


class GraphQLErrors(ConfigError):
    """GraphQL errors in an HTTP 200 answer (an invalid query or variable): ``errors`` as Shopify sent them."""

    def __init__(self, message: str, errors: list, **kwargs):
        super().__init__(message, **kwargs)
        self.errors = errors


@register_connector
class ShopifyConnector(Connector):
    key = "shopify"
    label = "Shopify"
    description = gettext_lazy(
        "Shopify through its Admin GraphQL API (pinned version): products and variants, inventory "
        "levels, orders and customers, with cost-based throttling and customer data-erasure requests."
    )
    help_text = gettext_lazy(
        "In the Shopify admin, open Settings > Apps and sales channels > Develop apps, create an app, "
        "give it the Admin API scopes read_products, write_products, read_inventory, write_inventory, "
        "read_orders, read_customers and write_customers, install it and copy the Admin API access "
        "token (it starts with “shpat_” and is shown once). The shop URL is your "
        "https://<store>.myshopify.com address."
    )
    roles = (SystemRole.ECOMMERCE,)
    capabilities = frozenset(
        {
            Capability.READ,
            Capability.WRITE,
            Capability.DELETE,
            Capability.DISCOVER,
            Capability.SUBJECT_LOOKUP,
            Capability.SUBJECT_ERASE,
            Capability.SUBJECT_EXPORT,
        }
    )
    subject_entities = (
        SubjectEntity(
            entity="customers",
            identifiers={"email": "email", "phone": "phone", "customer_id": "id"},
            # Shopify's own GDPR erasure: the customer and the personal data on their orders are
            # redacted by Shopify (customerRequestDataErasure). customerDelete is refused by Shopify
            # for customers with orders.
            strategy="vendor",
            strategies=("vendor", "delete"),
            label=gettext_lazy("Customers"),
            noun=gettext_lazy("customer"),
        ),
        SubjectEntity(
            entity="orders",
            identifiers={"email": "email", "customer_id": "customer.id"},
            strategy="exempt",
            strategies=("exempt",),
            exemption=gettext_lazy(
                "Art. 17(3)(b): orders kept for 10 years under commercial and tax law. Shopify's Admin "
                "API cannot overwrite an order's buyer and billing details; the customer's erasure "
                "request makes Shopify redact the personal data on their orders itself."
            ),
            label=gettext_lazy("Orders"),
            noun=gettext_lazy("order"),
        ),
    )
    parameters = {
        "base_url": forms.URLField(
            label=gettext_lazy("Shop URL"),
            help_text=gettext_lazy("e.g. https://your-store.myshopify.com — the hub adds /admin/api/…"),
        ),
        "api_version": forms.CharField(
            label=gettext_lazy("API version"),
            required=False,
            initial=DEFAULT_API_VERSION,
            help_text=gettext_lazy(
                "The Admin API version the hub is pinned to (YYYY-MM; Shopify supports each for a year)."
            ),
        ),
    }
    sensitive_parameters = ("access_token",)

    # Page sizes chosen so that each query stays well under Shopify's single-query cost cap (1000).
    page_sizes = {"products": 25, "variants": 100, "orders": 15, "customers": 50, "inventory_levels": 100}
    product_variants = 10  # variants read with each product (the rest fetched when a product has more)
    order_lines = 10  # line items read with each order (likewise)
    fetch_chunk = 10
    lookup_chunk = 20  # values per search query
    write_chunk = 20  # aliased mutations per document (10 cost points each)
    inventory_chunk = 100  # quantities per inventorySetQuantities
    max_throttle_retries = 8
    max_throttle_wait = 60.0

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        if not str(secrets.get("access_token") or "").strip():
            errors["access_token"] = _("Give the app's Admin API access token (it starts with “shpat_”).")
        version = str(params.get("api_version") or DEFAULT_API_VERSION).strip()
        if not _VERSION.match(version):
            errors["api_version"] = _("An API version looks like 2025-10 (a year and 01, 04, 07 or 10).")
        if re.search(r"/admin(/|$)", str(params.get("base_url") or "")):
            errors["base_url"] = _("Give the shop's address without /admin/…: the hub adds it.")
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self.sleep = time.sleep
        self._bucket: dict | None = None  # the last throttleStatus seen, with when
        self._costs: dict[str, int] = {}  # requested cost of each query text
        self._locations: list[dict] | None = None

    @property
    def api_version(self) -> str:
        return str(self.params.get("api_version") or DEFAULT_API_VERSION).strip()

    @property
    def client(self) -> HubClient:
        if self._client is None:
            base = str(self.params.get("base_url") or "").rstrip("/")
            self._client = HubClient(
                self.settings,
                base_url=f"{base}/admin/api/{self.api_version}/" if base else "",
                headers={
                    "X-Shopify-Access-Token": str(self.secrets.get("access_token") or "").strip(),
                    "Content-Type": "application/json",
                },
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def _available_now(self) -> float | None:
        if not self._bucket:
            return None
        elapsed = time.monotonic() - self._bucket["at"]
        return min(self._bucket["maximum"], self._bucket["available"] + elapsed * self._bucket["rate"])

    def _wait_for_budget(self, query: str) -> None:
        """Wait until the bucket (as last reported, refilled since) can pay for ``query``."""
        cost = self._costs.get(query)
        available = self._available_now()
        if cost is None or available is None or cost <= available:
            return
        if cost > self._bucket["maximum"]:
            raise ConfigError(
                _("This query costs %(cost)s points, more than the shop's bucket holds (%(max)s).")
                % {"cost": cost, "max": self._bucket["maximum"]},
                reason="config",
            )
        rate = self._bucket["rate"] or 1.0
        self.sleep(min(self.max_throttle_wait, (cost - available) / rate))

    def _note_cost(self, query: str, cost) -> dict | None:
        if not isinstance(cost, dict):
            return None
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self._costs[query] = int(requested)
        status = cost.get("throttleStatus")
        if isinstance(status, dict):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                self._bucket = {
                    "maximum": float(status["maximumAvailable"]),
                    "available": float(status["currentlyAvailable"]),
                    "rate": float(status["restoreRate"]),
                    "at": time.monotonic(),
                }
        return status if isinstance(status, dict) else None

    def _post(self, query: str, variables: dict | None, idempotent: bool) -> httpx.Response:
        try:
            return self.client.request(
                "POST",
                "graphql.json",
                json={"query": query, "variables": variables or {}},
                idempotent=idempotent,
            )
        except AuthError as exc:
            if exc.status == 403:
                raise AuthError(
                    _(
                        "Shopify accepted the access token but the app lacks a scope for this (HTTP 403): "
                        "give it read/write_products, read/write_inventory, read_orders and "
                        "read/write_customers, then reinstall it."
                    ),
                    status=403,
                    reason="forbidden",
                    detail=exc.detail,
                ) from exc
            raise AuthError(
                _(
                    "Shopify refused the access token (HTTP 401). Copy the app's Admin API access token "
                    "again (Settings > Apps and sales channels > Develop apps > your app > API credentials)."
                ),
                status=exc.status,
                reason="auth",
                detail=exc.detail,
            ) from exc

    def graphql(self, query: str, variables: dict | None = None, *, idempotent: bool = True) -> dict:
        """Send one GraphQL document; its ``data``. Throttling is waited out; GraphQL errors raise."""
        for attempt in range(self.max_throttle_retries + 1):
            self._wait_for_budget(query)
            response = self._post(query, variables, idempotent)
            status = response.status_code
            if status == 404:
                raise ConfigError(
                    _(
                        "Shopify has no Admin API at this address for version %(version)s (HTTP 404): check "
                        "the shop URL and the API version."
                    )
                    % {"version": self.api_version},
                    status=404,
                    reason="config",
                )
            if status >= 400:
                raise ConfigError(
                    _("Shopify refused the request (HTTP %(status)s): %(message)s")
                    % {"status": status, "message": remote_message(response)},
                    status=status,
                    reason="http",
                )
            body = decode_json(response)
            if not isinstance(body, dict):
                raise TransientError(
                    _("Shopify answered something else than a JSON object."),
                    status=status,
                    reason="malformed",
                    detail=response.text[:200],
                )
            throttle = self._note_cost(query, (body.get("extensions") or {}).get("cost"))
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise TransientError(
                        _("Shopify's answer holds no data."), status=status, reason="malformed"
                    )
                return data
            if isinstance(errors, str | dict):  # Shopify's REST-style error shapes
                raise ConfigError(
                    _("Shopify refused the request: %(message)s") % {"message": json.dumps(errors)[:300]},
                    status=status,
                    reason="http",
                )
            codes = {
                str(((e.get("extensions") or {}).get("code")) or "") for e in errors if isinstance(e, dict)
            }
            if "THROTTLED" in codes:
                if attempt >= self.max_throttle_retries:
                    break
                requested = self._costs.get(query) or 0
                available = float((throttle or {}).get("currentlyAvailable") or 0)
                rate = float((throttle or {}).get("restoreRate") or 0) or 50.0
                wait = max(0.05, (requested - available) / rate)
                self.sleep(min(self.max_throttle_wait, wait))
                continue
            message = "; ".join(str(e.get("message")) for e in errors if isinstance(e, dict))[:500]
            if "INTERNAL_SERVER_ERROR" in codes:
                raise TransientError(
                    _("Shopify failed on its side: %(message)s") % {"message": message}, reason="http"
                )
            if "ACCESS_DENIED" in codes:
                raise AuthError(
                    _("Shopify denied access (a scope is missing): %(message)s") % {"message": message},
                    reason="forbidden",
                )
            raise GraphQLErrors(
                _("Shopify refused the query: %(message)s") % {"message": message},
                errors,
                reason="graphql",
                remote=errors,
            )
        raise RateLimited(
            _("Shopify kept throttling the requests (query cost above what the bucket restores)."),
            reason="rate_limited",
        )

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        read_only = frozenset({Capability.READ, Capability.SUBJECT_LOOKUP, Capability.SUBJECT_EXPORT})
        writable = frozenset({Capability.READ, Capability.WRITE})
        return [
            Entity(
                key="products",
                label=str(_("Products")),
                fields=_fields("products"),
                cursor_field="updatedAt",
                natural_keys=("handle",),
                capabilities=writable | {Capability.DELETE},
            ),
            Entity(
                key="variants",
                label=str(_("Product variants")),
                fields=_fields("variants"),
                cursor_field="updatedAt",
                natural_keys=("sku",),
                capabilities=writable,
            ),
            Entity(
                key="inventory_levels",
                label=str(_("Inventory levels")),
                fields=_fields("inventory_levels"),
                cursor_field="updatedAt",
                natural_keys=("sku",),
                capabilities=writable,
            ),
            Entity(
                key="orders",
                label=str(_("Orders")),
                fields=_fields("orders"),
                cursor_field="updatedAt",
                natural_keys=("name",),
                capabilities=read_only,
            ),
            Entity(
                key="customers",
                label=str(_("Customers")),
                fields=_fields("customers"),
                cursor_field="updatedAt",
                natural_keys=("email",),
                capabilities=frozenset(
                    {
                        Capability.READ,
                        Capability.WRITE,
                        Capability.DELETE,
                        Capability.SUBJECT_LOOKUP,
                        Capability.SUBJECT_ERASE,
                        Capability.SUBJECT_EXPORT,
                    }
                ),
            ),
        ]

    def _node_fields(self, entity: str) -> str:
        if entity == "products":
            return PRODUCT_FIELDS % {"variants": self.product_variants}
        if entity == "variants":
            return VARIANT_FIELDS
        if entity == "orders":
            return ORDER_FIELDS % {"lines": self.order_lines}
        return CUSTOMER_FIELDS

    # --- read ------------------------------------------------------------------------------------

    def ping(self) -> None:
        self.graphql("{ shop { name myshopifyDomain } }")

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        self.entity(entity)
        state: dict = {}
        if cursor:
            try:
                state = json.loads(cursor)
            except ValueError:
                state = None
            if not isinstance(state, dict):
                raise ConfigError(_("This read cursor is not one of Shopify's."), reason="config")
        elif since:
            try:
                state = {"since": shopify_time(since)}
            except ValueError as exc:
                raise ConfigError(
                    _("“%(since)s” is not an ISO-8601 date and time.") % {"since": since}, reason="config"
                ) from exc
        if entity == "inventory_levels":
            yield from self._read_levels(state, limit)
            return
        connection, _type, incremental_sort = LISTS[entity]
        size = min(self.page_sizes[entity], limit or self.page_sizes[entity])
        since_bound = state.get("since")
        sort = incremental_sort if since_bound and incremental_sort else "ID"
        query = (
            f"query($after: String, $query: String) {{ {connection}(first: {size}, after: $after, "
            f"query: $query, sortKey: {sort}) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {self._node_fields(entity)} }} }} }}"
        )
        search = f"updated_at:>={_quote(since_bound)}" if since_bound else None
        returned = 0
        while True:
            data = self.graphql(query, {"after": state.get("after"), "query": search})
            block = data.get(connection) or {}
            nodes = [n for n in block.get("nodes") or [] if isinstance(n, dict)]
            if entity in ("products", "orders"):
                nodes = [self._complete(entity, n) for n in nodes]
            records = [flatten(n) for n in nodes]
            info = block.get("pageInfo") or {}
            more = bool(info.get("hasNextPage")) and bool(info.get("endCursor")) and bool(nodes)
            next_state = {**state, "after": info.get("endCursor")} if more else None
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = next_state is not None and (limit is None or returned < limit)
            yield Page(records, json.dumps(next_state) if next_state else None, has_more)
            if not has_more:
                return
            state = next_state

    def _complete(self, entity: str, node: dict) -> dict:
        """A product with more variants (an order with more line items) than were read with it gets
        the rest, page after page."""
        root, field, fields = (
            ("product", "variants", VARIANT_NODE)
            if entity == "products"
            else ("order", "lineItems", LINE_FIELDS)
        )
        block = node.get(field) or {}
        info = block.get("pageInfo") or {}
        if not info.get("hasNextPage"):
            return node
        nodes = list(block.get("nodes") or [])
        after = info.get("endCursor")
        query = (
            f"query($id: ID!, $after: String) {{ {root}(id: $id) {{ {field}(first: 100, after: $after) "
            f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {fields} }} }} }} }}"
        )
        while after:
            block = (
                (self.graphql(query, {"id": node["id"], "after": after}).get(root) or {}).get(field)
            ) or {}
            nodes += block.get("nodes") or []
            page = block.get("pageInfo") or {}
            after = page.get("endCursor") if page.get("hasNextPage") else None
        return {**node, field: {"nodes": nodes}}

    def locations(self) -> list[dict]:
        """The shop's active locations (id, name), read once per connector."""
        if self._locations is None:
            found, after = [], None
            query = (
                "query($after: String) { locations(first: 50, after: $after) { pageInfo { hasNextPage endCursor } "
                "nodes { id name isActive } } }"
            )
            while True:
                block = self.graphql(query, {"after": after}).get("locations") or {}
                found += [n for n in block.get("nodes") or [] if isinstance(n, dict)]
                info = block.get("pageInfo") or {}
                if not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")
            self._locations = found
        return self._locations

    def _read_levels(self, state: dict, limit: int | None) -> Iterator[Page]:
        size = min(self.page_sizes["inventory_levels"], limit or self.page_sizes["inventory_levels"])
        if "locations" not in state:
            state = {**state, "locations": [loc["id"] for loc in self.locations()], "loc": 0}
        names = {loc["id"]: loc.get("name") for loc in self.locations()}
        query = (
            f"query($id: ID!, $after: String, $query: String) {{ location(id: $id) {{ "
            f"inventoryLevels(first: {size}, after: $after, query: $query) {{ pageInfo {{ hasNextPage endCursor }} "
            f"nodes {{ {LEVEL_FIELDS} }} }} }} }}"
        )
        search = f"updated_at:>={_quote(state['since'])}" if state.get("since") else None
        returned = 0
        while state["loc"] < len(state["locations"]):
            location = state["locations"][state["loc"]]
            data = self.graphql(query, {"id": location, "after": state.get("after"), "query": search})
            block = (data.get("location") or {}).get("inventoryLevels") or {}
            records = [self._level_record(n, location, names.get(location)) for n in block.get("nodes") or []]
            info = block.get("pageInfo") or {}
            if info.get("hasNextPage") and info.get("endCursor") and records:
                next_state = {**state, "after": info["endCursor"]}
            else:
                next_state = {**state, "loc": state["loc"] + 1, "after": None}
            done = next_state["loc"] >= len(next_state["locations"])
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = not done and (limit is None or returned < limit)
            yield Page(records, json.dumps(next_state) if has_more else None, has_more)
            if not has_more:
                return
            state = next_state
        yield Page([], None, False)

    @staticmethod
    def _level_record(node: dict, location: str, location_name: str | None) -> dict:
        item = (node.get("item") or {}).get("id")
        quantities = {
            q.get("name"): q.get("quantity") for q in node.get("quantities") or [] if isinstance(q, dict)
        }
        return {
            "id": f"{gid_number(item)}@{gid_number(location)}",
            "inventoryItemId": item,
            "locationId": location,
            "locationName": location_name,
            "sku": (node.get("item") or {}).get("sku"),
            "available": quantities.get("available"),
            "on_hand": quantities.get("on_hand"),
            "updatedAt": node.get("updatedAt"),
            "levelId": node.get("id"),
        }

    def fetch(self, entity, ids):
        self.entity(entity)
        ids = [str(i).strip() for i in ids if str(i or "").strip()]
        if entity == "inventory_levels":
            return self._fetch_levels(ids)
        _connection, kind, _sort = LISTS[entity]
        gids = list(dict.fromkeys(g for g in (as_gid(kind, i) for i in ids) if g))
        found: dict[str, dict] = {}
        query = f"query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on {kind} {{ {self._node_fields(entity)} }} }} }}"
        for start in range(0, len(gids), self.fetch_chunk):
            for node in (
                self.graphql(query, {"ids": gids[start : start + self.fetch_chunk]}).get("nodes") or []
            ):
                if isinstance(node, dict) and node.get("id"):
                    if entity in ("products", "orders"):
                        node = self._complete(entity, node)
                    found[node["id"]] = flatten(node)
        return [found[g] for g in gids if g in found]

    def _fetch_levels(self, ids: list[str]) -> list[dict]:
        pairs = []
        for ident in ids:
            item, _sep, location = ident.partition("@")
            item_gid, location_gid = as_gid("InventoryItem", item), as_gid("Location", location)
            if item_gid and location_gid:
                pairs.append((item_gid, location_gid))
        names = {loc["id"]: loc.get("name") for loc in self.locations()}
        out = []
        for start in range(0, len(pairs), self.fetch_chunk):
            chunk = pairs[start : start + self.fetch_chunk]
            params = ", ".join(f"$i{n}: ID!, $l{n}: ID!" for n in range(len(chunk)))
            body = " ".join(
                f"r{n}: inventoryItem(id: $i{n}) {{ inventoryLevel(locationId: $l{n}) {{ {LEVEL_FIELDS} }} }}"
                for n in range(len(chunk))
            )
            variables = {}
            for n, (item, location) in enumerate(chunk):
                variables[f"i{n}"], variables[f"l{n}"] = item, location
            data = self.graphql(f"query({params}) {{ {body} }}", variables)
            for n, (_item, location) in enumerate(chunk):
                level = (data.get(f"r{n}") or {}).get("inventoryLevel")
                if isinstance(level, dict):
                    out.append(self._level_record(level, location, names.get(location)))
        return out

    def lookup(self, entity, field_name, values):
        self.entity(entity)
        values = list(dict.fromkeys(str(v).strip() for v in values if v not in (None, "")))
        if not values:
            return []
        if field_name in ("id", "legacyResourceId"):
            return self.fetch(entity, values)
        if entity == "inventory_levels":
            if field_name not in ("sku", "inventoryItemId"):
                raise ConfigError(
                    _("Inventory levels are looked up by sku or inventoryItemId."), reason="config"
                )
            wanted = {v.lower() for v in values} if field_name == "sku" else set(values)
            return [
                r
                for page in self.read("inventory_levels")
                for r in page.records
                if (str(r.get("sku") or "").lower() if field_name == "sku" else r.get("inventoryItemId"))
                in wanted
            ]
        search_field = SEARCH_FIELDS.get(entity, {}).get(field_name)
        if search_field is None:
            raise ConfigError(
                _("Shopify cannot search %(entity)s by “%(field)s”.")
                % {"entity": entity, "field": field_name},
                reason="config",
            )
        connection, _kind, _sort = LISTS[entity]
        size = self.page_sizes[entity]
        query = (
            f"query($after: String, $query: String) {{ {connection}(first: {size}, after: $after, query: $query) "
            f"{{ pageInfo {{ hasNextPage endCursor }} nodes {{ {self._node_fields(entity)} }} }} }}"
        )
        found: dict[str, dict] = {}
        for start in range(0, len(values), self.lookup_chunk):
            chunk = values[start : start + self.lookup_chunk]
            terms = []
            for v in chunk:
                term = gid_number(v) if search_field in ("customer_id", "product_id") else v
                if term:
                    terms.append(f"{search_field}:{_quote(term)}")
            if not terms:
                continue
            search, after = " OR ".join(terms), None
            while True:
                block = self.graphql(query, {"after": after, "query": search}).get(connection) or {}
                for node in block.get("nodes") or []:
                    if isinstance(node, dict):
                        if entity in ("products", "orders"):
                            node = self._complete(entity, node)
                        found[node["id"]] = flatten(node)
                info = block.get("pageInfo") or {}
                if not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")
        # Shopify's search is by token and without case: keep the exact matches only
        wanted = {v.lower() for v in values}
        path = field_name.split(".")

        def value_of(record):
            current = record
            for part in path:
                current = current.get(part) if isinstance(current, dict) else None
            if field_name == "variants.sku" or (entity == "products" and field_name == "sku"):
                return [str(v.get("sku") or "").lower() for v in record.get("variants") or []]
            if field_name == "customer.id":
                return [str(gid_number(current) or "").lower()]
            return [str(current or "").lower()]

        wanted_ids = (
            {str(gid_number(v) or v).lower() for v in values} if field_name == "customer.id" else wanted
        )
        return [r for r in found.values() if wanted_ids & set(value_of(r))]

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        self.entity(entity)
        mode = WriteMode(mode)
        if entity == "inventory_levels":
            return self._write_levels(records)
        if entity == "products":
            return self._write_products(records, mode)
        if entity == "variants":
            return self._write_variants(records, mode)
        if entity == "customers":
            return self._write_customers(records, mode)
        return [
            WriteResult.failed(RecordError(_("Shopify orders are read-only here."), reason="config"))
            for _r in records
        ]

    def _mutations(
        self, items: list[tuple[int, str, str, dict]], payload_key: str
    ) -> dict[int, dict | RecordError]:
        """Send aliased mutations ``(index, field, input type, variables)`` in documents of
        ``write_chunk``; per index, the payload (``payload_key`` of the answer) or a RecordError. A
        variable Shopify's schema refuses fails its record and the rest of its document is sent again."""
        out: dict[int, dict | RecordError] = {}
        pending = list(items)
        while pending:
            chunk, pending = pending[: self.write_chunk], pending[self.write_chunk :]
            while chunk:
                params, fields, variables = [], [], {}
                for index, field, signature, args in chunk:
                    names = []
                    for name, (kind, value) in args.items():
                        var = f"r{index}_{name}" if len(args) > 1 else f"r{index}"
                        params.append(f"${var}: {kind}")
                        names.append(f"{name}: ${var}")
                        variables[var] = value
                    fields.append(f"r{index}: {field}({', '.join(names)}) {{ {signature} }}")
                document = f"mutation({', '.join(params)}) {{ {' '.join(fields)} }}"
                try:
                    data = self.graphql(document, variables, idempotent=False)
                except GraphQLErrors as exc:
                    bad = set()
                    for error in exc.errors:
                        message = str(error.get("message") if isinstance(error, dict) else error)
                        for match in _VARIABLE.finditer(message):
                            index = int(match.group(1))
                            if any(i == index for i, *_rest in chunk) and index not in bad:
                                bad.add(index)
                                out[index] = RecordError(
                                    _("Shopify refused a value: %(message)s") % {"message": message},
                                    remote=error,
                                    reason="validation",
                                )
                    if not bad:
                        raise
                    chunk = [item for item in chunk if item[0] not in bad]
                    continue
                for index, *_rest in chunk:
                    payload = data.get(f"r{index}")
                    out[index] = (
                        payload
                        if isinstance(payload, dict)
                        else RecordError(_("Shopify's answer did not mention this record."))
                    )
                chunk = []
        return out

    @staticmethod
    def _user_errors(payload) -> RecordError | None:
        if isinstance(payload, RecordError):
            return payload
        errors = payload.get("userErrors") or []
        if errors:
            return RecordError(
                user_error_text(errors) or _("Shopify refused this record."),
                remote=errors,
                reason="validation",
            )
        return None

    # products ---------------------------------------------------------------------------------

    def _write_products(self, records, mode: WriteMode) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        existing = self._existing_by(
            "products",
            "handle",
            [r.get("handle") for r in records if isinstance(r, dict) and not r.get("id")],
        )
        items, plans = [], {}
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify product must be a JSON object."))
                )
                continue
            product = {k: record[k] for k in PRODUCT_INPUT if k in record}
            if isinstance(product.get("tags"), str):
                product["tags"] = [t.strip() for t in product["tags"].split(",") if t.strip()]
            target = as_gid("Product", record.get("id")) if record.get("id") else None
            current = None
            if not target and record.get("handle"):
                current = existing.get(str(record["handle"]).lower())
                target = current["id"] if current else None
            if mode == WriteMode.CREATE and target:
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify product with this handle already exists."), reason="conflict")
                )
                continue
            if mode == WriteMode.UPDATE and not target:
                results[index] = WriteResult.failed(
                    RecordError(_("No Shopify product with this id or handle to update."), reason="not_found")
                )
                continue
            fields = "product { id handle variants(first: 100) { nodes { id sku } } }"
            if target:
                items.append(
                    (
                        index,
                        "productUpdate",
                        f"{fields} {USER_ERRORS}",
                        {"product": ("ProductUpdateInput!", {"id": target, **product})},
                    )
                )
            else:
                items.append(
                    (
                        index,
                        "productCreate",
                        f"{fields} {USER_ERRORS}",
                        {"product": ("ProductCreateInput!", product)},
                    )
                )
            plans[index] = (target is None, record.get("variants"))
        answers = self._mutations(items, "product")
        variant_items = []
        for index, answer in answers.items():
            error = self._user_errors(answer)
            if error is not None:
                results[index] = WriteResult.failed(error)
                continue
            product = flatten(answer.get("product") or {})
            created, variants = plans[index]
            results[index] = WriteResult(
                ok=True, target_id=product.get("id"), action="created" if created else "updated"
            )
            if isinstance(variants, list) and variants:
                variant_items += self._variant_plan(index, product, variants, created)
        if variant_items:
            for index, answer in self._mutations(variant_items, "productVariants").items():
                error = self._user_errors(answer)
                slot = index // 2
                if error is not None and results[slot] is not None and results[slot].ok:
                    results[slot] = WriteResult.failed(
                        RecordError(
                            _("The product was saved but Shopify refused its variants: %(message)s")
                            % {"message": error.message},
                            remote=error.remote,
                            reason="validation",
                        )
                    )
        return results  # type: ignore[return-value]

    def _variant_plan(self, index: int, product: dict, variants: list, created: bool) -> list:
        """The variant mutations of one product record (aliases ``2*index`` and ``2*index+1``)."""
        by_sku = {
            str(v.get("sku") or "").lower(): v["id"] for v in product.get("variants") or [] if v.get("sku")
        }
        updates, creates = [], []
        for variant in variants:
            if not isinstance(variant, dict):
                continue
            data = self._variant_input(variant)
            known = by_sku.get(str(variant.get("sku") or "").lower()) if variant.get("sku") else None
            if variant.get("id") or known:
                updates.append({"id": as_gid("ProductVariant", variant.get("id")) or known, **data})
            else:
                creates.append(data)
        plan = []
        signature = f"productVariants {{ id sku }} {CODED_ERRORS}"
        if updates:
            plan.append(
                (
                    2 * index,
                    "productVariantsBulkUpdate",
                    signature,
                    {
                        "productId": ("ID!", product["id"]),
                        "variants": ("[ProductVariantsBulkInput!]!", updates),
                    },
                )
            )
        if creates:
            args = {
                "productId": ("ID!", product["id"]),
                "variants": ("[ProductVariantsBulkInput!]!", creates),
            }
            if created:
                args["strategy"] = ("ProductVariantsBulkCreateStrategy", "REMOVE_STANDALONE_VARIANT")
            plan.append((2 * index + 1, "productVariantsBulkCreate", signature, args))
        return plan

    @staticmethod
    def _variant_input(record: dict) -> dict:
        data = {k: record[k] for k in VARIANT_INPUT if k in record}
        for key in ("price", "compareAtPrice"):
            if isinstance(data.get(key), int | float) and not isinstance(data.get(key), bool):
                data[key] = f"{data[key]:.2f}"
        if "sku" in record:
            data["inventoryItem"] = {"sku": record["sku"]}
        return data

    def _existing_by(self, entity: str, field_name: str, values) -> dict[str, dict]:
        values = [str(v).strip() for v in values if v not in (None, "")]
        if not values:
            return {}
        return {str(r.get(field_name) or "").lower(): r for r in self.lookup(entity, field_name, values)}

    # variants ---------------------------------------------------------------------------------

    def _write_variants(self, records, mode: WriteMode) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        known = self._existing_by(
            "variants", "sku", [r.get("sku") for r in records if isinstance(r, dict) and not r.get("id")]
        )
        items, actions = [], {}
        signature = f"productVariants {{ id sku }} {CODED_ERRORS}"
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify variant must be a JSON object."))
                )
                continue
            data = self._variant_input(record)
            target = as_gid("ProductVariant", record.get("id")) if record.get("id") else None
            product = as_gid("Product", record.get("productId") or (record.get("product") or {}).get("id"))
            if not target and record.get("sku"):
                found = known.get(str(record["sku"]).lower())
                if found:
                    target, product = found["id"], (found.get("product") or {}).get("id")
            if target and mode == WriteMode.CREATE:
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify variant with this SKU already exists."), reason="conflict")
                )
                continue
            if target and not product:
                fetched = self.fetch("variants", [target])
                product = (fetched[0].get("product") or {}).get("id") if fetched else None
            if target and product:
                items.append(
                    (
                        index,
                        "productVariantsBulkUpdate",
                        signature,
                        {
                            "productId": ("ID!", product),
                            "variants": ("[ProductVariantsBulkInput!]!", [{"id": target, **data}]),
                        },
                    )
                )
                actions[index] = "updated"
            elif not target and product and mode != WriteMode.UPDATE:
                items.append(
                    (
                        index,
                        "productVariantsBulkCreate",
                        signature,
                        {
                            "productId": ("ID!", product),
                            "variants": ("[ProductVariantsBulkInput!]!", [data]),
                        },
                    )
                )
                actions[index] = "created"
            else:
                results[index] = WriteResult.failed(
                    RecordError(
                        _("No Shopify variant with this id or SKU; give its productId to create it."),
                        reason="not_found",
                    )
                )
        for index, answer in self._mutations(items, "productVariants").items():
            error = self._user_errors(answer)
            if error is not None:
                results[index] = WriteResult.failed(error)
                continue
            variants = answer.get("productVariants") or [{}]
            results[index] = WriteResult(ok=True, target_id=variants[0].get("id"), action=actions[index])
        return results  # type: ignore[return-value]

    # customers --------------------------------------------------------------------------------

    def _write_customers(self, records, mode: WriteMode) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        known = self._existing_by(
            "customers", "email", [r.get("email") for r in records if isinstance(r, dict) and not r.get("id")]
        )
        items, actions = [], {}
        signature = f"customer {{ id email }} {USER_ERRORS}"
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify customer must be a JSON object."))
                )
                continue
            data = {k: record[k] for k in CUSTOMER_INPUT if k in record}
            if isinstance(data.get("tags"), str):
                data["tags"] = [t.strip() for t in data["tags"].split(",") if t.strip()]
            if isinstance(record.get("addresses"), list):
                data["addresses"] = [
                    {
                        k: a.get("countryCodeV2" if k == "countryCode" and "countryCode" not in a else k)
                        for k in ADDRESS_INPUT
                    }
                    for a in record["addresses"]
                    if isinstance(a, dict)
                ]
            target = as_gid("Customer", record.get("id")) if record.get("id") else None
            if not target and record.get("email"):
                found = known.get(str(record["email"]).strip().lower())
                target = found["id"] if found else None
            if target and mode == WriteMode.CREATE:
                results[index] = WriteResult.failed(
                    RecordError(_("A Shopify customer with this e-mail already exists."), reason="conflict")
                )
                continue
            if not target and mode == WriteMode.UPDATE:
                results[index] = WriteResult.failed(
                    RecordError(
                        _("No Shopify customer with this id or e-mail to update."), reason="not_found"
                    )
                )
                continue
            if target:
                items.append(
                    (
                        index,
                        "customerUpdate",
                        signature,
                        {"input": ("CustomerInput!", {"id": target, **data})},
                    )
                )
                actions[index] = "updated"
            else:
                items.append((index, "customerCreate", signature, {"input": ("CustomerInput!", data)}))
                actions[index] = "created"
        for index, answer in self._mutations(items, "customer").items():
            error = self._user_errors(answer)
            if error is not None:
                results[index] = WriteResult.failed(error)
                continue
            results[index] = WriteResult(
                ok=True, target_id=(answer.get("customer") or {}).get("id"), action=actions[index]
            )
        return results  # type: ignore[return-value]

    # inventory --------------------------------------------------------------------------------

    def _location_gid(self, value) -> str | None:
        gid = as_gid("Location", value)
        if gid:
            return gid
        name = str(value or "").strip().lower()
        for loc in self.locations():
            if str(loc.get("name") or "").strip().lower() == name:
                return loc["id"]
        return None

    def _write_levels(self, records) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(records)
        skus = [
            r.get("sku")
            for r in records
            if isinstance(r, dict) and not r.get("inventoryItemId") and r.get("sku")
        ]
        items_by_sku = {
            str(v.get("sku") or "").lower(): (v.get("inventoryItem") or {}).get("id")
            for v in (self.lookup("variants", "sku", skus) if skus else [])
        }
        planned = []  # (index, quantity input)
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                results[index] = WriteResult.failed(
                    RecordError(_("An inventory level must be a JSON object."))
                )
                continue
            item = as_gid("InventoryItem", record.get("inventoryItemId")) or items_by_sku.get(
                str(record.get("sku") or "").lower()
            )
            location = self._location_gid(record.get("locationId") or record.get("locationName"))
            raw = record.get("available", record.get("quantity"))
            problem = None
            if not item:
                problem = _(
                    "No Shopify inventory item for this record (give inventoryItemId or a known sku)."
                )
            elif not location:
                problem = _("Unknown Shopify location “%(location)s”.") % {
                    "location": record.get("locationId") or record.get("locationName") or ""
                }
            else:
                try:
                    quantity = int(float(raw))
                except (TypeError, ValueError):
                    problem = _("The available quantity “%(value)s” is not a whole number.") % {"value": raw}
            if problem:
                results[index] = WriteResult.failed(RecordError(problem, reason="validation"))
                continue
            planned.append((index, {"inventoryItemId": item, "locationId": location, "quantity": quantity}))
        document = (
            "mutation($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) "
            f"{{ inventoryAdjustmentGroup {{ id }} {CODED_ERRORS} }} }}"
        )
        for start in range(0, len(planned), self.inventory_chunk):
            chunk = planned[start : start + self.inventory_chunk]
            while chunk:
                data = self.graphql(
                    document,
                    {
                        "input": {
                            "name": "available",
                            "reason": "correction",
                            "ignoreCompareQuantity": True,
                            "quantities": [q for _i, q in chunk],
                        }
                    },
                    idempotent=True,  # setting an absolute quantity twice leaves the same stock
                )
                errors = (data.get("inventorySetQuantities") or {}).get("userErrors") or []
                if not errors:
                    for index, q in chunk:
                        results[index] = WriteResult(
                            ok=True,
                            target_id=f"{gid_number(q['inventoryItemId'])}@{gid_number(q['locationId'])}",
                            action="updated",
                        )
                    break
                # All or nothing: fail the quantities the errors name, send the rest again.
                bad: dict[int, list] = {}
                for error in errors:
                    field = [str(f) for f in error.get("field") or []]
                    if (
                        len(field) >= 3
                        and field[1] == "quantities"
                        and field[2].isdigit()
                        and int(field[2]) < len(chunk)
                    ):
                        bad.setdefault(int(field[2]), []).append(error)
                if not bad:  # an error of the whole call (reason, name): every quantity fails with it
                    for index, _q in chunk:
                        results[index] = WriteResult.failed(
                            RecordError(user_error_text(errors), remote=errors, reason="validation")
                        )
                    break
                for position, errs in bad.items():
                    index = chunk[position][0]
                    results[index] = WriteResult.failed(
                        RecordError(
                            user_error_text(errs),
                            remote=errs,
                            reason=str(errs[0].get("code") or "validation").lower(),
                        )
                    )
                chunk = [item for position, item in enumerate(chunk) if position not in bad]
        return results  # type: ignore[return-value]

    # delete -----------------------------------------------------------------------------------

    def delete(self, entity, ids):
        self.entity(entity)
        if entity not in ("products", "customers"):
            raise ConfigError(
                _("Shopify %(entity)s are not deleted by the hub.") % {"entity": entity}, reason="config"
            )
        kind, field, key = (
            ("Product", "productDelete", "deletedProductId")
            if entity == "products"
            else ("Customer", "customerDelete", "deletedCustomerId")
        )
        input_type = "ProductDeleteInput!" if entity == "products" else "CustomerDeleteInput!"
        items, results = [], [None] * len(ids)
        for index, ident in enumerate(ids):
            gid = as_gid(kind, ident)
            if gid is None:
                results[index] = WriteResult(ok=True, target_id=str(ident), action="deleted")  # cannot exist
                continue
            items.append((index, field, f"{key} {USER_ERRORS}", {"input": (input_type, {"id": gid})}))
        for index, answer in self._mutations(items, key).items():
            error = self._user_errors(answer)
            if (
                error is not None
                and "does not exist" not in error.message
                and "can't be found" not in error.message
            ):
                results[index] = WriteResult.failed(error)
            else:
                results[index] = WriteResult(ok=True, target_id=str(ids[index]), action="deleted")
        return results

    # --- GDPR ----------------------------------------------------------------------------------

    def erase_subject(self, entity, record_id, *, strategy, mask=None) -> WriteResult:
        """Erase one customer: strategy ``vendor`` is Shopify's ``customerRequestDataErasure`` (the
        customer and the personal data on their orders are redacted by Shopify, which carries the
        request out later); ``delete`` is ``customerDelete`` (Shopify refuses it for a customer with
        orders: a failed result with its message). ``record_id`` is the customer's GID, numeric id or
        e-mail. A customer already gone is ``ok`` with ``action="unchanged"``."""
        if strategy != "vendor":
            return super().erase_subject(entity, record_id, strategy=strategy, mask=mask)
        refused = self._refuse_strategy(self.subject_entity(entity), strategy)
        if refused is not None:
            return refused
        ident = str(record_id or "").strip()
        target = as_gid("Customer", ident)
        if target is None and "@" in ident:
            found = self.lookup("customers", "email", [ident])
            target = found[0]["id"] if found else None
        if target is None:
            return WriteResult(ok=True, target_id=ident, action="unchanged")
        data = self.graphql(
            "mutation($id: ID!) { customerRequestDataErasure(customerId: $id) { customerId "
            f"{CODED_ERRORS} }} }}",
            {"id": target},
            idempotent=True,  # asking twice for one erasure is harmless
        )
        payload = data.get("customerRequestDataErasure") or {}
        errors = payload.get("userErrors") or []
        if any(e.get("code") == "DOES_NOT_EXIST" for e in errors if isinstance(e, dict)):
            return WriteResult(ok=True, target_id=target, action="unchanged")
        if errors:
            return WriteResult.failed(
                RecordError(
                    _("Shopify refused the data-erasure request: %(message)s")
                    % {"message": user_error_text(errors)},
                    remote=errors,
                )
            )
        return WriteResult(ok=True, target_id=target, action="erased")
