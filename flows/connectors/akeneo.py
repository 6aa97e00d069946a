"""Akeneo PIM, through its REST API v1 (Community, Enterprise and Serenity/SaaS editions).

Authentication: an API connection (client id + secret) and an API user (name + password). The
connector asks ``POST /api/oauth/v1/token`` for a token with the password grant (HTTP Basic
``client_id:secret``), caches the access and refresh tokens for every worker process
(``flows.coordination``), renews an expired access token with the ``refresh_token`` grant and falls
back to the password grant when the refresh token is refused. A token the PIM answers 401 to is
renewed once.

Entities:

- ``products`` (read, write, delete): ``GET /api/rest/v1/products`` with search-after paging (the
  ``_links.next.href`` the PIM gives, never a hand-made ``search_after``); incremental reads send
  ``search={"updated":[{"operator":">","value":"Y-m-d H:i:s"}]}`` (UTC, one second before the bound:
  Akeneo compares whole seconds, so a read may repeat the records of that one second); writes go to the collection endpoint ``PATCH /api/rest/v1/products``
  (``application/vnd.akeneo.collection+json``, one product per line, one status line back each),
  at most ``batch_size`` per request; deletes are ``DELETE /api/rest/v1/products/{identifier}``.
- ``products_uuid`` (read, write, delete): the same products through the UUID endpoints of Akeneo 7+
  (``/api/rest/v1/products-uuid``: search-after paging on the UUID, the same ``updated`` filter and
  collection PATCH keyed on ``uuid``). A record written without a ``uuid`` gets one derived from its
  identifier (UUID v5), so sending it again never creates a second product.
- ``product_models`` (read, write): ``GET /api/rest/v1/product-models`` with page paging, the same
  ``updated`` search filter as products on incremental reads; writes are collection PATCHes of
  ``/api/rest/v1/product-models`` keyed on ``code`` (a new model needs its ``family_variant``).
- ``families``, ``attributes``, ``categories``, ``channels``, ``locales`` (read only): page paging
  following ``_links.next``; incremental reads filter on their ``updated`` on the hub's side (older PIM
  versions have no server-side filter for them; channels and locales carry no date, so an incremental
  read returns them all).
- ``attribute_options`` (read only): the options of every simple- and multi-select attribute
  (``GET /api/rest/v1/attributes/{code}/options``), one attribute after the other. Option codes are
  unique within their attribute only, so each record gets ``id`` = ``attribute/code`` — the one key
  the hub adds to a record of Akeneo's.

Records are Akeneo's own JSON, ``values`` kept as ``{attribute: [{locale, scope, data}]}``, so a
mapping addresses ``values.name[locale=fr_FR].data``. No flat keys are added on read. On write,
read-only keys (``_links``, ``created``, ``updated``, ``uuid``, ``metadata``, ``quality_scores``,
``completenesses``) are dropped, and a value may be given loosely: ``{"name": "Chair"}`` or
``{"name": [{"data": "Chair"}]}`` become ``[{"locale": …, "scope": …, "data": "Chair"}]`` with the
system's default locale / channel where the attribute is localizable / scopable (``null`` where it
is not); each value entry is sent as exactly ``{locale, scope, data}``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlsplit

import httpx
from django import forms
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.choices import SystemRole
from flows.connectors.base import Capability, Connector, Entity, Field, Page, WriteMode, WriteResult
from flows.connectors.errors import AuthError, ConfigError, NotFound, RecordError, TransientError
from flows.connectors.http import HubClient, decode_json, remote_message
from flows.connectors.registry import register_connector
from flows.coordination import delete_shared, get_shared, lock, set_shared

logger = logging.getLogger("flows.akeneo")

API = "/api/rest/v1"
TOKEN_PATH = "/api/oauth/v1/token"  # noqa: S105 - a path, not a secret
COLLECTION_TYPE = "application/vnd.akeneo.collection+json"
PAGE_SIZE = 100  # Akeneo's maximum ``limit``
# Akeneo keeps a refresh token 14 days; the cache forgets it a day earlier.
REFRESH_TTL = 13 * 86400.0
# Keys of a product record the PIM computes itself: dropped before a write.
READ_ONLY_KEYS = ("_links", "created", "updated", "uuid", "metadata", "quality_scores", "completenesses")
SEARCH_CHUNK = 100  # identifiers per ``IN`` search (and per page)
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Za-z0-9]{2,4})+$")
_CODE = re.compile(r"^[A-Za-z0-9_]+$")

# entity key -> (API path, id field); products page with search_after, the others with page numbers
PATHS = {
    "products": (f"{API}/products", "identifier"),
    "products_uuid": (f"{API}/products-uuid", "uuid"),
    "families": (f"{API}/families", "code"),
    "attributes": (f"{API}/attributes", "code"),
    "categories": (f"{API}/categories", "code"),
    "channels": (f"{API}/channels", "code"),
    "locales": (f"{API}/locales", "code"),
    "product_models": (f"{API}/product-models", "code"),
    "attribute_options": (f"{API}/attributes", "id"),  # {attribute}/options below it
}
WRITABLE = {"products": "identifier", "products_uuid": "uuid", "product_models": "code"}
# the namespace of the UUIDs the hub gives new products written through the UUID endpoints
UUID_NAMESPACE = uuid.UUID("2d0f8f0e-2b7e-5c41-9a55-6b1c3e0d7a11")
SEARCH_AFTER = (
    "products",
    "products_uuid",
)  # entities paged with search_after  # entity -> the key of a collection line
SELECT_TYPES = ("pim_catalog_simpleselect", "pim_catalog_multiselect")


def search_datetime(since: str) -> str:
    """An ISO-8601 bound as the ``Y-m-d H:i:s`` (UTC) that Akeneo's ``updated`` filter compares, one
    second early: Akeneo compares whole seconds, and a strict ``>`` on a truncated bound would miss
    changes made later in the same second. The overlap re-delivers at most one second of records."""
    moment = parse_datetime(since)
    if moment is None:
        raise ConfigError(
            _("“%(value)s” is not an ISO-8601 date and time.") % {"value": since}, reason="config"
        )
    moment = moment.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def parse_datetime(value) -> datetime | None:
    """An aware datetime from ISO-8601 text (``Z``, an offset, or naive meaning UTC); None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@register_connector
