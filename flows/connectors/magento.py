"""Adobe Commerce / Magento 2.4 admin REST connector.

Requests go to ``<base_url>/rest/<store_code>/V1/``. Authentication is either an admin user (``POST
integration/admin/token`` gives a bearer token that lives 4 h; it is shared by every worker process for
3.5 h and fetched again once when Magento answers 401) or an integration's access token used directly as
the bearer.

Entities:

- ``products`` (``GET products``, ``POST products`` to create, ``PUT products/{sku}`` to update,
  ``DELETE products/{sku}``). Each record also carries ``attributes``, the ``custom_attributes`` list as
  a ``{code: value}`` object (a convenience for mapping: on write it is merged back into
  ``custom_attributes``).
- ``source_items``: MSI stock per product and source (``GET``/``POST inventory/source-items``). Records
  carry a composite ``id`` ``"<sku>@<source_code>"``. Writes go in one batch, which Magento saves
  whole or not at all: when it refuses the batch, the items are sent again one by one, so the good ones
  are written and each bad one fails with Magento's own message.
- ``configurable_products``: the ``products`` of ``type_id`` ``configurable``, each with ``children``
  (the child SKUs, ``GET configurable-products/{sku}/children``) and ``configurable_options`` (Magento's
  ``extension_attributes.configurable_product_options``: ``attribute_id``, ``label``, ``position``,
  ``values`` of ``value_index``). A write saves the parent as a product (``type_id`` forced to
  ``configurable``), adds the options whose attribute it lacks (``POST configurable-products/{sku}/options``)
  and links the children not yet linked (``POST configurable-products/{sku}/child``): links are added,
  never removed. A child Magento refuses (it lacks a value of a configurable attribute, or repeats
  another child's values) fails the record with Magento's message; the parent stays saved and the
  children before it linked, so the record is simply written again once fixed.
- ``stock_items``: legacy stock (CatalogInventory), for shops without MSI: ``GET stockItems/{sku}`` and
  ``PUT products/{sku}/stockItems/{item_id}``, one product at a time (the legacy API has no batch and no
  list: a read lists the products and gets each one's stock item). Records carry ``sku`` (their id),
  ``qty``, ``is_in_stock`` and the item's settings (``manage_stock``, ``min_qty``, ``backorders`` …). A
  write reads the current item and sends it back with the record's fields laid over it, because the
  specification requires every setting in the body; ``is_in_stock`` left out follows ``qty`` (in stock
  above ``min_qty`` or with backorders). Every product has a stock item, so every write mode updates
  it; an unknown SKU fails that record only.
- ``orders`` (``GET orders``, ``GET orders/{id}``); writing an order adds a status comment
  (``POST orders/{id}/comments``), optionally with a new status. Orders are never created here.
- ``customers`` (``GET customers/search``, ``POST customers``, ``PUT``/``DELETE customers/{id}``).
  An update is sent as the current customer with the record's keys laid over it, because Magento's
  customer save is a full replace (a missing ``website_id`` or ``group_id`` would be reset).

GDPR (the ``Connector`` contract): customers are found by e-mail or id and deleted; their orders are
found by ``customer_email`` / ``customer_id`` and kept by default (Art. 17(3)(b)), or masked on request
(``POST orders`` with the ``entity_id`` and ``PUT orders/{id}`` for the billing address: Magento has no
order-anonymise endpoint; the shipping address, where the order has one, is saved masked too).
``export_subject`` is ``fetch``.

Lists use ``searchCriteria`` (page size + current page, sorted by id) and stop on ``total_count``:
Magento answers a page past the end of orders and customers with the last page again. Incremental reads
filter ``updated_at`` ``gt`` the bound in Magento's ``YYYY-MM-DD HH:MM:SS`` (UTC); MSI source items and
legacy stock items have no timestamp, so they are always read whole. Configurable products are listed
with a ``type_id`` filter, or, in an incremental read (the specification declares one filter), with the
``updated_at`` filter and the other product types left out here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NoReturn
from urllib.parse import quote

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
    is_masked,
)
from flows.connectors.errors import AuthError, ConfigError, NotFound, RecordError
from flows.connectors.http import HubClient, decode_json
from flows.connectors.registry import register_connector
from flows.coordination import get_shared, lock, set_shared

PAGE_SIZE = 100
LOOKUP_CHUNK = 50  # values per ``in`` filter (URL length)
BATCH_SIZE = 500  # source items per POST
# Admin tokens live 4 h by default (Stores > Configuration > Services > OAuth > Access Token Expiration).
TOKEN_TTL = 3.5 * 3600
STORE_CODE = re.compile(r"^[a-z][a-z0-9_]*$", re.I)

# entity → (list path, sort field for stable pages)
LISTS = {
    "products": ("products", "entity_id"),
    "source_items": ("inventory/source-items", "source_item_id"),
    "configurable_products": ("products", "entity_id"),
    "stock_items": ("products", "entity_id"),
    "orders": ("orders", "entity_id"),
    "customers": ("customers/search", "entity_id"),
}
READ_ONLY = ("id", "created_at", "updated_at")
SUBJECT_CAPABILITIES = frozenset(
    {Capability.SUBJECT_LOOKUP, Capability.SUBJECT_ERASE, Capability.SUBJECT_EXPORT}
)
# An order's customer fields overwritten by the "mask" erasure: the order's own fields go through the
# order save, ``billing_address.*`` through the order-address save (the spec's required address fields
# keep a value).
ORDER_MASK = (
    ("customer_email", "anonymised@example.invalid"),
    ("customer_firstname", "Anonymised"),
    ("customer_lastname", "Anonymised"),
    ("billing_address.email", "anonymised@example.invalid"),
    ("billing_address.firstname", "Anonymised"),
    ("billing_address.lastname", "Anonymised"),
    ("billing_address.street", ["Anonymised"]),
    ("billing_address.city", "Anonymised"),
    ("billing_address.postcode", "00000"),
    ("billing_address.telephone", "0000000000"),
)
SOURCE_ITEM_KEYS = ("sku", "source_code", "quantity", "status", "extension_attributes")
CONFIGURABLE_KEYS = ("children", "configurable_options")
# The legacy stock item's writable fields and their types in the specification
STOCK_ITEM_TYPES = {
    "qty": float, "is_in_stock": bool, "is_qty_decimal": bool, "use_config_min_qty": bool, "min_qty": float,
    "use_config_min_sale_qty": int, "min_sale_qty": float, "use_config_max_sale_qty": bool,
    "max_sale_qty": float, "use_config_backorders": bool, "backorders": int,
    "use_config_notify_stock_qty": bool, "notify_stock_qty": float, "use_config_qty_increments": bool,
    "qty_increments": float, "use_config_enable_qty_inc": bool, "enable_qty_increments": bool,
    "use_config_manage_stock": bool, "manage_stock": bool, "is_decimal_divided": bool,
}  # fmt: skip


def token_key(system_id) -> str:
    """Where a system's admin token is shared between worker processes."""
    return f"magento-admin-token:{system_id}"


