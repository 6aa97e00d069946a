"""One-click templates ("blueprints") for the classic flows of a merchant: catalog, stock, orders,
customers and marketing consent between the four demo systems (slugs ``pim``, ``shop``, ``erp``,
``crm``; see ``flows.demo``).

Each blueprint holds a complete designer definition (``flows.designer``), pre-mapped for the shapes
of the sandbox systems and created disabled. Its texts (name, description, purpose) are lazy
translations: ``definition_for(key)`` gives the plain JSON definition to validate, preview or save,
in the active language. ``create_from_blueprint`` saves one as a new flow (version 1);
``ensure_demo_flows`` creates the missing ones for the demo (idempotent).

What the transforms cannot express, the templates leave out (and their descriptions say so): the
ERP's *available* stock (quantity minus reserved quantity: no transform subtracts one field from
another) and the lines of an order (no transform rebuilds a list of objects item by item).
"""

from __future__ import annotations

import copy
import logging

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from flows import designer
from flows.choices import CRITICALITY_DEFAULTS, PersonalData
from flows.models import Flow, System, ValueMap

logger = logging.getLogger(__name__)

# The shared value map of the stock template: the ERP's stock locations (full names) → the shop's MSI
# source codes. Created with the flow when missing; an admin's later edits are kept.
LOCATION_MAP = "erp-locations-to-shop-sources"
LOCATION_MAP_DEFINITION = {
    "name": LOCATION_MAP,
    "description": _(
        "The ERP's stock locations (full names) and the shop's inventory sources they feed. Add a line "
        "for each new warehouse: stock of a location not listed here is held back for triage."
    ),
    "entries": {"LIL/Stock": "lille", "LYO/Stock": "lyon", "PAR/Stock": "paris"},
    "default": "",
    "unmatched": "error",
}

COUNTRY_NAMES = {
    "BE": "Belgium",
    "CH": "Switzerland",
    "DE": "Germany",
    "ES": "Spain",
    "FR": "France",
    "GB": "United Kingdom",
    "IT": "Italy",
    "LU": "Luxembourg",
    "NL": "Netherlands",
    "US": "United States",
}

# The shop's default billing address, or its first address when none is marked.
_ADDRESS = "addresses[default_billing=true]"


def _m(target: str, source: str = "", transforms: list | None = None, personal: str = "") -> dict:
    return {"target": target, "source": source, "transforms": transforms or [], "personal": personal}


def _from_address(field: str) -> list[dict]:
    """Steps that fall back to the first address when no address is the default billing one."""
    return [{"op": "first_non_empty", "paths": [f"addresses[0].{field}"]}]


def _sla(criticality: str) -> int:
    return CRITICALITY_DEFAULTS[criticality]["sla"]


CATALOG = {
    "key": "catalog",
    "title": _("Catalog: PIM → shop"),
    "summary": _(
        "Every hour, the enabled products of the PIM become shop products: SKU, French name, euro "
        "price, weight and status."
    ),
    "definition": {
        "description": _(
            "Enabled PIM products are created or updated in the shop, matched by SKU. Name in French "
            "(English when there is none), price in euros, weight in kilograms. New products get the "
            "default attribute set (4), the simple type and full visibility (catalog and search)."
        ),
        "tags": ["template", "catalog"],
        "source_system": "pim",
        "source_entity": "products",
        "target_system": "shop",
        "target_entity": "products",
        "trigger": "interval",
        "interval_minutes": 60,
        "criticality": "high",
        "freshness_sla_minutes": 120,
        "sync_mode": "full",
        "cursor_field": "",
        "match_strategy": "natural_key",
        "source_key": "identifier",
        "target_key": "sku",
        "write_mode": "upsert",
        "filters": [{"path": "enabled", "op": "equals", "value": True}],
        "quality_rules": [
            {"kind": "required", "field": "sku"},
            {"kind": "required", "field": "name"},
            {"kind": "range", "field": "price", "params": {"min": 0}},
        ],
        "mappings": [
            _m("sku", "identifier", [{"op": "trim"}]),
            _m(
                "name",
                "values.name[locale=fr_FR].data",
                [{"op": "first_non_empty", "paths": ["values.name[locale=en_US].data"]}, {"op": "trim"}],
            ),
            _m(
                "price",
                "values.price[locale=null].data[currency=EUR].amount",
                [{"op": "to_decimal", "places": 2}],
            ),
            _m(
                "status", "enabled", [{"op": "map", "mapping": {"true": "1", "false": "2"}}, {"op": "to_int"}]
            ),
            _m("type_id", "", [{"op": "default", "value": "simple"}]),
            _m("visibility", "", [{"op": "default", "value": "4"}, {"op": "to_int"}]),
            _m("attribute_set_id", "", [{"op": "default", "value": "4"}, {"op": "to_int"}]),
            _m("weight", "values.weight[locale=null].data.amount", [{"op": "to_decimal", "places": 3}]),
        ],
        "purpose": "",
    },
}

