"""Odoo (ERP) through its external JSON-RPC API (``POST /jsonrpc`` with ``execute_kw``) or, with the
"API" parameter set to JSON-2, Odoo 19's ``/json/2`` API (:class:`Json2Transport`: an API key as a
bearer token, named arguments, errors as HTTP 4xx/5xx). Everything below works the same through
either transport: the connector calls ORM methods with ``execute_kw``'s arguments and the transport
carries them (:data:`JSON2_ARGUMENTS` names them for JSON-2).

On the wire (JSON-RPC):

- Authentication: ``common.authenticate(db, login, password, {})`` returns the user id, or ``false``
  for a wrong login or password / API key (→ ``AuthError``). The uid is shared by every worker process
  through ``flows.coordination`` (key ``odoo-uid:<system id>``, one hour, stored with a fingerprint of
  the URL, database, login and secret so that a changed configuration authenticates again) and
  refreshed once when a call answers ``AccessDenied``.
- Every other call: ``object.execute_kw(db, uid, password, model, method, args, kwargs)``. Odoo answers
  errors as HTTP 200 with an ``error`` object; :func:`odoo_error` maps them onto the taxonomy.
- Reads: ``search_read`` ordered ``write_date asc, id asc``, ``limit`` = page size + 1 (to know whether
  another page follows), with a keyset domain instead of an offset (see :func:`keyset_domain`), and
  ``context={"active_test": False}`` so that archived records are read too (archiving is a change to
  sync). The fields asked for are the connector's list intersected with the model's ``fields_get``
  (asked once per model and connector instance), so one list works across Odoo versions and modules.
- Incremental reads: ``("write_date", ">=", "YYYY-MM-DD HH:MM:SS")`` in UTC (Odoo's format), the bound
  truncated to the second: RPC shows ``write_date`` to the second, so a strict ``>`` on a truncated
  bound could miss a record written later in that same second; ``>=`` re-delivers at most that
  second's records, which upserts absorb.
- Writes: ``create`` with the list of new records in one call (Odoo's ``create`` of a list is atomic:
  when it fails on a record-level error the records are created one by one, so one bad record gives
  one failed result); updates are ``write([id], vals)`` per record (Odoo has no batch write with
  different values). Upserts look the natural keys up first (one ``search_read`` per batch).
- GDPR (the ``Connector`` contract): ``find_subject`` looks partners up by e-mail (``=ilike``) or
  phone and sale orders by their partner's e-mail; ``erase_subject`` anonymises a partner by default
  (``write`` of ``PARTNER_MASK``: Odoo keeps partners its invoices and orders point to, and refuses
  to unlink them) and keeps sale orders (exempt: they point to the anonymised partner);
  ``export_subject`` is ``fetch``.
- Deletes: ``search`` for the ids that still exist, then ``unlink`` of them in one call (atomic; on a
  record-level error one by one). An id already gone counts as deleted.

Products: ``products`` are the variants (``product.product``, with ``product_tmpl_id``);
``product_templates`` are ``product.template`` (with ``product_variant_ids``). A template's own fields
(name, sales price, type…) are shared by its variants; its ``default_code``, ``barcode``, cost and
weight are its single variant's (``False`` with several variants), so ``default_code`` is a natural
key for single-variant templates only. In Odoo a change made on the template moves the template's
``write_date``, not its variants': a flow that must see renamed or repriced variants reads templates.

Convenience keys added to the vendor's records on read, and understood on write:

- ``stock``: ``sku`` (the product's ``default_code``) and ``location`` (the location's full name, e.g.
  ``WH/Stock``) — together the natural key of a quant; on write they resolve to ``product_id`` and
  ``location_id``.
- ``partners``: ``country_code`` (ISO code of ``country_id``); on write it resolves to ``country_id``.
- ``sale_orders``: ``partner_email`` (the customer's e-mail) and ``lines`` (the order's
  ``sale.order.line`` records in the order's own line order, each with ``sku``). On create, ``lines``
  become ``order_line`` commands ``(0, 0, values)`` and ``partner_email`` resolves to ``partner_id``;
  on update ``lines`` are left alone (Odoo restricts line changes on confirmed orders).

Many2one values read as ``[id, "display name"]``; on write either form (``[id, name]`` or ``id``) is
accepted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import breaker
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
    ConnectorError,
    NotFound,
    RecordError,
    TransientError,
)
from flows.connectors.http import HubClient, decode_json, remote_message
from flows.connectors.registry import register_connector
from flows.coordination import delete_shared, get_shared, lock, set_shared

PAGE_SIZE = 200
MAX_PAGE_SIZE = 5000
UID_TTL = 3600.0  # a uid does not expire; an hour bounds how long a disabled user goes unnoticed
CHUNK = 200  # values per lookup call
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"
_ODOO_DATETIME_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
READ_CONTEXT = {"active_test": False}
# Never sent on write: Odoo sets them itself.
META_FIELDS = {"id", "create_date", "write_date", "display_name", "__last_update", "create_uid", "write_uid"}


def uid_key(system_id) -> str:
    """Where a system's Odoo uid is shared between worker processes."""
    return f"odoo-uid:{system_id}"


