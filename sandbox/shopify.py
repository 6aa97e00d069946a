"""Shopify stand-in: the shape of the Shopify Admin GraphQL API, version 2025-10.

No Shopify specification is available offline: the schema below (SDL, executed with graphql-core)
is a subset written from Shopify's public reference as remembered, so field names, argument names
and error shapes follow Shopify, and a query Shopify would reject for its syntax or an unknown
field is rejected here with a real GraphQL error. Where this stand-in may differ from the real API
is listed at the end of this docstring (and in sandbox/README.md).

- ``POST /admin/api/2025-10/graphql.json`` with ``{"query", "variables", "operationName"}``
  (or ``Content-Type: application/graphql`` and the query as the body). Header
  ``X-Shopify-Access-Token``; missing or wrong → 401
  ``{"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}``.
  Another API version in the path → 404 ``{"errors": "Not Found"}``; no query → 400
  ``{"errors": {"query": "Required parameter missing or invalid"}}``.
- GraphQL errors (syntax, unknown field, bad argument, a variable of the wrong type) answer HTTP 200
  with ``{"errors": [{"message", "locations", "path", "extensions"}]}``, as Shopify does.
- Queries: ``shop``, ``node``/``nodes``, ``product(s)``, ``productVariant(s)``,
  ``inventoryItem(s)``, ``location(s)`` (with ``Location.inventoryLevels``), ``customer(s)``,
  ``order(s)``. Connections take ``first``/``after`` (or ``last``/``before``; at most 250; one of
  them is required), ``query`` (Shopify's search syntax: ``updated_at:>'2025-06-01T00:00:00Z'``,
  ``sku:CHR-10001 OR sku:TBL-10251``, ``email:x@example.com``, ``id:>123``, AND by default, ``OR``,
  a trailing ``*`` for prefixes; an unknown field is ignored with a warning under
  ``extensions.search``), ``sortKey`` (``ID``, ``UPDATED_AT``, ``CREATED_AT``, ``TITLE``/``NAME``)
  and ``reverse``; they answer ``nodes``, ``edges { cursor node }`` and
  ``pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`` (opaque base64 cursors).
- Mutations, each answering ``userErrors { field message }`` (``code`` too where Shopify has one):
  ``productCreate(product:)``, ``productUpdate(product:)``, ``productDelete(input:)``,
  ``productVariantsBulkCreate(productId:, variants:, strategy:)``,
  ``productVariantsBulkUpdate(productId:, variants:)`` (the SKU through ``inventoryItem { sku }``,
  as since 2024-04), ``inventorySetQuantities(input: {name: "available", reason, quantities:
  [{inventoryItemId, locationId, quantity}]})`` (all or nothing: one bad quantity fails the whole
  call with a userError whose ``field`` is ``["input", "quantities", "<index>", ...]``),
  ``customerCreate(input:)``, ``customerUpdate(input:)``, ``customerDelete(input: {id})`` (refused
  for a customer with orders, as Shopify does), ``customerRequestDataErasure(customerId:)``.
- IDs are GIDs: ``gid://shopify/Product/1000001``, ``gid://shopify/ProductVariant/2000001``,
  ``gid://shopify/InventoryItem/3000001``, ``gid://shopify/Location/70001``,
  ``gid://shopify/InventoryLevel/<item>?inventory_item_id=<item>`` … Dates are ``DateTime`` with
  second precision (``2025-05-27T05:03:44Z``); search on dates compares at the second.
- Cost-based throttling: every answer carries ``extensions.cost`` = ``{requestedQueryCost,
  actualQueryCost, throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}}``. A leaky
  bucket (``bucket_max`` 2000 points, ``restore_rate`` 100 points/s: the Standard plan) is charged
  the requested cost before execution and refunded the difference with the actual cost afterwards.
  A query whose requested cost exceeds what is available answers HTTP 200 ``{"errors": [{"message":
  "Throttled", "extensions": {"code": "THROTTLED", ...}}], "extensions": {"cost": ...}}`` and is
  not executed; one above ``max_query_cost`` (1000) answers ``MAX_COST_EXCEEDED``. Cost: a scalar or
  enum 0, an object 1, a connection 2 + ``first`` times the cost of one node (actual: the nodes
  returned), a mutation 10.
- GDPR: ``customerRequestDataErasure`` erases the customer's personal data: the customer record is
  removed and their orders are redacted (no customer, e-mail, phone or addresses); by default this
  happens at once (``erasure_delay_s=0``), see the differences below. Webhooks (``sandbox.webhooks``)
  use Shopify's topics: ``products/create|update|delete``, ``customers/create|update|delete``,
  ``customers/redact``, ``inventory_levels/update``, with ``id`` and ``admin_graphql_api_id``.

Seed: one product per fifth product of ``sandbox.seed`` (400, each with one variant carrying the
SKU, price and EAN as barcode), its stock at the three warehouses as locations, the 500 customers
and the 300 orders (line items by SKU, whether or not the shop sells that SKU).

Where this stand-in may differ from the real Shopify Admin API (written without the specification):

- The schema is a subset: many fields, arguments, enum values and input fields are missing; real
  Shopify answers more ``sortKey`` values (here the others sort by ``ID``). Default sort keys are
  ``ID`` here (Shopify's ``orders`` default to ``PROCESSED_AT``).
- Error messages of invalid queries come from graphql-core ("Cannot query field 'x' on type 'Y'."),
  not Shopify's wording ("Field 'x' doesn't exist on type 'Y'", with ``extensions.code``
  ``undefinedField``); the HTTP status and the ``errors`` list shape are the same.
- The cost calculation follows Shopify's published rules of thumb, not its exact implementation
  (interfaces, unions and list fields of objects are each counted as one object per element).
- ``customerRequestDataErasure`` is carried out at once; Shopify queues it and redacts the customer
  later (about 10 days, longer when they ordered in the last 6 months), sending ``customers/redact``
  to apps then. ``erasure_delay_s`` > 0 only marks the request here.
- The search syntax supports ``field:value``, comparisons, ``AND``/``OR`` and prefix ``*``; not
  parentheses, negation (``-field:``) or ``NOT``. Date values compare at the second, in UTC.
- Shopify bumps a product's ``updatedAt`` on many more changes (media, publications…); here only on
  its own fields and its variants' changes. Inventory levels are not auto-created: setting a
  quantity at a location where the item is not stocked answers ``ITEM_NOT_STOCKED_AT_LOCATION``
  (Shopify needs ``inventoryActivate`` first, which this stand-in does not have).
- Duplicate SKUs are refused (``TAKEN``); Shopify allows two variants to share a SKU.
- ``inventorySetQuantities`` accepts ``ignoreCompareQuantity`` and ``compareQuantity`` and checks
  the latter only when given (API versions after 2025-10 move to ``changeFromQuantity``).
- Rate limits other than the cost bucket (REST's 2 calls/s leaky bucket, 429 on bursts) are not
  modelled; the fault knobs add 429s and 5xx in Shopify's REST error shape.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    build_schema,
    execute_sync,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
    validate,
    value_from_ast_untyped,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .common import SandboxApp, dumps, sandbox_of
from .credentials import ShopifyCredentials
from .faults import FaultConfig
from .seed import dataset, load
from .store import Store

API_VERSION = "2025-10"
BUCKET_MAX = 2000
RESTORE_RATE = 100
MAX_QUERY_COST = 1000
MAX_PAGE = 250
MUTATION_COST = 10
PRODUCT_BASE, VARIANT_BASE, ITEM_BASE, CUSTOMER_BASE, ORDER_BASE, LOCATION_BASE = (
    1_000_000,
    2_000_000,
    3_000_000,
    5_000_000,
    6_000_000,
    70_000,
)
PRODUCT_EVERY = 5  # one seed product in five is sold in this shop
CURRENCY = "EUR"
JSON = "application/json; charset=utf-8"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105 - an error message
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<id>\d+)(?:\?.*)?$")

SDL = """
scalar DateTime
scalar Money
scalar Decimal
scalar URL
scalar HTML

interface Node { id: ID! }

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}

type UserError { field: [String!] message: String! }

type Shop {
  id: ID!
  name: String!
  email: String!
  myshopifyDomain: String!
  currencyCode: String!
  ianaTimezone: String!
}

enum ProductStatus { ACTIVE ARCHIVED DRAFT }
enum ProductSortKeys { CREATED_AT ID INVENTORY_TOTAL PRODUCT_TYPE RELEVANCE TITLE UPDATED_AT VENDOR }
enum ProductVariantSortKeys { FULL_TITLE ID POSITION RELEVANCE SKU TITLE }
enum CustomerSortKeys { CREATED_AT ID NAME RELEVANCE UPDATED_AT }
enum OrderSortKeys { CREATED_AT ID ORDER_NUMBER PROCESSED_AT RELEVANCE TOTAL_PRICE UPDATED_AT }
enum InventoryLevelSortKeys { ID UPDATED_AT }
enum LocationSortKeys { ID NAME RELEVANCE }
enum CustomerState { DECLINED DISABLED ENABLED INVITED }
enum OrderDisplayFinancialStatus {
  AUTHORIZED EXPIRED PAID PARTIALLY_PAID PARTIALLY_REFUNDED PENDING REFUNDED VOIDED
}
enum OrderDisplayFulfillmentStatus {
  FULFILLED IN_PROGRESS ON_HOLD OPEN PARTIALLY_FULFILLED PENDING_FULFILLMENT RESTOCKED SCHEDULED
  UNFULFILLED
}
enum ProductVariantsBulkCreateStrategy { DEFAULT PRESERVE_STANDALONE_VARIANT REMOVE_STANDALONE_VARIANT }