# quantity > 0 → 1 (in stock), else 0: the first significant digit of the quantity, if it is positive.
_IN_STOCK = [
    {"op": "regex_extract", "pattern": r"^[0.]*([1-9])", "group": 1},
    {"op": "default", "value": "0"},
    {"op": "map", "mapping": {"0": "0", **{str(digit): "1" for digit in range(1, 10)}}},
    {"op": "to_int"},
]

STOCK = {
    "key": "stock",
    "title": _("Stock: ERP → shop"),
    "summary": _(
        "Every minute, the quantities of the ERP's warehouses become the shop's stock per source, "
        "in stock or out of stock."
    ),
    "definition": {
        "description": _(
            "Changed ERP stock quants update the shop's inventory source items (MSI), matched by SKU. "
            "Each warehouse feeds its own source through the value map “erp-locations-to-shop-sources”. "
            "The quantity sent is the quantity on hand (reserved quantities are not subtracted); a "
            "positive quantity is in stock. The products must exist in the shop already (see the "
            "catalog flow)."
        ),
        "tags": ["template", "stock"],
        "source_system": "erp",
        "source_entity": "stock",
        "target_system": "shop",
        "target_entity": "source_items",
        "trigger": "interval",
        "interval_minutes": 1,
        "criticality": "critical",
        "freshness_sla_minutes": 5,
        "sync_mode": "incremental",
        "cursor_field": "write_date",
        "match_strategy": "natural_key",
        "source_key": "sku",
        "target_key": "sku",
        "write_mode": "upsert",
        "filters": [],
        "quality_rules": [{"kind": "required", "field": "sku"}],
        "mappings": [
            _m("sku", "sku", [{"op": "trim"}]),
            _m("source_code", "location", [{"op": "value_map", "map": LOCATION_MAP}]),
            _m("quantity", "quantity"),
            _m("status", "quantity", copy.deepcopy(_IN_STOCK)),
        ],
        "value_maps": {LOCATION_MAP: LOCATION_MAP_DEFINITION},
        "purpose": "",
    },
}

ORDERS = {
    "key": "orders",
    "title": _("Orders: shop → ERP"),
    "summary": _(
        "Every 5 minutes (or on the shop's order webhook, once it is turned on), new and changed shop "
        "orders become ERP sales orders for fulfilment."
    ),
    "definition": {
        "description": _(
            "Shop orders (cancelled ones left out) are created in the ERP, matched by the shop's order "
            "number (customer reference), for the ERP contact with the customer's e-mail. The order "
            "lines are not mapped: the transforms cannot rebuild the list of shop items as ERP lines."
        ),
        "tags": ["template", "orders"],
        "source_system": "shop",
        "source_entity": "orders",
        "target_system": "erp",
        "target_entity": "sale_orders",
        "trigger": "interval",
        "interval_minutes": 5,
        "criticality": "high",
        "freshness_sla_minutes": _sla("high"),
        "sync_mode": "incremental",
        "cursor_field": "updated_at",
        "match_strategy": "natural_key",
        "source_key": "increment_id",
        "target_key": "client_order_ref",
        "write_mode": "upsert",
        "filters": [{"path": "state", "op": "not_equals", "value": "canceled"}],
        "quality_rules": [
            {"kind": "required", "field": "client_order_ref"},
            {"kind": "required", "field": "partner_email"},
        ],
        "mappings": [
            _m("client_order_ref", "increment_id", [{"op": "trim"}]),
            _m("partner_email", "customer_email", [{"op": "trim"}, {"op": "lower"}], PersonalData.EMAIL),
            _m(
                "date_order",
                "created_at",
                [
                    {"op": "parse_date", "timezone": "UTC"},
                    {"op": "format_date", "format": "%Y-%m-%d %H:%M:%S", "timezone": "UTC"},
                ],
            ),
            _m("amount_total", "grand_total", [{"op": "to_decimal", "places": 2}]),
        ],
        "purpose": _("Order fulfilment: the ERP invoices and ships the orders placed in the shop."),
    },
}