def odoo_datetime(value: str) -> str:
    """An ISO-8601 moment as Odoo's UTC ``YYYY-MM-DD HH:MM:SS`` (truncated to the second)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ConfigError(
            _("“%(value)s” is not an ISO-8601 date and time.") % {"value": value}, reason="config"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(ODOO_DATETIME)


def keyset_domain(state: dict) -> list:
    """The domain that resumes after the last page, in ``write_date asc, id asc`` order.

    Odoo up to 18.3 stores ``write_date`` with microseconds but RPC shows whole seconds, so the
    textbook keyset ``write_date > S or (write_date = S and id > I)`` breaks on a real server: ``=``
    never matches a value with microseconds and ``>`` re-reads the whole second S — an endless loop
    when more than a page of records share one second (an import writes them all in one
    transaction). Instead the cursor keeps the last second S and the ids already delivered within
    it: ``write_date >= S and not (write_date < S+1s and id in seen)``. Nothing is skipped (a record
    written during the read moves to a later second and is read again), nothing loops, on a server
    with or without microseconds (the sandbox has whole seconds).
    """
    if not state:
        return []
    after = state["after"]
    following = (datetime.strptime(after, ODOO_DATETIME) + timedelta(seconds=1)).strftime(ODOO_DATETIME)
    return [
        ("write_date", ">=", after),
        "!",
        "&",
        ("write_date", "<", following),
        ("id", "in", list(state["seen"])),
    ]


def next_state(state: dict, rows: list[dict]) -> dict:
    """The cursor after ``rows`` (one page, in ``write_date asc, id asc`` order)."""
    if not rows:
        return state
    last = rows[-1].get("write_date")
    if not isinstance(last, str) or not _ODOO_DATETIME_RE.match(last):
        raise TransientError(
            _("Odoo sent a record without a readable write_date."), reason="malformed", detail=repr(last)
        )
    seen = list(state.get("seen", [])) if state.get("after") == last else []
    seen.extend(r["id"] for r in rows if r.get("write_date") == last)
    return {"after": last, "seen": seen}


def decode_cursor(cursor: str | None) -> dict:
    if not cursor:
        return {}
    try:
        state = json.loads(cursor)
    except ValueError:
        state = None
    if not (
        isinstance(state, dict)
        and isinstance(state.get("after"), str)
        and _ODOO_DATETIME_RE.match(state["after"])
        and isinstance(state.get("seen"), list)
        and all(isinstance(i, int) and not isinstance(i, bool) for i in state["seen"])
    ):
        raise ConfigError(_("This cursor was not made by the Odoo connector."), reason="config")
    return state


# --- errors ---------------------------------------------------------------------------------------

# Record-level refusals when writing: the record goes to triage with Odoo's own message.
RECORD_ERRORS = {
    "odoo.exceptions.ValidationError",
    "odoo.exceptions.UserError",
    "odoo.exceptions.MissingError",
    "odoo.exceptions.RedirectWarning",
    "builtins.ValueError",  # a value Odoo cannot convert, an unknown field in this record
    "psycopg2.IntegrityError",
    "psycopg2.errors.UniqueViolation",
    "psycopg2.errors.NotNullViolation",
    "psycopg2.errors.ForeignKeyViolation",
    "psycopg2.errors.CheckViolation",
}
# The request itself cannot work on this server: retrying will not help, the admin must act.
CONFIG_ERRORS = {
    "builtins.KeyError",  # unknown model: the Odoo app (Sales, Inventory…) is not installed
    "builtins.AttributeError",  # unknown method
    "builtins.TypeError",
    "builtins.NameError",
}


def odoo_error(error: object, *, writing: bool = False) -> ConnectorError:
    """An Odoo JSON-RPC ``error`` object as a connector error.

    - ``AccessDenied`` (wrong password / API key, expired session) → ``AuthError`` (reason ``auth``);
      ``AccessError`` (the user lacks the rights on a model) → ``AuthError`` (reason ``forbidden``).
    - ``ValidationError``, ``UserError``, ``MissingError``, ``ValueError`` and integrity errors: during a
      write → ``RecordError`` with Odoo's message (that record is refused, the others go on); during a
      read → ``ConfigError`` (the domain or fields do not fit this server: retrying will not help).
    - An unknown database, model or method, a malformed call → ``ConfigError``.
    - Anything else (database serialisation failures, lock timeouts, unknown server errors) →
      ``TransientError``: like an HTTP 500, the engine retries later and gives up after its limit.
    """
    data = error.get("data") if isinstance(error, dict) else None
    data = data if isinstance(data, dict) else {}
    name = str(data.get("name") or "")
    message = str(data.get("message") or (error.get("message") if isinstance(error, dict) else "") or "")
    message = message.strip()[:1000] or _("Odoo reported an error without a message.")
    remote = {"name": name, "message": message}
    code = error.get("code") if isinstance(error, dict) else None
    if name == "odoo.exceptions.AccessDenied" or name.endswith("SessionExpiredException") or code == 100:
        return AuthError(
            _("Odoo refused the credentials (Access Denied): check the login and the password or API key."),
            reason="auth",
            detail=message,
            remote=remote,
        )
    if name == "odoo.exceptions.AccessError":
        return AuthError(
            _("The Odoo user is not allowed to do this: %(message)s") % {"message": message},
            reason="forbidden",
            detail=name,
            remote=remote,
        )
    if name in RECORD_ERRORS:
        if writing:
            return RecordError(message, detail=name, remote=remote)
        return ConfigError(
            _("Odoo refused the request: %(message)s") % {"message": message},
            reason="config",
            detail=name,
            remote=remote,
        )
    if name.startswith("psycopg2") and "does not exist" in message and "database" in message:
        return ConfigError(
            _("This database does not exist on the Odoo server: check the database name."),
            reason="config",
            detail=message,
            remote=remote,
        )
    if name in CONFIG_ERRORS or name.startswith("werkzeug.exceptions."):
        return ConfigError(
            _("Odoo cannot answer this request (is the app installed?): %(message)s") % {"message": message},
            reason="config",
            detail=name,
            remote=remote,
        )
    return TransientError(
        _("Odoo failed: %(message)s") % {"message": message}, reason="remote", detail=name, remote=remote
    )


# --- entities -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """How one entity sits in Odoo."""

    model: str
    fields: tuple[str, ...]  # asked for when present in the model's fields_get
    natural_key: str
    domain: tuple = ()  # always applied to reads
    computed: frozenset[str] = frozenset()  # never written
    convenience: frozenset[str] = frozenset()  # flat keys the connector adds


SPECS = {
    "products": Spec(
        model="product.product",
        fields=(
            "id", "default_code", "name", "barcode", "list_price", "standard_price", "weight", "type",
            "detailed_type", "is_storable", "sale_ok", "active", "description_sale", "categ_id", "uom_id",
            "product_tmpl_id", "create_date", "write_date",
        ),
        natural_key="default_code",
    ),
    "product_templates": Spec(
        model="product.template",
        fields=(
            "id", "default_code", "name", "barcode", "list_price", "standard_price", "weight", "type",
            "detailed_type", "is_storable", "sale_ok", "purchase_ok", "active", "description_sale", "categ_id",
            "uom_id", "product_variant_ids", "product_variant_count", "create_date", "write_date",
        ),
        natural_key="default_code",
        computed=frozenset({"product_variant_count"}),
    ),
    "stock": Spec(
        model="stock.quant",
        fields=(
            "id", "product_id", "location_id", "quantity", "reserved_quantity", "lot_id", "create_date",
            "write_date",
        ),
        natural_key="sku",
        # Internal locations only: Odoo also keeps quants in virtual locations (customers, vendors,
        # inventory loss) whose quantities are not stock.
        domain=(("location_id.usage", "=", "internal"),),
        computed=frozenset({"reserved_quantity"}),
        convenience=frozenset({"sku", "location"}),
    ),
    "partners": Spec(
        model="res.partner",
        fields=(
            "id", "name", "email", "phone", "mobile", "street", "street2", "city", "zip", "country_id",
            "lang", "is_company", "customer_rank", "active", "ref", "vat", "create_date", "write_date",
        ),
        natural_key="email",
        convenience=frozenset({"country_code"}),
    ),
    "sale_orders": Spec(
        model="sale.order",
        fields=(
            "id", "name", "partner_id", "date_order", "client_order_ref", "amount_untaxed", "amount_tax",
            "amount_total", "state", "order_line", "currency_id", "note", "create_date", "write_date",
        ),
        natural_key="client_order_ref",
        computed=frozenset({"amount_untaxed", "amount_tax", "amount_total", "currency_id"}),
        convenience=frozenset({"lines", "partner_email"}),
    ),
}  # fmt: skip
LINE_MODEL = "sale.order.line"
LINE_FIELDS = (
    "id", "order_id", "sequence", "display_type", "product_id", "name", "product_uom_qty", "product_uom",
    "price_unit", "discount", "tax_id", "tax_rate", "price_subtotal", "price_tax", "price_total",
)  # fmt: skip
LINE_COMPUTED = {"price_subtotal", "price_tax", "price_total", "order_id"}
# A partner's personal fields overwritten by a GDPR erasure (strategy "mask"); ``False`` is Odoo's empty.
PARTNER_MASK = (
    ("name", "Anonymised"),
    ("email", False),
    ("phone", False),
    ("mobile", False),
    ("street", False),
    ("street2", False),
    ("city", False),
    ("zip", False),
    ("country_id", False),
    ("vat", False),
)
READ_WRITE = frozenset({Capability.READ, Capability.WRITE})
READ_WRITE_DELETE = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE})
# The entities persons are found in (``subject_entities``).
SUBJECT = frozenset({Capability.SUBJECT_LOOKUP, Capability.SUBJECT_ERASE, Capability.SUBJECT_EXPORT})


def _f(name, type_="string", label="", personal="", required=False) -> Field:
    return Field(name=name, type=type_, label=label, personal=personal, required=required)


ENTITIES = (
    Entity(
        key="products",
        label=gettext_lazy("Products (product.product)"),
        fields=(
            _f("id", "integer", gettext_lazy("ID")),
            _f("default_code", "string", gettext_lazy("Internal reference (SKU)")),
            _f("name", "string", gettext_lazy("Name"), required=True),
            _f("barcode", "string", gettext_lazy("Barcode (EAN)")),
            _f("list_price", "number", gettext_lazy("Sales price")),
            _f("standard_price", "number", gettext_lazy("Cost")),
            _f("weight", "number", gettext_lazy("Weight (kg)")),
            _f("type", "string", gettext_lazy("Product type")),
            _f("sale_ok", "boolean", gettext_lazy("Can be sold")),
            _f("active", "boolean", gettext_lazy("Active")),
            _f("description_sale", "string", gettext_lazy("Sales description")),
            _f("product_tmpl_id", "array", gettext_lazy("Product template [id, name]")),
            _f("create_date", "datetime", gettext_lazy("Created on")),
            _f("write_date", "datetime", gettext_lazy("Last updated on")),
        ),
        id_field="id",
        cursor_field="write_date",
        natural_keys=("default_code",),
        tombstone=("active", False),
        capabilities=READ_WRITE_DELETE,
    ),
    Entity(
        key="product_templates",
        label=gettext_lazy("Product templates (product.template)"),
        fields=(
            _f("id", "integer", gettext_lazy("ID")),
            _f("default_code", "string", gettext_lazy("Internal reference (SKU, single variant)")),
            _f("name", "string", gettext_lazy("Name"), required=True),
            _f("barcode", "string", gettext_lazy("Barcode (EAN, single variant)")),
            _f("list_price", "number", gettext_lazy("Sales price")),
            _f("standard_price", "number", gettext_lazy("Cost")),
            _f("weight", "number", gettext_lazy("Weight (kg)")),
            _f("type", "string", gettext_lazy("Product type")),
            _f("sale_ok", "boolean", gettext_lazy("Can be sold")),
            _f("purchase_ok", "boolean", gettext_lazy("Can be purchased")),
            _f("active", "boolean", gettext_lazy("Active")),
            _f("description_sale", "string", gettext_lazy("Sales description")),
            _f("product_variant_ids", "array", gettext_lazy("Variant ids")),
            _f("product_variant_count", "integer", gettext_lazy("Number of variants")),
            _f("create_date", "datetime", gettext_lazy("Created on")),
            _f("write_date", "datetime", gettext_lazy("Last updated on")),
        ),
        id_field="id",
        cursor_field="write_date",
        natural_keys=("default_code",),
        tombstone=("active", False),
        capabilities=READ_WRITE,
    ),
    Entity(
        key="stock",
        label=gettext_lazy("Stock quants (stock.quant)"),
        fields=(
            _f("id", "integer", gettext_lazy("ID")),
            _f("sku", "string", gettext_lazy("Product SKU")),
            _f("location", "string", gettext_lazy("Location (full name)")),
            _f("product_id", "array", gettext_lazy("Product [id, name]"), required=True),
            _f("location_id", "array", gettext_lazy("Location [id, name]"), required=True),
            _f("quantity", "number", gettext_lazy("Quantity on hand")),
            _f("reserved_quantity", "number", gettext_lazy("Reserved quantity")),
            _f("write_date", "datetime", gettext_lazy("Last updated on")),
        ),
        id_field="id",
        cursor_field="write_date",
        natural_keys=("sku", "location"),
        capabilities=READ_WRITE,
    ),
    Entity(
        key="partners",
        label=gettext_lazy("Contacts (res.partner)"),
        fields=(
            _f("id", "integer", gettext_lazy("ID")),
            _f("name", "string", gettext_lazy("Name"), "name", required=True),
            _f("email", "string", gettext_lazy("E-mail"), "email"),
            _f("phone", "string", gettext_lazy("Phone"), "phone"),
            _f("mobile", "string", gettext_lazy("Mobile"), "phone"),
            _f("street", "string", gettext_lazy("Street"), "address"),
            _f("street2", "string", "Street 2", "address"),
            _f("city", "string", gettext_lazy("City"), "address"),
            _f("zip", "string", gettext_lazy("ZIP"), "address"),
            _f("country_id", "array", gettext_lazy("Country [id, name]"), "address"),
            _f("country_code", "string", gettext_lazy("Country code (ISO)"), "address"),
            _f("lang", "string", gettext_lazy("Language")),
            _f("is_company", "boolean", gettext_lazy("Is a company")),
            _f("active", "boolean", gettext_lazy("Active")),
            _f("ref", "string", gettext_lazy("Reference")),
            _f("write_date", "datetime", gettext_lazy("Last updated on")),
        ),
        id_field="id",
        cursor_field="write_date",
        natural_keys=("email",),
        reference_field="ref",
        tombstone=("active", False),
        capabilities=READ_WRITE_DELETE | SUBJECT,
    ),
    Entity(
        key="sale_orders",
        label=gettext_lazy("Sales orders (sale.order)"),
        fields=(
            _f("id", "integer", gettext_lazy("ID")),
            _f("name", "string", gettext_lazy("Order reference")),
            _f("client_order_ref", "string", gettext_lazy("Customer reference")),
            _f("partner_id", "array", gettext_lazy("Customer [id, name]"), "name", required=True),
            _f("partner_email", "string", gettext_lazy("Customer e-mail"), "email"),
            _f("date_order", "datetime", gettext_lazy("Order date")),
            _f("state", "string", gettext_lazy("Status")),
            _f("amount_untaxed", "number", gettext_lazy("Untaxed amount")),
            _f("amount_tax", "number", gettext_lazy("Taxes")),
            _f("amount_total", "number", gettext_lazy("Total")),
            _f("lines", "array", gettext_lazy("Order lines")),
            _f("note", "string", gettext_lazy("Terms and conditions")),
            _f("write_date", "datetime", gettext_lazy("Last updated on")),
        ),
        id_field="id",
        cursor_field="write_date",
        natural_keys=("client_order_ref",),
        capabilities=READ_WRITE_DELETE | SUBJECT,
    ),
)


def _m2o_id(value):
    """A many2one value as its id: ``[id, name]`` → id, ``id`` → id, empty → False."""
    if isinstance(value, list | tuple):
        value = value[0] if value else False
    if value in (None, 0, ""):
        return False
    return value


def _as_id(value) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise ValueError(value)


def _text(value) -> str | None:
    """A char value for comparisons (Odoo reads empty char fields as ``false``)."""
    if value is False or value is None:
        return None
    return str(value)


# --- transports -----------------------------------------------------------------------------------

API_JSONRPC = "jsonrpc"
API_JSON2 = "json2"
# The parameter names of the ORM methods the connector calls, in ``execute_kw``'s positional order:
# JSON-2 takes named arguments only (``ids`` is the recordset of the methods that work on records).
JSON2_ARGUMENTS = {
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search": ("domain", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "read": ("ids", "fields"),
    "create": ("vals_list",),
    "write": ("ids", "vals"),
    "unlink": ("ids",),
    "fields_get": ("allfields", "attributes"),
}


class JsonRpcTransport:
    """``POST /jsonrpc``: ``common.authenticate`` with the login and password (or API key) for a uid,
    then ``object.execute_kw`` (see the module docstring)."""

    def __init__(self, connector: OdooConnector):
        self.connector = connector

    def execute(self, model: str, method: str, args: list, kwargs: dict, *, writing: bool = False):
        return self.connector._execute_kw(model, method, args, kwargs, writing=writing)

    def ping(self) -> None:
        """``common.authenticate``: proves the URL, the database and the credentials."""
        self.connector._user_id(force=True)


class Json2Transport:
    """Odoo 19's external JSON-2 API: ``POST /json/2/<model>/<method>`` with ``Authorization: bearer
    <API key>``, ``X-Odoo-Database`` when a database is given, and a JSON object of named arguments;
    the answer is the method's result. Errors come as HTTP 4xx/5xx with ``{"name", "message", …}``
    and are mapped like JSON-RPC's (:func:`odoo_error`); a wrong key is a 401."""

    def __init__(self, connector: OdooConnector):
        self.connector = connector

    def body(self, method: str, args: list, kwargs: dict) -> dict:
        names = JSON2_ARGUMENTS.get(method, ())
        if len(args) > len(names):
            raise ConfigError(
                _("The hub cannot call %(method)s over JSON-2 with positional arguments.")
                % {"method": method},
                reason="config",
            )
        body = dict(zip(names, args, strict=False))
        body.update(kwargs)
        if method == "create" and isinstance(body.get("vals_list"), dict):
            body["vals_list"] = [body["vals_list"]]  # JSON-2's create takes a list, answers a list
        return body

    def execute(self, model: str, method: str, args: list, kwargs: dict, *, writing: bool = False):
        return self.call(model, method, self.body(method, args, kwargs), writing=writing)

    def ping(self) -> None:
        """``res.users/context_get``: the key's own user, the cheapest call that proves the URL, the
        database and the key."""
        answer = self.call("res.users", "context_get", {})
        if not isinstance(answer, dict):
            raise TransientError(
                _("Odoo sent an answer that is not a JSON-2 response."),
                reason="malformed",
                detail=repr(answer)[:200],
            )

    def call(self, model: str, method: str, body: dict, *, writing: bool = False):
        conn = self.connector
        headers = {"Authorization": f"bearer {conn.api_key}"}
        if conn.database:
            headers["X-Odoo-Database"] = conn.database
        try:
            response = conn.client.request(
                "POST",
                f"/json/2/{model}/{method}",
                json=body,
                headers=headers,
                idempotent=method != "create",
            )
        except (AuthError, TransientError) as exc:  # 401, 403 and 5xx: an Odoo error when it says so
            mapped = self.error(exc.status, exc.remote, writing=writing)
            if mapped is None:
                raise
            # A 500 that is Odoo's answer about a record (a ValueError…): the server is up, so a
            # run of refused records must not open the system's circuit breaker.
            if (
                isinstance(exc, TransientError)
                and not isinstance(mapped, TransientError)
                and conn.settings.system_id
            ):
                breaker.record(conn.settings.system_id, True)
            raise mapped from exc
        if response.status_code >= 400:
            remote = _json_or_none(response)
            raise self.error(response.status_code, remote, writing=writing) or ConfigError(
                _(
                    "There is no Odoo JSON-2 endpoint at this address (HTTP %(status)s on /json/2): it "
                    "comes with Odoo 19. Check the URL, or choose the JSON-RPC API."
                )
                % {"status": response.status_code},
                status=response.status_code,
                reason="config",
                detail=remote_message(response),
            )
        return decode_json(response)

    def error(self, status, remote, *, writing: bool) -> ConnectorError | None:
        """An Odoo JSON-2 error body as a connector error; ``None`` when it is not one of Odoo's."""
        if not (isinstance(remote, dict) and isinstance(remote.get("name"), str) and remote["name"]):
            return None
        name, message = remote["name"], str(remote.get("message") or "")
        if status == 401 or name == "werkzeug.exceptions.Unauthorized":
            return AuthError(
                _("Odoo refused the API key (HTTP 401): check it, and that it has not expired."),
                status=status,
                reason="auth",
                detail=message[:500],
                remote={"name": name, "message": message[:1000]},
            )
        if name == "werkzeug.exceptions.NotFound" and "database" in message:
            return ConfigError(
                _("This database does not exist on the Odoo server: check the database name."),
                status=status,
                reason="config",
                detail=message[:500],
            )
        error = odoo_error({"data": {"name": name, "message": message}}, writing=writing)
        error.status = status
        return error