def magento_since(value: str) -> tuple[str, str]:
    """(Magento datetime, condition) for an ISO-8601 bound: ``gteq`` its second. Magento stores whole
    seconds, so a record changed after a read but in the second of the read's newest record carries the
    bound itself: ``gt`` would lose it for good. That second's records are read again instead (the
    engine's change detection finds them unchanged)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ConfigError(
            _("“%(value)s” is not an ISO-8601 date and time.") % {"value": value}, reason="config"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S"), "gteq"


def search_criteria(
    *, field: str = "", value: str = "", condition: str = "eq", sort: str = "", size: int, page: int = 1
) -> dict:
    """Flat ``searchCriteria`` query keys: one filter, one sort order, the page."""
    params: dict = {}
    if field:
        prefix = "searchCriteria[filterGroups][0][filters][0]"
        params[f"{prefix}[field]"] = field
        params[f"{prefix}[value]"] = value
        params[f"{prefix}[conditionType]"] = condition
    if sort:
        params["searchCriteria[sortOrders][0][field]"] = sort
        params["searchCriteria[sortOrders][0][direction]"] = "ASC"
    params["searchCriteria[pageSize]"] = size
    params["searchCriteria[currentPage]"] = page
    return params


def fill_placeholders(message: str, parameters) -> str:
    """Magento sends ``%name`` / ``%1`` placeholders with their values apart: put them back."""
    named: dict[str, str] = {}
    if isinstance(parameters, dict):
        named = {str(k): str(v) for k, v in parameters.items()}
    elif isinstance(parameters, list):
        for n, item in enumerate(parameters, start=1):
            if isinstance(item, dict):
                named.update({str(k): str(v) for k, v in item.items()})
            else:
                named[str(n)] = str(item)
    for key in sorted(named, key=len, reverse=True):
        message = message.replace(f"%{key}", named[key])
    return message


def magento_message(response: httpx.Response) -> str:
    """Magento's error message with its placeholders filled and its per-field ``errors`` appended."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip() or _("HTTP %(status)s") % {"status": response.status_code}
    if not isinstance(body, dict):
        return json.dumps(body)[:300]
    message = fill_placeholders(str(body.get("message") or ""), body.get("parameters"))
    details = []
    for error in body.get("errors") or ():
        if isinstance(error, dict) and error.get("message"):
            detail = fill_placeholders(str(error["message"]), error.get("parameters"))
            if detail != message and detail not in details:
                details.append(detail)
    if details:
        message = f"{message.rstrip('.')}: {'; '.join(details)}" if message else "; ".join(details)
    return message[:1000] or _("HTTP %(status)s") % {"status": response.status_code}


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]


def _record_error(response: httpx.Response) -> RecordError:
    return RecordError(magento_message(response), status=response.status_code, remote=_body(response))


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _source_item(record: dict) -> dict:
    """The item as MSI takes it; numbers given as text (a CSV, an ERP) are sent as numbers."""
    item = {k: record[k] for k in SOURCE_ITEM_KEYS if k in record}
    for key, kind in (("quantity", float), ("status", int)):
        if isinstance(item.get(key), str):
            with contextlib.suppress(ValueError):  # else Magento's own message names the field
                item[key] = kind(item[key].strip())
    return item


def _flag(value) -> int:
    """Magento's 0/1 flags from booleans, numbers or words ("0" is no)."""
    return 1 if str(value).strip().lower() in ("1", "true", "yes", "on") else 0


def _str_id(value) -> str:
    return "" if value is None else str(value).strip()