CUSTOMERS = {
    "key": "customers",
    "title": _("Customers: shop → CRM"),
    "summary": _(
        "Every 15 minutes, new and changed shop customer accounts become CRM contacts: name, e-mail, "
        "phone and address."
    ),
    "definition": {
        "description": _(
            "Shop customers are created or updated as CRM contacts, matched by e-mail (lower case). "
            "Phone and address come from the default billing address (else the first one); the "
            "country code is written as the country's name, as the CRM keeps it."
        ),
        "tags": ["template", "customers"],
        "source_system": "shop",
        "source_entity": "customers",
        "target_system": "crm",
        "target_entity": "contacts",
        "trigger": "interval",
        "interval_minutes": 15,
        "criticality": "normal",
        "freshness_sla_minutes": _sla("normal"),
        "sync_mode": "incremental",
        "cursor_field": "updated_at",
        "match_strategy": "natural_key",
        "source_key": "email",
        "target_key": "properties.email",
        "write_mode": "upsert",
        "filters": [],
        "quality_rules": [{"kind": "required", "field": "properties.email"}],
        "mappings": [
            _m("properties.email", "email", [{"op": "trim"}, {"op": "lower"}], PersonalData.EMAIL),
            _m("properties.firstname", "firstname", [{"op": "trim"}], PersonalData.NAME),
            _m("properties.lastname", "lastname", [{"op": "trim"}], PersonalData.NAME),
            _m(
                "properties.phone",
                f"{_ADDRESS}.telephone",
                [*_from_address("telephone"), {"op": "trim"}],
                PersonalData.PHONE,
            ),
            _m(
                "properties.address",
                f"{_ADDRESS}.street",
                [*_from_address("street"), {"op": "join", "separator": ", "}],
                PersonalData.ADDRESS,
            ),
            _m("properties.city", f"{_ADDRESS}.city", _from_address("city"), PersonalData.ADDRESS),
            _m("properties.zip", f"{_ADDRESS}.postcode", _from_address("postcode"), PersonalData.ADDRESS),
            _m(
                "properties.country",
                f"{_ADDRESS}.country_id",
                [*_from_address("country_id"), {"op": "map", "mapping": COUNTRY_NAMES, "missing": "keep"}],
                PersonalData.ADDRESS,
            ),
        ],
        "purpose": _("Customer service: the CRM knows the shop's customers and how to reach them."),
    },
}

CONSENT = {
    "key": "consent",
    "title": _("Marketing consent: CRM → shop"),
    "summary": _(
        "Every 15 minutes, the contacts who unsubscribed from all e-mail in the CRM are taken off the "
        "shop's newsletter."
    ),
    "definition": {
        "description": _(
            "A CRM contact whose “Unsubscribed from all email” (hs_email_optout) is true is unsubscribed "
            "from the shop's newsletter, matched by e-mail; shop customers are never created. Only "
            "opt-outs are sent: a contact who has not opted out has not consented either, so nobody is "
            "subscribed by this flow."
        ),
        "tags": ["template", "consent"],
        "source_system": "crm",
        "source_entity": "contacts",
        "target_system": "shop",
        "target_entity": "customers",
        "trigger": "interval",
        "interval_minutes": 15,
        "criticality": "high",
        "freshness_sla_minutes": _sla("high"),
        "sync_mode": "incremental",
        "cursor_field": "properties.lastmodifieddate",
        "match_strategy": "natural_key",
        "source_key": "properties.email",
        "target_key": "email",
        "write_mode": "update",
        "filters": [{"path": "properties.hs_email_optout", "op": "equals", "value": "true"}],
        "quality_rules": [{"kind": "required", "field": "email"}],
        "mappings": [
            _m("email", "properties.email", [{"op": "trim"}, {"op": "lower"}], PersonalData.EMAIL),
            _m(
                "extension_attributes.is_subscribed",
                "properties.hs_email_optout",
                # Opted out ("true") → not subscribed; the reverse, should the filter be removed.
                [{"op": "bool_map", "true_values": ["false"], "false_values": ["true"]}],
            ),
        ],
        "purpose": _(
            "Direct marketing with consent: an opt-out recorded in the CRM is honoured by the shop."
        ),
    },
}

# The templates, in the order the console shows them.
BLUEPRINTS: list[dict] = [CATALOG, STOCK, ORDERS, CUSTOMERS, CONSENT]

for _blueprint in BLUEPRINTS:
    _blueprint["definition"] = {
        "name": _blueprint["title"],
        "owner": None,
        "after_flow": None,
        "cron": "",
        "webhook_topic": "",
        "enabled": False,
        **_blueprint["definition"],
    }
del _blueprint


# --- reading ------------------------------------------------------------------------------------------


def get_blueprint(key: str) -> dict:
    """The blueprint ``key``; ``DefinitionError`` (on ``blueprint``) when there is none."""
    for blueprint in BLUEPRINTS:
        if blueprint["key"] == key:
            return blueprint
    raise designer.DefinitionError({"blueprint": str(_("There is no template “%(key)s”.") % {"key": key})})


def _plain(value):
    """``value`` with every lazy translation turned into text (in the active language)."""
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return copy.deepcopy(value)