TRANSPORTS = {API_JSONRPC: JsonRpcTransport, API_JSON2: Json2Transport}


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


@register_connector
class OdooConnector(Connector):
    key = "odoo"
    label = gettext_lazy("Odoo")
    description = gettext_lazy(
        "Odoo ERP through its external JSON-RPC or JSON-2 API: products (templates and variants), stock "
        "quants, contacts and sales orders."
    )
    help_text = gettext_lazy(
        "The database is the name in Odoo's database selector (on odoo.com, usually the subdomain); the "
        "login is the user's e-mail. Create an API key in Odoo under Preferences (your avatar → My "
        "Profile) → Account Security → New API Key: with the JSON-RPC API paste it as the password, "
        "with the JSON-2 API (Odoo 19 and later) as the API key — JSON-2 needs no login."
    )
    roles = (SystemRole.ERP,)
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
    # GDPR. Odoo keeps a customer's partner for its invoices and journal entries (a partner a sale
    # order or an invoice points to cannot even be unlinked: ``ondelete="restrict"``), so a partner is
    # anonymised in place with ``write``: afterwards no search by the old e-mail or phone finds it and
    # it holds no personal value. (Odoo's own chatter / tracking values on the partner are out of
    # reach of the external API: a note for the DPO's register.) Sale orders hold no personal value
    # of their own: they point to the partner, so they are anonymised through it and kept. A delivery
    # or invoice address kept as a child contact is its own partner: found and anonymised alike when it
    # carries the person's e-mail or phone.
    subject_entities = (
        SubjectEntity(
            entity="partners",
            identifiers={"email": "email", "phone": "phone"},
            strategy="mask",
            strategies=("mask", "delete"),
            mask=dict(PARTNER_MASK),
            exemption=gettext_lazy(
                "Art. 17(3)(b): invoices and accounting entries kept (tax law); the partner is "
                "anonymised instead of deleted"
            ),
            label=gettext_lazy("Contacts (res.partner)"),
            noun=gettext_lazy("partner"),
        ),
        SubjectEntity(
            entity="sale_orders",
            identifiers={"email": "partner_email"},
            strategy="exempt",
            strategies=("exempt",),
            exemption=gettext_lazy(
                "Art. 17(3)(b): sales orders kept for 10 years under commercial and tax law; they hold "
                "no personal value of their own and point to the partner, which is anonymised"
            ),
            label=gettext_lazy("Sales orders (sale.order)"),
            noun=gettext_lazy("sale order"),
        ),
    )
    parameters = {
        "api": forms.ChoiceField(
            label=gettext_lazy("API"),
            choices=(
                (API_JSONRPC, gettext_lazy("JSON-RPC (login and password or API key)")),
                (API_JSON2, gettext_lazy("JSON-2 (API key, Odoo 19 and later)")),
            ),
            initial=API_JSONRPC,
            required=False,
            help_text=gettext_lazy(
                "JSON-2 is Odoo's newer external API (/json/2); it authenticates with an API key only: "
                "Odoo → Preferences → Account Security → New API Key."
            ),
        ),
        "base_url": forms.URLField(
            label=gettext_lazy("Odoo URL"),
            help_text=gettext_lazy("The server's address, e.g. https://mycompany.odoo.com (without /web)."),
        ),
        "database": forms.CharField(
            label=gettext_lazy("Database"),
            max_length=200,
            required=False,
            help_text=gettext_lazy(
                "Required with JSON-RPC; with JSON-2 only when the server hosts several databases."
            ),
        ),
        "login": forms.CharField(
            label=gettext_lazy("Login"),
            max_length=200,
            required=False,
            help_text=gettext_lazy("The Odoo user's login, usually an e-mail address (JSON-RPC only)."),
        ),
        "page_size": forms.IntegerField(
            label=gettext_lazy("Records per call"),
            required=False,
            min_value=1,
            max_value=MAX_PAGE_SIZE,
            initial=PAGE_SIZE,
        ),
    }
    sensitive_parameters = ("password", "api_key")
    secret_labels = {
        "password": gettext_lazy("Password or API key (JSON-RPC)"),
        "api_key": gettext_lazy("API key (JSON-2)"),
    }

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        api = params.get("api") or API_JSONRPC
        if api not in TRANSPORTS:
            errors["api"] = _("Choose JSON-RPC or JSON-2.")
        elif api == API_JSON2:
            if not secrets.get("api_key"):
                errors["api_key"] = _(
                    "Required with JSON-2: Odoo → Preferences → Account Security → New API Key."
                )
        else:
            if not secrets.get("password"):
                errors["password"] = _("Required: the user's password or an API key.")
            for name in ("database", "login"):
                if not str(params.get(name) or "").strip():
                    errors[name] = _("Required.")
        path = urlsplit(str(params.get("base_url") or "")).path.rstrip("/")
        # /web… and /odoo/… are the web client's pages (a proxy prefix such as /odoo alone is fine).
        if path.endswith(("/jsonrpc", "/xmlrpc", "/xmlrpc/2", "/xmlrpc/2/object", "/json/2")) or re.search(
            r"/web(/|$)|/odoo/.|/json/2/", path
        ):
            errors["base_url"] = _(
                "Give the server's address only (e.g. https://mycompany.odoo.com), without /web, /odoo, "
                "/jsonrpc or /json/2."
            )
        size = params.get("page_size")
        if size not in (None, "") and not (
            str(size).isdigit() and 1 <= int(size) <= MAX_PAGE_SIZE and not isinstance(size, bool)
        ):
            errors["page_size"] = _("A whole number from 1 to %(max)s.") % {"max": MAX_PAGE_SIZE}
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self._ids = itertools.count(1)
        self._transport: JsonRpcTransport | Json2Transport | None = None
        self._uid: int | None = None
        self._uid_fresh = False  # authenticated by this instance (not taken from the shared cache)
        self._field_info: dict[str, dict] = {}
        self._country_codes: dict[int, str | None] = {}

    @property
    def client(self) -> HubClient:
        if self._client is None:
            self._client = HubClient(
                self.settings,
                base_url=self.params.get("base_url", ""),
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def database(self) -> str:
        return str(self.params.get("database") or "")

    @property
    def login(self) -> str:
        return str(self.params.get("login") or "")

    @property
    def password(self) -> str:
        return str(self.secrets.get("password") or "")

    @property
    def api_key(self) -> str:
        return str(self.secrets.get("api_key") or "")

    @property
    def page_size(self) -> int:
        try:
            size = int(self.params.get("page_size") or PAGE_SIZE)
        except (TypeError, ValueError):
            size = PAGE_SIZE
        return max(1, min(size, MAX_PAGE_SIZE))

    def _rpc(self, service: str, method: str, args: list, *, writing: bool = False, idempotent: bool = True):
        """One JSON-RPC call; the ``result``, or the Odoo error as a connector error.

        ``idempotent=False`` (a ``create``): never resent after a timeout or a dropped answer, since
        Odoo may have created the records already."""
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        response = self.client.request("POST", "/jsonrpc", json=payload, idempotent=idempotent)
        if response.status_code == 404:
            raise ConfigError(
                _(
                    "There is no Odoo JSON-RPC endpoint at this address (HTTP 404 on /jsonrpc): check the URL."
                ),
                status=404,
                reason="config",
                detail=remote_message(response),
            )
        if response.status_code >= 400:
            raise ConfigError(
                _("Odoo refused the request (HTTP %(status)s).") % {"status": response.status_code},
                status=response.status_code,
                reason="http",
                detail=remote_message(response),
            )
        body = decode_json(response)
        if not isinstance(body, dict) or ("result" not in body and not body.get("error")):
            raise TransientError(
                _("Odoo sent an answer that is not a JSON-RPC response."),
                status=response.status_code,
                reason="malformed",
                detail=response.text[:200],
            )
        if body.get("error"):
            raise odoo_error(body["error"], writing=writing)
        return body["result"]

    # --- authentication --------------------------------------------------------------------------

    def _fingerprint(self) -> str:
        raw = "\n".join((str(self.params.get("base_url") or ""), self.database, self.login, self.password))
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def _shared_uid(self, key: str) -> int | None:
        raw = get_shared(key)
        if not raw:
            return None
        try:
            cached = json.loads(raw)
        except ValueError:
            return None
        if isinstance(cached, dict) and cached.get("fp") == self._fingerprint():
            uid = cached.get("uid")
            if isinstance(uid, int) and not isinstance(uid, bool):
                return uid
        return None

    def _authenticate(self) -> int:
        uid = self._rpc("common", "authenticate", [self.database, self.login, self.password, {}])
        if uid is False or uid is None or uid == 0:
            raise AuthError(
                _(
                    "Odoo refused the login “%(login)s” with this password or API key on the database "
                    "“%(db)s”."
                )
                % {"login": self.login, "db": self.database},
                reason="auth",
            )
        if isinstance(uid, bool) or not isinstance(uid, int):
            raise TransientError(
                _("Odoo answered the login with something that is not a user id."),
                reason="malformed",
                detail=repr(uid)[:100],
            )
        return uid

    def _user_id(self, force: bool = False) -> int:
        """The uid: this instance's, else the one shared by every process, else a fresh login."""
        if not force and self._uid is not None:
            return self._uid
        system_id = self.settings.system_id
        if system_id is None:  # an unsaved system (connection test of a new form): nothing to share
            uid = self._authenticate()
        else:
            key = uid_key(system_id)
            uid = None if force else self._shared_uid(key)
            if uid is not None:
                self._uid, self._uid_fresh = uid, False
                return uid
            with lock(key, ttl=self.settings.timeout + 5):
                uid = None if force else self._shared_uid(key)
                if uid is not None:  # another process logged in while we waited
                    self._uid, self._uid_fresh = uid, False
                    return uid
                uid = self._authenticate()
                set_shared(key, json.dumps({"uid": uid, "fp": self._fingerprint()}), UID_TTL)
        self._uid, self._uid_fresh = uid, True
        return uid

    @property
    def transport(self) -> JsonRpcTransport | Json2Transport:
        """How this system is reached: the "API" parameter (JSON-RPC by default)."""
        if self._transport is None:
            kind = TRANSPORTS.get(str(self.params.get("api") or API_JSONRPC), JsonRpcTransport)
            self._transport = kind(self)
        return self._transport

    def _execute(self, model: str, method: str, args: list, kwargs: dict | None = None, *, writing=False):
        """One ORM method of ``model`` through the system's transport, arguments as ``execute_kw``
        takes them (positional ``args``, named ``kwargs``)."""
        return self.transport.execute(model, method, args, kwargs or {}, writing=writing)

    def _execute_kw(self, model: str, method: str, args: list, kwargs: dict, *, writing=False):
        """``execute_kw`` as the system's user; an ``AccessDenied`` on a cached uid logs in once more."""
        uid = self._user_id()
        try:
            return self._rpc(
                "object",
                "execute_kw",
                [self.database, uid, self.password, model, method, args, kwargs or {}],
                writing=writing,
                idempotent=method != "create",
            )
        except AuthError as exc:
            if exc.reason != "auth" or self._uid_fresh:
                raise
            if self.settings.system_id is not None:
                delete_shared(uid_key(self.settings.system_id))
            uid = self._user_id(force=True)
            return self._rpc(
                "object",
                "execute_kw",
                [self.database, uid, self.password, model, method, args, kwargs or {}],
                writing=writing,
                idempotent=method != "create",
            )

    def ping(self) -> None:
        """The cheapest call that proves the URL, database and credentials (see the transports)."""
        self.transport.ping()

    # --- helpers ---------------------------------------------------------------------------------

    def _spec(self, entity: str) -> Spec:
        try:
            return SPECS[entity]
        except KeyError:
            raise NotFound(_("This system has no entity “%(key)s”.") % {"key": entity}) from None

    def _fields(self, model: str) -> dict:
        """The model's fields (``fields_get``), once per model and connector instance."""
        if model not in self._field_info:
            info = self._execute(model, "fields_get", [], {"attributes": ["type", "string", "relation"]})
            if not isinstance(info, dict):
                raise TransientError(
                    _("Odoo sent an unreadable field list for %(model)s.") % {"model": model},
                    reason="malformed",
                )
            self._field_info[model] = info
        return self._field_info[model]

    def _present(self, model: str, wanted) -> list[str]:
        info = self._fields(model)
        return [name for name in wanted if name == "id" or name in info]

    def _search_read(self, model: str, domain: list, fields: list[str], **kwargs) -> list[dict]:
        options = {"fields": fields, "order": kwargs.pop("order", "id asc"), "context": READ_CONTEXT}
        options.update(kwargs)
        rows = self._execute(model, "search_read", [domain], options)
        if not isinstance(rows, list) or not all(isinstance(r, dict) and "id" in r for r in rows):
            raise TransientError(
                _("Odoo sent an unreadable list of %(model)s records.") % {"model": model},
                reason="malformed",
            )
        return rows

    def _values_by_id(self, model: str, ids, field: str) -> dict[int, object]:
        """``{id: field value}`` for some records of ``model``, by chunks of ids."""
        out: dict[int, object] = {}
        wanted = sorted({i for i in ids if isinstance(i, int) and not isinstance(i, bool)})
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            for row in self._search_read(model, [("id", "in", chunk)], [field]):
                out[row["id"]] = row.get(field)
        return out

    def _ids_by_value(self, model: str, field: str, values, *, ci: bool = False) -> dict[str, list[int]]:
        """``{value: [ids]}`` of the records of ``model`` whose ``field`` is one of ``values``.
        ``ci``: compare case-insensitively (e-mail addresses)."""
        wanted = sorted({str(v) for v in values if v not in (None, False, "")})
        out: dict[str, list[int]] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            rows = self._search_read(model, _match_domain(field, chunk, ci), [field])
            keys = {v.casefold() if ci else v for v in chunk}
            for row in rows:
                value = _text(row.get(field))
                if value is None:
                    continue
                key = value.casefold() if ci else value
                if key in keys:
                    out.setdefault(key, []).append(row["id"])
        return out

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        return list(ENTITIES)

    # --- read ------------------------------------------------------------------------------------

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        spec = self._spec(entity)
        size = self.page_size if not limit else max(1, min(self.page_size, int(limit)))
        base = list(spec.domain)
        if since:
            base.append(("write_date", ">=", odoo_datetime(since)))
        state = decode_cursor(cursor)
        fields = self._present(spec.model, spec.fields)
        total = None
        if limit is None:  # how many are left to read, for the run's progress (one cheap count)
            count = self._execute(spec.model, "search_count", [base + keyset_domain(state)])
            total = count if isinstance(count, int) and not isinstance(count, bool) else None
        returned = 0
        while True:
            rows = self._search_read(
                spec.model,
                base + keyset_domain(state),
                fields,
                order="write_date asc, id asc",
                limit=size + 1,
            )
            more = len(rows) > size
            rows = rows[:size]
            if limit is not None:
                rows = rows[: max(0, int(limit) - returned)]
            returned += len(rows)
            state = next_state(state, rows)
            has_more = more and (limit is None or returned < int(limit))
            yield Page(
                records=self._decorate(entity, rows),
                cursor=json.dumps(state, separators=(",", ":")) if state else None,
                has_more=has_more,
                total=total,
            )
            total = None  # said once, on the first page
            if not has_more:
                return

    def _decorate(self, entity: str, rows: list[dict]) -> list[dict]:
        """Add the convenience keys (one call per kind of reference and page, never per record)."""
        if not rows:
            return rows
        if entity == "stock":
            skus = self._values_by_id(
                "product.product", [_m2o_id(r.get("product_id")) for r in rows], "default_code"
            )
            for row in rows:
                row["sku"] = _text(skus.get(_m2o_id(row.get("product_id"))))
                location = row.get("location_id")
                row["location"] = location[1] if isinstance(location, list) and len(location) > 1 else None
        elif entity == "partners":
            self._add_country_codes(rows)
        elif entity == "sale_orders":
            self._add_lines(rows)
            emails = self._values_by_id("res.partner", [_m2o_id(r.get("partner_id")) for r in rows], "email")
            for row in rows:
                row["partner_email"] = _text(emails.get(_m2o_id(row.get("partner_id"))))
        return rows

    def _add_country_codes(self, rows: list[dict]) -> None:
        ids = {_m2o_id(r.get("country_id")) for r in rows} - {False} - set(self._country_codes)
        if ids:
            found = self._values_by_id("res.country", ids, "code")
            for country_id in ids:
                self._country_codes[country_id] = _text(found.get(country_id))
        for row in rows:
            row["country_code"] = self._country_codes.get(_m2o_id(row.get("country_id")))

    def _add_lines(self, orders: list[dict]) -> None:
        """Every line of this page of orders in one ``search_read`` (not one call per order)."""
        order_ids = [o["id"] for o in orders]
        fields = self._present(LINE_MODEL, LINE_FIELDS)
        lines: list[dict] = []
        for start in range(0, len(order_ids), CHUNK):
            lines.extend(
                self._search_read(LINE_MODEL, [("order_id", "in", order_ids[start : start + CHUNK])], fields)
            )
        skus = self._values_by_id(
            "product.product", [_m2o_id(li.get("product_id")) for li in lines], "default_code"
        )
        by_order: dict[int, list[dict]] = {}
        for line in lines:
            line["sku"] = _text(skus.get(_m2o_id(line.get("product_id"))))
            by_order.setdefault(_m2o_id(line.get("order_id")), []).append(line)
        for order in orders:
            mine = by_order.get(order["id"], [])
            position = {lid: n for n, lid in enumerate(order.get("order_line") or [])}
            mine.sort(key=lambda li, p=position: (p.get(li["id"], len(p)), li["id"]))
            order["lines"] = mine

    # --- fetch and lookup ------------------------------------------------------------------------

    def fetch(self, entity, ids):
        spec = self._spec(entity)
        wanted = []
        for record_id in ids:
            try:
                wanted.append(_as_id(record_id))
            except ValueError:
                continue  # not an Odoo id: no such record
        fields = self._present(spec.model, spec.fields)
        found: dict[int, dict] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            for row in self._search_read(spec.model, [("id", "in", chunk)], fields):
                found[row["id"]] = row
        records = [found[i] for i in dict.fromkeys(wanted) if i in found]
        return self._decorate(entity, records)

    def lookup(self, entity, field_name, values):
        spec = self._spec(entity)
        path, ci, convert = self._lookup_field(spec, field_name)
        wanted = []
        for value in values:
            if value in (None, False, ""):
                continue
            try:
                wanted.append(convert(value))
            except (TypeError, ValueError):
                continue
        wanted = list(dict.fromkeys(wanted))
        fields = self._present(spec.model, spec.fields)
        rows: dict[int, dict] = {}
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            domain = list(spec.domain) + _match_domain(path, chunk, ci)
            for row in self._search_read(spec.model, domain, fields):
                rows[row["id"]] = row
        records = self._decorate(entity, [rows[i] for i in sorted(rows)])
        keys = {str(v).casefold() if ci else str(v) for v in wanted}
        out = []
        for record in records:
            value = record.get(field_name)
            if isinstance(value, list) and value:
                value = value[0]  # a many2one: its id
            value = _text(value)
            if value is not None and (value.casefold() if ci else value) in keys:
                out.append(record)
        return out

    def _lookup_field(self, spec: Spec, field_name: str):
        """(domain path, case-insensitive?, value converter) to look records up by ``field_name``."""
        flat = {
            ("stock.quant", "sku"): "product_id.default_code",
            ("stock.quant", "location"): "location_id.complete_name",
            ("sale.order", "partner_email"): "partner_id.email",
            ("res.partner", "country_code"): "country_id.code",
        }
        if (spec.model, field_name) in flat:
            return flat[(spec.model, field_name)], field_name.endswith("email"), str
        if field_name == "id":
            return "id", False, _as_id
        info = self._fields(spec.model).get(field_name)
        if info is None:
            raise ConfigError(
                _("Odoo's %(model)s has no field “%(field)s” to look records up by.")
                % {"model": spec.model, "field": field_name},
                reason="config",
            )
        kind = info.get("type")
        if kind in ("integer", "many2one"):
            return field_name, False, _as_id
        if kind in ("float", "monetary"):
            return field_name, False, float
        return field_name, field_name == "email", str

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        spec = self._spec(entity)
        if Capability.WRITE not in self.entity(entity).capabilities:
            raise ConfigError(_("Odoo's %(entity)s cannot be written.") % {"entity": entity}, reason="config")
        mode = WriteMode(mode)
        results: list[WriteResult | None] = [None] * len(records)
        refs = self._resolve_references(entity, records)
        plans: list[tuple[int, int | None, dict, object]] = []  # (index, id, vals, natural key value)
        for index, record in enumerate(records):
            try:
                record_id, vals, key = self._prepare(entity, spec, record, refs)
            except RecordError as exc:
                results[index] = WriteResult.failed(exc)
                continue
            if mode == WriteMode.CREATE:
                record_id = None
            plans.append((index, record_id, vals, key))
        matches = self._match_natural_keys(entity, spec, [p for p in plans if p[1] is None], mode)
        creates: list[tuple[int, dict]] = []
        updates: list[tuple[int, int, dict]] = []
        for index, record_id, vals, key in plans:
            if record_id is None and mode != WriteMode.CREATE and key is not None:
                found = matches.get(key, [])
                if len(found) > 1:
                    results[index] = WriteResult.failed(
                        RecordError(
                            _(
                                "Several Odoo records match “%(key)s” (ids %(ids)s): resolve the duplicate first."
                            )
                            % {"key": key, "ids": ", ".join(map(str, found))}
                        )
                    )
                    continue
                record_id = found[0] if found else None
            if record_id is not None:
                updates.append((index, record_id, vals))
            elif mode == WriteMode.UPDATE:
                results[index] = WriteResult.failed(
                    RecordError(_("No Odoo record to update: the record has no id and its key matches none."))
                )
            else:
                creates.append((index, _create_vals(vals)))
        state = {"wrote": False}
        try:
            self._create(spec.model, creates, results, state)
            for index, record_id, vals in updates:
                results[index] = self._update(entity, spec.model, record_id, vals, state)
        except ConnectorError as exc:  # record errors never get here: they are results
            if not state["wrote"]:
                raise  # nothing went through: the whole batch failed
            # Some records are written already: report them, and the rest as failed with the cause.
            for index, result in enumerate(results):
                if result is None:
                    results[index] = WriteResult.failed(exc)
        return results  # type: ignore[return-value]

    def _create(self, model, creates, results, state) -> None:
        """One ``create`` for all; when Odoo refuses a record (atomically), one call per record."""
        if not creates:
            return
        if len(creates) > 1:
            try:
                ids = self._execute(model, "create", [[vals for _index, vals in creates]], writing=True)
            except RecordError:
                ids = None
            if ids is not None:
                if not isinstance(ids, list) or len(ids) != len(creates):
                    raise TransientError(
                        _("Odoo answered a create without one id per record."),
                        reason="malformed",
                        detail=repr(ids)[:200],
                    )
                state["wrote"] = True
                for (index, _vals), new_id in zip(creates, ids, strict=True):
                    results[index] = WriteResult(ok=True, target_id=str(new_id), action="created")
                return
        for index, vals in creates:
            try:
                new_id = self._execute(model, "create", [vals], writing=True)
            except RecordError as exc:
                results[index] = WriteResult.failed(exc)
                continue
            if isinstance(new_id, list) and len(new_id) == 1:
                new_id = new_id[0]
            state["wrote"] = True
            results[index] = WriteResult(ok=True, target_id=str(new_id), action="created")

    def _update(self, entity, model, record_id, vals, state) -> WriteResult:
        vals = {k: v for k, v in vals.items() if k != "_lines"}  # lines are only sent on create
        if entity == "stock":  # a quant's product and location are what identify it, not values
            vals.pop("product_id", None)
            vals.pop("location_id", None)
        if not vals:
            return WriteResult(ok=True, target_id=str(record_id), action="unchanged")
        try:
            self._execute(model, "write", [[record_id], vals], writing=True)
        except RecordError as exc:
            return WriteResult.failed(exc)
        state["wrote"] = True
        return WriteResult(ok=True, target_id=str(record_id), action="updated")

    def _prepare(self, entity: str, spec: Spec, record: dict, refs: dict):
        """(id or None, values for Odoo, natural key value) of one record; ``RecordError`` when it
        cannot be written as it is."""
        if not isinstance(record, dict):
            raise RecordError(_("A record must be a JSON object."))
        record_id = record.get("id")
        if record_id in (None, False, ""):
            record_id = None
        else:
            try:
                record_id = _as_id(record_id)
            except ValueError:
                raise RecordError(_("“%(id)s” is not an Odoo record id.") % {"id": record_id}) from None
        info = self._fields(spec.model)
        vals = self._plain_vals(spec.model, record, info, skip=spec.computed | spec.convenience)
        if entity == "stock":
            if not vals.get("product_id") and record.get("sku"):
                vals["product_id"] = refs["product"](record["sku"])
            if not vals.get("location_id") and record.get("location"):
                vals["location_id"] = refs["location"](record["location"])
            key = (vals.get("product_id"), vals.get("location_id"))
            key = key if all(key) else None
        elif entity == "partners":
            if "country_id" not in vals and record.get("country_code"):
                vals["country_id"] = refs["country"](record["country_code"])
            key = _text(vals.get("email"))
            key = key.casefold() if key else None
        elif entity == "sale_orders":
            if not vals.get("partner_id") and record.get("partner_email"):
                vals["partner_id"] = refs["partner"](record["partner_email"])
            lines = record.get("lines")
            if isinstance(lines, list) and lines and "order_line" not in vals:
                line_info = self._fields(LINE_MODEL)
                prepared = []
                for line in lines:
                    if not isinstance(line, dict):
                        raise RecordError(_("An order line must be a JSON object."))
                    line_vals = self._plain_vals(LINE_MODEL, line, line_info, skip=LINE_COMPUTED | {"sku"})
                    if not line_vals.get("product_id") and line.get("sku"):
                        line_vals["product_id"] = refs["product"](line["sku"])
                    prepared.append(line_vals)
                vals["_lines"] = prepared
            key = _text(vals.get("client_order_ref"))
        else:
            key = _text(vals.get(spec.natural_key))
        return record_id, vals, key

    def _plain_vals(self, model: str, record: dict, info: dict, *, skip) -> dict:
        vals = {}
        for name, value in record.items():
            if name in META_FIELDS or name in skip:
                continue
            field = info.get(name)
            if field is None:
                raise RecordError(
                    _("Odoo's %(model)s has no field “%(field)s”.") % {"model": model, "field": name}
                )
            kind = field.get("type")
            if kind == "many2one":
                value = _m2o_id(value)
            elif kind in ("one2many", "many2many") and _is_id_list(value):
                if kind == "one2many":
                    continue  # the ids as read: not a change
                value = [[6, 0, value]]  # many2many: set exactly these
            vals[name] = value
        return vals

    def _resolve_references(self, entity: str, records: list) -> dict:
        """Resolvers for the convenience keys of this batch, each filled by one lookup call."""
        dicts = [r for r in records if isinstance(r, dict)]
        refs = {}

        def resolver(kind, mapping, message, *, ci=False):
            def resolve(value):
                found = mapping.get(str(value).casefold() if ci else str(value), [])
                if len(found) == 1:
                    return found[0]
                if not found:
                    raise RecordError(message % {"value": value})
                raise RecordError(
                    _("Several Odoo records match “%(value)s” (%(kind)s ids %(ids)s).")
                    % {"value": value, "kind": kind, "ids": ", ".join(map(str, found))}
                )

            return resolve

        if entity in ("stock", "sale_orders"):
            skus = [r.get("sku") for r in dicts if not r.get("product_id")]
            if entity == "sale_orders":
                for record in dicts:
                    lines = record.get("lines")
                    for line in lines if isinstance(lines, list) else []:
                        if isinstance(line, dict) and not line.get("product_id"):
                            skus.append(line.get("sku"))
            products = self._ids_by_value("product.product", "default_code", skus) if any(skus) else {}
            refs["product"] = resolver("product", products, _("No Odoo product has the SKU “%(value)s”."))
        if entity == "stock":
            names = [r.get("location") for r in dicts if not r.get("location_id")]
            locations = self._ids_by_value("stock.location", "complete_name", names) if any(names) else {}
            refs["location"] = resolver(
                "location", locations, _("No Odoo stock location is named “%(value)s”.")
            )
        if entity == "partners":
            codes = [r.get("country_code") for r in dicts if "country_id" not in r]
            countries = self._ids_by_value("res.country", "code", codes, ci=True) if any(codes) else {}
            refs["country"] = resolver(
                "country", countries, _("No Odoo country has the code “%(value)s”."), ci=True
            )
        if entity == "sale_orders":
            emails = [r.get("partner_email") for r in dicts if not r.get("partner_id")]
            partners = self._ids_by_value("res.partner", "email", emails, ci=True) if any(emails) else {}
            refs["partner"] = resolver(
                "contact", partners, _("No Odoo contact has the e-mail “%(value)s”."), ci=True
            )
        return refs

    def _match_natural_keys(self, entity, spec, plans, mode) -> dict:
        """``{natural key: [ids]}`` for the records to upsert without an id (one call per batch)."""
        keys = [p[3] for p in plans if p[3] is not None]
        if mode == WriteMode.CREATE or not keys:
            return {}
        if entity == "stock":
            products = sorted({k[0] for k in keys})
            locations = sorted({k[1] for k in keys})
            rows = self._search_read(
                spec.model,
                [("product_id", "in", products), ("location_id", "in", locations)],
                ["product_id", "location_id"],
            )
            out: dict = {}
            for row in rows:
                key = (_m2o_id(row.get("product_id")), _m2o_id(row.get("location_id")))
                out.setdefault(key, []).append(row["id"])
            return out
        return self._ids_by_value(spec.model, spec.natural_key, keys, ci=entity == "partners")

    # --- delete ----------------------------------------------------------------------------------

    def delete(self, entity, ids):
        spec = self._spec(entity)
        if Capability.DELETE not in self.entity(entity).capabilities:
            raise ConfigError(
                _("Odoo's %(entity)s cannot be deleted through the hub.") % {"entity": entity},
                reason="config",
            )
        results: list[WriteResult | None] = [None] * len(ids)
        wanted: list[tuple[int, int]] = []
        for index, record_id in enumerate(ids):
            try:
                wanted.append((index, _as_id(record_id)))
            except ValueError:
                results[index] = WriteResult.failed(
                    RecordError(_("“%(id)s” is not an Odoo record id.") % {"id": record_id})
                )
        existing: set[int] = set()
        numbers = sorted({i for _index, i in wanted})
        for start in range(0, len(numbers), CHUNK):
            found = self._execute(
                spec.model,
                "search",
                [[("id", "in", numbers[start : start + CHUNK])]],
                {"context": READ_CONTEXT},
            )
            existing.update(i for i in found or [] if isinstance(i, int))
        to_delete = [(index, i) for index, i in wanted if i in existing]
        for index, i in wanted:
            if i not in existing:  # already gone: the goal is reached
                results[index] = WriteResult(ok=True, target_id=str(i), action="deleted")
        if to_delete:
            try:
                self._execute(spec.model, "unlink", [sorted({i for _index, i in to_delete})], writing=True)
            except RecordError as exc:
                if len(to_delete) == 1:
                    results[to_delete[0][0]] = WriteResult.failed(exc)
                else:  # the unlink was atomic: nothing is deleted; find the refused ones one by one
                    for index, i in to_delete:
                        results[index] = self._unlink_one(spec.model, i)
            else:
                for index, i in to_delete:
                    results[index] = WriteResult(ok=True, target_id=str(i), action="deleted")
        return results  # type: ignore[return-value]

    # --- GDPR ----------------------------------------------------------------------------------

    def erase_subject(self, entity, record_id, *, strategy, mask=None) -> WriteResult:
        """The contract's erasure; a mask only writes the fields this server's model has (``vat``
        comes with the accounting apps, for instance)."""
        if strategy == "mask" and entity in SPECS:
            try:
                declared = self.subject_entity(entity)
            except NotFound:
                declared = None
            if declared is not None:
                info = self._fields(self._spec(entity).model)
                values = declared.mask if mask is None else mask
                mask = {k: v for k, v in values.items() if k.split(".")[0] in info}
        return super().erase_subject(entity, record_id, strategy=strategy, mask=mask)

    def _unlink_one(self, model: str, record_id: int) -> WriteResult:
        try:
            self._execute(model, "unlink", [[record_id]], writing=True)
        except RecordError as exc:
            return WriteResult.failed(exc)
        return WriteResult(ok=True, target_id=str(record_id), action="deleted")


def _create_vals(vals: dict) -> dict:
    """Values for ``create``: prepared order lines become ``(0, 0, values)`` commands."""
    out = {k: v for k, v in vals.items() if k != "_lines"}
    if vals.get("_lines"):
        out["order_line"] = [[0, 0, line] for line in vals["_lines"]]
    return out


def _is_id_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


def _match_domain(path: str, values: list, ci: bool) -> list:
    """``path in values``, or for case-insensitive matches an OR of ``=ilike`` leaves (wildcards in
    the values only widen the match; callers compare exactly afterwards)."""
    if not ci:
        return [(path, "in", list(values))]
    leaves = [(path, "=ilike", str(v)) for v in values]
    return ["|"] * (len(leaves) - 1) + leaves
