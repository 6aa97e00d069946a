"""HubSpot CRM v3: contacts, companies, deals and products, through a private app's access token.

Records keep HubSpot's own shape — ``{"id", "properties": {...}, "createdAt", "updatedAt",
"archived"}`` — so field names are dotted paths (``properties.email``); no flat copies are added.

Every entity is an object type with the same endpoints under ``/crm/v3/objects/{entity}``; they differ
in their properties (declared with types and labels per type, refined by discovery; the properties
read are a form field per type), their modified-date property and the unique property upserts match
records by:

=========  ======================  ============================================================
entity     modified date           upsert ``idProperty``
=========  ======================  ============================================================
contacts   ``lastmodifieddate``    ``email`` (fixed; GDPR subject entity)
companies  ``hs_lastmodifieddate``  ``domain`` (form field ``company_id_property``)
deals      ``hs_lastmodifieddate``  ``hub_ref`` (form field ``deal_id_property``)
products   ``hs_lastmodifieddate``  ``hs_sku`` (form field ``product_id_property``)
=========  ======================  ============================================================

HubSpot's batch upsert by ``idProperty`` needs a property "with unique values". Deals have no natural
one: the default is a custom unique property ``hub_ref`` that the portal declares (the hub stamps its
reference there — the entity's ``reference_field`` — so a create is never repeated after a crash).
``domain`` and ``hs_sku`` are HubSpot default properties the portal must use as unique ones (or name
its own custom unique property in the form). With the form field left blank an entity has no
natural key: an upsert updates the records that carry an ``id`` (``batch/update``) and creates the
others (``batch/create``).

On the wire (contacts shown; the other types alike):

- full read: ``GET ?limit=100&properties=…&after=…``, following ``paging.next.after`` (ordered by id);
- incremental read (``since``): ``POST /search`` with ``lastmodifieddate GT <epoch ms>``, sorted
  ascending by ``lastmodifieddate``, paged with ``after``. HubSpot's search pages through at most
  10,000 results of one query (400 beyond); when a query reaches that cap the read restarts with a
  new query ``lastmodifieddate GTE <the last seen value>`` and skips the contacts it already returned
  at exactly that millisecond, so no contact is lost or repeated at the seam (should more contacts
  than the cap share one millisecond, that millisecond is drained by ``hs_object_id`` —
  ``lastmodifieddate EQ t`` and ``hs_object_id GT <last id>``, sorted by id — before going on);
- fetch: ``POST /batch/read`` (≤ 100 ids a call); lookup by the unique property (email):
  ``POST /batch/read`` with ``idProperty``; lookup by another property: ``POST /search`` with an
  ``IN`` filter;
- write (upsert): ``POST /batch/upsert`` with ``idProperty=email``, ≤ 100 inputs and one input per
  email a call; a 207 multi-status maps each of its ``errors`` back to its input by email. A batch
  HubSpot refuses as a whole (400) is split in halves until the bad record stands alone, so one
  bad record never fails the others. Create: ``POST /batch/create`` of the emails not yet known;
  update: ``POST /batch/update`` by id (or by email);
- delete: ``DELETE /{id}`` (HubSpot archives the record; restorable for 90 days);
- GDPR (the ``Connector`` contract, contacts only): ``find_subject`` (batch/read by email, search
  by phone), ``erase_subject`` with strategy ``vendor`` (``POST /gdpr-delete``: the contact is gone
  for good, history included, and its email is blocklisted) and ``export_subject`` (batch/read).

Rate limits: 429 (with or without ``Retry-After``) is retried by the ``HubClient``. Each answer's
``X-HubSpot-RateLimit-Remaining`` (the app's 10-second window) and
``X-HubSpot-RateLimit-Secondly-Remaining`` are read too: when one reaches 0 the next call waits for
``X-HubSpot-RateLimit-Interval-Milliseconds`` (or one second) instead of spending a request on a 429.
That pause is per connector instance: every process sees the same counters in its own answers.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
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
)
from flows.connectors.discovery import guess_personal
from flows.connectors.errors import AuthError, ConfigError, NotFound, RecordError, TransientError
from flows.connectors.http import HubClient, decode_json, remote_message
from flows.connectors.registry import register_connector

DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "address",
    "city",
    "zip",
    "country",
    "hs_email_optout",
    "lastmodifieddate",
)
CONTACTS = "/crm/v3/objects/contacts"
# HubSpot sets these itself: a record read from HubSpot may carry them, a write may not.
# ``hs_email_optout`` changes only through HubSpot's subscription preferences (the contacts API refuses it).
READ_ONLY_PROPERTIES = frozenset({"hs_object_id", "createdate", "lastmodifieddate", "hs_email_optout"})
# Top-level keys of a HubSpot record; the rest of a flat record is taken as properties.
RECORD_KEYS = frozenset({"id", "properties", "createdAt", "updatedAt", "archived", "archivedAt"})
_PROPERTY_NAME = re.compile(r"^[a-z0-9_]+$")
_EMBEDDED_ERRORS = re.compile(r"^(?P<head>[^\[]*?):\s*(?P<list>\[.*\])\s*$", re.S)

# name → (type, label, personal category)
KNOWN_PROPERTIES = {
    "email": ("string", gettext_lazy("Email"), "email"),
    "firstname": ("string", gettext_lazy("First name"), "name"),
    "lastname": ("string", gettext_lazy("Last name"), "name"),
    "phone": ("string", gettext_lazy("Phone number"), "phone"),
    "mobilephone": ("string", gettext_lazy("Mobile phone number"), "phone"),
    "company": ("string", gettext_lazy("Company name"), ""),
    "address": ("string", gettext_lazy("Street address"), "address"),
    "city": ("string", gettext_lazy("City"), "address"),
    "zip": ("string", gettext_lazy("Postal code"), "address"),
    "state": ("string", gettext_lazy("State/Region"), "address"),
    "country": ("string", gettext_lazy("Country/Region"), "address"),
    "date_of_birth": ("date", gettext_lazy("Date of birth"), "birthdate"),
    "jobtitle": ("string", gettext_lazy("Job title"), ""),
    "website": ("string", gettext_lazy("Website URL"), ""),
    "lifecyclestage": ("string", gettext_lazy("Lifecycle stage"), ""),
    "hs_language": ("string", gettext_lazy("Preferred language"), ""),
    "hs_lead_status": ("string", gettext_lazy("Lead status"), ""),
    "hs_email_optout": ("boolean", gettext_lazy("Unsubscribed from all email"), ""),
    "createdate": ("datetime", gettext_lazy("Create date"), ""),
    "lastmodifieddate": ("datetime", gettext_lazy("Last modified date"), ""),
    "hs_object_id": ("string", gettext_lazy("Record ID"), ""),
}


# Companies, deals and products: name → (type, label, personal category). Their addresses and
# phone numbers are a business's, not a person's.
_SYSTEM_PROPERTIES = {
    "createdate": ("datetime", gettext_lazy("Create date"), ""),
    "hs_lastmodifieddate": ("datetime", gettext_lazy("Last modified date"), ""),
    "hs_object_id": ("string", gettext_lazy("Record ID"), ""),
}
COMPANY_PROPERTIES = {
    "name": ("string", gettext_lazy("Company name"), ""),
    "domain": ("string", gettext_lazy("Company domain name"), ""),
    "website": ("string", gettext_lazy("Website URL"), ""),
    "phone": ("string", gettext_lazy("Phone number"), ""),
    "address": ("string", gettext_lazy("Street address"), ""),
    "city": ("string", gettext_lazy("City"), ""),
    "zip": ("string", gettext_lazy("Postal code"), ""),
    "country": ("string", gettext_lazy("Country/Region"), ""),
    "industry": ("string", gettext_lazy("Industry"), ""),
    "numberofemployees": ("number", gettext_lazy("Number of employees"), ""),
    "annualrevenue": ("number", gettext_lazy("Annual revenue"), ""),
    "lifecyclestage": ("string", gettext_lazy("Lifecycle stage"), ""),
    "description": ("string", gettext_lazy("Description"), ""),
    **_SYSTEM_PROPERTIES,
}
DEAL_PROPERTIES = {
    "dealname": ("string", gettext_lazy("Deal name"), ""),
    "amount": ("number", gettext_lazy("Amount"), ""),
    "dealstage": ("string", gettext_lazy("Deal stage"), ""),
    "pipeline": ("string", gettext_lazy("Pipeline"), ""),
    "closedate": ("datetime", gettext_lazy("Close date"), ""),
    "description": ("string", gettext_lazy("Deal description"), ""),
    "hub_ref": ("string", gettext_lazy("Hub reference (custom unique property)"), ""),
    **_SYSTEM_PROPERTIES,
}
PRODUCT_PROPERTIES = {
    "name": ("string", gettext_lazy("Name"), ""),
    "description": ("string", gettext_lazy("Description"), ""),
    "price": ("number", gettext_lazy("Unit price"), ""),
    "hs_sku": ("string", gettext_lazy("SKU"), ""),
    "hs_cost_of_goods_sold": ("number", gettext_lazy("Unit cost"), ""),
    "hs_product_type": ("string", gettext_lazy("Product type"), ""),
    "hs_url": ("string", gettext_lazy("URL"), ""),
    **_SYSTEM_PROPERTIES,
}


@dataclass(frozen=True)
class HubSpotObject:
    """One CRM object type the connector reads and writes."""

    key: str  # the entity key, and the path segment under /crm/v3/objects/
    label: Any
    noun: Any  # in messages: "contact", "company"…
    modified: str  # the modified-date property incremental reads search on
    known: dict  # name → (type, label, personal category)
    default_properties: tuple[str, ...]
    properties_parameter: str  # the form field listing the properties to read
    # The unique-value property batch upserts match records by: fixed (contacts: email), or read from
    # ``id_parameter`` (default ``default_id_property``; blank: by id only).
    default_id_property: str
    id_parameter: str = ""
    read_only: frozenset = frozenset()

    @property
    def path(self) -> str:
        return f"/crm/v3/objects/{self.key}"


OBJECTS = {
    o.key: o
    for o in (
        HubSpotObject(
            key="contacts",
            label=gettext_lazy("Contacts"),
            noun=gettext_lazy("contact"),
            modified="lastmodifieddate",
            known=KNOWN_PROPERTIES,
            default_properties=DEFAULT_PROPERTIES,
            properties_parameter="properties",
            default_id_property="email",
            read_only=READ_ONLY_PROPERTIES,
        ),
        HubSpotObject(
            key="companies",
            label=gettext_lazy("Companies"),
            noun=gettext_lazy("company"),
            modified="hs_lastmodifieddate",
            known=COMPANY_PROPERTIES,
            default_properties=(
                "name",
                "domain",
                "website",
                "phone",
                "city",
                "country",
                "industry",
                "numberofemployees",
                "annualrevenue",
                "hs_lastmodifieddate",
            ),
            properties_parameter="company_properties",
            default_id_property="domain",
            id_parameter="company_id_property",
            read_only=frozenset({"hs_object_id", "createdate", "hs_lastmodifieddate"}),
        ),
        HubSpotObject(
            key="deals",
            label=gettext_lazy("Deals"),
            noun=gettext_lazy("deal"),
            modified="hs_lastmodifieddate",
            known=DEAL_PROPERTIES,
            default_properties=(
                "dealname",
                "amount",
                "dealstage",
                "pipeline",
                "closedate",
                "hub_ref",
                "hs_lastmodifieddate",
            ),
            properties_parameter="deal_properties",
            default_id_property="hub_ref",
            id_parameter="deal_id_property",
            read_only=frozenset({"hs_object_id", "createdate", "hs_lastmodifieddate"}),
        ),
        HubSpotObject(
            key="products",
            label=gettext_lazy("Products"),
            noun=gettext_lazy("product"),
            modified="hs_lastmodifieddate",
            known=PRODUCT_PROPERTIES,
            default_properties=(
                "name",
                "description",
                "price",
                "hs_sku",
                "hs_cost_of_goods_sold",
                "hs_product_type",
                "hs_lastmodifieddate",
            ),
            properties_parameter="product_properties",
            default_id_property="hs_sku",
            id_parameter="product_id_property",
            read_only=frozenset({"hs_object_id", "createdate", "hs_lastmodifieddate"}),
        ),
    )
}


def parse_properties(raw, default=DEFAULT_PROPERTIES) -> list[str]:
    """The property names of the form's comma-separated list (the default when blank)."""
    if isinstance(raw, list | tuple):
        names = [str(n).strip().lower() for n in raw]
    else:
        names = [n.strip().lower() for n in str(raw or "").split(",")]
    names = [n for n in names if n]
    return list(dict.fromkeys(names)) if names else list(default)