PRODUCT_FIELDS = (
    Field("id", "integer", gettext_lazy("Product id")),
    Field("sku", "string", gettext_lazy("SKU"), required=True),
    Field("name", "string", gettext_lazy("Name")),
    Field("price", "number", gettext_lazy("Price")),
    Field("status", "integer", gettext_lazy("Status (1 enabled, 2 disabled)")),
    Field("visibility", "integer", gettext_lazy("Visibility (1 not visible … 4 catalog and search)")),
    Field("type_id", "string", gettext_lazy("Product type")),
    Field("attribute_set_id", "integer", gettext_lazy("Attribute set")),
    Field("weight", "number", gettext_lazy("Weight")),
    Field("created_at", "datetime", gettext_lazy("Created")),
    Field("updated_at", "datetime", gettext_lazy("Updated")),
    Field("extension_attributes.website_ids", "array", gettext_lazy("Websites")),
    Field("extension_attributes.category_links", "array", gettext_lazy("Categories")),
    Field("custom_attributes", "array", gettext_lazy("Custom attributes (code + value list)")),
    Field("attributes", "object", gettext_lazy("Custom attributes by code (e.g. attributes.description)")),
)
SOURCE_ITEM_FIELDS = (
    Field("id", "string", gettext_lazy("Id (sku@source_code)")),
    Field("sku", "string", gettext_lazy("SKU"), required=True),
    Field("source_code", "string", gettext_lazy("Source"), required=True),
    Field("quantity", "number", gettext_lazy("Quantity")),
    Field("status", "integer", gettext_lazy("Stock status (1 in stock, 0 out of stock)")),
)
CONFIGURABLE_FIELDS = (
    *(f for f in PRODUCT_FIELDS if f.name != "type_id"),
    Field("children", "array", gettext_lazy("Child product SKUs")),
    Field(
        "configurable_options",
        "array",
        gettext_lazy("Configurable attributes (attribute_id, label, position, values of value_index)"),
    ),
)
STOCK_ITEM_FIELDS = (
    Field("id", "string", gettext_lazy("Id (the SKU)")),
    Field("sku", "string", gettext_lazy("SKU"), required=True),
    Field("qty", "number", gettext_lazy("Quantity")),
    Field("is_in_stock", "boolean", gettext_lazy("In stock")),
    Field("item_id", "integer", gettext_lazy("Stock item id")),
    Field("product_id", "integer", gettext_lazy("Product id")),
    Field("manage_stock", "boolean", gettext_lazy("Manage stock")),
    Field("use_config_manage_stock", "boolean", gettext_lazy("Manage stock as configured")),
    Field("min_qty", "number", gettext_lazy("Out-of-stock threshold")),
    Field("backorders", "integer", gettext_lazy("Backorders (0 no, 1 allowed, 2 allowed and notify)")),
    Field("notify_stock_qty", "number", gettext_lazy("Notify for quantity below")),
    Field("low_stock_date", "datetime", gettext_lazy("Low stock since")),
)
ORDER_FIELDS = (
    Field("entity_id", "integer", gettext_lazy("Order id")),
    Field("increment_id", "string", gettext_lazy("Order number")),
    Field("state", "string", gettext_lazy("State")),
    Field("status", "string", gettext_lazy("Status")),
    Field("created_at", "datetime", gettext_lazy("Created")),
    Field("updated_at", "datetime", gettext_lazy("Updated")),
    Field("customer_id", "integer", gettext_lazy("Customer id")),
    Field("customer_is_guest", "integer", gettext_lazy("Guest order")),
    Field("customer_email", "string", gettext_lazy("Customer e-mail"), personal="email"),
    Field("customer_firstname", "string", gettext_lazy("Customer first name"), personal="name"),
    Field("customer_lastname", "string", gettext_lazy("Customer last name"), personal="name"),
    Field("order_currency_code", "string", gettext_lazy("Currency")),
    Field("subtotal", "number", gettext_lazy("Subtotal")),
    Field("shipping_amount", "number", gettext_lazy("Shipping")),
    Field("tax_amount", "number", gettext_lazy("Tax")),
    Field("grand_total", "number", gettext_lazy("Grand total")),
    Field("total_qty_ordered", "number", gettext_lazy("Quantity ordered")),
    Field("items", "array", gettext_lazy("Lines")),
    Field("billing_address.firstname", "string", gettext_lazy("Billing first name"), personal="name"),
    Field("billing_address.lastname", "string", gettext_lazy("Billing last name"), personal="name"),
    Field("billing_address.street", "array", gettext_lazy("Billing street"), personal="address"),
    Field("billing_address.city", "string", gettext_lazy("Billing city"), personal="address"),
    Field("billing_address.postcode", "string", gettext_lazy("Billing postcode"), personal="address"),
    Field("billing_address.country_id", "string", gettext_lazy("Billing country"), personal="address"),
    Field("billing_address.telephone", "string", gettext_lazy("Billing phone"), personal="phone"),
    Field("billing_address.email", "string", gettext_lazy("Billing e-mail"), personal="email"),
    Field("payment.method", "string", gettext_lazy("Payment method")),
    Field("status_histories", "array", gettext_lazy("Status comments")),
)
CUSTOMER_FIELDS = (
    Field("id", "integer", gettext_lazy("Customer id")),
    Field("email", "string", gettext_lazy("E-mail"), required=True, personal="email"),
    Field("firstname", "string", gettext_lazy("First name"), required=True, personal="name"),
    Field("lastname", "string", gettext_lazy("Last name"), required=True, personal="name"),
    Field("middlename", "string", gettext_lazy("Middle name"), personal="name"),
    Field("dob", "date", gettext_lazy("Date of birth"), personal="birthdate"),
    Field("gender", "integer", gettext_lazy("Gender (1 male, 2 female, 3 not specified)")),
    Field("taxvat", "string", gettext_lazy("Tax/VAT number"), personal="national_id"),
    Field("group_id", "integer", gettext_lazy("Customer group")),
    Field("website_id", "integer", gettext_lazy("Website")),
    Field("store_id", "integer", gettext_lazy("Store view")),
    Field("created_at", "datetime", gettext_lazy("Created")),
    Field("updated_at", "datetime", gettext_lazy("Updated")),
    Field("addresses", "array", gettext_lazy("Addresses"), personal="address"),
    Field("extension_attributes.is_subscribed", "boolean", gettext_lazy("Newsletter subscriber")),
)