def definition_for(key: str, *, name: str | None = None) -> dict:
    """The blueprint's definition as plain JSON (a fresh copy), named ``name`` or its title."""
    data = _plain(get_blueprint(key)["definition"])
    if name is not None:
        data["name"] = name
    return data


def systems_of(blueprint: dict) -> list[str]:
    definition = blueprint["definition"]
    return list(dict.fromkeys([definition["source_system"], definition["target_system"]]))


def _missing(blueprint: dict, existing: set[str]) -> list[str]:
    return [slug for slug in systems_of(blueprint) if slug not in existing]


def _existing_slugs(blueprints: list[dict], user=None) -> set[str]:
    """The blueprints' system slugs that exist (and that ``user``, when given, may see)."""
    wanted = {slug for blueprint in blueprints for slug in systems_of(blueprint)}
    systems = System.objects.filter(slug__in=wanted)
    if user is not None:
        from integration_hub.permissions import restrict

        systems = restrict(systems, user, "view")
    return set(systems.values_list("slug", flat=True))


def available_blueprints(user=None) -> list[dict]:
    """Every blueprint with ``ready`` (both its systems exist and ``user`` may see them) and the
    ``missing`` system slugs."""
    existing = _existing_slugs(BLUEPRINTS, user)
    out = []
    for blueprint in BLUEPRINTS:
        missing = _missing(blueprint, existing)
        out.append({**blueprint, "ready": not missing, "missing": missing})
    return out


# --- creating -----------------------------------------------------------------------------------------


def _free_name(base: str) -> str:
    name, n = base, 2
    while Flow.objects.filter(name=name).exists():
        name, n = f"{base} {n}", n + 1
    return name


def _ensure_value_maps(data: dict, author=None) -> None:
    """Create the shared value maps the definition embeds and the hub lacks (existing ones are kept);
    ``author``, when given, must be allowed to add value maps for that."""
    for map_name, embedded in (data.get("value_maps") or {}).items():
        if map_name not in designer.value_maps_used(data.get("mappings") or []):
            continue
        if author is not None and not ValueMap.objects.filter(name=map_name).exists():
            from integration_hub.permissions import has_global_permission

            if not has_global_permission(author, ValueMap, "add"):
                raise designer.DefinitionError(
                    {
                        "value_maps": str(
                            _("This template needs the value map “%(name)s”; you may not create it.")
                            % {"name": map_name}
                        )
                    }
                )
        ValueMap.objects.get_or_create(
            name=map_name,
            defaults={
                "description": embedded.get("description", ""),
                "entries": dict(embedded.get("entries") or {}),
                "default": embedded.get("default", ""),
                "unmatched": embedded.get("unmatched", "error"),
            },
        )


@transaction.atomic
def create_from_blueprint(key: str, *, author=None, name: str | None = None) -> Flow:
    """A new, disabled flow from the blueprint ``key``, at version 1.

    Named ``name``, else the blueprint's title (" 2", " 3"… added while taken). ``author`` signs the
    version and owns the flow. Raises ``designer.DefinitionError`` when the definition does not hold
    here, e.g. on ``source_system``/``target_system`` when a demo system is missing; nothing is saved
    then (not even the value map the blueprint would have created).
    """
    blueprint = get_blueprint(key)
    title = str(blueprint["title"])
    data = definition_for(key, name=name if name is not None else _free_name(title))
    person = author if getattr(author, "pk", None) is not None else None
    if person is not None:
        data["owner"] = person.get_username()
        visible = _existing_slugs([blueprint], person)
        for side in ("source_system", "target_system"):
            if data[side] not in visible:
                raise designer.DefinitionError(
                    {side: str(_("There is no system “%(slug)s” you may see.") % {"slug": data[side]})}
                )
    _ensure_value_maps(data, person)
    data.pop("value_maps", None)  # the hub's maps now: a version embeds them as they are there
    return designer.save_flow(
        data,
        author=author if getattr(author, "pk", None) is not None else None,
        comment=str(_("From the template “%(title)s”") % {"title": title}),
    )


def ensure_demo_flows(owner=None) -> list[Flow]:
    """Create, disabled, every blueprint whose flow (by its title) does not exist yet and whose systems
    do; the flows created. Idempotent: ``make run`` calls it on every start."""
    existing = _existing_slugs(BLUEPRINTS)
    created = []
    for blueprint in BLUEPRINTS:
        name = str(blueprint["title"])
        if _missing(blueprint, existing) or Flow.objects.filter(name=name).exists():
            continue
        try:
            created.append(create_from_blueprint(blueprint["key"], author=owner, name=name))
        except designer.DefinitionError as exc:  # a demo system an admin changed: skip, say why
            logger.warning("Demo flow %r not created: %s", name, exc)
    return created