def epoch_ms(value: str) -> int:
    """An ISO-8601 datetime (a naive one is UTC) as epoch milliseconds."""
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def modified_ms(record: dict, prop: str = "lastmodifieddate") -> int | None:
    """A record's ``lastmodifieddate`` (or ``prop``) as epoch milliseconds (HubSpot answers ISO text)."""
    props = record.get("properties") or {}
    raw = props.get(prop) or record.get("updatedAt")
    if raw in (None, ""):
        return None
    text = str(raw)
    if text.isdigit():
        return int(text)
    try:
        return epoch_ms(text)
    except ValueError:
        return None


def _email_of(record: dict, prop: str = "email") -> str:
    """A record's value of its unique property (email for contacts), lower-cased as HubSpot matches it."""
    return str((record.get("properties") or {}).get(prop) or "").strip().lower()


def hubspot_message(error) -> str:
    """A HubSpot error's message for people: ``Property values were not valid: [{…json…}]`` becomes
    ``Property values were not valid: <message>; <message>``."""
    message = error.get("message") if isinstance(error, dict) else str(error or "")
    message = str(message or "").strip()
    match = _EMBEDDED_ERRORS.match(message)
    if match:
        try:
            inner = json.loads(match["list"])
        except ValueError:
            return message
        texts = [str(i.get("message")) for i in inner if isinstance(i, dict) and i.get("message")]
        if texts:
            return f"{match['head']}: {'; '.join(texts)}"
    return message


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(response.headers.get(name, ""))
    except ValueError:
        return None