type MoneyV2 { amount: Decimal! currencyCode: String! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type MailingAddress {
  id: ID!
  firstName: String
  lastName: String
  company: String
  address1: String
  address2: String
  city: String
  zip: String
  province: String
  provinceCode: String
  country: String
  countryCodeV2: String
  phone: String
}

type Product implements Node {
  id: ID!
  legacyResourceId: String!
  title: String!
  handle: String!
  descriptionHtml: HTML!
  vendor: String!
  productType: String!
  status: ProductStatus!
  tags: [String!]!
  createdAt: DateTime!
  updatedAt: DateTime!
  totalInventory: Int!
  variantsCount: Count
  variants(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): ProductVariantConnection!
}
type Count { count: Int! }
type ProductConnection { nodes: [Product!]! edges: [ProductEdge!]! pageInfo: PageInfo! }
type ProductEdge { cursor: String! node: Product! }

type ProductVariant implements Node {
  id: ID!
  legacyResourceId: String!
  title: String!
  displayName: String!
  sku: String
  barcode: String
  price: Money!
  compareAtPrice: Money
  position: Int!
  inventoryQuantity: Int
  createdAt: DateTime!
  updatedAt: DateTime!
  product: Product!
  inventoryItem: InventoryItem!
}
type ProductVariantConnection { nodes: [ProductVariant!]! edges: [ProductVariantEdge!]! pageInfo: PageInfo! }
type ProductVariantEdge { cursor: String! node: ProductVariant! }

type InventoryItem implements Node {
  id: ID!
  legacyResourceId: String!
  sku: String
  tracked: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  variant: ProductVariant!
  inventoryLevel(locationId: ID!): InventoryLevel
  inventoryLevels(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false): InventoryLevelConnection!
}
type InventoryItemConnection { nodes: [InventoryItem!]! edges: [InventoryItemEdge!]! pageInfo: PageInfo! }
type InventoryItemEdge { cursor: String! node: InventoryItem! }

type InventoryQuantity { id: ID! name: String! quantity: Int! updatedAt: DateTime }
type InventoryLevel implements Node {
  id: ID!
  item: InventoryItem!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type InventoryLevelConnection { nodes: [InventoryLevel!]! edges: [InventoryLevelEdge!]! pageInfo: PageInfo! }
type InventoryLevelEdge { cursor: String! node: InventoryLevel! }

type Location implements Node {
  id: ID!
  legacyResourceId: String!
  name: String!
  isActive: Boolean!
  address: LocationAddress!
  inventoryLevels(first: Int, after: String, last: Int, before: String, query: String, sortKey: InventoryLevelSortKeys = ID, reverse: Boolean = false): InventoryLevelConnection!
  inventoryLevel(inventoryItemId: ID!): InventoryLevel
}
type LocationAddress { city: String countryCode: String }
type LocationConnection { nodes: [Location!]! edges: [LocationEdge!]! pageInfo: PageInfo! }
type LocationEdge { cursor: String! node: Location! }

type CustomerEmailAddress { emailAddress: String }
type CustomerPhoneNumber { phoneNumber: String! }
type Customer implements Node {
  id: ID!
  legacyResourceId: String!
  firstName: String
  lastName: String
  displayName: String!
  email: String
  phone: String
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
  state: CustomerState!
  note: String
  tags: [String!]!
  locale: String!
  verifiedEmail: Boolean!
  numberOfOrders: String!
  amountSpent: MoneyV2!
  defaultAddress: MailingAddress
  addresses(first: Int): [MailingAddress!]!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type CustomerConnection { nodes: [Customer!]! edges: [CustomerEdge!]! pageInfo: PageInfo! }
type CustomerEdge { cursor: String! node: Customer! }

type LineItem {
  id: ID!
  sku: String
  name: String!
  title: String!
  quantity: Int!
  originalUnitPriceSet: MoneyBag!
  variant: ProductVariant
}
type LineItemConnection { nodes: [LineItem!]! edges: [LineItemEdge!]! pageInfo: PageInfo! }
type LineItemEdge { cursor: String! node: LineItem! }

type Order implements Node {
  id: ID!
  legacyResourceId: String!
  name: String!
  email: String
  phone: String
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  closed: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  currencyCode: String!
  subtotalPriceSet: MoneyBag
  totalTaxSet: MoneyBag
  totalShippingPriceSet: MoneyBag!
  totalPriceSet: MoneyBag!
  customer: Customer
  shippingAddress: MailingAddress
  billingAddress: MailingAddress
  tags: [String!]!
  note: String
  lineItems(first: Int, after: String, last: Int, before: String, reverse: Boolean = false): LineItemConnection!
}
type OrderConnection { nodes: [Order!]! edges: [OrderEdge!]! pageInfo: PageInfo! }
type OrderEdge { cursor: String! node: Order! }

type Query {
  shop: Shop!
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  product(id: ID!): Product
  productByHandle(handle: String!): Product
  products(first: Int, after: String, last: Int, before: String, query: String, sortKey: ProductSortKeys = ID, reverse: Boolean = false): ProductConnection!
  productVariant(id: ID!): ProductVariant
  productVariants(first: Int, after: String, last: Int, before: String, query: String, sortKey: ProductVariantSortKeys = ID, reverse: Boolean = false): ProductVariantConnection!
  inventoryItem(id: ID!): InventoryItem
  inventoryItems(first: Int, after: String, last: Int, before: String, query: String, reverse: Boolean = false): InventoryItemConnection!
  location(id: ID): Location
  locations(first: Int, after: String, last: Int, before: String, query: String, sortKey: LocationSortKeys = ID, reverse: Boolean = false, includeInactive: Boolean = false): LocationConnection!
  customer(id: ID!): Customer
  customers(first: Int, after: String, last: Int, before: String, query: String, sortKey: CustomerSortKeys = ID, reverse: Boolean = false): CustomerConnection!
  order(id: ID!): Order
  orders(first: Int, after: String, last: Int, before: String, query: String, sortKey: OrderSortKeys = ID, reverse: Boolean = false): OrderConnection!
}

input ProductCreateInput {
  title: String
  handle: String
  descriptionHtml: String
  vendor: String
  productType: String
  status: ProductStatus
  tags: [String!]
}
input ProductUpdateInput {
  id: ID!
  title: String
  handle: String
  descriptionHtml: String
  vendor: String
  productType: String
  status: ProductStatus
  tags: [String!]
}
input ProductDeleteInput { id: ID! }
type ProductCreatePayload { product: Product userErrors: [UserError!]! }
type ProductUpdatePayload { product: Product userErrors: [UserError!]! }
type ProductDeletePayload { deletedProductId: ID userErrors: [UserError!]! }

input InventoryItemInput { sku: String tracked: Boolean }
input ProductVariantsBulkInput {
  id: ID
  price: Money
  compareAtPrice: Money
  barcode: String
  inventoryItem: InventoryItemInput
}
type ProductVariantsBulkUserError { field: [String!] message: String! code: String }
type ProductVariantsBulkCreatePayload {
  product: Product
  productVariants: [ProductVariant!]
  userErrors: [ProductVariantsBulkUserError!]!
}
type ProductVariantsBulkUpdatePayload {
  product: Product
  productVariants: [ProductVariant!]
  userErrors: [ProductVariantsBulkUserError!]!
}

input InventoryQuantityInput { inventoryItemId: ID! locationId: ID! quantity: Int! compareQuantity: Int }
input InventorySetQuantitiesInput {
  name: String!
  reason: String!
  referenceDocumentUri: String
  ignoreCompareQuantity: Boolean
  quantities: [InventoryQuantityInput!]!
}
type InventoryChange { name: String! delta: Int! quantityAfterChange: Int item: InventoryItem location: Location }
type InventoryAdjustmentGroup { id: ID! reason: String! createdAt: DateTime! changes: [InventoryChange!]! }
type InventorySetQuantitiesUserError { field: [String!] message: String! code: String }
type InventorySetQuantitiesPayload {
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}

input MailingAddressInput {
  firstName: String
  lastName: String
  company: String
  address1: String
  address2: String
  city: String
  zip: String
  provinceCode: String
  countryCode: String
  phone: String
}
input CustomerInput {
  id: ID
  email: String
  firstName: String
  lastName: String
  phone: String
  note: String
  tags: [String!]
  locale: String
  addresses: [MailingAddressInput!]
}
input CustomerDeleteInput { id: ID! }
type CustomerCreatePayload { customer: Customer userErrors: [UserError!]! }
type CustomerUpdatePayload { customer: Customer userErrors: [UserError!]! }
type CustomerDeletePayload { deletedCustomerId: ID userErrors: [UserError!]! }
type CustomerRequestDataErasureUserError { field: [String!] message: String! code: String }
type CustomerRequestDataErasurePayload {
  customerId: ID
  userErrors: [CustomerRequestDataErasureUserError!]!
}

type Mutation {
  productCreate(product: ProductCreateInput!): ProductCreatePayload
  productUpdate(product: ProductUpdateInput!): ProductUpdatePayload
  productDelete(input: ProductDeleteInput!): ProductDeletePayload
  productVariantsBulkCreate(productId: ID!, variants: [ProductVariantsBulkInput!]!, strategy: ProductVariantsBulkCreateStrategy = DEFAULT): ProductVariantsBulkCreatePayload
  productVariantsBulkUpdate(productId: ID!, variants: [ProductVariantsBulkInput!]!, allowPartialUpdates: Boolean = false): ProductVariantsBulkUpdatePayload
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  customerCreate(input: CustomerInput!): CustomerCreatePayload
  customerUpdate(input: CustomerInput!): CustomerUpdatePayload
  customerDelete(input: CustomerDeleteInput!): CustomerDeletePayload
  customerRequestDataErasure(customerId: ID!): CustomerRequestDataErasurePayload
}
"""


# -- scalars -----------------------------------------------------------------------------------
def _money_value(value: Any) -> str:
    if isinstance(value, bool):
        raise GraphQLError(f"Expected {value!r} to be a valid decimal")
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise GraphQLError(f"Expected {value!r} to be a valid decimal") from exc
    return _fmt_money(number)


def _money_literal(node: Any, variables: Any = None) -> str:
    return _money_value(value_from_ast_untyped(node, variables))


def _fmt_money(number: float) -> str:
    text = f"{number:.2f}"
    return text


def build() -> Any:
    schema = build_schema(SDL)
    for name in ("Money", "Decimal"):
        scalar = schema.type_map[name]
        # graphql-core 3.2 names (serialize, parse_*) and 3.3 names (coerce_*) alike
        scalar.serialize = scalar.coerce_output_value = lambda v: _fmt_money(float(v))  # type: ignore[attr-defined]
        scalar.parse_value = scalar.coerce_input_value = _money_value  # type: ignore[attr-defined]
        scalar.parse_literal = _money_literal  # type: ignore[attr-defined]
        scalar.coerce_input_literal = lambda node, *rest: _money_value(value_from_ast_untyped(node))  # type: ignore[attr-defined]
    schema.type_map["Node"].resolve_type = lambda value, info, abstract: value["__typename"]  # type: ignore[attr-defined]
    return schema


@functools.cache
def schema() -> Any:
    """The executable schema, built on the first request (not at import: seeding stays fast)."""
    return build()


# -- ids, dates, cursors -----------------------------------------------------------------------
def gid(kind: str, ident: Any) -> str:
    return f"gid://shopify/{kind}/{ident}"


def parse_gid(value: Any, kind: str | None = None) -> int | None:
    """The numeric id of a GID (of ``kind`` when given), or None."""
    match = _GID.match(str(value or ""))
    if not match or (kind and match["type"] != kind):
        return None
    return int(match["id"])


def shopify_time(stamp: str) -> str:
    """A store stamp (microseconds) → Shopify's ``2025-05-27T05:03:44Z`` (seconds)."""
    return f"{stamp[:19]}Z"


def _dt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return _dt(datetime.now(UTC))


def encode_cursor(values: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(values, separators=(",", ":")).encode()).decode()


def decode_cursor(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.b64decode(raw.encode(), validate=True))
    except (ValueError, TypeError) as exc:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {raw}") from exc
    if not isinstance(value, dict) or "last_id" not in value:
        raise GraphQLError(f"Invalid cursor for current pagination sort: {raw}")
    return value


# -- errors ------------------------------------------------------------------------------------
def error_body(status: int, message: str) -> tuple[bytes, str]:
    if status == 429:
        text = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
    elif status >= 500:
        text = "Internal Server Error" if status == 500 else "Service Unavailable"
    else:
        text = message
    return dumps({"errors": text}), JSON


def respond(payload: Any, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON)


# -- seed --------------------------------------------------------------------------------------
FINANCIAL = {"complete": "PAID", "processing": "PAID", "pending": "PENDING", "canceled": "VOIDED"}
FULFILMENT = {"complete": "FULFILLED"}


def _address(c: dict[str, Any], ident: int) -> dict[str, Any]:
    return {
        "id": gid("MailingAddress", ident),
        "firstName": c["firstname"],
        "lastName": c["lastname"],
        "company": None,
        "address1": c["street"],
        "address2": None,
        "city": c["city"],
        "zip": c["postcode"],
        "province": None,
        "provinceCode": None,
        "country": "France" if c["country"] == "FR" else "United Kingdom",
        "countryCodeV2": c["country"],
        "phone": c["phone"],
    }


_US = timedelta(microseconds=1)


def seed_shopify(store: Store, seed: int) -> None:
    data = dataset(seed)
    records: list[tuple[str, Any, dict[str, Any], datetime]] = []
    locations = {}
    for n, wh in enumerate(data.warehouses, start=1):
        lid = LOCATION_BASE + n
        locations[wh["code"]] = lid
        doc = {"id": lid, "name": wh["name"], "city": wh["city"], "isActive": True}
        records.append(("location", lid, doc, data.products[0]["created"]))
    sold = {}
    for n, p in enumerate(data.products[::PRODUCT_EVERY], start=1):
        pid, vid, iid = PRODUCT_BASE + n, VARIANT_BASE + n, ITEM_BASE + n
        sold[p["sku"]] = (pid, vid, iid, p)
        created = _dt(p["created"])
        product = {
            "id": pid,
            "title": p["name_en"],
            "handle": handle_of(p["name_en"], p["sku"]),
            "descriptionHtml": f"<p>{p['description_en']}</p>",
            "vendor": "Maison Sandbox",
            "productType": p["family"],
            "status": "ACTIVE" if p["enabled"] else "DRAFT",
            "tags": sorted({p["family"], p["material"], p["color"]}),
            "createdAt": created,
            "variant_ids": [vid],
        }
        variant = {
            "id": vid,
            "product_id": pid,
            "title": "Default Title",
            "sku": p["sku"],
            "barcode": p["ean"],
            "price": _fmt_money(p["price"]),
            "compareAtPrice": None,
            "position": 1,
            "item_id": iid,
            "createdAt": created,
        }
        item = {"id": iid, "variant_id": vid, "tracked": True, "createdAt": created}
        # distinct microseconds: load() then needs no tie-breaking (seeding stays fast)
        records += [
            ("product", pid, product, p["updated"]),
            ("variant", vid, variant, p["updated"] + _US),
            ("inventory_item", iid, item, p["created"] + _US),
            ("product_handle", product["handle"], {"id": pid}, p["updated"] + 2 * _US),
            ("variant_sku", p["sku"].lower(), {"id": vid}, p["updated"] + 3 * _US),
        ]
    for q in data.stock:
        if q["sku"] not in sold:
            continue
        iid = sold[q["sku"]][2]
        lid = locations[q["warehouse"]]
        qty = int(q["quantity"])
        level = {
            "item_id": iid,
            "location_id": lid,
            "available": qty,
            "committed": 0,
            "createdAt": _dt(q["updated"]),
        }
        records.append(("level", level_key(iid, lid), level, q["updated"]))
    for c in data.customers:
        cid = CUSTOMER_BASE + c["index"] + 1
        doc = {
            "id": cid,
            "firstName": c["firstname"],
            "lastName": c["lastname"],
            "email": c["email"],
            "phone": _e164(c["phone"], c["country"]),
            "state": "ENABLED",
            "note": None,
            "tags": [],
            "locale": "fr" if c["country"] == "FR" else "en",
            "verifiedEmail": True,
            "addresses": [_address(c, cid)],
            "createdAt": _dt(c["created"]),
        }
        records.append(("customer", cid, doc, c["updated"]))
        records.append(("customer_email", c["email"].lower(), {"id": cid}, c["updated"] + _US))
    for o in data.orders:
        c = data.customers[o["customer"]]
        oid = ORDER_BASE + o["number"]
        lines = []
        for n, line in enumerate(o["lines"], start=1):
            known = sold.get(line["sku"])
            lines.append(
                {
                    "id": gid("LineItem", oid * 10 + n),
                    "sku": line["sku"],
                    "name": line["name"],
                    "title": line["name"],
                    "quantity": line["qty"],
                    "price": _fmt_money(line["price"]),
                    "variant_id": known[1] if known else None,
                }
            )
        doc = {
            "id": oid,
            "name": f"#{1000 + o['number']}",
            "email": c["email"],
            "phone": _e164(c["phone"], c["country"]),
            "customer_id": CUSTOMER_BASE + c["index"] + 1,
            "createdAt": _dt(o["created"]),
            "processedAt": _dt(o["created"]),
            "cancelledAt": _dt(o["updated"]) if o["status"] == "canceled" else None,
            "closed": o["status"] in ("complete", "canceled"),
            "financial": FINANCIAL[o["status"]],
            "fulfilment": FULFILMENT.get(o["status"], "UNFULFILLED"),
            "subtotal": o["subtotal"],
            "tax": o["tax"],
            "shipping": o["shipping"],
            "total": o["total"],
            "lines": lines,
            "shippingAddress": _address(c, oid),
            "billingAddress": _address(c, oid + 1),
            "tags": [],
            "note": None,
        }
        records.append(("order", oid, doc, o["updated"]))
    load(store, records)


def _e164(phone: str, country: str) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    if not digits:
        return None
    prefix = "33" if country == "FR" else "44"
    if digits.startswith(prefix):
        return f"+{digits}"
    return f"+{prefix}{digits.lstrip('0')}"


def handle_of(title: str, suffix: str = "") -> str:
    base = re.sub(r"[^a-z0-9]+", "-", (title or "").lower()).strip("-") or "product"
    return f"{base}-{suffix.lower()}" if suffix else base


def level_key(item_id: int, location_id: int) -> str:
    return f"{item_id}:{location_id}"


# -- search ------------------------------------------------------------------------------------
_TERM = re.compile(r"""(?P<field>[a-z_]+):(?P<op>>=|<=|>|<|=)?(?P<value>'[^']*'|"[^"]*"|\S+)""")
_TOKEN = re.compile(r"""\S+:(?:>=|<=|>|<|=)?(?:'[^']*'|"[^"]*"|\S+)|'[^']*'|"[^"]*"|\S+""")


def parse_search(query: str | None) -> list[list[tuple[str, str, str]]]:
    """Shopify's search syntax → OR-groups of AND-ed ``(field, op, value)`` terms; a bare word is
    ``("", ":", word)`` (free text)."""
    groups: list[list[tuple[str, str, str]]] = [[]]
    for word in _TOKEN.findall(query or ""):
        if word == "OR":
            groups.append([])
            continue
        if word == "AND":
            continue
        match = _TERM.fullmatch(word)
        if match:
            value = match["value"]
            if value[:1] in "'\"" and value[-1:] == value[:1]:
                value = value[1:-1]
            groups[-1].append((match["field"], match["op"] or ":", value))
        else:
            groups[-1].append(("", ":", word.strip("'\"")))
    return [g for g in groups if g]


def _as_time(value: str) -> str | None:
    text = value.strip()
    try:
        if len(text) == 10:
            moment = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        return None
    return _dt(moment)


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None:
        return False
    if op in (":", "="):
        return actual == wanted
    try:
        return {">": actual > wanted, ">=": actual >= wanted, "<": actual < wanted, "<=": actual <= wanted}[
            op
        ]
    except TypeError:
        return False


def search_filter(query: str | None, fields: dict[str, Any], free: Any, warnings: list[dict[str, Any]]):
    """A predicate over rendered-for-search docs: ``fields`` maps a search field to
    ``(kind, getter)``, kind ``time``, ``int``, ``text`` or ``gid:<Type>``; unknown fields are left
    out with a warning (as Shopify does: the rest of the query still filters)."""
    groups = parse_search(query)
    compiled = []
    for group in groups:
        terms = []
        for field, op, raw in group:
            if not field:
                needle = raw.lower().rstrip("*")
                terms.append(lambda d, n=needle: any(n in str(v or "").lower() for v in free(d)))
                continue
            if field not in fields:
                warnings.append({"field": field, "message": "Invalid search field for this query."})
                continue
            kind, getter = fields[field]
            if kind == "time":
                wanted = _as_time(raw)
                if wanted is None:
                    warnings.append({"field": field, "message": f"Invalid date value: {raw}"})
                    continue
                terms.append(lambda d, g=getter, o=op, w=wanted: _compare(g(d), o, w))
            elif kind == "int" or kind.startswith("gid:"):
                number = (
                    parse_gid(raw, kind[4:]) if kind.startswith("gid:") and raw.startswith("gid:") else None
                )
                if number is None:
                    try:
                        number = int(raw)
                    except ValueError:
                        warnings.append({"field": field, "message": f"Invalid id value: {raw}"})
                        continue
                terms.append(lambda d, g=getter, o=op, w=number: _compare(g(d), o, w))
            else:
                text = raw.lower()
                if text.endswith("*"):
                    prefix = text[:-1]
                    terms.append(lambda d, g=getter, p=prefix: str(g(d) or "").lower().startswith(p))
                else:
                    terms.append(lambda d, g=getter, o=op, w=text: _compare(str(g(d) or "").lower(), o, w))
        if terms:
            compiled.append(terms)
    if not compiled:
        return None
    return lambda d: any(all(t(d) for t in group) for group in compiled)


def _updated(doc: dict[str, Any]) -> str:
    return shopify_time(doc["updated_at"])


# -- connections -------------------------------------------------------------------------------
def connection(
    docs: list[dict[str, Any]],
    render: Any,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    sort: Any = None,
    reverse: bool = False,
) -> dict[str, Any]:
    """A Relay connection over ``docs``, ordered by ``(sort(doc), id)`` (``sort`` None: by id)."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and (value < 0 or value > MAX_PAGE):
            raise GraphQLError(f"The value of '{name}' must be between 0 and {MAX_PAGE}.")

    def key(d: dict[str, Any]) -> tuple[Any, Any]:
        return (sort(d) if sort else 0, d["id"])

    ordered = sorted(docs, key=key, reverse=reverse)
    keys = [key(d) for d in ordered]
    start, stop = 0, len(ordered)

    def position(raw: str) -> tuple[Any, Any]:
        cursor = decode_cursor(raw)
        return (cursor.get("last_value", 0) if sort else 0, cursor["last_id"])

    if after:
        mark = position(after)
        start = next((i for i, k in enumerate(keys) if (k < mark if reverse else k > mark)), len(keys))
    if before:
        mark = position(before)
        stop = next((i for i, k in enumerate(keys) if (k <= mark if reverse else k >= mark)), len(keys))
        stop = max(stop, start)
    window = ordered[start:stop]
    if first is not None:
        page = window[:first]
        has_next = len(window) > first
        has_prev = start > 0
    else:
        page = window[max(0, len(window) - last) :] if last else []
        has_prev = len(window) > len(page)
        has_next = stop < len(ordered)
    nodes = [render(d) for d in page]
    cursors = [
        encode_cursor({"last_id": d["id"], "last_value": key(d)[0]} if sort else {"last_id": d["id"]})
        for d in page
    ]
    return {
        "nodes": nodes,
        "edges": [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_prev,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _sorter(sort_key: str | None):
    if sort_key == "UPDATED_AT":
        return lambda d: d["updated_at"]
    if sort_key in ("CREATED_AT", "PROCESSED_AT"):
        return lambda d: d.get("createdAt") or ""
    if sort_key in ("TITLE", "NAME"):
        return lambda d: str(d.get("title") or d.get("name") or d.get("lastName") or "").lower()
    if sort_key == "SKU":
        return lambda d: str(d.get("sku") or "").lower()
    return None


# -- the API: rendering store documents as GraphQL objects ------------------------------------
class Shopify:
    """Resolvers over one store. GraphQL objects are dicts; fields that take arguments or reach other
    records are callables ``(info, **args)`` (graphql-core's default resolver calls them)."""

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.store: Store = app.store
        self.search_warnings: list[dict[str, Any]] = []

    # -- rendering -------------------------------------------------------------------------------
    def product(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store

        def variant_docs() -> list[dict[str, Any]]:
            return [v for v in store.get_many("variant", doc["variant_ids"]) if v is not None]

        def variants(info, first=None, after=None, last=None, before=None, reverse=False):
            return connection(
                variant_docs(),
                self.variant,
                first=first,
                after=after,
                last=last,
                before=before,
                sort=lambda d: d["position"],
                reverse=reverse,
            )

        def total(info):
            return sum(self._available(v["item_id"]) for v in variant_docs())

        return {
            "__typename": "Product",
            "id": gid("Product", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            **{
                k: doc[k]
                for k in (
                    "title",
                    "handle",
                    "descriptionHtml",
                    "vendor",
                    "productType",
                    "status",
                    "tags",
                    "createdAt",
                )
            },
            "updatedAt": _updated(doc),
            "totalInventory": total,
            "variantsCount": {"count": len(doc["variant_ids"])},
            "variants": variants,
        }

    def variant(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        product = store.get("product", doc["product_id"])
        return {
            "__typename": "ProductVariant",
            "id": gid("ProductVariant", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            "title": doc["title"],
            "displayName": f"{product['title'] if product else ''} - {doc['title']}",
            "sku": doc.get("sku"),
            "barcode": doc.get("barcode"),
            "price": doc["price"],
            "compareAtPrice": doc.get("compareAtPrice"),
            "position": doc["position"],
            "inventoryQuantity": lambda info: self._available(doc["item_id"]),
            "createdAt": doc["createdAt"],
            "updatedAt": _updated(doc),
            "product": lambda info: self.product(store.get("product", doc["product_id"])),
            "inventoryItem": lambda info: self.item(store.get("inventory_item", doc["item_id"])),
        }

    def _levels_of_item(self, item_id: int) -> list[dict[str, Any]]:
        out = []
        for loc in self.store.scan_by_id("location"):
            level = self.store.get("level", level_key(item_id, loc["id"]))
            if level is not None:
                out.append(level)
        return out

    def _available(self, item_id: int) -> int:
        return sum(level["available"] for level in self._levels_of_item(item_id))

    def item(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        variant = store.get("variant", doc["variant_id"]) or {}

        def levels(info, first=None, after=None, last=None, before=None, query=None, reverse=False):
            docs = [self._level_doc(d) for d in self._levels_of_item(doc["id"])]
            return connection(
                self._filter_levels(docs, query),
                self.level,
                first=first,
                after=after,
                last=last,
                before=before,
                reverse=reverse,
            )

        def level(info, locationId):
            lid = parse_gid(locationId, "Location")
            found = store.get("level", level_key(doc["id"], lid)) if lid else None
            return self.level(self._level_doc(found)) if found else None

        return {
            "__typename": "InventoryItem",
            "id": gid("InventoryItem", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            "sku": variant.get("sku"),
            "tracked": doc["tracked"],
            "createdAt": doc["createdAt"],
            "updatedAt": _updated(doc),
            "variant": lambda info: self.variant(store.get("variant", doc["variant_id"])),
            "inventoryLevels": levels,
            "inventoryLevel": level,
        }

    @staticmethod
    def _level_doc(level: dict[str, Any]) -> dict[str, Any]:
        # connections order by "id": the item id within one location, the (item, location) pair across
        return {**level, "id": level["item_id"] * 1_000_000 + level["location_id"]}

    def level(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        updated = _updated(doc)

        def quantities(info, names):
            values = {
                "available": doc["available"],
                "committed": doc["committed"],
                "on_hand": doc["available"] + doc["committed"],
                "incoming": 0,
                "reserved": 0,
                "damaged": 0,
                "safety_stock": 0,
                "quality_control": 0,
            }
            out = []
            for name in names:
                if name not in values:
                    raise GraphQLError(f"Invalid quantity name: {name}")
                out.append(
                    {
                        "id": f"gid://shopify/InventoryQuantity/{doc['item_id']}?inventory_item_id={doc['item_id']}&location_id={doc['location_id']}&name={name}",
                        "name": name,
                        "quantity": values[name],
                        "updatedAt": updated,
                    }
                )
            return out

        return {
            "__typename": "InventoryLevel",
            "id": f"gid://shopify/InventoryLevel/{doc['location_id']}{doc['item_id']}?inventory_item_id={doc['item_id']}",
            "item": lambda info: self.item(store.get("inventory_item", doc["item_id"])),
            "location": lambda info: self.location(store.get("location", doc["location_id"])),
            "quantities": quantities,
            "createdAt": doc["createdAt"],
            "updatedAt": updated,
        }

    def _filter_levels(self, docs: list[dict[str, Any]], query: str | None) -> list[dict[str, Any]]:
        predicate = search_filter(
            query,
            {
                "inventory_item_id": ("gid:InventoryItem", lambda d: d["item_id"]),
                "updated_at": ("time", _updated),
                "created_at": ("time", lambda d: d["createdAt"]),
            },
            lambda d: [],
            self.search_warnings,
        )
        return [d for d in docs if predicate is None or predicate(d)]

    def location(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store

        def levels(
            info, first=None, after=None, last=None, before=None, query=None, sortKey="ID", reverse=False
        ):
            docs = [self._level_doc(d) for d in store.iter_by_id("level") if d["location_id"] == doc["id"]]
            return connection(
                self._filter_levels(docs, query),
                self.level,
                first=first,
                after=after,
                last=last,
                before=before,
                sort=_sorter(sortKey),
                reverse=reverse,
            )

        def level(info, inventoryItemId):
            iid = parse_gid(inventoryItemId, "InventoryItem")
            found = store.get("level", level_key(iid, doc["id"])) if iid else None
            return self.level(self._level_doc(found)) if found else None

        return {
            "__typename": "Location",
            "id": gid("Location", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            "name": doc["name"],
            "isActive": doc["isActive"],
            "address": {"city": doc["city"], "countryCode": "FR"},
            "inventoryLevels": levels,
            "inventoryLevel": level,
        }

    def customer(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        addresses = doc.get("addresses") or []

        def orders_of() -> list[dict[str, Any]]:
            return [o for o in store.iter_by_id("order") if o.get("customer_id") == doc["id"]]

        def spent(info):
            total = sum(o["total"] for o in orders_of() if o["financial"] == "PAID")
            return {"amount": total, "currencyCode": CURRENCY}

        name = " ".join(p for p in (doc.get("firstName"), doc.get("lastName")) if p) or doc.get("email") or ""
        return {
            "__typename": "Customer",
            "id": gid("Customer", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            **{
                k: doc.get(k)
                for k in (
                    "firstName",
                    "lastName",
                    "email",
                    "phone",
                    "note",
                    "state",
                    "locale",
                    "verifiedEmail",
                    "createdAt",
                )
            },
            "tags": doc.get("tags") or [],
            "displayName": name,
            "defaultEmailAddress": {"emailAddress": doc["email"]} if doc.get("email") else None,
            "defaultPhoneNumber": {"phoneNumber": doc["phone"]} if doc.get("phone") else None,
            "numberOfOrders": lambda info: str(len(orders_of())),
            "amountSpent": spent,
            "defaultAddress": addresses[0] if addresses else None,
            "addresses": lambda info, first=None: addresses[:first] if first else addresses,
            "updatedAt": _updated(doc),
        }

    def order(self, doc: dict[str, Any]) -> dict[str, Any]:
        store = self.store

        def money(amount: float) -> dict[str, Any]:
            value = {"amount": amount, "currencyCode": CURRENCY}
            return {"shopMoney": value, "presentmentMoney": value}

        def line(item: dict[str, Any]) -> dict[str, Any]:
            vid = item.get("variant_id")
            found = store.get("variant", vid) if vid else None
            return {
                **{k: item[k] for k in ("id", "sku", "name", "title", "quantity")},
                "originalUnitPriceSet": money(float(item["price"])),
                "variant": self.variant(found) if found else None,
            }

        def lines(info, first=None, after=None, last=None, before=None, reverse=False):
            docs = [{**item, "id": n} for n, item in enumerate(doc["lines"], start=1)]
            return connection(
                docs,
                lambda d: line({**d, "id": doc["lines"][d["id"] - 1]["id"]}),
                first=first,
                after=after,
                last=last,
                before=before,
                reverse=reverse,
            )

        cid = doc.get("customer_id")
        return {
            "__typename": "Order",
            "id": gid("Order", doc["id"]),
            "legacyResourceId": str(doc["id"]),
            **{
                k: doc.get(k)
                for k in (
                    "name",
                    "email",
                    "phone",
                    "createdAt",
                    "processedAt",
                    "cancelledAt",
                    "closed",
                    "shippingAddress",
                    "billingAddress",
                    "note",
                )
            },
            "tags": doc.get("tags") or [],
            "updatedAt": _updated(doc),
            "displayFinancialStatus": doc["financial"],
            "displayFulfillmentStatus": doc["fulfilment"],
            "currencyCode": CURRENCY,
            "subtotalPriceSet": money(doc["subtotal"]),
            "totalTaxSet": money(doc["tax"]),
            "totalShippingPriceSet": money(doc["shipping"]),
            "totalPriceSet": money(doc["total"]),
            "customer": (
                lambda info: self.customer(store.get("customer", cid)) if store.get("customer", cid) else None
            )
            if cid
            else None,
            "lineItems": lines,
        }

    # -- queries ---------------------------------------------------------------------------------
    KINDS = {
        "Product": ("product", "product"),
        "ProductVariant": ("variant", "variant"),
        "InventoryItem": ("inventory_item", "item"),
        "Location": ("location", "location"),
        "Customer": ("customer", "customer"),
        "Order": ("order", "order"),
    }

    def _by_gid(self, value: Any, kind: str | None = None) -> dict[str, Any] | None:
        match = _GID.match(str(value or ""))
        if not match:
            raise GraphQLError(f"Invalid global id '{value}'")
        if kind and match["type"] != kind:
            return None
        if match["type"] not in self.KINDS:
            return None
        entity, render = self.KINDS[match["type"]]
        doc = self.store.get(entity, int(match["id"]))
        return getattr(self, render)(doc) if doc else None

    def _list(
        self, entity: str, render, args: dict[str, Any], fields: dict[str, Any], free
    ) -> dict[str, Any]:
        docs = list(self.store.iter_by_id(entity))
        predicate = search_filter(args.get("query"), fields, free, self.search_warnings)
        if predicate is not None:
            docs = [d for d in docs if predicate(d)]
        return connection(
            docs,
            render,
            first=args.get("first"),
            after=args.get("after"),
            last=args.get("last"),
            before=args.get("before"),
            sort=_sorter(args.get("sortKey")),
            reverse=bool(args.get("reverse")),
        )

    def query_root(self) -> dict[str, Any]:
        store = self.store
        created = ("time", lambda d: d.get("createdAt"))
        updated = ("time", _updated)
        ident = ("int", lambda d: d["id"])

        def variant_sku(d):
            return d.get("sku")

        return {
            "shop": {
                "id": gid("Shop", 1),
                "name": "Maison Sandbox",
                "email": "shop@example.com",
                "myshopifyDomain": "maison-sandbox.myshopify.com",
                "currencyCode": CURRENCY,
                "ianaTimezone": "Europe/Paris",
            },
            "node": lambda info, id: self._by_gid(id),
            "nodes": lambda info, ids: [self._by_gid(i) for i in ids],
            "product": lambda info, id: self._by_gid(id, "Product"),
            "productByHandle": lambda info, handle: (
                self.product(store.get("product", ref["id"]))
                if (ref := store.get("product_handle", handle))
                else None
            ),
            "products": lambda info, **args: self._list(
                "product",
                self.product,
                args,
                {
                    "id": ident,
                    "title": ("text", lambda d: d["title"]),
                    "handle": ("text", lambda d: d["handle"]),
                    "status": ("text", lambda d: d["status"]),
                    "vendor": ("text", lambda d: d["vendor"]),
                    "product_type": ("text", lambda d: d["productType"]),
                    "tag": ("text", lambda d: next((t for t in d["tags"]), "")),
                    "sku": (
                        "text",
                        lambda d: next(
                            (v.get("sku") for v in store.get_many("variant", d["variant_ids"]) if v), ""
                        ),
                    ),
                    "updated_at": updated,
                    "created_at": created,
                },
                lambda d: [d["title"], d["handle"]],
            ),
            "productVariant": lambda info, id: self._by_gid(id, "ProductVariant"),
            "productVariants": lambda info, **args: self._list(
                "variant",
                self.variant,
                args,
                {
                    "id": ident,
                    "sku": ("text", variant_sku),
                    "barcode": ("text", lambda d: d.get("barcode")),
                    "product_id": ("int", lambda d: d["product_id"]),
                    "title": ("text", lambda d: d["title"]),
                    "updated_at": updated,
                    "created_at": created,
                },
                lambda d: [d.get("sku"), d["title"]],
            ),
            "inventoryItem": lambda info, id: self._by_gid(id, "InventoryItem"),
            "inventoryItems": lambda info, **args: self._list(
                "inventory_item",
                self.item,
                args,
                {
                    "id": ident,
                    "sku": ("text", lambda d: (store.get("variant", d["variant_id"]) or {}).get("sku")),
                    "updated_at": updated,
                    "created_at": created,
                },
                lambda d: [(store.get("variant", d["variant_id"]) or {}).get("sku")],
            ),
            "location": lambda info, id=None: (
                self._by_gid(id, "Location")
                if id
                else self.location(store.scan_by_id("location", limit=1)[0])
            ),
            "locations": lambda info, **args: self._list(
                "location",
                self.location,
                args,
                {"id": ident, "name": ("text", lambda d: d["name"])},
                lambda d: [d["name"]],
            ),
            "customer": lambda info, id: self._by_gid(id, "Customer"),
            "customers": lambda info, **args: self._list(
                "customer",
                self.customer,
                args,
                {
                    "id": ident,
                    "email": ("text", lambda d: d.get("email")),
                    "phone": ("text", lambda d: d.get("phone")),
                    "first_name": ("text", lambda d: d.get("firstName")),
                    "last_name": ("text", lambda d: d.get("lastName")),
                    "state": ("text", lambda d: d.get("state")),
                    "updated_at": updated,
                    "created_at": created,
                },
                lambda d: [d.get("email"), d.get("firstName"), d.get("lastName"), d.get("phone")],
            ),
            "order": lambda info, id: self._by_gid(id, "Order"),
            "orders": lambda info, **args: self._list(
                "order",
                self.order,
                args,
                {
                    "id": ident,
                    "name": ("text", lambda d: d["name"]),
                    "email": ("text", lambda d: d.get("email")),
                    "customer_id": ("int", lambda d: d.get("customer_id")),
                    "financial_status": ("text", lambda d: d["financial"]),
                    "updated_at": updated,
                    "created_at": created,
                    "processed_at": ("time", lambda d: d["processedAt"]),
                },
                lambda d: [d["name"], d.get("email")],
            ),
        }

    # -- mutations -------------------------------------------------------------------------------
    def mutation_root(self) -> dict[str, Any]:
        return {
            "productCreate": lambda info, product: self.product_create(product),
            "productUpdate": lambda info, product: self.product_update(product),
            "productDelete": lambda info, input: self.product_delete(input),
            "productVariantsBulkCreate": lambda info, productId, variants, strategy="DEFAULT": (
                self.variants_create(productId, variants, strategy)
            ),
            "productVariantsBulkUpdate": lambda info, productId, variants, allowPartialUpdates=False: (
                self.variants_update(productId, variants)
            ),
            "inventorySetQuantities": lambda info, input: self.set_quantities(input),
            "customerCreate": lambda info, input: self.customer_save(input, create=True),
            "customerUpdate": lambda info, input: self.customer_save(input, create=False),
            "customerDelete": lambda info, input: self.customer_delete(input),
            "customerRequestDataErasure": lambda info, customerId: self.request_erasure(customerId),
        }

    def _emit(self, topic: str, kind: str, ident: int) -> None:
        self.app.emit(topic, {"id": ident, "admin_graphql_api_id": gid(kind, ident)})

    def _touch_product(self, pid: int) -> None:
        doc = self.store.get("product", pid)
        if doc is not None:
            self.store.put("product", pid, {k: v for k, v in doc.items() if k != "updated_at"})

    def _product_fields(
        self, fields: dict[str, Any], errors: list[dict[str, Any]], pid: int | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("title", "descriptionHtml", "vendor", "productType", "status"):
            if key in fields:
                out[key] = fields[key] if fields[key] is not None else ("" if key != "status" else "ACTIVE")
        if "tags" in fields:
            out["tags"] = sorted({str(t).strip() for t in fields["tags"] or [] if str(t).strip()})
        if "title" in out and not str(out["title"]).strip():
            errors.append({"field": ["title"], "message": "Title can't be blank"})
        if len(str(out.get("title", ""))) > 255:
            errors.append({"field": ["title"], "message": "Title is too long (maximum is 255 characters)"})
        if fields.get("handle"):
            handle = handle_of(fields["handle"])
            ref = self.store.get("product_handle", handle)
            if ref is not None and ref["id"] != pid:
                errors.append(
                    {
                        "field": ["handle"],
                        "message": f"Handle '{handle}' already in use. Please provide a new handle.",
                    }
                )
            out["handle"] = handle
        return out

    def product_create(self, fields: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        errors: list[dict[str, Any]] = []
        values = self._product_fields({"title": None, **fields}, errors, None)
        if errors:
            return {"product": None, "userErrors": errors}
        pid = self._next_id("product", PRODUCT_BASE)
        handle = values.pop("handle", None) or handle_of(values["title"])
        base, n = handle, 1
        while store.get("product_handle", handle) is not None:  # Shopify suffixes a taken handle
            n += 1
            handle = f"{base}-{n}"
        now = _now()
        vid = self._next_id("variant", VARIANT_BASE)
        iid = self._next_id("inventory_item", ITEM_BASE)
        doc = {
            "id": pid,
            "title": values["title"],
            "handle": handle,
            "descriptionHtml": values.get("descriptionHtml", ""),
            "vendor": values.get("vendor") or "Maison Sandbox",
            "productType": values.get("productType", ""),
            "status": values.get("status", "ACTIVE"),
            "tags": values.get("tags", []),
            "createdAt": now,
            "variant_ids": [vid],
        }
        # Like Shopify since 2024-04, a new product gets one standalone variant ("Default Title").
        store.put(
            "variant",
            vid,
            {
                "id": vid,
                "product_id": pid,
                "title": "Default Title",
                "sku": None,
                "barcode": None,
                "price": "0.00",
                "compareAtPrice": None,
                "position": 1,
                "item_id": iid,
                "createdAt": now,
                "standalone": True,
            },
        )
        store.put("inventory_item", iid, {"id": iid, "variant_id": vid, "tracked": False, "createdAt": now})
        store.put("product", pid, doc)
        store.put("product_handle", handle, {"id": pid})
        self._emit("products/create", "Product", pid)
        return {"product": self.product(doc), "userErrors": []}

    def product_update(self, fields: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        pid = parse_gid(fields.get("id"), "Product")
        old = store.get("product", pid) if pid else None
        if old is None:
            return {"product": None, "userErrors": [{"field": ["id"], "message": "Product does not exist"}]}
        errors: list[dict[str, Any]] = []
        values = self._product_fields(fields, errors, pid)
        if errors:
            return {"product": None, "userErrors": errors}
        doc = {k: v for k, v in old.items() if k != "updated_at"}
        doc.update(values)
        if doc != {k: v for k, v in old.items() if k != "updated_at"}:
            store.put("product", pid, doc)
            if values.get("handle") and values["handle"] != old["handle"]:
                store.delete("product_handle", old["handle"])
                store.put("product_handle", values["handle"], {"id": pid})
            self._emit("products/update", "Product", pid)
        else:
            doc = old
        return {"product": self.product(doc), "userErrors": []}

    def product_delete(self, fields: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        pid = parse_gid(fields.get("id"), "Product")
        doc = store.get("product", pid) if pid else None
        if doc is None:
            return {
                "deletedProductId": None,
                "userErrors": [{"field": ["id"], "message": "Product does not exist"}],
            }
        for vid in doc["variant_ids"]:
            self._drop_variant(vid)
        store.delete("product", pid)
        store.delete("product_handle", doc["handle"])
        self._emit("products/delete", "Product", pid)
        return {"deletedProductId": gid("Product", pid), "userErrors": []}

    def _drop_variant(self, vid: int) -> None:
        store = self.store
        variant = store.get("variant", vid)
        if variant is None:
            return
        if variant.get("sku"):
            store.delete("variant_sku", variant["sku"].lower())
        for level in self._levels_of_item(variant["item_id"]):
            store.delete("level", level_key(level["item_id"], level["location_id"]))
        store.delete("inventory_item", variant["item_id"])
        store.delete("variant", vid)

    def _variant_errors(self, index: int, values: dict[str, Any], vid: int | None) -> list[dict[str, Any]]:
        errors = []
        if "price" in values and values["price"] is not None and float(values["price"]) < 0:
            errors.append(
                {
                    "field": ["variants", str(index), "price"],
                    "message": "Price must be greater than or equal to 0",
                    "code": "GREATER_THAN_OR_EQUAL_TO",
                }
            )
        sku = ((values.get("inventoryItem") or {}).get("sku") or "").strip()
        if sku:
            ref = self.store.get("variant_sku", sku.lower())
            if ref is not None and ref["id"] != vid:
                # Shopify allows duplicate SKUs; this stand-in refuses them (see the docstring)
                errors.append(
                    {
                        "field": ["variants", str(index), "inventoryItem", "sku"],
                        "message": f"SKU '{sku}' is already used by another variant",
                        "code": "TAKEN",
                    }
                )
            if len(sku) > 255:
                errors.append(
                    {
                        "field": ["variants", str(index), "inventoryItem", "sku"],
                        "message": "SKU is too long (maximum is 255 characters)",
                        "code": "TOO_LONG",
                    }
                )
        return errors

    def _apply_variant(self, doc: dict[str, Any], values: dict[str, Any]) -> None:
        for key in ("price", "compareAtPrice", "barcode"):
            if key in values:
                doc[key] = values[key] if key != "price" or values[key] is not None else "0.00"
        item = values.get("inventoryItem") or {}
        if "sku" in item:
            old = (doc.get("sku") or "").lower()
            new = (item["sku"] or "").strip() or None
            if old and old != (new or "").lower():
                self.store.delete("variant_sku", old)
            doc["sku"] = new
            if new:
                self.store.put("variant_sku", new.lower(), {"id": doc["id"]})
        if "tracked" in item:
            iid = doc["item_id"]
            stored = self.store.get("inventory_item", iid)
            self.store.put(
                "inventory_item",
                iid,
                {**{k: v for k, v in stored.items() if k != "updated_at"}, "tracked": bool(item["tracked"])},
            )
        doc.pop("standalone", None)

    def variants_create(
        self, product_id: str, variants: list[dict[str, Any]], strategy: str
    ) -> dict[str, Any]:
        store = self.store
        pid = parse_gid(product_id, "Product")
        product = store.get("product", pid) if pid else None
        if product is None:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    {
                        "field": ["productId"],
                        "message": "Product does not exist",
                        "code": "PRODUCT_DOES_NOT_EXIST",
                    }
                ],
            }
        errors = [e for n, v in enumerate(variants) for e in self._variant_errors(n, v, None)]
        skus = [((v.get("inventoryItem") or {}).get("sku") or "").lower() for v in variants]
        for n, sku in enumerate(skus):
            if sku and skus.index(sku) != n:
                errors.append(
                    {
                        "field": ["variants", str(n), "inventoryItem", "sku"],
                        "message": f"SKU '{sku}' is repeated",
                        "code": "TAKEN",
                    }
                )
        if errors:  # the whole call fails: nothing is created
            return {"product": self.product(product), "productVariants": None, "userErrors": errors}
        ids = list(product["variant_ids"])
        if strategy == "REMOVE_STANDALONE_VARIANT":
            for vid in list(ids):
                v = store.get("variant", vid)
                if v is not None and v.get("standalone"):
                    self._drop_variant(vid)
                    ids.remove(vid)
        created = []
        now = _now()
        for values in variants:
            vid = self._next_id("variant", VARIANT_BASE)
            iid = self._next_id("inventory_item", ITEM_BASE)
            doc = {
                "id": vid,
                "product_id": pid,
                "title": values.get("title") or "Default Title",
                "sku": None,
                "barcode": None,
                "price": "0.00",
                "compareAtPrice": None,
                "position": len(ids) + 1,
                "item_id": iid,
                "createdAt": now,
            }
            store.put(
                "inventory_item", iid, {"id": iid, "variant_id": vid, "tracked": True, "createdAt": now}
            )
            self._apply_variant(doc, values)
            store.put("variant", vid, doc)
            ids.append(vid)
            created.append(doc)
        product = {k: v for k, v in product.items() if k != "updated_at"}
        product["variant_ids"] = ids
        store.put("product", pid, product)
        self._emit("products/update", "Product", pid)
        return {
            "product": self.product(product),
            "productVariants": [self.variant(d) for d in created],
            "userErrors": [],
        }

    def variants_update(self, product_id: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
        store = self.store
        pid = parse_gid(product_id, "Product")
        product = store.get("product", pid) if pid else None
        if product is None:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    {
                        "field": ["productId"],
                        "message": "Product does not exist",
                        "code": "PRODUCT_DOES_NOT_EXIST",
                    }
                ],
            }
        errors = []
        targets = []
        for n, values in enumerate(variants):
            vid = parse_gid(values.get("id"), "ProductVariant")
            doc = store.get("variant", vid) if vid else None
            if doc is None or doc["product_id"] != pid:
                errors.append(
                    {
                        "field": ["variants", str(n), "id"],
                        "message": "Product variant does not exist",
                        "code": "PRODUCT_VARIANT_DOES_NOT_EXIST",
                    }
                )
                continue
            errors += self._variant_errors(n, values, vid)
            targets.append((doc, values))
        if errors:
            return {"product": self.product(product), "productVariants": None, "userErrors": errors}
        updated = []
        for old, values in targets:
            doc = {k: v for k, v in old.items() if k != "updated_at"}
            self._apply_variant(doc, values)
            store.put("variant", doc["id"], doc)
            updated.append(doc)
        self._touch_product(pid)
        self._emit("products/update", "Product", pid)
        return {
            "product": self.product(store.get("product", pid)),
            "productVariants": [self.variant(d) for d in updated],
            "userErrors": [],
        }

    def set_quantities(self, data: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        errors: list[dict[str, Any]] = []
        if data["name"] not in ("available", "on_hand"):
            errors.append(
                {
                    "field": ["input", "name"],
                    "message": "The quantity name must be either 'available' or 'on_hand'.",
                    "code": "INVALID_NAME",
                }
            )
        reasons = {
            "correction",
            "cycle_count_available",
            "damaged",
            "movement_created",
            "movement_received",
            "movement_canceled",
            "movement_updated",
            "other",
            "promotion",
            "quality_control",
            "received",
            "reservation_created",
            "reservation_deleted",
            "reservation_updated",
            "restock",
            "safety_stock",
            "shrinkage",
        }
        if data["reason"] not in reasons:
            errors.append(
                {
                    "field": ["input", "reason"],
                    "message": "The specified reason is invalid.",
                    "code": "INVALID_REASON",
                }
            )
        planned = []
        seen = set()
        for n, q in enumerate(data["quantities"]):
            where = ["input", "quantities", str(n)]
            iid = parse_gid(q["inventoryItemId"], "InventoryItem")
            lid = parse_gid(q["locationId"], "Location")
            if iid is None or store.get("inventory_item", iid) is None:
                errors.append(
                    {
                        "field": [*where, "inventoryItemId"],
                        "message": "The specified inventory item could not be found.",
                        "code": "INVALID_INVENTORY_ITEM",
                    }
                )
                continue
            if lid is None or store.get("location", lid) is None:
                errors.append(
                    {
                        "field": [*where, "locationId"],
                        "message": "The specified location could not be found.",
                        "code": "INVALID_LOCATION",
                    }
                )
                continue
            level = store.get("level", level_key(iid, lid))
            if level is None:
                errors.append(
                    {
                        "field": [*where, "locationId"],
                        "message": "The specified inventory item is not stocked at the location.",
                        "code": "ITEM_NOT_STOCKED_AT_LOCATION",
                    }
                )
                continue
            if abs(q["quantity"]) > 1_000_000_000:
                errors.append(
                    {
                        "field": [*where, "quantity"],
                        "message": "The quantity can't be higher than 1,000,000,000.",
                        "code": "INVALID_QUANTITY_TOO_HIGH",
                    }
                )
                continue
            if (iid, lid) in seen:
                errors.append(
                    {
                        "field": [*where],
                        "message": "The combination of inventoryItemId and locationId must be unique.",
                        "code": "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    }
                )
                continue
            seen.add((iid, lid))
            compare = q.get("compareQuantity")
            current = (
                level["available"] if data["name"] == "available" else level["available"] + level["committed"]
            )
            if not data.get("ignoreCompareQuantity") and compare is not None and compare != current:
                errors.append(
                    {
                        "field": [*where, "compareQuantity"],
                        "message": "The compareQuantity argument no longer matches the persisted quantity.",
                        "code": "COMPARE_QUANTITY_STALE",
                    }
                )
                continue
            planned.append((level, q["quantity"] - current, iid, lid))
        if errors:  # all or nothing
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        for level, delta, iid, lid in planned:
            doc = {k: v for k, v in level.items() if k != "updated_at"}
            doc["available"] += delta
            if delta:
                store.put("level", level_key(iid, lid), doc)
                self.app.emit(
                    "inventory_levels/update",
                    {"inventory_item_id": iid, "location_id": lid, "available": doc["available"]},
                )
            changes.append(
                {
                    "name": data["name"],
                    "delta": delta,
                    "quantityAfterChange": None,
                    "item": lambda info=None, i=iid: self.item(store.get("inventory_item", i)),
                    "location": lambda info=None, loc=lid: self.location(store.get("location", loc)),
                }
            )
        group = self._next_id("adjustment_group", 90_000_000)
        store.set_meta("seq:adjustment_group", group)
        return {
            "inventoryAdjustmentGroup": {
                "id": gid("InventoryAdjustmentGroup", group),
                "reason": data["reason"],
                "createdAt": _now(),
                "changes": changes,
            },
            "userErrors": [],
        }

    def customer_save(self, data: dict[str, Any], *, create: bool) -> dict[str, Any]:
        store = self.store
        old = None
        if create:
            if data.get("id"):
                return {"customer": None, "userErrors": [{"field": ["id"], "message": "Id must be blank"}]}
        else:
            cid = parse_gid(data.get("id"), "Customer")
            old = store.get("customer", cid) if cid else None
            if old is None:
                return {
                    "customer": None,
                    "userErrors": [{"field": ["id"], "message": "Customer does not exist"}],
                }
        errors = []
        email = (data.get("email") or "").strip() if "email" in data else (old or {}).get("email")
        phone = (data.get("phone") or "").strip() if "phone" in data else (old or {}).get("phone")
        if email and not _EMAIL.match(email):
            errors.append({"field": ["email"], "message": "Email is invalid"})
        elif email:
            ref = store.get("customer_email", email.lower())
            if ref is not None and (old is None or ref["id"] != old["id"]):
                errors.append({"field": ["email"], "message": "Email has already been taken"})
        if phone and not re.fullmatch(r"\+\d{6,15}", phone):
            errors.append({"field": ["phone"], "message": "Phone is invalid"})
        if create and not email and not phone and not data.get("lastName") and not data.get("firstName"):
            errors.append(
                {"field": ["customer"], "message": "A name, phone number, or email address must be present"}
            )
        if errors:
            return {"customer": None, "userErrors": errors}
        cid = old["id"] if old else self._next_id("customer", CUSTOMER_BASE)
        doc = {k: v for k, v in (old or {}).items() if k != "updated_at"} or {
            "id": cid,
            "state": "DISABLED",
            "note": None,
            "tags": [],
            "locale": "en",
            "verifiedEmail": False,
            "addresses": [],
            "createdAt": _now(),
            "firstName": None,
            "lastName": None,
        }
        for key in ("firstName", "lastName", "note", "locale"):
            if key in data:
                doc[key] = data[key]
        if "tags" in data:
            doc["tags"] = sorted({str(t).strip() for t in data["tags"] or [] if str(t).strip()})
        doc["email"], doc["phone"] = email or None, phone or None
        if "addresses" in data and data["addresses"] is not None:
            doc["addresses"] = [
                {
                    "id": gid("MailingAddress", cid * 10 + n),
                    "firstName": a.get("firstName"),
                    "lastName": a.get("lastName"),
                    "company": a.get("company"),
                    "address1": a.get("address1"),
                    "address2": a.get("address2"),
                    "city": a.get("city"),
                    "zip": a.get("zip"),
                    "province": None,
                    "provinceCode": a.get("provinceCode"),
                    "country": {"FR": "France", "GB": "United Kingdom"}.get(
                        a.get("countryCode") or "", a.get("countryCode")
                    ),
                    "countryCodeV2": a.get("countryCode"),
                    "phone": a.get("phone"),
                }
                for n, a in enumerate(data["addresses"], start=1)
            ]
        if old is not None and doc == {k: v for k, v in old.items() if k != "updated_at"}:
            return {"customer": self.customer(old), "userErrors": []}
        store.put("customer", cid, doc)
        old_email = ((old or {}).get("email") or "").lower()
        if old_email and old_email != (email or "").lower():
            store.delete("customer_email", old_email)
        if email:
            store.put("customer_email", email.lower(), {"id": cid})
        self._emit("customers/create" if create else "customers/update", "Customer", cid)
        return {"customer": self.customer(doc), "userErrors": []}

    def customer_delete(self, data: dict[str, Any]) -> dict[str, Any]:
        store = self.store
        cid = parse_gid(data.get("id"), "Customer")
        doc = store.get("customer", cid) if cid else None
        if doc is None:
            return {
                "deletedCustomerId": None,
                "userErrors": [{"field": ["id"], "message": "Customer can't be found"}],
            }
        if any(o.get("customer_id") == cid for o in store.iter_by_id("order")):
            return {
                "deletedCustomerId": None,
                "userErrors": [
                    {
                        "field": ["id"],
                        "message": "Customer can't be deleted because they have associated orders",
                    }
                ],
            }
        self._remove_customer(doc)
        self._emit("customers/delete", "Customer", cid)
        return {"deletedCustomerId": gid("Customer", cid), "userErrors": []}

    def _remove_customer(self, doc: dict[str, Any]) -> None:
        self.store.delete("customer", doc["id"])
        if doc.get("email"):
            self.store.delete("customer_email", doc["email"].lower())

    def request_erasure(self, customer_id: str) -> dict[str, Any]:
        store = self.store
        cid = parse_gid(customer_id, "Customer")
        doc = store.get("customer", cid) if cid else None
        if doc is None:
            return {
                "customerId": None,
                "userErrors": [
                    {"field": ["customerId"], "message": "Customer does not exist", "code": "DOES_NOT_EXIST"}
                ],
            }
        if self.app.options["erasure_delay_s"] > 0:
            pending = {k: v for k, v in doc.items() if k != "updated_at"}
            pending["erasureRequestedAt"] = _now()
            store.put("customer", cid, pending)
            return {"customerId": gid("Customer", cid), "userErrors": []}
        self.erase_customer(doc)
        return {"customerId": gid("Customer", cid), "userErrors": []}

    def erase_customer(self, doc: dict[str, Any]) -> None:
        """Shopify's redaction: the customer is gone, their orders stay without personal data."""
        store = self.store
        for order in list(store.iter_by_id("order")):
            if order.get("customer_id") == doc["id"]:
                redacted = {k: v for k, v in order.items() if k != "updated_at"}
                redacted.update(
                    customer_id=None,
                    email=None,
                    phone=None,
                    shippingAddress=None,
                    billingAddress=None,
                    note=None,
                )
                store.put("order", order["id"], redacted)
        self._remove_customer(doc)
        self._emit("customers/redact", "Customer", doc["id"])

    def _next_id(self, entity: str, base: int) -> int:
        current = max(
            int(self.store.get_meta(f"seq:{entity}", base) or base), int(self.store.max_id(entity) or 0)
        )
        self.store.set_meta(f"seq:{entity}", current + 1)
        return current + 1


# -- cost ------------------------------------------------------------------------------------------
_MISSING = object()


def query_cost(
    schema: Any,
    document: Any,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    data: Any = _MISSING,
) -> int:
    """Shopify's calculated query cost of ``operation``: requested (from ``first``/``last`` and the
    ids asked) when ``data`` is missing, actual (from what the answer holds) otherwise."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    if operation.operation.value == "mutation":
        return MUTATION_COST * sum(1 for _ in _fields(operation.selection_set, fragments))
    return _selection_cost(schema, fragments, operation.selection_set, schema.query_type, variables, data)


def _fields(selection_set: Any, fragments: dict[str, Any]):
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            yield sel
        elif isinstance(sel, InlineFragmentNode):
            yield from _fields(sel.selection_set, fragments)
        elif isinstance(sel, FragmentSpreadNode) and sel.name.value in fragments:
            yield from _fields(fragments[sel.name.value].selection_set, fragments)


def _arg(node: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    for arg in node.arguments or ():
        if arg.name.value == name:
            return value_from_ast_untyped(arg.value, variables)
    return None


def _selection_cost(schema, fragments, selection_set, parent, variables, data) -> int:
    total = 0
    for node in _fields(selection_set, fragments):
        name = node.name.value
        if name.startswith("__"):
            continue
        types = [parent]
        if not hasattr(parent, "fields") or name not in parent.fields:  # an inline fragment's type
            types = [
                t
                for t in schema.type_map.values()
                if hasattr(t, "fields") and not t.name.startswith("__") and name in t.fields
            ]
            if not types:
                continue
        field = types[0].fields[name]
        named = get_named_type(field.type)
        if is_leaf_type(named):
            continue
        key = node.alias.value if node.alias else name
        value = data.get(key, _MISSING) if isinstance(data, dict) else _MISSING
        if data is not _MISSING and value is _MISSING:
            continue  # another fragment's field, absent from this object
        if named.name.endswith("Connection"):
            total += 2 + _connection_nodes_cost(schema, fragments, node, named, variables, value)
            continue
        inner = field.type.of_type if is_non_null_type(field.type) else field.type
        if is_list_type(inner):
            if value is _MISSING:
                count = len(_arg(node, "ids", variables) or _arg(node, "names", variables) or [None])
                each = 1 + _selection_cost(schema, fragments, node.selection_set, named, variables, _MISSING)
                total += count * each
            else:
                for item in value or []:
                    if item is not None:
                        total += 1 + _selection_cost(
                            schema, fragments, node.selection_set, named, variables, item
                        )
            continue
        if value is None:
            continue
        total += 1 + _selection_cost(schema, fragments, node.selection_set, named, variables, value)
    return total


def _connection_nodes_cost(schema, fragments, node, conn_type, variables, value) -> int:
    node_type = get_named_type(conn_type.fields["nodes"].type)
    selections = []  # (selection set, path to the node objects in the answer)
    for sub in _fields(node.selection_set, fragments):
        if sub.name.value == "nodes":
            selections.append((sub.selection_set, [sub.alias.value if sub.alias else "nodes"], None))
        elif sub.name.value == "edges":
            for inner in _fields(sub.selection_set, fragments):
                if inner.name.value == "node":
                    selections.append(
                        (
                            inner.selection_set,
                            [sub.alias.value if sub.alias else "edges"],
                            inner.alias.value if inner.alias else "node",
                        )
                    )
    if value is _MISSING:
        count = _arg(node, "first", variables) or _arg(node, "last", variables) or 0
        each = max(
            [1]
            + [
                1 + _selection_cost(schema, fragments, s, node_type, variables, _MISSING)
                for s, _, _ in selections
            ]
        )
        return (count if isinstance(count, int) else 0) * each  # a bad variable fails in execution
    if not isinstance(value, dict):
        return 0
    best = 0
    for selection, (key,), inner in selections:
        items = value.get(key) or []
        cost = 0
        for item in items:
            obj = item.get(inner) if inner and isinstance(item, dict) else item
            if obj is not None:
                cost += 1 + _selection_cost(schema, fragments, selection, node_type, variables, obj)
        best = max(best, cost)
    if not selections:
        best = 0
    return best


# -- throttling --------------------------------------------------------------------------------
class Bucket:
    """Shopify's leaky bucket of query-cost points."""

    def __init__(self, maximum: float, rate: float) -> None:
        self.maximum, self.rate = float(maximum), float(rate)
        self.available = float(maximum)
        self.at = time.monotonic()
        self.throttled = 0

    def refill(self) -> None:
        now = time.monotonic()
        self.available = min(self.maximum, self.available + (now - self.at) * self.rate)
        self.at = now

    def take(self, cost: int) -> bool:
        self.refill()
        if cost > self.available:
            self.throttled += 1
            return False
        self.available -= cost
        return True

    def give(self, points: int) -> None:
        self.refill()
        self.available = min(self.maximum, self.available + max(0, points))

    def status(self) -> dict[str, Any]:
        self.refill()
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.rate,
        }


# -- the endpoint ------------------------------------------------------------------------------
def _format(error: GraphQLError, code: str | None = None) -> dict[str, Any]:
    out = dict(error.formatted)
    if code:
        out["extensions"] = {**(out.get("extensions") or {}), "code": code}
    return out


async def graphql_endpoint(request: Request) -> Response:
    app: SandboxApp = sandbox_of(request)
    creds: ShopifyCredentials = app.credentials
    if request.path_params["version"] not in app.options["versions"]:
        return respond({"errors": "Not Found"}, 404)
    if request.headers.get("x-shopify-access-token", "") != creds.token:
        return respond({"errors": INVALID_TOKEN}, 401)
    raw = await request.body()
    content_type = request.headers.get("content-type", "")
    variables: dict[str, Any] = {}
    operation_name = None
    if content_type.startswith("application/graphql"):
        source = raw.decode("utf-8", "replace")
    else:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str) or not body["query"].strip():
            return respond({"errors": {"query": "Required parameter missing or invalid"}}, 400)
        source = body["query"]
        variables = body.get("variables") or {}
        operation_name = body.get("operationName")
        if not isinstance(variables, dict):
            return respond({"errors": {"variables": "Invalid variables: expected an object"}}, 400)
    bucket: Bucket = app.options["bucket"]
    try:
        document = parse(source)
    except GraphQLError as exc:
        return respond({"errors": [_format(exc, "GRAPHQL_PARSE_FAILED")]})
    executable = schema()
    problems = validate(executable, document)
    if problems:
        return respond({"errors": [_format(e, "GRAPHQL_VALIDATION_FAILED") for e in problems]})
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    if len(chosen) != 1:
        message = (
            f'No operation named "{operation_name}"'
            if operation_name
            else "An operation name is required when the document holds several operations"
        )
        return respond({"errors": [{"message": message, "extensions": {"code": "OPERATION_NOT_FOUND"}}]})
    operation = chosen[0]
    requested = query_cost(executable, document, operation, variables)
    limit = app.options["max_query_cost"]
    if requested > limit:
        return respond(
            {
                "errors": [
                    {
                        "message": f"Query cost is {requested}, which exceeds the single query max cost limit ({limit}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n",
                        "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": limit},
                    }
                ]
            }
        )
    if not bucket.take(requested):
        return respond(
            {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": {
                    "cost": {
                        "requestedQueryCost": requested,
                        "actualQueryCost": None,
                        "throttleStatus": bucket.status(),
                    }
                },
            }
        )
    api = Shopify(app)
    root = api.mutation_root() if operation.operation.value == "mutation" else api.query_root()
    with app.store._lock:
        result = execute_sync(
            executable, document, root_value=root, variable_values=variables, operation_name=operation_name
        )
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [_format(e) for e in result.errors]
    # execution errors (with a path) keep "data" (null when a non-null root field failed), as the
    # GraphQL spec has it; variable errors stop the request before execution: no "data"
    if result.data is not None or not result.errors or any(e.path for e in result.errors):
        payload["data"] = result.data
    actual = (
        query_cost(executable, document, operation, variables, result.data or {})
        if result.data is not None
        else 0
    )
    if operation.operation.value == "mutation":
        actual = requested if result.data is not None else 0
    bucket.give(requested - actual)
    extensions: dict[str, Any] = {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status(),
        }
    }
    if api.search_warnings:
        extensions["search"] = [{"warnings": api.search_warnings}]
    payload["extensions"] = extensions
    return respond(payload)


class ShopifyApp(SandboxApp):
    def describe(self) -> dict[str, Any]:
        bucket: Bucket = self.options["bucket"]
        return {**super().describe(), "throttled": bucket.throttled, "throttle_status": bucket.status()}

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        old: Bucket = self.options["bucket"]
        self.options["bucket"] = Bucket(old.maximum, old.rate)


def routes() -> list[Route]:
    return [Route("/admin/api/{version}/graphql.json", graphql_endpoint, methods=["POST"])]


def create_app(
    store_path: str | None = None,
    seed: int = 42,
    credentials: ShopifyCredentials | None = None,
    faults: FaultConfig | None = None,
    *,
    bucket_max: float = BUCKET_MAX,
    restore_rate: float = RESTORE_RATE,
    max_query_cost: int = MAX_QUERY_COST,
    erasure_delay_s: float = 0.0,
    versions: tuple[str, ...] = (API_VERSION,),
) -> SandboxApp:
    """The Shopify stand-in. ``bucket_max``/``restore_rate``: the cost bucket (Shopify's Standard
    plan: 2000 points, 100 a second; Plus: 20000 and 1000); ``max_query_cost``: the single-query cap;
    ``erasure_delay_s`` > 0: ``customerRequestDataErasure`` only records the request (see above)."""
    return ShopifyApp(
        name="shopify",
        routes=routes(),
        store_path=store_path,
        seed=seed,
        seeder=seed_shopify,
        faults=faults,
        error_body=error_body,
        credentials=credentials or ShopifyCredentials.from_env(),
        options={
            "bucket": Bucket(bucket_max, restore_rate),
            "max_query_cost": int(max_query_cost),
            "erasure_delay_s": float(erasure_delay_s),
            "versions": tuple(versions),
        },
    )