class AkeneoConnector(Connector):
    key = "akeneo"
    label = gettext_lazy("Akeneo PIM")
    description = gettext_lazy(
        "Akeneo PIM through its REST API: products (read, write, delete), product models (read, write), "
        "families, attributes and their options, categories, channels and locales."
    )
    help_text = gettext_lazy(
        "In Akeneo, open Connect > Connection settings, create a connection (or open yours) and copy its "
        "client id and secret, and the user name and password of its API user (the password is shown "
        "once; regenerate it if you lost it). The base URL is the PIM's address, e.g. "
        "https://acme.cloud.akeneo.com."
    )
    roles = (SystemRole.PIM,)
    capabilities = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    parameters = {
        "base_url": forms.URLField(
            label=gettext_lazy("Base URL"),
            help_text=gettext_lazy("The PIM's address, e.g. https://acme.cloud.akeneo.com (without /api)."),
        ),
        "client_id": forms.CharField(label=gettext_lazy("Client id")),
        "username": forms.CharField(
            label=gettext_lazy("API user name"),
            help_text=gettext_lazy("The user of the connection, e.g. hub_1234."),
        ),
        "default_locale": forms.CharField(
            label=gettext_lazy("Default locale"),
            required=False,
            help_text=gettext_lazy(
                "e.g. fr_FR: the locale of localizable values written without one, and of attribute labels."
            ),
        ),
        "default_channel": forms.CharField(
            label=gettext_lazy("Default channel"),
            required=False,
            help_text=gettext_lazy("e.g. ecommerce: the channel of scopable values written without one."),
        ),
    }
    sensitive_parameters = ("client_secret", "password")
    batch_size = 100  # lines per collection PATCH (Akeneo refuses more than 100 by default: 413)

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        if not secrets.get("client_secret"):
            errors["client_secret"] = _("The secret of the Akeneo connection is required.")
        if not secrets.get("password"):
            errors["password"] = _("The password of the connection's API user is required.")
        locale = (params.get("default_locale") or "").strip()
        if locale and not _LOCALE.match(locale):
            errors["default_locale"] = _("Give an Akeneo locale code, e.g. fr_FR or en_US.")
        channel = (params.get("default_channel") or "").strip()
        if channel and not _CODE.match(channel):
            errors["default_channel"] = _("Give an Akeneo channel code (letters, digits, _), e.g. ecommerce.")
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None
        self._attribute_specs: dict[str, dict | None] = {}

    @property
    def base_url(self) -> str:
        """The PIM's root, tolerating a pasted ``…/api/rest/v1``."""
        url = (self.params.get("base_url") or "").strip().rstrip("/")
        for suffix in ("/api/rest/v1", "/api/rest", "/api"):
            if url.endswith(suffix):
                return url[: -len(suffix)]
        return url

    @property
    def client(self) -> HubClient:
        if self._client is None:
            self._client = HubClient(self.settings, base_url=self.base_url, max_retries=self.retries)
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- tokens ----------------------------------------------------------------------------------

    def token_key(self) -> str:
        """Where this system's tokens are shared. The key changes with the URL and the credentials, so
        a token issued for an earlier configuration is never used for the new one."""
        material = "\n".join(
            [
                self.base_url,
                self.params.get("client_id", ""),
                self.params.get("username", ""),
                self.secrets.get("client_secret", ""),
                self.secrets.get("password", ""),
            ]
        )
        digest = salted_hmac("flows.connectors.akeneo.token", material, algorithm="sha256").hexdigest()[:16]
        return f"akeneo-token:{self.settings.system_id}:{digest}"

    def _access_token(self, stale: str | None = None) -> str:
        """A valid access token: the cached one, or a renewed one (refresh grant, else password grant).
        ``stale`` is a token the PIM just refused: never hand it out again."""
        key = self.token_key()
        if stale is None and (token := get_shared(f"{key}:access")):
            return token
        wait = self.settings.timeout * 2 + 10
        with lock(key, ttl=wait, wait=wait):
            token = get_shared(f"{key}:access")
            if token and token != stale:
                return token  # another process renewed it while we waited
            body = None
            refresh = get_shared(f"{key}:refresh")
            if refresh:
                body = self._request_token({"grant_type": "refresh_token", "refresh_token": refresh})
            if body is None:
                body = self._request_token(
                    {
                        "grant_type": "password",
                        "username": self.params.get("username", ""),
                        "password": self.secrets.get("password", ""),
                    }
                )
            token = body["access_token"]
            try:
                expires_in = float(body.get("expires_in") or 3600)
            except (TypeError, ValueError):
                expires_in = 3600.0
            set_shared(f"{key}:access", token, max(0.5, expires_in - min(60.0, expires_in * 0.1)))
            if body.get("refresh_token"):
                set_shared(f"{key}:refresh", body["refresh_token"], REFRESH_TTL)
            else:
                delete_shared(f"{key}:refresh")
            return token

    def _request_token(self, data: dict) -> dict | None:
        """The token endpoint's answer. A refused refresh token gives None (the caller falls back to
        the password grant); refused credentials raise ``AuthError``."""
        refreshing = data["grant_type"] == "refresh_token"
        auth = httpx.BasicAuth(self.params.get("client_id", ""), self.secrets.get("client_secret", ""))
        try:
            response = self.client.request("POST", TOKEN_PATH, json=data, auth=auth)
        except AuthError as exc:
            if refreshing:
                return None
            raise AuthError(
                _("Akeneo refused the credentials (%(message)s).") % {"message": exc.detail or exc.message},
                status=exc.status,
                reason="auth",
                detail=exc.detail,
            ) from exc
        status = response.status_code
        if status == 404:
            raise ConfigError(
                _("No Akeneo API answers at %(url)s (the token endpoint was not found). Check the base URL.")
                % {"url": self.base_url},
                status=404,
                reason="config",
            )
        if status in (400, 422):
            if refreshing:
                logger.info("Akeneo refused the refresh token of system %s", self.settings.system_id)
                return None
            message = remote_message(response)
            raise AuthError(
                _(
                    "Akeneo refused the credentials: %(message)s. Check the client id and secret of the "
                    "connection, and the API user's name and password."
                )
                % {"message": message.rstrip(".")},
                status=status,
                reason="auth",
                detail=message,
            )
        if status >= 400:
            raise ConfigError(
                _("The Akeneo token endpoint answered HTTP %(status)s: %(message)s")
                % {"status": status, "message": remote_message(response)},
                status=status,
                reason="http",
            )
        body = decode_json(response)
        if not isinstance(body, dict) or not body.get("access_token"):
            raise AuthError(
                _("The Akeneo token endpoint answered without an access token."),
                reason="auth",
                detail=json.dumps(body)[:200],
            )
        return body

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        """An authenticated request; a token refused with 401 is renewed once and the request sent again."""
        token = self._access_token()
        headers = dict(kwargs.pop("headers", None) or {})
        try:
            return self.client.request(
                method, url, headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs
            )
        except AuthError as exc:
            if exc.status != 401:
                raise
        token = self._access_token(stale=token)
        return self.client.request(
            method, url, headers={**headers, "Authorization": f"Bearer {token}"}, **kwargs
        )

    def _get_json(self, url: str, *, params: dict | None = None, what: str = ""):
        response = self._call("GET", url, params=params)
        if response.status_code == 404:
            raise NotFound(
                _("Not found in Akeneo: %(what)s") % {"what": what or url},
                status=404,
                detail=remote_message(response),
            )
        if response.status_code >= 400:
            raise ConfigError(
                _("Akeneo refused to read %(what)s (HTTP %(status)s): %(message)s")
                % {"what": what or url, "status": response.status_code, "message": remote_message(response)},
                status=response.status_code,
                reason="http",
                detail=remote_message(response),
            )
        return decode_json(response)

    # --- entities --------------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        read = frozenset({Capability.READ})
        labels = Field("labels", "object", _("Labels by locale"))
        updated = Field("updated", "datetime", _("Last update"))
        product_fields = (
            Field("identifier", "string", _("Identifier (SKU)"), required=True),
            Field("enabled", "boolean", _("Enabled")),
            Field("family", "string", _("Family code")),
            Field("categories", "array", _("Category codes")),
            Field("groups", "array", _("Group codes")),
            Field("parent", "string", _("Parent product model code")),
            Field("values", "object", _("Attribute values {attribute: [{locale, scope, data}]}")),
            Field("associations", "object", _("Associations")),
            Field("quantified_associations", "object", _("Quantified associations")),
            Field("created", "datetime", _("Created")),
            updated,
        )
        return [
            Entity(
                key="products",
                label=_("Products"),
                id_field="identifier",
                cursor_field="updated",
                natural_keys=("identifier",),
                capabilities=frozenset({Capability.READ, Capability.WRITE, Capability.DELETE}),
                fields=product_fields,
            ),
            Entity(
                key="products_uuid",
                label=_("Products (UUID API)"),
                id_field="uuid",
                cursor_field="updated",
                natural_keys=("identifier",),
                capabilities=frozenset({Capability.READ, Capability.WRITE, Capability.DELETE}),
                fields=(Field("uuid", "string", _("UUID")), *product_fields),
            ),
            Entity(
                key="families",
                label=_("Families"),
                id_field="code",
                cursor_field="updated",
                natural_keys=("code",),
                capabilities=read,
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    labels,
                    Field("attributes", "array", _("Attribute codes")),
                    Field("attribute_as_label", "string", _("Attribute used as label")),
                    Field("attribute_as_image", "string", _("Attribute used as image")),
                    Field("attribute_requirements", "object", _("Required attributes by channel")),
                    updated,
                ),
            ),
            Entity(
                key="attributes",
                label=_("Attributes"),
                id_field="code",
                cursor_field="updated",
                natural_keys=("code",),
                capabilities=read,
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    Field("type", "string", _("Type (pim_catalog_…)")),
                    Field("group", "string", _("Attribute group")),
                    labels,
                    Field("localizable", "boolean", _("Localizable")),
                    Field("scopable", "boolean", _("Scopable (per channel)")),
                    Field("unique", "boolean", _("Unique")),
                    Field("metric_family", "string", _("Metric family")),
                    Field("default_metric_unit", "string", _("Default metric unit")),
                    Field("sort_order", "integer", _("Sort order")),
                    updated,
                ),
            ),
            Entity(
                key="categories",
                label=_("Categories"),
                id_field="code",
                cursor_field="updated",
                natural_keys=("code",),
                capabilities=read,
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    Field("parent", "string", _("Parent category code")),
                    labels,
                    updated,
                ),
            ),
            Entity(
                key="product_models",
                label=_("Product models"),
                id_field="code",
                cursor_field="updated",
                natural_keys=("code",),
                capabilities=frozenset({Capability.READ, Capability.WRITE}),
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    Field("family", "string", _("Family code")),
                    Field("family_variant", "string", _("Family variant code (required to create)")),
                    Field("parent", "string", _("Parent product model code")),
                    Field("categories", "array", _("Category codes")),
                    Field("values", "object", _("Attribute values {attribute: [{locale, scope, data}]}")),
                    Field("associations", "object", _("Associations")),
                    Field("created", "datetime", _("Created")),
                    updated,
                ),
            ),
            Entity(
                key="attribute_options",
                label=_("Attribute options"),
                id_field="id",
                natural_keys=("id",),
                capabilities=read,
                fields=(
                    Field("id", "string", _("Attribute and option code (attribute/code)"), required=True),
                    Field("attribute", "string", _("Attribute code")),
                    Field("code", "string", _("Option code")),
                    Field("sort_order", "integer", _("Sort order")),
                    labels,
                ),
            ),
            Entity(
                key="channels",
                label=_("Channels"),
                id_field="code",
                natural_keys=("code",),
                capabilities=read,
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    Field("locales", "array", _("Locale codes")),
                    Field("currencies", "array", _("Currency codes")),
                    Field("category_tree", "string", _("Category tree")),
                    labels,
                ),
            ),
            Entity(
                key="locales",
                label=_("Locales"),
                id_field="code",
                natural_keys=("code",),
                capabilities=read,
                fields=(
                    Field("code", "string", _("Code"), required=True),
                    Field("enabled", "boolean", _("Enabled")),
                ),
            ),
        ]

    def _path(self, entity: str) -> tuple[str, str]:
        if entity not in PATHS:
            raise NotFound(_("This system has no entity “%(key)s”.") % {"key": entity})
        return PATHS[entity]

    def discover(self, sample_size: int = 5) -> list[Entity]:
        """The declared entities with samples; products also list one field per attribute
        (``values.<code>``) labelled in the default locale."""
        found = super().discover(sample_size)
        attributes = []
        for page in self.read("attributes"):
            attributes.extend(page.records)
        locale = self.params.get("default_locale") or "en_US"
        out = []
        for entity in found:
            if entity.key == "products" and attributes:
                declared = [f for f in entity.fields if not f.name.startswith("values.")]
                inferred = {f.name: f for f in entity.fields if f.name.startswith("values.")}
                extra = []
                for attribute in attributes:
                    code = attribute.get("code")
                    if not code:
                        continue
                    labels = attribute.get("labels") or {}
                    label = labels.get(locale) or next(iter(labels.values()), "") or code
                    flags = [attribute.get("type", "")]
                    if attribute.get("localizable"):
                        flags.append(_("per locale"))
                    if attribute.get("scopable"):
                        flags.append(_("per channel"))
                    name = f"values.{code}"
                    seen = inferred.pop(name, None)
                    extra.append(
                        Field(
                            name,
                            "array",
                            f"{label} ({', '.join(f for f in flags if f)})",
                            example=seen.example if seen else None,
                        )
                    )
                entity = replace(entity, fields=(*declared, *extra, *inferred.values()))
            out.append(entity)
        return out

    def ping(self) -> None:
        """A token, then one product (the cheapest authenticated call that needs the product rights)."""
        self._get_json(
            PATHS["products"][0],
            params={"pagination_type": "search_after", "limit": 1},
            what=_("products"),
        )

    # --- read ------------------------------------------------------------------------------------

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        """Pages to the last one. A page's cursor is the query of the PIM's next link (or, when
        ``limit`` stopped inside a page, that page's query and how many of its records were taken)."""
        path, _id_field = self._path(entity)
        if entity == "attribute_options":
            yield from self._read_options(cursor, since=since, limit=limit)
            return
        size = max(1, min(PAGE_SIZE, int(limit or PAGE_SIZE)))
        skip = 0
        if cursor:
            state = _load_cursor(cursor, entity)
            query, skip = state["query"], int(state.get("skip") or 0)
            since = state.get("since") or None  # products: the search filter is in the query already
        elif entity in SEARCH_AFTER:
            params = {"pagination_type": "search_after", "limit": size}
            if since:
                params["search"] = json.dumps(
                    {"updated": [{"operator": ">", "value": search_datetime(since)}]}, separators=(",", ":")
                )
            query = str(httpx.QueryParams(params))
        else:
            params = {"page": 1, "limit": size, "with_count": "false"}
            if since and entity == "product_models":
                params["search"] = json.dumps(
                    {"updated": [{"operator": ">", "value": search_datetime(since)}]}, separators=(",", ":")
                )
            query = str(httpx.QueryParams(params))
        since_moment = None
        if since and entity not in (*SEARCH_AFTER, "product_models"):
            # the other entities: the bound is applied here (see the module docstring)
            since_moment = parse_datetime(since)
            if since_moment is None:
                raise ConfigError(
                    _("“%(value)s” is not an ISO-8601 date and time.") % {"value": since}, reason="config"
                )
        returned = 0
        while True:
            body = self._get_json(f"{path}?{query}", what=entity)
            raw = _items(body, entity)
            next_query = _next_query(body)
            records, consumed = [], skip
            for record in raw[skip:]:
                if limit is not None and returned + len(records) >= limit:
                    break
                consumed += 1
                if since_moment is None or _updated_after(record, since_moment):
                    records.append(record)
            returned += len(records)
            if consumed < len(raw):  # the limit stopped inside this page: resume inside it
                state, has_more = {"entity": entity, "query": query, "skip": consumed}, False
            elif next_query is not None:
                state = {"entity": entity, "query": next_query}
                has_more = limit is None or returned < limit
            else:
                state, has_more = None, False
            if state is not None and since_moment is not None:
                state["since"] = since
            yield Page(records=records, cursor=json.dumps(state) if state else None, has_more=has_more)
            if not has_more:
                return
            query, skip = next_query, 0

    def _read_options(self, cursor, *, since=None, limit=None) -> Iterator[Page]:
        """The options of every select attribute, attribute after attribute (codes in order). Options
        carry no date: ``since`` cannot narrow them, so an incremental read returns them all."""
        state = _load_cursor(cursor, "attribute_options") if cursor else None
        codes = sorted(
            str(a["code"])
            for page in self.read("attributes")
            for a in page.records
            if a.get("type") in SELECT_TYPES and a.get("code")
        )
        first = str(httpx.QueryParams({"page": 1, "limit": PAGE_SIZE, "with_count": "false"}))
        if state is not None:
            resume = str(state.get("attribute") or "")
            codes = [c for c in codes if c >= resume]
        returned = 0
        if not codes:
            yield Page(records=[], cursor=None, has_more=False)
            return
        for index, code in enumerate(codes):
            resuming = state is not None and code == state.get("attribute")
            query, skip = (state["query"], int(state.get("skip") or 0)) if resuming else (first, 0)
            while True:
                url = f"{PATHS['attributes'][0]}/{quote(code, safe='')}/options?{query}"
                body = self._get_json(url, what=_("options of the attribute %(code)s") % {"code": code})
                raw = _items(body, "attribute_options")
                taken = raw[skip:]
                if limit is not None:
                    taken = taken[: max(0, limit - returned)]
                returned += len(taken)
                records = [
                    {**{k: v for k, v in r.items() if k != "_links"}, "id": f"{code}/{r.get('code')}"}
                    for r in taken
                ]
                next_query = _next_query(body)
                if skip + len(taken) < len(raw):
                    following = {"query": query, "skip": skip + len(taken), "attribute": code}
                elif next_query is not None:
                    following = {"query": next_query, "attribute": code}
                elif index + 1 < len(codes):
                    following = {"query": first, "attribute": codes[index + 1]}
                else:
                    following = None
                has_more = following is not None and (limit is None or returned < limit)
                cursor_out = json.dumps({"entity": "attribute_options", **following}) if following else None
                yield Page(records=records, cursor=cursor_out, has_more=has_more)
                if not has_more:
                    return
                if next_query is None:
                    break
                query, skip = next_query, 0

    def fetch(self, entity, ids):
        path, _id_field = self._path(entity)
        if entity == "attribute_options":
            wanted = {str(i) for i in ids}
            return [r for page in self.read(entity) for r in page.records if r["id"] in wanted]
        wanted = list(dict.fromkeys(str(i) for i in ids if i not in (None, "")))
        if entity == "products":
            found = {r.get("identifier"): r for r in self._search_identifiers(wanted)}
            return [found[i] for i in wanted if i in found]
        records = []
        for code in wanted:
            try:
                body = self._get_json(f"{path}/{quote(code, safe='')}", what=f"{entity} {code}")
            except NotFound:
                continue
            if isinstance(body, dict):
                records.append(body)
        return records

    def lookup(self, entity, field_name, values):
        _path, id_field = self._path(entity)
        if field_name != id_field:
            raise ConfigError(
                _("Akeneo %(entity)s can be looked up by “%(field)s” only.")
                % {"entity": entity, "field": id_field},
                reason="config",
            )
        return self.fetch(entity, values)

    def _search_identifiers(self, identifiers: list[str]) -> list[dict]:
        """Products whose identifier is one of ``identifiers``: ``search={"identifier":[{"operator":
        "IN",…}]}``, 100 identifiers a request."""
        path = PATHS["products"][0]
        found = []
        for start in range(0, len(identifiers), SEARCH_CHUNK):
            chunk = identifiers[start : start + SEARCH_CHUNK]
            search = json.dumps({"identifier": [{"operator": "IN", "value": chunk}]}, separators=(",", ":"))
            url, params = path, {"pagination_type": "search_after", "limit": PAGE_SIZE, "search": search}
            while True:
                body = self._get_json(url, params=params, what=_("products"))
                found.extend(_items(body, "products"))
                next_query = _next_query(body)
                if next_query is None:
                    break
                url, params = f"{path}?{next_query}", None
        return found

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        if entity not in WRITABLE:
            self._path(entity)
            raise ConfigError(
                _("Akeneo %(entity)s are read-only for the hub.") % {"entity": entity}, reason="config"
            )
        key = WRITABLE[entity]
        results: list[WriteResult | None] = [None] * len(records)
        lines: list[tuple[int, dict]] = []
        for index, record in enumerate(records):
            try:
                lines.append((index, self._prepare(record, entity)))
            except RecordError as exc:
                results[index] = WriteResult.failed(exc)
        if mode != WriteMode.UPSERT and lines:
            codes = [line[key] for _, line in lines]
            found = self._search_identifiers(codes) if entity == "products" else self.fetch(entity, codes)
            existing = {r.get(key) for r in found}
            kept = []
            for index, product in lines:
                code = product[key]
                if mode == WriteMode.CREATE and code in existing:
                    results[index] = WriteResult.failed(
                        RecordError(
                            _("The product %(code)s already exists (create only).") % {"code": code},
                            status=409,
                        )
                    )
                elif mode == WriteMode.UPDATE and code not in existing:
                    results[index] = WriteResult.failed(
                        RecordError(
                            _("The product %(code)s does not exist (update only).") % {"code": code},
                            status=404,
                        )
                    )
                else:
                    kept.append((index, product))
            lines = kept
        for start in range(0, len(lines), self.batch_size):
            chunk = lines[start : start + self.batch_size]
            for (index, _product), result in zip(chunk, self._patch_collection(entity, chunk), strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def _prepare(self, record, entity: str = "products") -> dict:
        """The product (model) as Akeneo accepts it, or raises ``RecordError`` for what cannot be sent."""
        if not isinstance(record, dict):
            raise RecordError(_("A product must be a JSON object."))
        if entity == "products_uuid":
            return self._prepare_uuid(record)
        code = record.get(WRITABLE[entity])
        if not isinstance(code, str) or not code.strip():
            if entity == "product_models":
                raise RecordError(_("The product model has no code."))
            raise RecordError(_("The product has no identifier (SKU)."))
        product = {k: v for k, v in record.items() if k not in READ_ONLY_KEYS}
        if "values" in product:
            product["values"] = self._complete_values(product["values"])
        return product

    def _prepare_uuid(self, record: dict) -> dict:
        """A product for the UUID endpoints: its ``uuid``, or one derived from its identifier (given as
        ``identifier`` or as the ``sku`` value) so that sending it again never makes a second product."""
        product = {k: v for k, v in record.items() if k not in READ_ONLY_KEYS}
        given = record.get("uuid")
        if given not in (None, ""):
            try:
                product["uuid"] = str(uuid.UUID(str(given)))
            except ValueError:
                raise RecordError(_("“%(value)s” is not a UUID.") % {"value": str(given)[:100]}) from None
        else:
            sku = record.get("identifier")
            values = record.get("values") if isinstance(record.get("values"), dict) else {}
            if not sku and isinstance(values.get("sku"), list) and values["sku"]:
                first = values["sku"][0]
                sku = first.get("data") if isinstance(first, dict) else None
            elif not sku and isinstance(values.get("sku"), str):
                sku = values["sku"]
            if not isinstance(sku, str) or not sku.strip():
                raise RecordError(_("The product has neither a UUID nor an identifier (SKU)."))
            product["uuid"] = str(uuid.uuid5(UUID_NAMESPACE, sku.strip()))
        if "values" in product:
            product["values"] = self._complete_values(product["values"])
        return product

    def _complete_values(self, values):
        """Values in Akeneo's ``[{locale, scope, data}]`` shape, missing locale/scope filled in."""
        if not isinstance(values, dict):
            return values  # Akeneo explains what is wrong
        out = {}
        for attribute, entries in values.items():
            is_entries = isinstance(entries, list) and all(
                isinstance(e, dict) and "data" in e for e in entries
            )
            if not is_entries:
                entries = [{"data": entries}]
            completed = []
            for entry in entries:
                locale, scope = entry.get("locale"), entry.get("scope")
                want_locale = "locale" not in entry and self.params.get("default_locale")
                want_scope = "scope" not in entry and self.params.get("default_channel")
                if want_locale or want_scope:
                    spec = self._attribute_spec(attribute) or {}
                    if want_locale and spec.get("localizable"):
                        locale = self.params["default_locale"]
                    if want_scope and spec.get("scopable"):
                        scope = self.params["default_channel"]
                completed.append({"locale": locale, "scope": scope, "data": entry["data"]})
            out[attribute] = completed
        return out

    def _attribute_spec(self, code: str) -> dict | None:
        """An attribute's definition (cached for this connector's life); None when it does not exist."""
        if code not in self._attribute_specs:
            try:
                body = self._get_json(
                    f"{PATHS['attributes'][0]}/{quote(code, safe='')}", what=f"attribute {code}"
                )
            except NotFound:
                body = None
            self._attribute_specs[code] = body if isinstance(body, dict) else None
        return self._attribute_specs[code]

    def _patch_collection(self, entity: str, chunk: list[tuple[int, dict]]) -> list[WriteResult]:
        """One collection PATCH; one result per line, in order."""
        key = WRITABLE[entity]
        body = "\n".join(json.dumps(product, ensure_ascii=False) for _, product in chunk).encode()
        response = self._call(
            "PATCH", PATHS[entity][0], content=body, headers={"Content-Type": COLLECTION_TYPE}
        )
        status = response.status_code
        if status == 404:
            raise ConfigError(
                _("No Akeneo product endpoint at %(url)s. Check the base URL.") % {"url": self.base_url},
                status=404,
                reason="config",
            )
        if status in (413, 415):
            raise ConfigError(
                _("Akeneo refused the batch (HTTP %(status)s): %(message)s")
                % {"status": status, "message": remote_message(response)},
                status=status,
                reason="http",
            )
        if status >= 400:
            error = RecordError(
                remote_message(response) or _("Rejected (HTTP %(status)s).") % {"status": status},
                status=status,
            )
            return [WriteResult.failed(error) for _ in chunk]
        by_line: dict[int, dict] = {}
        for raw in response.text.splitlines():
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError as exc:
                raise TransientError(
                    _("Akeneo sent a batch answer that is not valid JSON."),
                    status=status,
                    reason="malformed",
                    detail=raw[:200],
                ) from exc
            if isinstance(line, dict) and isinstance(line.get("line"), int):
                by_line[line["line"]] = line
        results = []
        for number, (_index, product) in enumerate(chunk, start=1):
            line = by_line.get(number)
            code = product[key]
            if line is None:
                # a cut answer: what happened to this product is unknown; the batch is safe to send again
                raise TransientError(
                    _("Akeneo's batch answer has no result for the product %(code)s.") % {"code": code},
                    status=status,
                    reason="malformed",
                    detail=response.text[:200],
                )
            line_status = line.get("status_code")
            if line_status in (200, 201, 204):
                action = "created" if line_status == 201 else "updated"
                results.append(WriteResult(ok=True, target_id=str(line.get(key) or code), action=action))
            else:
                results.append(WriteResult.failed(_line_error(line)))
        return results

    def delete(self, entity, ids):
        path, _id_field = self._path(entity)
        if entity not in SEARCH_AFTER:
            raise ConfigError(
                _("Akeneo %(entity)s are read-only for the hub.") % {"entity": entity}, reason="config"
            )
        results = []
        for code in ids:
            code = str(code)
            response = self._call("DELETE", f"{path}/{quote(code, safe='')}")
            if response.status_code in (200, 204):
                results.append(WriteResult(ok=True, target_id=code, action="deleted"))
            elif response.status_code == 404:
                results.append(WriteResult(ok=True, target_id=code, action="unchanged"))
            else:
                results.append(
                    WriteResult.failed(
                        RecordError(
                            remote_message(response), status=response.status_code, remote=_safe_json(response)
                        )
                    )
                )
        return results


# --- helpers -------------------------------------------------------------------------------------


def _items(body, entity: str) -> list[dict]:
    items = body.get("_embedded", {}).get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise TransientError(
            _("Akeneo answered a list of %(entity)s without “_embedded.items”.") % {"entity": entity},
            reason="malformed",
            detail=json.dumps(body)[:200],
        )
    return [r for r in items if isinstance(r, dict)]


def _next_query(body) -> str | None:
    """The query string of ``_links.next.href`` (kept without its host: a PIM behind a proxy may
    write links with another scheme or host than the one the hub reaches it at)."""
    href = ((body.get("_links") or {}).get("next") or {}).get("href") if isinstance(body, dict) else None
    if not isinstance(href, str) or not href:
        return None
    return urlsplit(href).query or None


def _load_cursor(cursor: str, entity: str) -> dict:
    try:
        state = json.loads(cursor)
    except ValueError:
        state = None
    if (
        not isinstance(state, dict)
        or state.get("entity") != entity
        or not isinstance(state.get("query"), str)
        or not isinstance(state.get("skip", 0), int)
        or state.get("skip", 0) < 0
    ):
        raise ConfigError(
            _("This cursor was not made by a read of Akeneo %(entity)s.") % {"entity": entity},
            reason="config",
        )
    return state


def _updated_after(record: dict, moment: datetime) -> bool:
    updated = parse_datetime(record.get("updated"))
    return updated is None or updated >= moment


def _line_error(line: dict) -> RecordError:
    """A rejected line of a collection PATCH: its message, with the detail of its ``errors``."""
    message = line.get("message") or _("Rejected (HTTP %(status)s).") % {"status": line.get("status_code")}
    details = []
    for error in line.get("errors") or []:
        if not isinstance(error, dict):
            continue
        where = error.get("attribute") or error.get("property") or ""
        context = ", ".join(str(error[k]) for k in ("locale", "scope") if error.get(k))
        if context:
            where = f"{where} [{context}]"
        details.append(f"{where}: {error.get('message', '')}" if where else str(error.get("message", "")))
    if details:
        message = f"{message} {'; '.join(details)}"
    return RecordError(
        message,
        status=line.get("status_code") if isinstance(line.get("status_code"), int) else None,
        detail=json.dumps(line.get("errors"), ensure_ascii=False)[:1000] if line.get("errors") else "",
        remote=line,
    )


def _safe_json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]