@register_connector
class HubSpotConnector(Connector):
    key = "hubspot"
    label = "HubSpot"
    description = gettext_lazy(
        "HubSpot CRM (API v3): contacts, companies, deals and products read in full or by last "
        "modification, upserted by a unique property (contacts by email), archived; contacts erased "
        "for GDPR requests."
    )
    help_text = gettext_lazy(
        "In HubSpot, open Settings > Integrations > Private Apps (Development > Legacy apps in newer "
        "accounts), create or open the app with the scopes crm.objects.contacts.read and "
        "crm.objects.contacts.write (and crm.objects.companies.*, crm.objects.deals.* and e-commerce "
        "for companies, deals and products), and copy the access token from its Auth tab."
    )
    roles = (SystemRole.CRM,)
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
            entity="contacts",
            identifiers={"email": "properties.email", "phone": "properties.phone"},
            strategy="vendor",
            strategies=("vendor",),
            label=gettext_lazy("Contacts"),
            noun=gettext_lazy("contact"),
        ),
    )
    parameters = {
        "base_url": forms.URLField(
            label=gettext_lazy("API base URL"),
            initial=DEFAULT_BASE_URL,
            help_text=gettext_lazy("https://api.hubapi.com for every HubSpot account."),
        ),
        "properties": forms.CharField(
            label=gettext_lazy("Contact properties to read"),
            required=False,
            initial=", ".join(DEFAULT_PROPERTIES),
            help_text=gettext_lazy(
                "Internal property names, separated by commas (custom properties too). "
                "email and lastmodifieddate are always read."
            ),
        ),
        "company_properties": forms.CharField(
            label=gettext_lazy("Company properties to read"),
            required=False,
            initial=", ".join(OBJECTS["companies"].default_properties),
            help_text=gettext_lazy("Internal property names, separated by commas."),
        ),
        "company_id_property": forms.CharField(
            label=gettext_lazy("Unique property of companies"),
            required=False,
            initial="domain",
            help_text=gettext_lazy(
                "The property with unique values that upserts match companies by (it must be "
                "declared “unique” in HubSpot). Blank: records with an id are updated, the others created."
            ),
        ),
        "deal_properties": forms.CharField(
            label=gettext_lazy("Deal properties to read"),
            required=False,
            initial=", ".join(OBJECTS["deals"].default_properties),
            help_text=gettext_lazy("Internal property names, separated by commas."),
        ),
        "deal_id_property": forms.CharField(
            label=gettext_lazy("Unique property of deals"),
            required=False,
            initial="hub_ref",
            help_text=gettext_lazy(
                "Deals have no natural unique property: create a custom property with unique values "
                "(such as hub_ref) for upserts to match deals by. Blank: records with an id are "
                "updated, the others created."
            ),
        ),
        "product_properties": forms.CharField(
            label=gettext_lazy("Product properties to read"),
            required=False,
            initial=", ".join(OBJECTS["products"].default_properties),
            help_text=gettext_lazy("Internal property names, separated by commas."),
        ),
        "product_id_property": forms.CharField(
            label=gettext_lazy("Unique property of products"),
            required=False,
            initial="hs_sku",
            help_text=gettext_lazy(
                "The property with unique values that upserts match products by. Blank: records with "
                "an id are updated, the others created."
            ),
        ),
    }
    sensitive_parameters = ("access_token",)

    # Page sizes and caps of HubSpot's API (class attributes so that tests can lower them).
    list_page_size = 100
    search_page_size = 200
    search_cap = 10_000
    batch_size = 100
    # How long a call waits at most when the rate-limit headers say the window is spent.
    max_rate_pause = 60.0

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        if not str(secrets.get("access_token") or "").strip():
            errors["access_token"] = _("Give the private app's access token (it starts with “pat-”).")
        for spec in OBJECTS.values():
            for name in (spec.properties_parameter, spec.id_parameter):
                raw = params.get(name) if name else None
                names = (
                    [n.strip() for n in raw.split(",")] if isinstance(raw, str) else list(raw or [])
                )  # before the lower-casing of parse_properties: report the names as typed
                bad = [n for n in names if n and not _PROPERTY_NAME.match(str(n))]
                if bad:
                    errors[name] = _(
                        "Use HubSpot's internal property names (lower case letters, digits and _): %(names)s"
                    ) % {"names": ", ".join(str(n) for n in bad)}
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self._paused_until = 0.0  # time.monotonic() before which no call is sent
        self.sleep = time.sleep

    @property
    def client(self) -> HubClient:
        if self._client is None:
            self._client = HubClient(
                self.settings,
                base_url=(self.params.get("base_url") or DEFAULT_BASE_URL).rstrip("/"),
                headers={"Authorization": f"Bearer {str(self.secrets.get('access_token') or '').strip()}"},
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def properties(self) -> list[str]:
        """The contact properties read."""
        return self._properties(OBJECTS["contacts"])

    def _properties(self, spec: HubSpotObject) -> list[str]:
        """The properties read of one object type: the form's list, its unique property and its
        modified date always among them."""
        names = parse_properties(self.params.get(spec.properties_parameter), spec.default_properties)
        required = [p for p in (self._id_property(spec), spec.modified) if p]
        return [*names, *(n for n in required if n not in names)]

    def _id_property(self, spec: HubSpotObject) -> str:
        """The unique property upserts match ``spec``'s records by ("" when there is none: by id)."""
        if not spec.id_parameter:
            return spec.default_id_property
        raw = self.params.get(spec.id_parameter)
        return spec.default_id_property if raw is None else str(raw).strip().lower()

    def _spec(self, entity: str) -> HubSpotObject:
        self.entity(entity)  # NotFound for an entity HubSpot's connector does not declare
        return OBJECTS[entity]

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One request: waits out a spent rate-limit window first, words auth failures for HubSpot,
        and notes the rate-limit headers of the answer."""
        wait = self._paused_until - time.monotonic()
        if wait > 0:
            self.sleep(wait)
        try:
            response = self.client.request(method, path, **kwargs)
        except AuthError as exc:
            if exc.status == 403:
                raise AuthError(
                    _(
                        "HubSpot accepted the access token but the private app lacks a scope for this "
                        "(HTTP 403): give it crm.objects.contacts.read and crm.objects.contacts.write."
                    ),
                    status=403,
                    reason="forbidden",
                    detail=exc.detail,
                ) from exc
            raise AuthError(
                _(
                    "HubSpot refused the access token (HTTP 401). Copy the private app's access token "
                    "again from its Auth tab in HubSpot."
                ),
                status=exc.status,
                reason="auth",
                detail=exc.detail,
            ) from exc
        self._note_rate_limit(response)
        return response

    def _note_rate_limit(self, response: httpx.Response) -> None:
        pause = 0.0
        if _int_header(response, "X-HubSpot-RateLimit-Remaining") == 0:
            interval = _int_header(response, "X-HubSpot-RateLimit-Interval-Milliseconds") or 10_000
            pause = interval / 1000
        if _int_header(response, "X-HubSpot-RateLimit-Secondly-Remaining") == 0:
            pause = max(pause, 1.0)
        if pause:
            until = time.monotonic() + min(pause, self.max_rate_pause)
            self._paused_until = max(self._paused_until, until)

    def _json(self, method: str, path: str, **kwargs) -> dict:
        """A call whose answer must be a JSON object; 404 → ``NotFound``, other 4xx → ``ConfigError``
        (a read or a look-up HubSpot refuses is a configuration problem: scope, property name…)."""
        response = self._call(method, path, **kwargs)
        if response.status_code == 404:
            raise NotFound(_("Not found: %(path)s") % {"path": path}, status=404)
        if response.status_code >= 400:
            raise ConfigError(
                _("HubSpot refused the request (HTTP %(status)s): %(message)s")
                % {"status": response.status_code, "message": hubspot_message(_body(response))},
                status=response.status_code,
                reason="http",
                remote=_body(response),
            )
        body = decode_json(response)
        if not isinstance(body, dict):
            raise TransientError(
                _("HubSpot answered something else than a JSON object."),
                status=response.status_code,
                reason="malformed",
                detail=response.text[:200],
            )
        return body

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        return [self._entity(spec) for spec in OBJECTS.values()]

    def _entity(self, spec: HubSpotObject) -> Entity:
        fields = [
            Field("id", "string", str(_("Record ID")), required=True),
            *(self._field(name, spec) for name in self._properties(spec)),
            Field("createdAt", "datetime", str(_("Created at"))),
            Field("updatedAt", "datetime", str(_("Updated at"))),
            Field("archived", "boolean", str(_("Archived"))),
        ]
        capabilities = {Capability.READ, Capability.WRITE, Capability.DELETE}
        if spec.key == "contacts":
            capabilities |= {Capability.SUBJECT_LOOKUP, Capability.SUBJECT_ERASE, Capability.SUBJECT_EXPORT}
        id_property = self._id_property(spec)
        return Entity(
            key=spec.key,
            label=str(spec.label),
            fields=tuple(fields),
            id_field="id",
            cursor_field=f"properties.{spec.modified}",
            natural_keys=(f"properties.{id_property}",) if id_property else (),
            # deals: the hub stamps its reference in the unique custom property it upserts by
            reference_field=f"properties.{id_property}" if spec.key == "deals" and id_property else "",
            capabilities=frozenset(capabilities),
        )

    def _field(self, name: str, spec: HubSpotObject | None = None) -> Field:
        spec = spec or OBJECTS["contacts"]
        kind, label, personal = spec.known.get(name, ("string", name, guess_personal(name, [])))
        required = name == self._id_property(spec)
        return Field(f"properties.{name}", kind, str(label), required=required, personal=personal)

    # --- read ------------------------------------------------------------------------------------

    def ping(self) -> None:
        self._json("GET", CONTACTS, params={"limit": 1, "properties": "email"})

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        spec = self._spec(entity)
        if cursor:
            try:
                state = json.loads(cursor)
            except ValueError:
                state = None
            if not isinstance(state, dict) or (state.get("mode") == "search" and "since" not in state):
                raise ConfigError(_("This read cursor is not one of HubSpot's."), reason="config")
        elif since:
            try:
                state = {"mode": "search", "since": epoch_ms(since), "gte": False, "skip": []}
            except ValueError as exc:
                raise ConfigError(
                    _("“%(since)s” is not an ISO-8601 date and time.") % {"since": since}, reason="config"
                ) from exc
        else:
            state = {"mode": "list"}
        if state.get("mode") == "search":
            yield from self._read_search(spec, state, limit)
        else:
            yield from self._read_list(spec, state, limit)

    def _read_list(self, spec: HubSpotObject, state: dict, limit: int | None) -> Iterator[Page]:
        size = min(self.list_page_size, limit or self.list_page_size)
        returned = 0
        while True:
            params = {
                "limit": size,
                "properties": ",".join(self._properties(spec)),
                "after": state.get("after"),
            }
            body = self._json("GET", spec.path, params=params)
            records = [r for r in body.get("results") or [] if isinstance(r, dict)]
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            next_state = {"mode": "list", "after": str(after)} if after and records else None
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = next_state is not None and (limit is None or returned < limit)
            yield Page(records, json.dumps(next_state) if next_state else None, has_more)
            if not has_more:
                return
            state = next_state

    def _read_search(self, spec: HubSpotObject, state: dict, limit: int | None) -> Iterator[Page]:
        """Records modified after ``state["since"]``, oldest first, across HubSpot's search cap.

        ``state`` (the cursor): ``since`` (epoch ms); ``gte`` (after a cap restart the bound is
        inclusive); ``skip`` (ids already returned at exactly ``since``); ``after`` (HubSpot's
        offset in the current query); ``tie`` with ``id_after`` (draining the records of one
        millisecond by id, when more of them than the cap share it)."""
        size = min(self.search_page_size, limit or self.search_page_size)
        returned = 0
        while True:
            since, skip = int(state["since"]), set(state.get("skip") or [])
            if state.get("tie"):
                filters = [
                    {"propertyName": spec.modified, "operator": "EQ", "value": str(since)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(state["id_after"])},
                ]
                sort = "hs_object_id"
            else:
                operator = "GTE" if state.get("gte") else "GT"
                filters = [{"propertyName": spec.modified, "operator": operator, "value": str(since)}]
                sort = spec.modified
            body = {
                "filterGroups": [{"filters": filters}],
                "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
                "properties": self._properties(spec),
                "limit": size,
            }
            if state.get("after"):
                body["after"] = state["after"]
            answer = self._json("POST", f"{spec.path}/search", json=body)
            results = [r for r in answer.get("results") or [] if isinstance(r, dict)]
            records = [
                r
                for r in results
                if not (str(r.get("id")) in skip and modified_ms(r, spec.modified) == since)
            ]
            next_state = self._next_search_state(spec, state, answer, results)
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = next_state is not None and (limit is None or returned < limit)
            yield Page(records, json.dumps(next_state) if next_state else None, has_more)
            if not has_more:
                return
            state = next_state

    def _next_search_state(
        self, spec: HubSpotObject, state: dict, answer: dict, results: list[dict]
    ) -> dict | None:
        """Where the read goes on after this answer: the next page of the same query, a new query
        when this one reached HubSpot's cap, or nowhere.

        Outside the tie mode the state also carries the query's ``tail``: the ids it returned at
        its latest millisecond so far (``tail_ms``) — what a restart from that millisecond skips."""
        after = ((answer.get("paging") or {}).get("next") or {}).get("after")
        offset = int(state.get("after") or 0) + len(results)
        total = answer.get("total")
        capped = bool(results) and (
            (after is not None and str(after).isdigit() and int(after) >= self.search_cap)
            or (after is None and isinstance(total, int) and total > offset)
        )
        since = int(state["since"])
        if state.get("tie"):
            if results and after is not None and not capped:
                return {**state, "after": str(after)}
            if capped:  # more of that millisecond than the cap again: on from the last id
                last_id = str(results[-1].get("id"))
                skip = [i for i in state.get("skip") or [] if _id_order(i) > _id_order(last_id)]
                return {"mode": "search", "since": since, "tie": True, "id_after": last_id, "skip": skip}
            # that millisecond is drained: on with what was modified after it
            return {"mode": "search", "since": since, "gte": False, "skip": []}
        tail_ms = state.get("tail_ms")
        tail = set(state.get("tail") or [])
        if tail_ms is None and state.get("gte"):
            tail_ms, tail = since, set(state.get("skip") or [])
        for record in results:
            ms = modified_ms(record, spec.modified)
            if ms is None:
                raise ConfigError(
                    _("HubSpot's search answered %(entity)s without %(property)s.")
                    % {"entity": spec.key, "property": spec.modified}
                )
            if tail_ms is None or ms > tail_ms:
                tail_ms, tail = ms, {str(record.get("id"))}
            elif ms == tail_ms:
                tail.add(str(record.get("id")))
        if results and after is not None and not capped:
            return {**state, "after": str(after), "tail_ms": tail_ms, "tail": sorted(tail, key=_id_order)}
        if not capped:
            return None
        skip = sorted(tail, key=_id_order)
        if state.get("gte") and tail_ms == since:
            # The whole query was that one millisecond: more records share it than the cap lets
            # through. Drain it by id (a total order), then go on after it.
            return {"mode": "search", "since": since, "tie": True, "id_after": "0", "skip": skip}
        # A new query from the last millisecond seen, inclusive, skipping the records already
        # returned at exactly that millisecond.
        return {"mode": "search", "since": tail_ms, "gte": True, "skip": skip}

    def fetch(self, entity, ids):
        spec = self._spec(entity)
        # HubSpot's ids are numbers: anything else cannot exist (and would fail the whole batch)
        return self._batch_read(spec, [str(i).strip() for i in ids if str(i).strip().isdigit()])

    def _batch_read(
        self, spec: HubSpotObject, idents: list[str], id_property: str | None = None
    ) -> list[dict]:
        """Records by id (or by the unique ``id_property``), in the order asked; unknown ones are left out."""
        idents = list(dict.fromkeys(i for i in idents if i))
        found: dict[str, dict] = {}
        for start in range(0, len(idents), self.batch_size):
            chunk = idents[start : start + self.batch_size]
            body: dict = {"inputs": [{"id": i} for i in chunk], "properties": self._properties(spec)}
            if id_property:
                body["idProperty"] = id_property
            answer = self._json("POST", f"{spec.path}/batch/read", json=body)
            for record in answer.get("results") or []:
                if isinstance(record, dict):
                    key = _email_of(record, id_property) if id_property else str(record.get("id"))
                    found[key] = record
        keys = [i.lower() for i in idents] if id_property else idents
        return [found[k] for k in dict.fromkeys(keys) if k in found]

    def lookup(self, entity, field_name, values):
        spec = self._spec(entity)
        name = field_name.removeprefix("properties.")
        values = [str(v).strip() for v in values if v not in (None, "")]
        if not values:
            return []
        if name and name == self._id_property(spec):
            return self._batch_read(spec, values, name)
        if name in ("id", "hs_object_id"):
            return self._batch_read(spec, [v for v in values if v.isdigit()])
        return self._search_in(spec, name, values)

    def _search_in(self, spec: HubSpotObject, name: str, values: list[str]) -> list[dict]:
        """Records whose property ``name`` is one of ``values`` (HubSpot wants lower-case values for
        IN on text properties; at most 100 values a filter)."""
        found: dict[str, dict] = {}
        for start in range(0, len(values), 100):
            chunk = [v.lower() for v in values[start : start + 100]]
            after = None
            while True:
                body = {
                    "filterGroups": [
                        {"filters": [{"propertyName": name, "operator": "IN", "values": chunk}]}
                    ],
                    "properties": self._properties(spec),
                    "limit": self.search_page_size,
                }
                if after:
                    body["after"] = after
                answer = self._json("POST", f"{spec.path}/search", json=body)
                for record in answer.get("results") or []:
                    if isinstance(record, dict):
                        found[str(record.get("id"))] = record
                after = ((answer.get("paging") or {}).get("next") or {}).get("after")
                if not after or (str(after).isdigit() and int(after) >= self.search_cap):
                    break
        return list(found.values())

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        spec = self._spec(entity)
        mode = WriteMode(mode)
        id_property = self._id_property(spec)
        results: list[WriteResult | None] = [None] * len(records)
        items = []  # (index, HubSpot input, the key HubSpot reports it under)
        for index, record in enumerate(records):
            try:
                payload, key = self._input(spec, id_property, record, mode)
                items.append((index, payload, f"#{index}" if key is None else key))
            except RecordError as exc:
                results[index] = WriteResult.failed(exc)
        if mode == WriteMode.CREATE and id_property:
            items = self._drop_existing(spec, id_property, items, results)
        paths = {
            WriteMode.UPSERT: "batch/upsert",
            WriteMode.CREATE: "batch/create",
            WriteMode.UPDATE: "batch/update",
        }
        groups: dict[tuple[str, WriteMode], list] = {}
        for item in items:
            if mode == WriteMode.UPSERT and not id_property:
                # No unique property to upsert by: an id means update, no id means create.
                how = WriteMode.UPDATE if "id" in item[1] else WriteMode.CREATE
            else:
                how = mode
            groups.setdefault((paths[how], how), []).append(item)
        for (path, how), group in groups.items():
            for chunk in self._chunks(group):
                for index, result in self._write_chunk(spec, id_property, path, how, chunk).items():
                    results[index] = result
        return results

    def _input(
        self, spec: HubSpotObject, id_property: str, record, mode: WriteMode
    ) -> tuple[dict, str | None]:
        """The batch input for one record and its key (its unique property's value, or its id for an
        update by id; ``None`` for a create without a unique property)."""
        noun = spec.noun
        if not isinstance(record, dict):
            raise RecordError(_("A HubSpot %(noun)s must be a JSON object.") % {"noun": noun})
        props = record.get("properties")
        if props is None:  # a flat record: everything but HubSpot's top-level keys is a property
            props = {k: v for k, v in record.items() if k not in RECORD_KEYS}
        if not isinstance(props, dict):
            raise RecordError(
                _("The “properties” of a HubSpot %(noun)s must be a JSON object.") % {"noun": noun}
            )
        props = {k: v for k, v in props.items() if k not in spec.read_only}
        record_id = str(record.get("id") or "").strip()
        if not id_property:  # by id only
            if record_id and mode != WriteMode.CREATE:
                return {"id": record_id, "properties": props}, record_id
            if mode == WriteMode.UPDATE:
                raise RecordError(
                    _("This %(noun)s has no id to update it by.") % {"noun": noun}, reason="validation"
                )
            return {"properties": props}, None
        key = str(props.get(id_property) or "").strip()
        if mode == WriteMode.UPDATE and record_id:
            return {"id": record_id, "properties": props}, record_id
        if not key:
            if spec.key == "contacts":
                message = (
                    _("This contact has no email: HubSpot contacts are matched by email.")
                    if mode != WriteMode.UPDATE
                    else _("This contact has neither an id nor an email to update it by.")
                )
            elif mode != WriteMode.UPDATE:
                message = _("This %(noun)s has no %(property)s: HubSpot %(entity)s are matched by it.") % {
                    "noun": noun,
                    "property": id_property,
                    "entity": spec.key,
                }
            else:
                message = _("This %(noun)s has neither an id nor a %(property)s to update it by.") % {
                    "noun": noun,
                    "property": id_property,
                }
            raise RecordError(message, reason="validation")
        props[id_property] = key
        if mode in (WriteMode.UPSERT, WriteMode.UPDATE):
            return {"id": key, "idProperty": id_property, "properties": props}, key.lower()
        return {"properties": props}, key.lower()

    def _drop_existing(self, spec: HubSpotObject, id_property: str, items, results) -> list:
        """Create mode: the keys HubSpot already knows fail without touching their record."""
        existing = {
            _email_of(r, id_property): str(r.get("id"))
            for r in self._batch_read(spec, [key for _, _, key in items], id_property)
        }
        kept = []
        for index, payload, key in items:
            if key in existing:
                if spec.key == "contacts":
                    message = _("A HubSpot contact with this email already exists (id %(id)s).") % {
                        "id": existing[key]
                    }
                else:
                    message = _("A HubSpot %(noun)s with this %(property)s already exists (id %(id)s).") % {
                        "noun": spec.noun,
                        "property": id_property,
                        "id": existing[key],
                    }
                results[index] = WriteResult.failed(RecordError(message, status=409, reason="conflict"))
            else:
                kept.append((index, payload, key))
        return kept

    def _chunks(self, items) -> Iterator[list]:
        """Batches of at most ``batch_size`` inputs, one input per key (HubSpot refuses duplicates)."""
        pending = list(items)
        while pending:
            chunk, keys, rest = [], set(), []
            for item in pending:
                if len(chunk) < self.batch_size and item[2] not in keys:
                    chunk.append(item)
                    keys.add(item[2])
                else:
                    rest.append(item)
            yield chunk
            pending = rest

    def _write_chunk(
        self, spec: HubSpotObject, id_property: str, path: str, mode: WriteMode, chunk: list
    ) -> dict[int, WriteResult]:
        # batch/create is not idempotent (a resend after a lost answer would create records twice);
        # upsert and update by key are.
        response = self._call(
            "POST",
            f"{spec.path}/{path}",
            json={"inputs": [p for _, p, _ in chunk]},
            idempotent=mode != WriteMode.CREATE,
        )
        body = _body(response) if response.status_code >= 400 else None
        not_found = isinstance(body, dict) and body.get("category") == "OBJECT_NOT_FOUND"
        if response.status_code == 404 and not not_found:  # not HubSpot's "no such record"
            raise ConfigError(
                _("HubSpot has no %(path)s endpoint here: check the API base URL.") % {"path": path},
                status=404,
                reason="config",
            )
        if response.status_code >= 400:
            # HubSpot refused the batch as a whole (nothing written): halve it until the culprit
            # stands alone, so the good records go through.
            if len(chunk) > 1 and (response.status_code in (400, 409, 422) or not_found):
                middle = len(chunk) // 2
                return {
                    **self._write_chunk(spec, id_property, path, mode, chunk[:middle]),
                    **self._write_chunk(spec, id_property, path, mode, chunk[middle:]),
                }
            message = hubspot_message(body) if isinstance(body, dict) else remote_message(response)
            error = RecordError(
                message or _("Rejected (HTTP %(status)s).") % {"status": response.status_code},
                status=response.status_code,
                remote=body,
                reason="validation",
            )
            return {index: WriteResult.failed(error) for index, _payload, _key in chunk}
        answer = decode_json(response) or {}
        by_key: dict[str, dict] = {}
        for result in answer.get("results") or []:
            if isinstance(result, dict):
                by_key[str(result.get("id"))] = result
                if id_property and _email_of(result, id_property):
                    by_key[_email_of(result, id_property)] = result
        errors: dict[str, dict] = {}
        loose: list[dict] = []  # errors that name no input
        for error in answer.get("errors") or []:
            if not isinstance(error, dict):
                continue
            idents = ((error.get("context") or {}).get("ids")) or []
            for ident in idents:
                errors[str(ident).lower()] = error
            if not idents:
                loose.append(error)
        results_list = [r for r in answer.get("results") or [] if isinstance(r, dict)]
        by_position = len(results_list) == len(chunk) and not errors and not loose
        out: dict[int, WriteResult] = {}
        for position, (index, _payload, key) in enumerate(chunk):
            result = by_key.get(key) or by_key.get(key.lower())
            if result is None and by_position:
                result = results_list[position]
            if key.lower() in errors:
                error = errors[key.lower()]
                out[index] = WriteResult.failed(
                    RecordError(
                        hubspot_message(error) or _("HubSpot rejected this %(noun)s.") % {"noun": spec.noun},
                        status=response.status_code,
                        remote=error,
                        reason=str(error.get("category") or "").lower(),
                    )
                )
            elif result is not None:
                if mode == WriteMode.UPSERT:
                    new = result.get("new")
                    action = "upserted" if new is None else ("created" if new else "updated")
                else:
                    action = "created" if mode == WriteMode.CREATE else "updated"
                out[index] = WriteResult(ok=True, target_id=str(result.get("id")), action=action)
            else:
                message = "; ".join(hubspot_message(e) for e in loose) or _(
                    "HubSpot's answer did not mention this %(noun)s."
                ) % {"noun": spec.noun}
                out[index] = WriteResult.failed(RecordError(message, status=response.status_code))
        return out

    def delete(self, entity, ids):
        spec = self._spec(entity)
        results = []
        for record_id in ids:
            response = self._call("DELETE", f"{spec.path}/{quote(str(record_id), safe='')}")
            if response.status_code in (200, 204, 404):  # HubSpot answers 204 for an unknown id too
                results.append(WriteResult(ok=True, target_id=str(record_id), action="deleted"))
            else:
                results.append(
                    WriteResult.failed(
                        RecordError(
                            hubspot_message(_body(response)) or remote_message(response),
                            status=response.status_code,
                        )
                    )
                )
        return results

    # --- GDPR ----------------------------------------------------------------------------------
    # find_subject and export_subject are the contract's defaults: contacts looked up by e-mail
    # (batch/read with idProperty=email) or phone (search), exported as fetched (batch/read).

    def erase_subject(self, entity, record_id, *, strategy, mask=None) -> WriteResult:
        """Erase one contact for good: strategy ``vendor``, HubSpot's ``POST gdpr-delete``.

        ``record_id`` is the contact's id, or an e-mail (then HubSpot erases the contact with that
        e-mail and blocklists the address even if no contact has it). HubSpot deletes the contact and
        its history permanently (unlike ``delete``, which archives it for 90 days) and puts the e-mail
        on its GDPR blocklist. Answers ``action="erased"``; a contact already gone is ``ok`` with
        ``action="unchanged"`` (for an e-mail, the address is blocklisted all the same); a refusal is a
        failed result with HubSpot's message. Archiving (``delete``) is not offered: it is not an
        erasure.
        """
        if strategy != "vendor":
            return super().erase_subject(entity, record_id, strategy=strategy, mask=mask)
        refused = self._refuse_strategy(self.subject_entity(entity), strategy)
        if refused is not None:
            return refused
        ident = str(record_id or "").strip()
        body = {"objectId": ident}
        existed = True
        if "@" in ident:
            body["idProperty"] = "email"
            existed = bool(self.lookup("contacts", "email", [ident]))
        response = self._call("POST", f"{CONTACTS}/gdpr-delete", json=body)
        if response.status_code in (200, 204):
            return WriteResult(ok=True, target_id=ident, action="erased" if existed else "unchanged")
        if response.status_code == 404:
            return WriteResult(ok=True, target_id=ident, action="unchanged")
        return WriteResult.failed(
            RecordError(
                _("HubSpot refused the GDPR deletion (HTTP %(status)s): %(message)s")
                % {
                    "status": response.status_code,
                    "message": hubspot_message(_body(response)) or remote_message(response),
                },
                status=response.status_code,
                remote=_body(response),
            )
        )


def _id_order(ident: str):
    return (0, int(ident), "") if ident.isdigit() else (1, 0, ident)


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:500]
