"""WooCommerce REST API v3 connector (``<store>/wp-json/wc/v3/``), with a REST API key's consumer key
and secret.

Authentication: HTTP Basic with the consumer key and secret (what WooCommerce accepts over HTTPS), or
— for hosts that strip the ``Authorization`` header — the ``consumer_key`` / ``consumer_secret``
query parameters (``query_string_auth``). Plain-HTTP stores need OAuth 1.0a signatures, which this
connector does not send: use HTTPS.

Entities (WooCommerce's own record shapes; nested fields are dotted paths, e.g. ``billing.email``):

- ``products`` (simple and variable products; ``GET products``), ``variations`` (``GET
  products/{id}/variations`` of each variable product; every record carries its ``parent_id``),
  ``orders`` and ``customers``. Stock is ``manage_stock`` + ``stock_quantity`` on products and
  variations.
- Reads page with ``page``/``per_page`` (100) ordered by id ascending (WooCommerce's default, newest
  first, would shift under new records), to the last page by ``X-WP-TotalPages`` (a page past the end
  is empty). Incremental reads send ``modified_after`` with ``dates_are_gmt=true``; WordPress keeps
  whole seconds and its bound is strict, so the read asks from the start of the bound's second (the
  records stamped in that second are read again: a change made in it after the watermark is not lost). Customers
  have no date filter in WooCommerce (an unknown parameter is ignored): an incremental read of
  customers pages through them all and keeps those with ``date_modified_gmt`` after the bound.
- Writes go through the ``batch`` endpoints (``products/batch``, ``products/{id}/variations/batch``,
  ``orders/batch``, ``customers/batch``), at most 100 items a call. WooCommerce saves each item on its
  own and answers a refused one with ``{"id", "error": {"code", "message", "data"}}`` in its place:
  that item becomes a ``RecordError`` with WooCommerce's message, the others are written. An upsert
  matches products and variations by ``sku`` and customers by ``email`` (an ``id`` in the record wins).
- ``fetch``: ``include=`` lists (products, orders, customers), ``products/{id}`` for variations
  (WooCommerce answers a variation's id there). ``lookup``: ``sku`` (products and variations: the
  products list searches variations too when given SKUs), customers' ``email``, orders'
  ``billing.email`` (``search`` then an exact match) and ``customer_id``.
- Deletes: ``DELETE customers/{id}?force=true`` (WooCommerce cannot trash a customer; the account is
  erased and its orders stay as guest orders), the batch ``delete`` list for the rest (forced).

GDPR (the ``Connector`` contract): customers are found by e-mail or id and deleted; orders are found by
billing e-mail or customer id and masked by default — billing and shipping names, addresses, e-mail and
phone overwritten with WooCommerce's own anonymisation values (``[deleted]``,
``deleted@site.invalid``), as its privacy eraser does — or kept under the commercial-law exemption.
``export_subject`` is ``fetch``.

Rate limits: WooCommerce has none of its own on the REST API, but hosts and proxies answer 429 (with
``Retry-After``) or 503: the shared ``HubClient`` waits and retries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
from django import forms
from django.utils.text import capfirst
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
from flows.connectors.errors import AuthError, ConfigError, NotFound, RecordError, TransientError
from flows.connectors.http import HubClient, decode_json
from flows.connectors.paths import get_path
from flows.connectors.registry import register_connector

API_PATH = "/wp-json/wc/v3/"
PAGE_SIZE = 100
BATCH_SIZE = 100
# entity → (list path, batch path or None for variations (per product), delete code of "already gone")
PATHS = {"products": "products", "variations": "", "orders": "orders", "customers": "customers"}
# What WooCommerce computes or keeps for itself: never sent back in a write.
READ_ONLY = frozenset(
    {
        "id", "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "permalink",
        "price", "on_sale", "purchasable", "total_sales", "variations", "_links", "avatar_url",
        "is_paying_customer", "role", "number", "order_key", "date_paid_gmt", "date_completed_gmt",
        "parent_id", "type_label",
    }
)  # fmt: skip
# Codes of "no such record" in a batch answer: a delete of a record already gone is a success.
INVALID_ID_CODES = ("_invalid_id",)
SUBJECT_CAPABILITIES = frozenset(
    {Capability.SUBJECT_LOOKUP, Capability.SUBJECT_ERASE, Capability.SUBJECT_EXPORT}
)
# WooCommerce's privacy eraser (WC_Privacy_Erasers::remove_order_personal_data) overwrites an order's
# personal fields with wp_privacy_anonymize_data(): "[deleted]" for text, "deleted@site.invalid" for the
# e-mail. The same values, through the order's update.
DELETED = "[deleted]"
ORDER_MASK = {
    "billing.first_name": DELETED,
    "billing.last_name": DELETED,
    "billing.company": "",
    "billing.address_1": DELETED,
    "billing.address_2": "",
    "billing.city": DELETED,
    "billing.postcode": DELETED,
    "billing.email": "deleted@site.invalid",
    "billing.phone": "",
    "shipping.first_name": DELETED,
    "shipping.last_name": DELETED,
    "shipping.company": "",
    "shipping.address_1": DELETED,
    "shipping.address_2": "",
    "shipping.city": DELETED,
    "shipping.postcode": DELETED,
    "shipping.phone": "",
}


def woo_since(value: str) -> str:
    """``modified_after`` (GMT, WordPress's seconds, strictly after) for an ISO-8601 bound: the second
    before the bound's, so that the bound's own second is read again — WordPress keeps whole seconds,
    and a record changed in that second after the watermark was taken is newer than the bound."""
    try:
        moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ConfigError(
            _("“%(value)s” is not an ISO-8601 date and time.") % {"value": value}, reason="config"
        ) from exc
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    moment = moment.replace(microsecond=0) - timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def unflatten(record: dict) -> dict:
    """Dotted keys (``billing.email``) folded into nested objects, merged with what is there."""
    out: dict = {}
    for key, value in record.items():
        if "." not in key:
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**value, **out[key]}
            else:
                out[key] = value
            continue
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return out


def woo_message(body) -> str:
    """WooCommerce's (WordPress's) error message, with the failing parameters when it names them."""
    if not isinstance(body, dict):
        return str(body or "")[:300]
    message = str(body.get("message") or body.get("code") or "")
    params = (body.get("data") or {}).get("params") if isinstance(body.get("data"), dict) else None
    if isinstance(params, dict) and params:
        details = "; ".join(str(v) for v in params.values())
        message = f"{message}: {details}" if message else details
    return message[:1000]


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]


def _str_id(value) -> str:
    return "" if value is None else str(value).strip()


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _fields(*specs) -> tuple[Field, ...]:
    return tuple(Field(*spec[:3], **(spec[3] if len(spec) > 3 else {})) for spec in specs)


_STOCK = (
    ("manage_stock", "boolean", gettext_lazy("Manage stock")),
    ("stock_quantity", "integer", gettext_lazy("Stock quantity")),
    ("stock_status", "string", gettext_lazy("Stock status (instock, outofstock, onbackorder)")),
)
PRODUCT_FIELDS = _fields(
    ("id", "integer", gettext_lazy("Product id")),
    ("sku", "string", gettext_lazy("SKU"), {"required": True}),
    ("name", "string", gettext_lazy("Name")),
    ("type", "string", gettext_lazy("Type (simple, variable, grouped, external)")),
    ("status", "string", gettext_lazy("Status (publish, draft, pending, private)")),
    ("slug", "string", gettext_lazy("Slug")),
    ("description", "string", gettext_lazy("Description")),
    ("short_description", "string", gettext_lazy("Short description")),
    ("regular_price", "string", gettext_lazy("Regular price")),
    ("sale_price", "string", gettext_lazy("Sale price")),
    ("price", "string", gettext_lazy("Current price (read only)")),
    *_STOCK,
    ("weight", "string", gettext_lazy("Weight")),
    ("categories", "array", gettext_lazy("Categories")),
    ("attributes", "array", gettext_lazy("Attributes")),
    ("variations", "array", gettext_lazy("Variation ids (read only)")),
    ("meta_data", "array", gettext_lazy("Meta data")),
    ("date_created_gmt", "datetime", gettext_lazy("Created (GMT)")),
    ("date_modified_gmt", "datetime", gettext_lazy("Modified (GMT)")),
)
VARIATION_FIELDS = _fields(
    ("id", "integer", gettext_lazy("Variation id")),
    ("parent_id", "integer", gettext_lazy("Parent product id"), {"required": True}),
    ("sku", "string", gettext_lazy("SKU"), {"required": True}),
    ("regular_price", "string", gettext_lazy("Regular price")),
    ("sale_price", "string", gettext_lazy("Sale price")),
    ("status", "string", gettext_lazy("Status")),
    *_STOCK,
    ("weight", "string", gettext_lazy("Weight")),
    ("attributes", "array", gettext_lazy("Attributes (name + option)")),
    ("date_created_gmt", "datetime", gettext_lazy("Created (GMT)")),
    ("date_modified_gmt", "datetime", gettext_lazy("Modified (GMT)")),
)
_ADDRESS = (
    ("first_name", gettext_lazy("first name"), "name"),
    ("last_name", gettext_lazy("last name"), "name"),
    ("company", gettext_lazy("company"), ""),
    ("address_1", gettext_lazy("address line 1"), "address"),
    ("address_2", gettext_lazy("address line 2"), "address"),
    ("city", gettext_lazy("city"), "address"),
    ("postcode", gettext_lazy("postcode"), "address"),
    ("country", gettext_lazy("country"), "address"),
    ("phone", gettext_lazy("phone"), "phone"),
)


def _address_label(what, address) -> str:
    """ "First name (billing address)": one format, so that a language can order the two parts."""
    return capfirst(_("%(field)s (%(address)s)") % {"field": what, "address": address})


def _address_fields(prefix: str, label, with_email: bool) -> tuple[Field, ...]:
    fields = [
        Field(f"{prefix}.{name}", "string", _address_label(what, label), personal=personal)
        for name, what, personal in _ADDRESS
    ]
    if with_email:
        fields.append(
            Field(f"{prefix}.email", "string", _address_label(_("e-mail"), label), personal="email")
        )
    return tuple(fields)


def order_fields() -> tuple[Field, ...]:
    return (
        *_fields(
            ("id", "integer", gettext_lazy("Order id")),
            ("number", "string", gettext_lazy("Order number")),
            (
                "status",
                "string",
                gettext_lazy("Status (pending, processing, on-hold, completed, cancelled…)"),
            ),
            ("currency", "string", gettext_lazy("Currency")),
            ("total", "string", gettext_lazy("Total")),
            ("total_tax", "string", gettext_lazy("Total tax")),
            ("shipping_total", "string", gettext_lazy("Shipping")),
            ("customer_id", "integer", gettext_lazy("Customer id (0: guest)")),
            ("customer_note", "string", gettext_lazy("Customer note")),
            ("payment_method", "string", gettext_lazy("Payment method")),
            ("line_items", "array", gettext_lazy("Lines")),
            ("date_created_gmt", "datetime", gettext_lazy("Created (GMT)")),
            ("date_modified_gmt", "datetime", gettext_lazy("Modified (GMT)")),
            ("date_paid_gmt", "datetime", gettext_lazy("Paid (GMT)")),
        ),
        *_address_fields("billing", _("billing address"), True),
        *_address_fields("shipping", _("shipping address"), False),
    )


def customer_fields() -> tuple[Field, ...]:
    return (
        *_fields(
            ("id", "integer", gettext_lazy("Customer id")),
            ("email", "string", gettext_lazy("E-mail"), {"required": True, "personal": "email"}),
            ("first_name", "string", gettext_lazy("First name"), {"personal": "name"}),
            ("last_name", "string", gettext_lazy("Last name"), {"personal": "name"}),
            ("username", "string", gettext_lazy("User name"), {"personal": "name"}),
            ("role", "string", gettext_lazy("Role")),
            ("date_created_gmt", "datetime", gettext_lazy("Registered (GMT)")),
            ("date_modified_gmt", "datetime", gettext_lazy("Modified (GMT)")),
        ),
        *_address_fields("billing", _("billing address"), True),
        *_address_fields("shipping", _("shipping address"), False),
    )


@register_connector
class WooCommerceConnector(Connector):
    key = "woocommerce"
    label = "WooCommerce"
    description = gettext_lazy(
        "WooCommerce through its REST API v3: products and variations with their stock, orders and "
        "customers, written through the batch endpoints."
    )
    help_text = gettext_lazy(
        "In WordPress, open WooCommerce > Settings > Advanced > REST API and click Add key: give it a "
        "description, choose the user it acts as (a shop manager or an administrator) and the "
        "Read/Write permission, then Generate API key and copy the consumer key (ck_…) and the consumer "
        "secret (cs_…) — the secret is shown only once. The store must use HTTPS and pretty permalinks "
        "(Settings > Permalinks: anything but Plain)."
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
            identifiers={"email": "email", "customer_id": "id"},
            strategy="delete",
            strategies=("delete",),
            label=gettext_lazy("Customer accounts"),
            noun=gettext_lazy("customer"),
        ),
        SubjectEntity(
            entity="orders",
            identifiers={"email": "billing.email", "customer_id": "customer_id"},
            # The order stays (commercial and tax law: Art. 17(3)(b)); the buyer's names, addresses,
            # e-mail and phone on it are overwritten as WooCommerce's own privacy eraser does.
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
                "e.g. https://shop.example.com — without /wp-json: the hub calls /wp-json/wc/v3/."
            ),
        ),
        "query_string_auth": forms.BooleanField(
            label=gettext_lazy("Send the keys as query parameters"),
            required=False,
            help_text=gettext_lazy(
                "Only for hosts that drop the Authorization header (WooCommerce then answers 401 "
                "although the keys are right)."
            ),
        ),
    }
    sensitive_parameters = ("consumer_key", "consumer_secret")
    secret_labels = {
        "consumer_key": gettext_lazy("Consumer key"),
        "consumer_secret": gettext_lazy("Consumer secret"),
    }

    page_size = PAGE_SIZE
    batch_size = BATCH_SIZE

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        key = str(secrets.get("consumer_key") or "").strip()
        if not key:
            errors["consumer_key"] = _("Give the REST API key's consumer key (it starts with “ck_”).")
        elif not key.startswith("ck_"):
            errors["consumer_key"] = _("A WooCommerce consumer key starts with “ck_”.")
        secret = str(secrets.get("consumer_secret") or "").strip()
        if not secret:
            errors["consumer_secret"] = _("Give the REST API key's consumer secret (it starts with “cs_”).")
        elif not secret.startswith("cs_"):
            errors["consumer_secret"] = _("A WooCommerce consumer secret starts with “cs_”.")
        base_url = str(params.get("base_url") or "").rstrip("/")
        if "/wp-json" in base_url:
            errors["base_url"] = _("Give the store's address without /wp-json/…: the hub adds it.")
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self._total: int | None = None

    @property
    def _keys(self) -> tuple[str, str]:
        return (
            str(self.secrets.get("consumer_key") or "").strip(),
            str(self.secrets.get("consumer_secret") or "").strip(),
        )

    @property
    def _query_auth(self) -> bool:
        return str(self.params.get("query_string_auth")).lower() in ("true", "1", "on", "yes")

    @property
    def client(self) -> HubClient:
        if self._client is None:
            base = str(self.params.get("base_url") or "").rstrip("/")
            self._client = HubClient(
                self.settings,
                base_url=f"{base}{API_PATH}" if base else "",
                auth=None if self._query_auth else httpx.BasicAuth(*self._keys),
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One request with the keys; WooCommerce's refusals worded for the person fixing them."""
        if self._query_auth:
            key, secret = self._keys
            kwargs["params"] = {
                **(kwargs.get("params") or {}),
                "consumer_key": key,
                "consumer_secret": secret,
            }
        try:
            response = self.client.request(method, path, **kwargs)
        except AuthError as exc:
            remote = exc.remote if isinstance(exc.remote, dict) else {}
            if exc.status == 401:
                code = str(remote.get("code") or "")
                message = (
                    _(
                        "WooCommerce refused the consumer key or secret (HTTP 401): copy both again from "
                        "WooCommerce > Settings > Advanced > REST API."
                    )
                    if code == "woocommerce_rest_authentication_error"
                    else _(
                        "WooCommerce did not see the keys (HTTP 401): the host may drop the Authorization "
                        "header — try “Send the keys as query parameters” — or the store is not on HTTPS."
                    )
                )
            else:
                message = _(
                    "WooCommerce accepted the keys but they may not do this (HTTP 403): give the key "
                    "Read/Write permission, for a shop manager or an administrator."
                )
            raise AuthError(
                message, status=exc.status, reason=exc.reason, detail=exc.detail, remote=exc.remote
            ) from exc
        if response.status_code == 404:
            body = _body(response)
            if isinstance(body, dict) and body.get("code") == "rest_no_route":
                raise ConfigError(
                    _(
                        "No WooCommerce REST API at this address (%(path)s). Check the store URL, that "
                        "WooCommerce is active and that permalinks are not “Plain”."
                    )
                    % {"path": f"{API_PATH}{path}"},
                    status=404,
                    reason="config",
                )
        return response

    def _json(self, method: str, path: str, **kwargs):
        """(body, response) of a call whose answer must be JSON; 404 → ``NotFound``, other 4xx →
        ``ConfigError`` (a read WooCommerce refuses is a configuration problem)."""
        response = self._call(method, path, **kwargs)
        if response.status_code == 404:
            raise NotFound(_("Not found: %(path)s") % {"path": path}, status=404, remote=_body(response))
        if response.status_code >= 400:
            raise ConfigError(
                _("WooCommerce refused %(path)s (HTTP %(status)s): %(message)s")
                % {"path": path, "status": response.status_code, "message": woo_message(_body(response))},
                status=response.status_code,
                reason="http",
                remote=_body(response),
            )
        return decode_json(response), response

    def _list(self, path: str, params: dict) -> tuple[list[dict], int, int]:
        """(records, total, total pages) of one page of a list."""
        body, response = self._json("GET", path, params=params)
        if not isinstance(body, list):
            raise TransientError(
                _("WooCommerce answered %(path)s without a list.") % {"path": path},
                status=response.status_code,
                reason="malformed",
                detail=response.text[:200],
            )
        try:
            total = int(response.headers.get("X-WP-Total", ""))
        except ValueError:
            total = len(body)
        try:
            pages = int(response.headers.get("X-WP-TotalPages", ""))
        except ValueError:
            pages = math.ceil(total / max(1, int(params.get("per_page") or PAGE_SIZE)))
        return [r for r in body if isinstance(r, dict)], total, pages

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        rwd = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE})
        return [
            Entity(
                key="products",
                label=str(_("Products")),
                fields=PRODUCT_FIELDS,
                cursor_field="date_modified_gmt",
                natural_keys=("sku",),
                capabilities=rwd,
            ),
            Entity(
                key="variations",
                label=str(_("Product variations")),
                fields=VARIATION_FIELDS,
                cursor_field="date_modified_gmt",
                natural_keys=("sku",),
                capabilities=rwd,
            ),
            Entity(
                key="orders",
                label=str(_("Orders")),
                fields=order_fields(),
                cursor_field="date_modified_gmt",
                natural_keys=("number",),
                capabilities=frozenset({Capability.READ, Capability.WRITE}) | SUBJECT_CAPABILITIES,
            ),
            Entity(
                key="customers",
                label=str(_("Customers")),
                fields=customer_fields(),
                cursor_field="date_modified_gmt",
                natural_keys=("email",),
                capabilities=rwd | SUBJECT_CAPABILITIES,
            ),
        ]

    def _check_entity(self, entity: str) -> None:
        if entity not in PATHS:
            raise NotFound(_("This system has no entity “%(key)s”.") % {"key": entity})

    # --- read ------------------------------------------------------------------------------------

    def ping(self) -> None:
        """One product with the keys: checks the address, the keys and the read permission."""
        self._list("products", {"per_page": 1})

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        """Pages of ``entity`` in id order, to the last page (``X-WP-TotalPages``)."""
        self._check_entity(entity)
        if cursor:
            try:
                state = json.loads(cursor)
                state["page"] = int(state["page"])
                state["size"] = int(state["size"])
            except (ValueError, TypeError, KeyError) as exc:
                raise ConfigError(_("This read cursor is not one of the WooCommerce connector's.")) from exc
        else:
            state = {"page": 1, "size": max(1, min(int(limit or self.page_size), self.page_size))}
            if since:
                state["since"] = woo_since(since)
        pages = self._variation_pages(state) if entity == "variations" else self._pages(entity, state)
        returned = 0
        first = True
        for records, next_state, total in pages:
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = next_state is not None and (limit is None or returned < limit)
            yield Page(
                records=records,
                cursor=json.dumps(next_state) if next_state else None,
                has_more=has_more,
                total=total if first and limit is None else None,
            )
            first = False
            if not has_more:
                return

    def _params(self, state: dict, *, filtered: bool = True) -> dict:
        params = {"per_page": state["size"], "page": state["page"], "orderby": "id", "order": "asc"}
        if state.get("since") and filtered:
            params["modified_after"] = state["since"]
            params["dates_are_gmt"] = "true"
        return params

    def _pages(self, entity: str, state: dict) -> Iterator[tuple[list[dict], dict | None, int | None]]:
        """(records, the state after them, total) per page of products, orders or customers."""
        path = PATHS[entity]
        # WooCommerce's customers have no date filter: the bound is applied here.
        local_since = state.get("since") if entity == "customers" else None
        while True:
            params = self._params(state, filtered=entity != "customers")
            if entity == "customers":
                params["role"] = "all"
            records, total, pages = self._list(path, params)
            if local_since:
                records = [r for r in records if str(r.get("date_modified_gmt") or "") > local_since]
            more = bool(records or local_since) and state["page"] < pages
            next_state = {**state, "page": state["page"] + 1} if more else None
            remaining = None if local_since else max(0, total - (state["page"] - 1) * state["size"])
            yield records, next_state, remaining
            if next_state is None:
                return
            state = next_state

    def _variation_pages(self, state: dict) -> Iterator[tuple[list[dict], dict | None, int | None]]:
        """Variations of every variable product, product by product (the cursor says which: the page
        of the variable products' list, the product's index in it, and the page of its variations)."""
        ppage, pindex = int(state.get("ppage") or 1), int(state.get("pindex") or 0)
        while True:
            parents, _total, parent_pages = self._list(
                "products",
                {
                    "type": "variable",
                    "per_page": self.page_size,
                    "page": ppage,
                    "orderby": "id",
                    "order": "asc",
                },
            )
            while pindex < len(parents):
                parent_id = parents[pindex].get("id")
                records, _vtotal, vpages = self._list(f"products/{parent_id}/variations", self._params(state))
                for record in records:
                    record.setdefault("parent_id", parent_id)
                if state["page"] < vpages and records:
                    state = {**state, "page": state["page"] + 1}
                else:
                    pindex += 1
                    state = {**state, "page": 1}
                where = {**state, "ppage": ppage, "pindex": pindex}
                if pindex >= len(parents) and ppage >= parent_pages:
                    where = None
                if records or where is None:
                    yield records, where, None
                if where is None:
                    return
            if ppage >= parent_pages or not parents:
                yield [], None, None
                return
            ppage, pindex = ppage + 1, 0

    def fetch(self, entity, ids):
        """Records by id: ``include=`` lists, ``products/{id}`` for variations."""
        self._check_entity(entity)
        wanted = list(dict.fromkeys(_str_id(i) for i in ids if _str_id(i).isdigit()))
        if entity == "variations":
            found = []
            for record_id in wanted:
                try:
                    record, _response = self._json("GET", f"products/{record_id}")
                except NotFound:
                    continue
                if (
                    isinstance(record, dict)
                    and record.get("type") in ("variation", None)
                    and record.get("parent_id")
                ):
                    found.append(record)
            return found
        by_id: dict[str, dict] = {}
        for chunk in _chunks(wanted, self.page_size):
            params = {"include": ",".join(chunk), "per_page": len(chunk), "orderby": "include"}
            if entity == "customers":
                params["role"] = "all"
            if entity in ("products", "orders"):
                params["status"] = "any"
            records, _total, _pages = self._list(PATHS[entity], params)
            by_id.update({str(r.get("id")): r for r in records})
        return [by_id[i] for i in wanted if i in by_id]

    def lookup(self, entity, field_name, values):
        """Records whose ``field_name`` is one of ``values``; e-mails compared without case."""
        self._check_entity(entity)
        values = list(dict.fromkeys(_str_id(v) for v in values if _str_id(v)))
        if not values:
            return []
        if field_name == "id":
            return self.fetch(entity, values)
        if entity in ("products", "variations") and field_name == "sku":
            found = []
            for chunk in _chunks(values, 50):
                records, _t, _p = self._list("products", {"sku": ",".join(chunk), "per_page": self.page_size})
                wanted_type = entity == "variations"
                found += [
                    r
                    for r in records
                    if (r.get("type") == "variation") == wanted_type and r.get("sku") in chunk
                ]
            return found
        if entity == "customers" and field_name == "email":
            found = []
            for email in values:
                records, _t, _p = self._list("customers", {"email": email.lower(), "role": "all"})
                found += [r for r in records if str(r.get("email") or "").lower() == email.lower()]
            return found
        if entity == "orders" and field_name == "billing.email":
            found: dict[str, dict] = {}
            for email in values:
                for record in self._all("orders", {"search": email, "status": "any"}):
                    if str(get_path(record, "billing.email") or "").lower() == email.lower():
                        found[str(record.get("id"))] = record
            return list(found.values())
        if entity == "orders" and field_name == "customer_id":
            found = {}
            for customer in values:
                if customer.isdigit() and customer != "0":
                    for record in self._all("orders", {"customer": customer, "status": "any"}):
                        found[str(record.get("id"))] = record
            return list(found.values())
        # Anything else: read the entity and compare here (WooCommerce has no filter for it).
        wanted = set(values)
        return [
            r
            for page in self.read(entity)
            for r in page.records
            if _str_id(get_path(r, field_name)) in wanted
        ]

    def _all(self, path: str, params: dict) -> list[dict]:
        out, page = [], 1
        while True:
            records, _total, pages = self._list(
                path, {**params, "per_page": self.page_size, "page": page, "orderby": "id", "order": "asc"}
            )
            out += records
            if page >= pages or not records:
                return out
            page += 1

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        """One result per record, in order; see the module docstring."""
        self._check_entity(entity)
        mode = WriteMode(mode)
        records = [unflatten(r) if isinstance(r, dict) else r for r in records]
        results: list[WriteResult | None] = [None] * len(records)
        key = {"products": "sku", "variations": "sku", "customers": "email", "orders": ""}[entity]
        existing = self._existing(entity, key, records, mode)
        # (index, "create"|"update", payload, batch path)
        items: list[tuple[int, str, dict, str]] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                results[index] = WriteResult.failed(
                    RecordError(_("A WooCommerce record must be a JSON object."))
                )
                continue
            record_id = _str_id(record.get("id"))
            found = existing.get(_str_id(record.get(key)).lower()) if key and not record_id else None
            target = record_id or (_str_id(found.get("id")) if found else "")
            payload = {k: v for k, v in record.items() if k not in READ_ONLY}
            if mode == WriteMode.CREATE and (found or record_id):
                results[index] = WriteResult.failed(
                    RecordError(
                        _("This record exists in WooCommerce already (id %(id)s).") % {"id": target},
                        status=409,
                        reason="conflict",
                    )
                )
                continue
            if mode == WriteMode.UPDATE and not target:
                results[index] = WriteResult.failed(
                    RecordError(_("No such record in WooCommerce to update."), status=404, reason="not_found")
                )
                continue
            path = self._batch_path(entity, record, found)
            if path is None:
                results[index] = WriteResult.failed(
                    RecordError(
                        _("A variation needs its parent_id (the variable product's id)."), reason="validation"
                    )
                )
                continue
            if target:
                items.append(
                    (index, "update", {**payload, "id": int(target) if target.isdigit() else target}, path)
                )
            else:
                items.append((index, "create", payload, path))
        by_path: dict[str, list] = {}
        for item in items:
            by_path.setdefault(item[3], []).append(item)
        for path, group in by_path.items():
            for chunk in _chunks(group, self.batch_size):
                results_of = self._send_batch(path, chunk)
                for index, result in results_of.items():
                    results[index] = result
        return results  # type: ignore[return-value]

    def _existing(self, entity: str, key: str, records: list, mode: WriteMode) -> dict[str, dict]:
        """The records already in WooCommerce under the natural keys of ``records`` (no id given)."""
        if not key or mode == WriteMode.CREATE:
            return {}  # a create of a taken SKU or e-mail is refused by WooCommerce itself, per item
        values = [
            _str_id(r.get(key))
            for r in records
            if isinstance(r, dict) and not _str_id(r.get("id")) and _str_id(r.get(key))
        ]
        return {_str_id(r.get(key)).lower(): r for r in self.lookup(entity, key, values)} if values else {}

    @staticmethod
    def _batch_path(entity: str, record: dict, found: dict | None) -> str | None:
        if entity != "variations":
            return f"{PATHS[entity]}/batch"
        parent = _str_id(record.get("parent_id")) or _str_id((found or {}).get("parent_id"))
        return f"products/{parent}/variations/batch" if parent.isdigit() else None

    def _send_batch(self, path: str, chunk: list) -> dict[int, WriteResult]:
        creates = [item for item in chunk if item[1] == "create"]
        updates = [item for item in chunk if item[1] == "update"]
        body = {}
        if creates:
            body["create"] = [item[2] for item in creates]
        if updates:
            body["update"] = [item[2] for item in updates]
        # A create sent twice after a lost answer would make two records: never resent.
        response = self._call("POST", path, json=body, idempotent=not creates)
        if response.status_code >= 400:
            remote = _body(response)
            if response.status_code == 404 and "variations" in path:
                error = RecordError(
                    _("WooCommerce has no variable product %(path)s.") % {"path": path.split("/")[1]},
                    status=404,
                    remote=remote,
                    reason="not_found",
                )
            elif response.status_code == 404:
                raise ConfigError(
                    _("WooCommerce has no %(path)s endpoint here: check the store URL.") % {"path": path},
                    status=404,
                    reason="config",
                )
            else:
                error = RecordError(
                    woo_message(remote)
                    or _("Rejected (HTTP %(status)s).") % {"status": response.status_code},
                    status=response.status_code,
                    remote=remote,
                    reason="validation",
                )
            return {item[0]: WriteResult.failed(error) for item in chunk}
        answer = decode_json(response)
        if not isinstance(answer, dict):
            raise TransientError(
                _("WooCommerce answered the batch without its results."),
                reason="malformed",
                detail=response.text[:200],
            )
        out: dict[int, WriteResult] = {}
        for kind, group in (("create", creates), ("update", updates)):
            answered = answer.get(kind) or []
            for position, (index, _kind, _payload, _path) in enumerate(group):
                result = answered[position] if position < len(answered) else None
                out[index] = self._item_result(result, "created" if kind == "create" else "updated")
        return out

    @staticmethod
    def _item_result(result, action: str) -> WriteResult:
        if not isinstance(result, dict):
            return WriteResult.failed(RecordError(_("WooCommerce's answer did not mention this record.")))
        error = result.get("error")
        if isinstance(error, dict):
            data = error.get("data") if isinstance(error.get("data"), dict) else {}
            return WriteResult.failed(
                RecordError(
                    str(error.get("message") or error.get("code") or _("WooCommerce refused this record.")),
                    status=data.get("status") if isinstance(data.get("status"), int) else 400,
                    remote=error,
                    reason=str(error.get("code") or ""),
                )
            )
        return WriteResult(ok=True, target_id=_str_id(result.get("id")), action=action)

    def delete(self, entity, ids):
        """Customers: ``DELETE customers/{id}?force=true`` each; the rest through the batch ``delete``
        list. A record already gone counts as deleted."""
        self._check_entity(entity)
        ids = [_str_id(i) for i in ids]
        if entity == "customers":
            return [self._delete_customer(record_id) for record_id in ids]
        if entity == "orders":
            raise ConfigError(_("WooCommerce orders are not deleted here."), reason="config")
        paths: dict[int, str] = {}
        if entity == "variations":
            parents = {str(r.get("id")): _str_id(r.get("parent_id")) for r in self.fetch("variations", ids)}
            paths = {n: f"products/{parents[i]}/variations/batch" for n, i in enumerate(ids) if i in parents}
        else:
            paths = {n: "products/batch" for n, i in enumerate(ids) if i.isdigit()}
        results = [
            WriteResult(ok=True, target_id=i, action="deleted") if n not in paths else None
            for n, i in enumerate(ids)
        ]
        by_path: dict[str, list[int]] = {}
        for n, path in paths.items():
            by_path.setdefault(path, []).append(n)
        for path, positions in by_path.items():
            for chunk in _chunks(positions, self.batch_size):
                body, _response = self._json("POST", path, json={"delete": [int(ids[n]) for n in chunk]})
                answered = (body or {}).get("delete") or [] if isinstance(body, dict) else []
                for position, n in enumerate(chunk):
                    item = answered[position] if position < len(answered) else None
                    error = item.get("error") if isinstance(item, dict) else None
                    if isinstance(error, dict) and not str(error.get("code") or "").endswith(
                        INVALID_ID_CODES
                    ):
                        results[n] = self._item_result(item, "deleted")
                    else:
                        results[n] = WriteResult(ok=True, target_id=ids[n], action="deleted")
        return results  # type: ignore[return-value]

    def _delete_customer(self, record_id: str) -> WriteResult:
        if not record_id.isdigit():
            return WriteResult(ok=True, target_id=record_id, action="deleted")
        response = self._call("DELETE", f"customers/{record_id}", params={"force": "true"})
        body = _body(response)
        gone = isinstance(body, dict) and str(body.get("code") or "").endswith(INVALID_ID_CODES)
        if response.status_code < 400:
            decode_json(response)
            return WriteResult(ok=True, target_id=record_id, action="deleted")
        if response.status_code == 404 or gone:
            return WriteResult(ok=True, target_id=record_id, action="deleted")
        return WriteResult.failed(
            RecordError(
                woo_message(body),
                status=response.status_code,
                remote=body,
                reason=str(body.get("code") or "") if isinstance(body, dict) else "",
            )
        )

    # --- GDPR ----------------------------------------------------------------------------------

    def subject_label(self, declared, record_id, record) -> str:
        if declared.entity == "orders" and record.get("number"):
            return f"{declared.noun} #{record['number']}"
        return super().subject_label(declared, record_id, record)