@register_connector
class MagentoConnector(Connector):
    key = "magento"
    label = gettext_lazy("Adobe Commerce / Magento 2")
    description = gettext_lazy(
        "Adobe Commerce or Magento Open Source 2.4 through its admin REST API: simple and configurable "
        "products, MSI or legacy stock, orders and customers."
    )
    help_text = gettext_lazy(
        "Use an admin user whose role grants the Catalog, Inventory, Sales and Customers resources "
        "(System > Permissions > All Users; the token endpoint refuses users who must pass two-factor "
        "authentication), or an integration's Access Token from System > Extensions > Integrations, which "
        "works only with Stores > Configuration > Services > OAuth > Consumer Settings > “Allow OAuth Access "
        "Tokens to be used as standalone Bearer tokens” set to Yes."
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
    # GDPR. A customer account is deleted (``DELETE customers/{id}``: Magento removes the account, its
    # addresses and its wishlist; its orders stay, their customer_id set to NULL). Orders are found by
    # the customer's e-mail and kept by default under the commercial and tax law exemption. Magento's
    # REST API has no order-anonymise endpoint, but its order save (``POST orders`` with the order's
    # ``entity_id``) and order-address save (``PUT orders/{parent_id}``) overwrite the customer's
    # name and e-mail and the billing address: the "mask" a DPO may choose instead.
    subject_entities = (
        SubjectEntity(
            entity="customers",
            identifiers={"email": "email", "customer_id": "id"},
            strategy="delete",
            strategies=("delete",),
            label=gettext_lazy("Customer accounts"),
            noun=gettext_lazy("customer"),
        ),
        SubjectEntity(
            entity="orders",
            identifiers={"email": "customer_email", "customer_id": "customer_id"},
            # The order stays (commercial and tax law: Art. 17(3)(b)); the buyer's name, e-mail and
            # addresses on it are masked, the ERP's invoice being the accounting record. "exempt" keeps
            # the order as it is, for a merchant whose shop orders are that record.
            strategy="mask",
            strategies=("mask", "exempt"),
            mask=dict(ORDER_MASK),
            exemption=gettext_lazy(
                "Art. 17(3)(b): orders and invoices kept for 10 years under commercial and tax law"
            ),
            label=gettext_lazy("Orders"),
            noun=gettext_lazy("order"),
        ),
    )
    parameters = {
        "base_url": forms.URLField(
            label=gettext_lazy("Store URL"),
            help_text=gettext_lazy(
                "e.g. https://shop.example.com — without /rest: the hub calls /rest/<store code>/V1/."
            ),
        ),
        "store_code": forms.CharField(
            label=gettext_lazy("Store view code"),
            required=False,
            initial="default",
            help_text=gettext_lazy(
                "“default” reads and writes the default store view; “all” writes global values."
            ),
        ),
        "username": forms.CharField(
            label=gettext_lazy("Admin user name"),
            required=False,
            help_text=gettext_lazy("With the password; leave empty when you give an access token."),
        ),
    }
    sensitive_parameters = ("password", "access_token")

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        if not secrets.get("access_token"):
            if not secrets.get("password"):
                errors["password"] = _(
                    "Give the admin user's password (with the user name) or an integration access token."
                )
            if not params.get("username"):
                errors["username"] = _("Required with the admin password.")
        store_code = params.get("store_code") or "default"
        if not STORE_CODE.match(store_code):
            errors["store_code"] = _(
                "A store view code has letters, digits and underscores and starts with a letter."
            )
        base_url = (params.get("base_url") or "").rstrip("/")
        if re.search(r"/(rest|V1)(/|$)", base_url):
            errors["base_url"] = _("Give the store's address without /rest/…: the hub adds it.")
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self._token: str | None = None

    @property
    def store_code(self) -> str:
        return (self.params.get("store_code") or "default").strip()

    @property
    def client(self) -> HubClient:
        if self._client is None:
            base = (self.params.get("base_url") or "").rstrip("/")
            self._client = HubClient(
                self.settings,
                base_url=f"{base}/rest/{self.store_code}/V1/" if base else "",
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def _uses_access_token(self) -> bool:
        return bool(self.secrets.get("access_token"))

    def _fingerprint(self) -> str:
        """Which credentials a cached token belongs to (kept inside the encrypted value): a changed
        password or URL must not reuse the old token."""
        raw = "|".join(
            [
                self.params.get("base_url") or "",
                self.store_code,
                self.params.get("username") or "",
                self.secrets.get("password") or "",
            ]
        )
        return hashlib.sha256(raw.encode()).hexdigest()

    def _shared_token(self) -> str | None:
        raw = get_shared(token_key(self.settings.system_id))
        if not raw:
            return None
        try:
            cached = json.loads(raw)
        except ValueError:
            return None
        if not isinstance(cached, dict) or cached.get("for") != self._fingerprint():
            return None
        return cached.get("token") or None

    def _bearer(self, stale: str | None = None) -> str:
        """The bearer token: the access token, or an admin token shared by every worker process.
        ``stale`` is a token Magento just refused: it is replaced, once, under a cross-process lock."""
        if self._uses_access_token:
            return self.secrets["access_token"]
        if self._token and self._token != stale:
            return self._token
        token = self._shared_token()
        if token and token != stale:
            self._token = token
            return token
        key = token_key(self.settings.system_id)
        with lock(key, ttl=self.settings.timeout + 5):
            token = self._shared_token()
            if not token or token == stale:  # nobody refreshed it while we waited
                token = self._fetch_admin_token()
                set_shared(key, json.dumps({"token": token, "for": self._fingerprint()}), TOKEN_TTL)
        self._token = token
        return token

    def _fetch_admin_token(self) -> str:
        credentials = {
            "username": self.params.get("username", ""),
            "password": self.secrets.get("password", ""),
        }
        try:
            response = self.client.request("POST", "integration/admin/token", json=credentials)
        except AuthError as exc:
            raise self._login_refused(exc.status, exc.detail) from exc
        if response.status_code == 404:
            raise ConfigError(
                _("No Magento REST API at this address (HTTP 404 on %(path)s). Check the store URL and code.")
                % {"path": f"/rest/{self.store_code}/V1/integration/admin/token"},
                status=404,
                reason="config",
            )
        if response.status_code >= 400:
            raise self._login_refused(response.status_code, magento_message(response))
        token = decode_json(response)
        if not isinstance(token, str) or not token:
            raise AuthError(
                _("Magento answered the token request without a token."),
                reason="auth",
                detail=response.text[:200],
            )
        return token

    @staticmethod
    def _login_refused(status, detail: str) -> AuthError:
        if "2fa" in (detail or "").lower():
            message = _(
                "Magento requires two-factor authentication for this admin user: use an integration "
                "access token instead."
            )
        else:
            message = _("Magento refused the admin user name or password.")
        return AuthError(message, status=status, reason="auth", detail=detail or "")

    def _refused(self, exc: AuthError) -> AuthError:
        if exc.status == 401 and self._uses_access_token:
            message = _(
                "Magento refused the access token (HTTP 401). Check that the integration is active, "
                "that it may use this resource, and that standalone bearer tokens are allowed."
            )
        elif exc.status == 401:
            message = _(
                "Magento refused a fresh admin token (HTTP 401): the admin user's role may lack "
                "this resource."
            )
        else:
            return exc
        return AuthError(message, status=exc.status, reason=exc.reason or "auth", detail=exc.detail)

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A request with the bearer token; an admin token refused once is replaced and the call retried."""
        token = self._bearer()
        try:
            return self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except AuthError as exc:
            if self._uses_access_token or exc.status != 401:
                self._reraise(exc)
        token = self._bearer(stale=token)
        try:
            return self.client.request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        except AuthError as exc:
            self._reraise(exc)

    def _reraise(self, exc: AuthError) -> NoReturn:
        better = self._refused(exc)
        if better is exc:
            raise exc
        raise better from exc

    def _get(self, path: str, params: dict | None = None):
        """A GET answered with JSON; 404 → ``NotFound``, other refusals → ``ConfigError``."""
        response = self._call("GET", path, params=params)
        if response.status_code == 404:
            raise NotFound(
                _("Not found: %(path)s") % {"path": path},
                status=404,
                detail=magento_message(response),
            )
        if response.status_code >= 400:
            raise ConfigError(
                _("Magento refused %(path)s (HTTP %(status)s): %(message)s")
                % {"path": path, "status": response.status_code, "message": magento_message(response)},
                status=response.status_code,
                reason="http",
                remote=_body(response),
            )
        return decode_json(response)

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        rw = frozenset({Capability.READ, Capability.WRITE})
        rwd = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE})
        subject = SUBJECT_CAPABILITIES
        return [
            Entity(
                key="products",
                label=str(_("Products")),
                fields=PRODUCT_FIELDS,
                id_field="sku",
                cursor_field="updated_at",
                natural_keys=("sku",),
                capabilities=rwd,
            ),
            Entity(
                key="configurable_products",
                label=str(_("Configurable products and their children")),
                fields=CONFIGURABLE_FIELDS,
                id_field="sku",
                cursor_field="updated_at",
                natural_keys=("sku",),
                capabilities=rwd,
            ),
            Entity(
                key="stock_items",
                label=str(_("Stock per product (legacy, without MSI)")),
                fields=STOCK_ITEM_FIELDS,
                id_field="sku",
                natural_keys=("sku",),
                capabilities=rw,
            ),
            Entity(
                key="source_items",
                label=str(_("Stock per source (MSI)")),
                fields=SOURCE_ITEM_FIELDS,
                id_field="id",
                natural_keys=("sku", "source_code"),
                capabilities=rw,
            ),
            Entity(
                key="orders",
                label=str(_("Orders")),
                fields=ORDER_FIELDS,
                id_field="entity_id",
                cursor_field="updated_at",
                natural_keys=("increment_id",),
                capabilities=rw | subject,
            ),
            Entity(
                key="customers",
                label=str(_("Customers")),
                fields=CUSTOMER_FIELDS,
                id_field="id",
                cursor_field="updated_at",
                natural_keys=("email",),
                capabilities=rwd | subject,
            ),
        ]

    def _list(self, entity: str) -> tuple[str, str]:
        try:
            return LISTS[entity]
        except KeyError:
            raise NotFound(_("This system has no entity “%(key)s”.") % {"key": entity}) from None

    @staticmethod
    def _shape(entity: str, record: dict) -> dict:
        """Convenience keys: ``attributes`` on products, the composite ``id`` on source items."""
        if entity in ("products", "configurable_products"):
            attributes = {}
            for attr in record.get("custom_attributes") or ():
                if isinstance(attr, dict) and "attribute_code" in attr:
                    attributes[attr["attribute_code"]] = attr.get("value")
            return {**record, "attributes": attributes}
        if entity == "source_items":
            return {**record, "id": f"{record.get('sku')}@{record.get('source_code')}"}
        return record

    # --- read ------------------------------------------------------------------------------------

    def ping(self) -> None:
        """One product, with the token: checks the address, the credentials and the Catalog resource."""
        self._get("products", search_criteria(size=1))

    def _pages(self, entity: str, *, size: int, page: int = 1, field="", value="", condition="eq"):
        """(records, page, has_more) from ``page`` to the last page, by ``total_count`` (kept in
        ``self._total`` for the read's progress)."""
        path, sort = self._list(entity)
        keep = None
        if entity == "configurable_products":
            # The specification declares one filter: ``type_id`` alone, else the other types left out here.
            if not field:
                field, value, condition = "type_id", "configurable", "eq"
            keep = lambda record: record.get("type_id") == "configurable"  # noqa: E731
        while True:
            params = search_criteria(
                field=field, value=value, condition=condition, sort=sort, size=size, page=page
            )
            body = self._get(path, params)
            if not isinstance(body, dict):
                raise ConfigError(_("Magento answered %(path)s without a search result.") % {"path": path})
            items = body.get("items") or []
            total = int(body.get("total_count") or 0)
            self._total = total
            if (page - 1) * size >= total:
                items = []  # past the end, Magento repeats the last page of orders and customers
            records = [
                self._shape(entity, r) for r in items if isinstance(r, dict) and (keep is None or keep(r))
            ]
            records = self._complete(entity, records)
            has_more = len(items) >= size and page * size < total
            yield records, page, has_more
            if not has_more:
                return
            page += 1

    def _complete(self, entity: str, records: list[dict]) -> list[dict]:
        """Configurable products get their ``children`` and ``configurable_options``; a stock item is
        read for each product of a ``stock_items`` page."""
        if entity == "configurable_products":
            for record in records:
                sku = quote(str(record.get("sku")), safe="")
                try:
                    children = self._get(f"configurable-products/{sku}/children")
                except NotFound:
                    children = []
                record["children"] = [c.get("sku") for c in children or () if isinstance(c, dict)]
                extension = record.get("extension_attributes") or {}
                record["configurable_options"] = extension.get("configurable_product_options") or []
        elif entity == "stock_items":
            items = (self._stock_item(_str_id(r.get("sku"))) for r in records)
            records = [i for i in items if i is not None]
        return records

    def _stock_item(self, sku: str) -> dict | None:
        try:
            item = self._get(f"stockItems/{quote(sku, safe='')}")
        except NotFound:
            return None
        return {"id": sku, "sku": sku, **item} if isinstance(item, dict) else None

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        """Pages of ``entity`` in id order; ``since`` filters ``updated_at`` (not for source items)."""
        self._list(entity)
        if cursor:
            try:
                state = json.loads(cursor)
                state["page"] = int(state["page"])
                state["size"] = int(state["size"])
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(_("This read cursor is not one of the Magento connector's.")) from exc
        else:
            state = {"page": 1, "size": max(1, min(int(limit or PAGE_SIZE), PAGE_SIZE))}
            if since and entity not in ("source_items", "stock_items"):
                state["since"], state["condition"] = magento_since(since)
        filters = {}
        if state.get("since"):
            filters = {"field": "updated_at", "value": state["since"], "condition": state["condition"]}
        returned = 0
        first = state["page"]
        for records, page, more in self._pages(entity, size=state["size"], page=state["page"], **filters):
            if limit is not None:
                records = records[: max(0, limit - returned)]
            total = None
            if page == first and limit is None:  # what is left from here, for the run's progress
                total = max(0, self._total - (first - 1) * state["size"])
            returned += len(records)
            has_more = more and (limit is None or returned < limit)
            next_cursor = json.dumps({**state, "page": page + 1}) if more else None
            yield Page(records=records, cursor=next_cursor, has_more=has_more, total=total)
            if not has_more:
                return

    def fetch(self, entity, ids):
        """Records by id (``GET`` one by one; source items through one filtered search)."""
        self._list(entity)
        if entity == "source_items":
            return self._source_items_by_id([_str_id(i) for i in ids])
        if entity == "stock_items":
            items = (self._stock_item(_str_id(i)) for i in dict.fromkeys(ids) if _str_id(i))
            return [i for i in items if i is not None]
        if entity == "configurable_products":
            found = [p for p in self.fetch("products", ids) if p.get("type_id") == "configurable"]
            return self._complete(entity, found)
        paths = {"products": "products/{}", "orders": "orders/{}", "customers": "customers/{}"}
        found = []
        for record_id in ids:
            record_id = _str_id(record_id)
            if not record_id or (entity != "products" and not record_id.isdigit()):
                continue
            try:
                record = self._get(paths[entity].format(quote(record_id, safe="")))
            except NotFound:
                continue
            if isinstance(record, dict):
                found.append(self._shape(entity, record))
        return found

    def _source_items_by_id(self, ids: list[str]) -> list[dict]:
        wanted = [i for i in ids if "@" in i]
        by_id = {
            r["id"]: r for r in self.lookup("source_items", "sku", [i.rsplit("@", 1)[0] for i in wanted])
        }
        return [by_id[i] for i in dict.fromkeys(wanted) if i in by_id]

    def lookup(self, entity, field_name, values):
        """Records whose ``field_name`` is one of ``values``: ``in`` filters of 50 values (a value with a
        comma gets its own ``eq`` filter), matched again exactly here (e-mails without case)."""
        self._list(entity)
        if entity == "source_items" and field_name == "id":
            return self._source_items_by_id([_str_id(v) for v in values])
        if entity == "stock_items" and field_name in ("id", "sku"):
            return self.fetch(entity, values)  # one GET each: the legacy API has no search
        if (entity, field_name) in (("customers", "id"), ("orders", "entity_id")):
            return self.fetch(entity, values)  # by id: one GET each, as Magento's own pages do
        emails = field_name in ("email", "customer_email")
        # Magento compares without case (MySQL collation); e-mails are sent lower-cased, as stored.
        values = list(
            dict.fromkeys(_str_id(v).lower() if emails else _str_id(v) for v in values if _str_id(v))
        )
        fold = emails or (entity in ("products", "configurable_products") and field_name == "sku")
        wanted = {v.lower() if fold else v for v in values}
        queries = [(v, "eq") for v in values if "," in v]
        queries += [(",".join(c), "in") for c in _chunks([v for v in values if "," not in v], LOOKUP_CHUNK)]
        found, seen = [], set()
        for value, condition in queries:
            for records, _page, _more in self._pages(
                entity, size=PAGE_SIZE, field=field_name, value=value, condition=condition
            ):
                for record in records:
                    got = _str_id(record.get(field_name))
                    key = json.dumps([record.get(k) for k in ("id", "entity_id", "sku", "source_code")])
                    if (got.lower() if fold else got) in wanted and key not in seen:
                        seen.add(key)
                        found.append(record)
        return found

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        """One result per record, in order. See the module docstring for what each entity sends."""
        self._list(entity)
        if not records:
            return []
        mode = WriteMode(mode)
        writer = {
            "products": self._write_products,
            "configurable_products": self._write_configurable,
            "stock_items": self._write_stock_items,
            "source_items": self._write_source_items,
            "orders": self._write_order_comments,
            "customers": self._write_customers,
        }[entity]
        return writer(list(records), mode)

    def _write_products(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        skus = [_str_id(r.get("sku")) if isinstance(r, dict) else "" for r in records]
        # Magento matches SKUs without case; knowing which exist says POST (create) or PUT (update).
        existing = {
            p["sku"].lower(): p["sku"] for p in self.lookup("products", "sku", [s for s in skus if s])
        }
        results = []
        for record, sku in zip(records, skus, strict=True):
            if not sku:
                results.append(WriteResult.failed(RecordError(_("The product has no sku."))))
                continue
            current = existing.get(sku.lower())
            if current and mode == WriteMode.CREATE:
                results.append(
                    WriteResult.failed(RecordError(_("A product with this SKU already exists."), status=409))
                )
                continue
            if not current and mode == WriteMode.UPDATE:
                results.append(
                    WriteResult.failed(RecordError(_("No product with this SKU to update."), status=404))
                )
                continue
            body = self._product_body(record, current or sku)
            if current:
                response = self._call("PUT", f"products/{quote(current, safe='')}", json={"product": body})
            else:
                response = self._call("POST", "products", json={"product": body})
            if response.status_code >= 400:
                results.append(WriteResult.failed(_record_error(response)))
                continue
            saved = decode_json(response)
            target = saved.get("sku") if isinstance(saved, dict) else None
            existing[sku.lower()] = target or current or sku
            results.append(
                WriteResult(
                    ok=True, target_id=target or current or sku, action="updated" if current else "created"
                )
            )
        return results

    @staticmethod
    def _product_body(record: dict, sku: str) -> dict:
        body = {k: v for k, v in record.items() if k not in (*READ_ONLY, "attributes")}
        attributes = record.get("attributes")
        if isinstance(attributes, dict) and attributes:
            merged = {
                a["attribute_code"]: a
                for a in body.get("custom_attributes") or ()
                if isinstance(a, dict) and "attribute_code" in a
            }
            for code, value in attributes.items():
                merged[code] = {"attribute_code": code, "value": value}
            body["custom_attributes"] = list(merged.values())
        body["sku"] = sku
        return body

    def _write_configurable(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        records = [r if isinstance(r, dict) else {} for r in records]
        parents = []
        for record in records:
            parent = {k: v for k, v in record.items() if k not in CONFIGURABLE_KEYS}
            extension = parent.get("extension_attributes")
            if isinstance(extension, dict):
                # Options and children go by SKU through their own endpoints: ids read from a record
                # (another shop's, or stale) are never saved.
                parent["extension_attributes"] = {
                    k: v for k, v in extension.items() if not k.startswith("configurable_product_")
                }
            parents.append({**parent, "type_id": "configurable"} if record else {})
        results = []
        for record, saved in zip(records, self._write_products(parents, mode), strict=True):
            problem = self._link_configurable(saved.target_id, record) if saved.ok else None
            results.append(saved if problem is None else WriteResult.failed(problem))
        return results

    def _link_configurable(self, sku: str, record: dict) -> RecordError | None:
        """Adds the record's options the parent lacks, then links its children not yet linked."""
        path = f"configurable-products/{quote(sku, safe='')}"
        options = record.get("configurable_options") or []
        if not isinstance(options, list):
            return RecordError(_("“configurable_options” must be a list of options."))
        if options:
            have = {str(o.get("attribute_id")) for o in self._get(f"{path}/options/all") or ()}
            for option in options:
                if not isinstance(option, dict):
                    return RecordError(_("“configurable_options” must be a list of options."))
                body = self._configurable_option(option)
                if body.get("attribute_id") in have:
                    continue  # an existing option is kept as it is
                response = self._call("POST", f"{path}/options", json={"option": body}, idempotent=False)
                if response.status_code >= 400:
                    return _record_error(response)
                decode_json(response)
                have.add(body.get("attribute_id"))
        children = record.get("children") or []
        if isinstance(children, str):
            children = children.split(",")
        wanted = [_str_id(c.get("sku") if isinstance(c, dict) else c) for c in children]
        if not wanted:
            return None
        try:
            linked = {_str_id(c.get("sku")).lower() for c in self._get(f"{path}/children") or ()}
        except NotFound:
            linked = set()
        for child in dict.fromkeys(c for c in wanted if c):
            if child.lower() in linked:
                continue
            response = self._call("POST", f"{path}/child", json={"childSku": child}, idempotent=False)
            if response.status_code >= 400:
                return RecordError(
                    _("Child %(sku)s: %(message)s") % {"sku": child, "message": magento_message(response)},
                    status=response.status_code,
                    remote=_body(response),
                )
            decode_json(response)
        return None

    @staticmethod
    def _configurable_option(option: dict) -> dict:
        """An option as the specification has it; ``values`` may be given as plain value indexes."""
        body = {k: option[k] for k in ("attribute_id", "label", "position") if option.get(k) is not None}
        if "attribute_id" in body:
            body["attribute_id"] = str(body["attribute_id"])
        values = []
        for value in option.get("values") or ():
            index = value.get("value_index") if isinstance(value, dict) else value
            with contextlib.suppress(TypeError, ValueError):  # else Magento's own message says which
                index = int(index)
            values.append({"value_index": index})
        body["values"] = values
        return body

    def _write_stock_items(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        results = []
        for record in records:
            record = record if isinstance(record, dict) else {}
            sku = _str_id(record.get("sku") or record.get("id"))
            if not sku:
                results.append(WriteResult.failed(RecordError(_("The stock item has no sku."))))
                continue
            changes, problem = self._stock_changes(record)
            if problem is not None:
                results.append(WriteResult.failed(problem))
                continue
            response = self._call("GET", f"stockItems/{quote(sku, safe='')}")
            if response.status_code >= 400:
                results.append(WriteResult.failed(_record_error(response)))
                continue
            current = decode_json(response)
            current = current if isinstance(current, dict) else {}
            body = {k: v for k, v in current.items() if v is not None}
            # The specification requires a string; Magento answers null when the stock is not low, and
            # works the date out again on save whatever is sent.
            body.setdefault("low_stock_date", "")
            body.update(changes)
            if "qty" in changes and "is_in_stock" not in changes:
                body["is_in_stock"] = bool(
                    changes["qty"] > float(body.get("min_qty") or 0) or body.get("backorders")
                )
            item_id = _str_id(current.get("item_id")) or "0"
            response = self._call(
                "PUT", f"products/{quote(sku, safe='')}/stockItems/{item_id}", json={"stockItem": body}
            )
            if response.status_code >= 400:
                results.append(WriteResult.failed(_record_error(response)))
                continue
            decode_json(response)
            results.append(WriteResult(ok=True, target_id=sku, action="updated"))
        return results

    @staticmethod
    def _stock_changes(record: dict) -> tuple[dict, RecordError | None]:
        """The record's stock fields in the specification's types, or why one cannot be sent."""
        changes = {}
        for key, kind in STOCK_ITEM_TYPES.items():
            if key not in record or record[key] is None:
                continue
            value = record[key]
            if kind is bool:
                changes[key] = bool(_flag(value))
                continue
            try:
                number = float(str(value).strip()) if not isinstance(value, bool) else None
            except ValueError:
                number = None
            if number is None:
                return {}, RecordError(
                    _("“%(field)s” must be a number, not “%(value)s”.") % {"field": key, "value": value}
                )
            changes[key] = int(number) if kind is int else number
        return changes, None

    def _write_source_items(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        items = [_source_item(r) if isinstance(r, dict) else {} for r in records]
        ids = [f"{_str_id(i.get('sku'))}@{_str_id(i.get('source_code'))}" for i in items]
        existing = {r["id"] for r in self._source_items_by_id(ids)}
        results: list[WriteResult | None] = [None] * len(records)
        pending = []
        for n, record_id in enumerate(ids):
            if mode == WriteMode.CREATE and record_id in existing:
                results[n] = WriteResult.failed(
                    RecordError(_("This product already has stock at this source."), status=409)
                )
            elif mode == WriteMode.UPDATE and record_id not in existing:
                results[n] = WriteResult.failed(
                    RecordError(_("This product has no stock at this source to update."), status=404)
                )
            else:
                pending.append(n)
        for chunk in _chunks(pending, BATCH_SIZE):
            error = self._post_source_items([items[n] for n in chunk])
            # Magento saves a batch whole or not at all: when it refuses one, every item is tried alone.
            for n in chunk:
                if error is not None and len(chunk) > 1:
                    single = self._post_source_items([items[n]])
                else:
                    single = error
                if single is None:
                    action = "updated" if ids[n] in existing else "created"
                    results[n] = WriteResult(ok=True, target_id=ids[n], action=action)
                else:
                    results[n] = WriteResult.failed(single)
        return results  # type: ignore[return-value]

    def _post_source_items(self, items: list[dict]) -> RecordError | None:
        response = self._call("POST", "inventory/source-items", json={"sourceItems": items})
        if response.status_code == 404:
            raise ConfigError(
                _("Magento has no inventory/source-items endpoint: is Inventory Management (MSI) enabled?"),
                status=404,
                reason="config",
            )
        if response.status_code >= 400:
            return _record_error(response)
        decode_json(response)  # a malformed answer is transient, not a success
        return None

    def _write_order_comments(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        numbers = [
            _str_id(r.get("increment_id"))
            for r in records
            if isinstance(r, dict) and not _str_id(r.get("entity_id")) and _str_id(r.get("increment_id"))
        ]
        by_number = {
            o["increment_id"]: o["entity_id"] for o in self.lookup("orders", "increment_id", numbers)
        }
        results = []
        for record in records:
            record = record if isinstance(record, dict) else {}
            order_id = _str_id(record.get("entity_id")) or _str_id(
                by_number.get(_str_id(record.get("increment_id")))
            )
            history = record.get("statusHistory")
            if not isinstance(history, dict):
                history = {
                    k: record[k]
                    for k in ("comment", "status", "is_customer_notified", "is_visible_on_front")
                    if k in record
                }
            if not order_id.isdigit():
                results.append(WriteResult.failed(RecordError(_("No such order in Magento."), status=404)))
                continue
            if not _str_id(history.get("comment")):
                results.append(
                    WriteResult.failed(
                        RecordError(_("Writing an order adds a status comment: give “comment”."))
                    )
                )
                continue
            body = {
                "comment": str(history["comment"]),
                "is_customer_notified": _flag(history.get("is_customer_notified")),
                "is_visible_on_front": _flag(history.get("is_visible_on_front")),
                "parent_id": int(order_id),
            }
            if history.get("status"):
                body["status"] = str(history["status"])
            # A comment can notify the customer: never sent twice after a lost answer.
            response = self._call(
                "POST", f"orders/{order_id}/comments", json={"statusHistory": body}, idempotent=False
            )
            if response.status_code >= 400:
                results.append(WriteResult.failed(_record_error(response)))
                continue
            decode_json(response)
            results.append(WriteResult(ok=True, target_id=order_id, action="updated"))
        return results

    def _write_customers(self, records: list[dict], mode: WriteMode) -> list[WriteResult]:
        records = [r if isinstance(r, dict) else {} for r in records]
        current: dict[str, dict] = {}
        by_email: dict[str, list[dict]] = {}
        if mode != WriteMode.CREATE:
            ids = [_str_id(r.get("id")) for r in records if _str_id(r.get("id"))]
            current = {str(c["id"]): c for c in self.fetch("customers", ids)}
            emails = [_str_id(r.get("email")) for r in records if not _str_id(r.get("id"))]
            for customer in self.lookup("customers", "email", [e for e in emails if e]):
                by_email.setdefault(customer["email"].lower(), []).append(customer)
        results = []
        for record in records:
            found, problem = None, None
            if mode != WriteMode.CREATE:
                found, problem = self._match_customer(record, current, by_email)
            if problem:
                results.append(WriteResult.failed(problem))
                continue
            if found is None and mode == WriteMode.UPDATE:
                results.append(WriteResult.failed(RecordError(_("No such customer to update."), status=404)))
                continue
            fields = {k: v for k, v in record.items() if k not in READ_ONLY}
            if found is not None:
                # Magento's customer save replaces the whole customer: send it whole.
                base = {k: v for k, v in found.items() if k not in READ_ONLY}
                body = {**base, **fields, "id": found["id"]}
                response = self._call("PUT", f"customers/{found['id']}", json={"customer": body})
            else:
                response = self._call("POST", "customers", json={"customer": fields}, idempotent=False)
            if response.status_code >= 400:
                results.append(WriteResult.failed(_record_error(response)))
                continue
            saved = decode_json(response)
            target = saved.get("id") if isinstance(saved, dict) else None
            if found is None and isinstance(saved, dict) and saved.get("email"):
                by_email.setdefault(str(saved["email"]).lower(), []).append(saved)
            results.append(
                WriteResult(
                    ok=True,
                    target_id=_str_id(target if target is not None else (found or {}).get("id")),
                    action="updated" if found is not None else "created",
                )
            )
        return results

    @staticmethod
    def _match_customer(record, current, by_email) -> tuple[dict | None, RecordError | None]:
        record_id = _str_id(record.get("id"))
        if record_id:
            if record_id in current:
                return current[record_id], None
            return None, RecordError(_("No customer with id %(id)s.") % {"id": record_id}, status=404)
        matches = by_email.get(_str_id(record.get("email")).lower(), [])
        if record.get("website_id") is not None:
            matches = [m for m in matches if str(m.get("website_id")) == str(record["website_id"])]
        if len(matches) > 1:
            return None, RecordError(
                _("Several customers have this e-mail on different websites: give website_id."), status=409
            )
        return (matches[0] if matches else None), None

    # --- GDPR ----------------------------------------------------------------------------------

    def subject_label(self, declared, record_id, record) -> str:
        if declared.entity == "orders" and record.get("increment_id"):
            return f"{declared.noun} #{record['increment_id']}"
        return super().subject_label(declared, record_id, record)

    def erase_subject(self, entity, record_id, *, strategy, mask=None) -> WriteResult:
        """The contract's erasure; an order's ``mask`` overwrites its customer fields through Magento's
        order save and order-address save (see ``subject_entities``)."""
        if entity == "orders" and strategy == "mask":
            refused = self._refuse_strategy(self.subject_entity(entity), strategy)
            if refused is not None:
                return refused
            values = self.subject_entity(entity).mask if mask is None else mask
            return self._mask_order(_str_id(record_id), values)
        return super().erase_subject(entity, record_id, strategy=strategy, mask=mask)

    def _mask_order(self, order_id: str, values: dict) -> WriteResult:
        address = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("billing_address.")}
        own = {k: v for k, v in values.items() if "." not in k}
        other = [k for k in values if "." in k and not k.startswith("billing_address.")]
        if other or not values:
            return WriteResult.failed(
                RecordError(
                    _("An order is masked on its own fields and billing_address.* only, not %(fields)s.")
                    % {"fields": ", ".join(other) or "—"},
                    reason="config",
                )
            )
        current = self.fetch("orders", [order_id]) if order_id.isdigit() else []
        if not current:
            return WriteResult(ok=True, target_id=order_id, action="unchanged")
        order = current[0]
        # Magento keeps the shipping address apart (an order address of type "shipping", shown under
        # extension_attributes.shipping_assignments): masked like the billing address.
        shipping = [
            (assignment.get("shipping") or {}).get("address")
            for assignment in (order.get("extension_attributes") or {}).get("shipping_assignments") or []
            if isinstance(assignment, dict)
        ]
        shipping = [a for a in shipping if isinstance(a, dict) and a.get("entity_id")]
        if is_masked(order, values) and all(is_masked(a, address) for a in shipping):
            return WriteResult(ok=True, target_id=order_id, action="unchanged")
        if own:
            # Magento's order repository save: the order's own fields given are overwritten. The spec
            # requires the totals, the e-mail and the items in every save: the order's own totals, and
            # no items (an existing order's items are not saved again).
            entity = {
                "entity_id": int(order_id),
                "base_grand_total": order.get("base_grand_total"),
                "grand_total": order.get("grand_total"),
                "customer_email": order.get("customer_email"),
                "items": [],
                **own,
            }
            response = self._call("POST", "orders", json={"entity": entity})
            if response.status_code >= 400:
                return WriteResult.failed(_record_error(response))
            decode_json(response)
        billing = order.get("billing_address")
        addresses = [("billing", billing)] if isinstance(billing, dict) else []
        addresses += [
            ("shipping", a) for a in shipping if a.get("entity_id") != (billing or {}).get("entity_id")
        ]
        for kind, current_address in addresses if address else []:
            body = {**current_address, **address, "parent_id": int(order_id), "address_type": kind}
            response = self._call("PUT", f"orders/{order_id}", json={"entity": body})
            if response.status_code >= 400:
                return WriteResult.failed(_record_error(response))
            decode_json(response)
        return WriteResult(ok=True, target_id=order_id, action="masked")

    def delete(self, entity, ids):
        """``DELETE products/{sku}`` or ``customers/{id}``; a record already gone counts as deleted."""
        self._list(entity)
        if entity == "configurable_products":
            entity = "products"
        if entity not in ("products", "customers"):
            raise ConfigError(_("Magento records of “%(entity)s” are not deleted here.") % {"entity": entity})
        results = []
        for record_id in ids:
            record_id = _str_id(record_id)
            if entity == "customers" and not record_id.isdigit():
                results.append(WriteResult(ok=True, target_id=record_id, action="deleted"))
                continue
            response = self._call("DELETE", f"{entity}/{quote(record_id, safe='')}")
            if response.status_code < 400 or response.status_code == 404:
                if response.status_code < 400:
                    decode_json(response)
                results.append(WriteResult(ok=True, target_id=record_id, action="deleted"))
            else:
                results.append(WriteResult.failed(_record_error(response)))
        return results
