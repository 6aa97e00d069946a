"""The generic REST/JSON connector: any JSON API, configured entirely in the system's form.

Authentication: none, HTTP basic, bearer token, API key (header or query), OAuth2 client credentials or
password grant (tokens cached across worker processes and refreshed). Each entity names its list
endpoint, where the records sit in the body, and its pagination: page + size, offset + limit, cursor
token, ``Link: rel=next``, next URL in the body, or search_after. Incremental reads pass a parameter
(updated since, in a chosen date format). Writes go per record or to a batch endpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit

import httpx
from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.choices import SystemRole
from flows.connectors.base import Capability, Connector, Entity, Page, WriteMode, WriteResult
from flows.connectors.definitions import entity_from_definition, entity_list_problem
from flows.connectors.errors import AuthError, ConfigError, NotFound, RecordError, TransientError
from flows.connectors.http import HubClient, decode_json, redact_url, remote_message
from flows.connectors.paths import get_path
from flows.connectors.registry import register_connector
from flows.coordination import delete_shared, get_shared, lock, set_shared


def token_key(system_id, fingerprint: str) -> str:
    """Where a system's OAuth2 access token is shared between worker processes. The fingerprint of
    the credentials is part of it: after an admin changes them, the old token is never used again."""
    return f"oauth-token:{system_id}:{fingerprint}"


def extra_headers(secrets: dict) -> dict | None:
    """The extra headers kept with the secrets, or None when they are not a JSON object of texts."""
    try:
        value = json.loads(secrets.get("headers") or "{}")
    except ValueError:
        return None
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return value
    return None


def _path_id(value) -> str:
    """A record id placed in a URL path: quoted whole, so an id like "../users/1" stays one segment."""
    return quote(str(value), safe="")


AUTH_TYPES = [
    ("none", gettext_lazy("None")),
    ("basic", gettext_lazy("HTTP basic (user name + password)")),
    ("bearer", gettext_lazy("Bearer token")),
    ("api_key_header", gettext_lazy("API key in a header")),
    ("api_key_query", gettext_lazy("API key in the query string")),
    ("oauth2_client_credentials", gettext_lazy("OAuth2 client credentials")),
    ("oauth2_password", gettext_lazy("OAuth2 password grant")),
]
PAGINATION_TYPES = {"none", "page", "offset", "cursor", "link", "next_url", "search_after"}
DATE_FORMATS = {"iso", "epoch", "epoch_ms"}

ENTITIES_HELP = gettext_lazy(
    'A JSON list, one object per entity, e.g. [{"key": "products", "path": "/products", '
    '"records_path": "data", "id_field": "id", "pagination": {"type": "page", "page_param": "page", '
    '"size_param": "per_page", "page_size": 100}, "incremental": {"param": "updated_since", '
    '"format": "iso"}, "write": {"create": {"method": "POST", "path": "/products"}, '
    '"update": {"method": "PUT", "path": "/products/{id}"}}}]. See the README for every option.'
)


class JSONListField(forms.JSONField):
    def __init__(self, **kwargs):
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 8, "class": "font-monospace"}))
        super().__init__(**kwargs)

    def to_python(self, value):
        try:
            return super().to_python(value)
        except RecursionError:  # json.loads on thousands of nested brackets
            raise forms.ValidationError(_("The JSON is nested too deeply."), code="invalid") from None

    def bound_data(self, data, initial):
        try:
            return super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)


@register_connector
class RestConnector(Connector):
    key = "rest"
    label = gettext_lazy("REST / JSON API")
    description = gettext_lazy(
        "Any JSON API over HTTP, described in this form: endpoints, paging, authentication."
    )
    roles = tuple(SystemRole.values)
    capabilities = frozenset({Capability.READ, Capability.WRITE, Capability.DELETE, Capability.DISCOVER})
    parameters = {
        "base_url": forms.URLField(
            label=gettext_lazy("Base URL"),
            help_text=gettext_lazy("e.g. https://api.example.com/v1 — entity paths are relative to it."),
        ),
        "auth_type": forms.ChoiceField(
            label=gettext_lazy("Authentication"), choices=AUTH_TYPES, initial="none"
        ),
        "username": forms.CharField(label=gettext_lazy("User name"), required=False),
        "api_key_name": forms.CharField(
            label=gettext_lazy("API key name"),
            required=False,
            initial="X-API-Key",
            help_text=gettext_lazy("The header or query parameter that carries the API key."),
        ),
        "token_url": forms.URLField(label=gettext_lazy("OAuth2 token URL"), required=False),
        "client_id": forms.CharField(label=gettext_lazy("OAuth2 client id"), required=False),
        "scope": forms.CharField(label=gettext_lazy("OAuth2 scope"), required=False),
        "entities": JSONListField(label=gettext_lazy("Entities"), help_text=ENTITIES_HELP),
    }
    # Extra headers often carry keys: they are kept with the secrets (encrypted, never shown back).
    sensitive_parameters = ("password", "token", "api_key", "client_secret", "headers")
    secret_labels = {"headers": gettext_lazy('Extra headers (JSON object, e.g. {"X-Tenant": "fr"})')}
    secret_widgets = {"headers": "textarea"}

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        errors: dict[str, str] = {}
        auth = params.get("auth_type") or "none"
        needs = {
            "basic": [("username", params), ("password", secrets)],
            "bearer": [("token", secrets)],
            "api_key_header": [("api_key_name", params), ("api_key", secrets)],
            "api_key_query": [("api_key_name", params), ("api_key", secrets)],
            "oauth2_client_credentials": [
                ("token_url", params),
                ("client_id", params),
                ("client_secret", secrets),
            ],
            "oauth2_password": [
                ("token_url", params),
                ("client_id", params),
                ("username", params),
                ("password", secrets),
            ],
        }.get(auth, [])
        for name, source in needs:
            if not source.get(name):
                errors[name] = _("Required for this authentication.")
        if secrets.get("headers") and extra_headers(secrets) is None:
            errors["headers"] = _("Give a JSON object of header names to text values.")
        problem = validate_entities(params.get("entities"))
        if problem:
            errors["entities"] = problem
        return errors

    # --- plumbing --------------------------------------------------------------------------------

    def __init__(self, settings):
        super().__init__(settings)
        self._client: HubClient | None = None

    @property
    def client(self) -> HubClient:
        if self._client is None:
            headers = extra_headers(self.secrets) or {}
            auth_type = self.params.get("auth_type") or "none"
            auth = None
            if auth_type == "basic":
                auth = httpx.BasicAuth(self.params.get("username", ""), self.secrets.get("password", ""))
            elif auth_type == "bearer":
                headers["Authorization"] = f"Bearer {self.secrets.get('token', '')}"
            elif auth_type == "api_key_header":
                headers[self.params.get("api_key_name") or "X-API-Key"] = self.secrets.get("api_key", "")
            self._client = HubClient(
                self.settings,
                base_url=self.params.get("base_url", ""),
                headers=headers,
                auth=auth,
                max_retries=self.retries,
            )
        return self._client

    def close(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def _auth_params(self) -> dict:
        if self.params.get("auth_type") == "api_key_query":
            return {self.params.get("api_key_name") or "api_key": self.secrets.get("api_key", "")}
        return {}

    def _oauth_headers(self) -> dict:
        if not (self.params.get("auth_type") or "").startswith("oauth2"):
            return {}
        return {"Authorization": f"Bearer {self._access_token()}"}

    def _access_token(self, force: bool = False) -> str:
        """An OAuth2 access token, cached for every worker process until shortly before it expires."""
        key = token_key(self.settings.system_id, self._credentials_fingerprint())
        if not force and (token := get_shared(key)):
            return token
        with lock(key, ttl=self.settings.timeout + 5):
            if not force and (token := get_shared(key)):
                return token  # another process refreshed it while we waited
            token, ttl = self._fetch_token()
            set_shared(key, token, max(1.0, ttl - 30))
            return token

    def _fetch_token(self) -> tuple[str, float]:
        grant = (
            "client_credentials" if self.params["auth_type"] == "oauth2_client_credentials" else "password"
        )
        data = {
            "grant_type": grant,
            "client_id": self.params.get("client_id", ""),
            "client_secret": self.secrets.get("client_secret", ""),
        }
        if grant == "password":
            data.update(username=self.params.get("username", ""), password=self.secrets.get("password", ""))
        if self.params.get("scope"):
            data["scope"] = self.params["scope"]
        try:
            response = self.client.request("POST", self.params["token_url"], data=data)
        except AuthError as exc:
            raise AuthError(
                _("The token endpoint refused the credentials."),
                status=exc.status,
                reason="auth",
                detail=exc.detail,
            ) from exc
        if response.status_code in (400, 401):
            raise AuthError(
                _("The token endpoint refused the credentials."),
                status=response.status_code,
                reason="auth",
                detail=remote_message(response),
            )
        body = decode_json(response) or {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            raise AuthError(
                _("The token endpoint answered without an access_token."),
                reason="auth",
                detail=json.dumps(body)[:200],
            )
        return token, float(body.get("expires_in") or 3600)

    def _credentials_fingerprint(self) -> str:
        parts = [
            self.params.get(k) or ""
            for k in ("base_url", "auth_type", "token_url", "client_id", "username", "scope")
        ]
        parts += [self.secrets.get(k) or "" for k in ("client_secret", "password")]
        return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:32]

    def _check_origin(self, url: str) -> None:
        """Credentials go only to the configured base URL's origin: a next-page link or a path that
        points elsewhere (another host, http instead of https) is refused, never followed."""
        if "://" not in url and not url.startswith("//"):
            return
        base, target = urlsplit(self.params.get("base_url", "")), urlsplit(url)
        if (base.scheme, base.hostname, base.port) != (target.scheme, target.hostname, target.port):
            raise ConfigError(
                _(
                    "The system pointed to %(url)s, outside its base URL: not followed (credentials stay with the system)."
                )
                % {"url": redact_url(url)},
                reason="config",
            )

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """A request with the configured auth; an OAuth token refused once is refreshed and retried."""
        self._check_origin(path)
        kwargs["params"] = {**self._auth_params(), **(kwargs.get("params") or {})}
        headers = self._oauth_headers()  # a refused token request is final: not retried below
        try:
            return self.client.request(method, path, headers=headers, **kwargs)
        except AuthError:
            if not (self.params.get("auth_type") or "").startswith("oauth2"):
                raise
            delete_shared(token_key(self.settings.system_id, self._credentials_fingerprint()))
            self._access_token(force=True)
            return self.client.request(method, path, headers=self._oauth_headers(), **kwargs)

    def _json(self, method: str, path: str, **kwargs):
        response = self._call(method, path, **kwargs)
        if response.status_code == 404:
            raise NotFound(_("Not found: %(path)s") % {"path": path}, status=404)
        if response.status_code >= 400:
            raise RecordError(remote_message(response), status=response.status_code, remote=_body(response))
        return decode_json(response)

    # --- entities --------------------------------------------------------------------------------

    def _definition(self, key: str) -> dict:
        for definition in self.params.get("entities") or []:
            if definition.get("key") == key:
                return definition
        raise NotFound(_("This system has no entity “%(key)s”.") % {"key": key})

    def entities(self) -> list[Entity]:
        found = []
        for d in self.params.get("entities") or []:
            caps = {Capability.READ}
            if d.get("write"):
                caps.add(Capability.WRITE)
            if d.get("delete"):
                caps.add(Capability.DELETE)
            found.append(entity_from_definition(d, caps))
        return found

    # --- read ------------------------------------------------------------------------------------

    def read(self, entity, cursor=None, *, since=None, limit=None) -> Iterator[Page]:
        d = self._definition(entity)
        paging = d.get("pagination") or {"type": "none"}
        kind = paging.get("type", "none")
        size = int(limit or paging.get("page_size") or 100)
        base_params: dict = dict(d.get("params") or {})
        incremental = d.get("incremental") or {}
        if since and incremental.get("param"):
            base_params[incremental["param"]] = format_since(since, incremental.get("format", "iso"))
        state = json.loads(cursor) if cursor else {}
        url = state.get("url") or d["path"]
        returned = 0
        while True:
            params = dict(base_params) if not state.get("url") else {}
            if kind == "page":
                params[paging.get("page_param", "page")] = state.get("page", paging.get("first_page", 1))
                params[paging.get("size_param", "per_page")] = size
            elif kind == "offset":
                params[paging.get("offset_param", "offset")] = state.get("offset", 0)
                params[paging.get("limit_param", "limit")] = size
            elif kind in ("cursor", "search_after"):
                params[paging.get("size_param", "limit")] = size
                token_param = paging.get("cursor_param" if kind == "cursor" else "search_after_param", kind)
                if state.get("token"):
                    params[token_param] = state["token"]
            elif kind in ("link", "next_url") and not state.get("url") and paging.get("size_param"):
                params[paging["size_param"]] = size
            response = self._call("GET", url, params=params)
            if response.status_code == 404:
                raise NotFound(_("The list endpoint %(path)s does not exist.") % {"path": url}, status=404)
            if response.status_code in (408, 423, 425):
                raise TransientError(
                    _("Reading %(entity)s was refused for now (HTTP %(status)s): %(message)s")
                    % {"entity": entity, "status": response.status_code, "message": remote_message(response)},
                    status=response.status_code,
                    reason="http",
                )
            if response.status_code >= 400:
                raise ConfigError(
                    _("Reading %(entity)s was refused (HTTP %(status)s): %(message)s")
                    % {"entity": entity, "status": response.status_code, "message": remote_message(response)},
                    status=response.status_code,
                    reason="http",
                )
            body = decode_json(response)
            records = get_path(body, d.get("records_path", "")) if d.get("records_path") else body
            if records is None:
                records = []
            if not isinstance(records, list):
                raise ConfigError(
                    _("The records of %(entity)s are not a list at “%(path)s”.")
                    % {"entity": entity, "path": d.get("records_path", "")},
                    reason="config",
                )
            # An item that is not an object is a record the engine sends to triage, never dropped.
            errors = [
                _not_an_object(entity, i, r) for i, r in enumerate(records, 1) if not isinstance(r, dict)
            ]
            records = [r for r in records if isinstance(r, dict)]
            next_state = self._next_state(kind, paging, state, body, response, records, size)
            if limit is not None:
                records = records[: max(0, limit - returned)]
            returned += len(records)
            has_more = next_state is not None and (limit is None or returned < limit)
            yield Page(
                records=records,
                cursor=json.dumps(next_state) if next_state else None,
                has_more=has_more,
                errors=errors,
            )
            if not has_more:
                return
            state = next_state
            url = state.get("url") or d["path"]

    def _next_state(self, kind, paging, state, body, response, records, size) -> dict | None:
        if kind == "none" or not records:
            return None
        if kind == "page":
            total_pages = (
                get_path(body, paging["total_pages_path"]) if paging.get("total_pages_path") else None
            )
            page = state.get("page", paging.get("first_page", 1))
            if total_pages is not None and page >= int(total_pages):
                return None
            # A short page does not prove the end (many APIs cap the page size below what was asked):
            # only an empty page or the stated total does.
            return {"page": page + 1}
        if kind == "offset":
            return {"offset": state.get("offset", 0) + len(records)}
        if kind == "cursor":
            token = get_path(body, paging.get("cursor_path", "next_cursor"))
            return {"token": token} if token else None
        if kind == "search_after":
            last = get_path(records[-1], paging.get("search_after_field", "id"))
            return {"token": last} if last is not None else None
        if kind == "link":
            link = response.links.get("next", {}).get("url")
            return {"url": urljoin(str(response.url), link)} if link else None
        if kind == "next_url":
            link = get_path(body, paging.get("next_url_path", "next"))
            return {"url": urljoin(str(response.url), link)} if link else None
        return None

    def fetch(self, entity, ids):
        d = self._definition(entity)
        path = d.get("fetch_path") or f"{d['path'].rstrip('/')}/{{id}}"
        records = []
        for record_id in ids:
            try:
                body = self._json("GET", path.format(id=_path_id(record_id)))
            except NotFound:
                continue
            record = get_path(body, d["fetch_record_path"]) if d.get("fetch_record_path") else body
            if isinstance(record, dict):
                records.append(record)
        return records

    def lookup(self, entity, field_name, values):
        d = self._definition(entity)
        found = []
        for value in values:
            for page in self._read_filtered(d, {field_name: value}):
                found.extend(r for r in page if str(get_path(r, field_name)) == str(value))
        return found

    def _read_filtered(self, d, params):
        body = self._json("GET", d["path"], params={**(d.get("params") or {}), **params})
        records = get_path(body, d.get("records_path", "")) if d.get("records_path") else body
        yield [r for r in (records or []) if isinstance(r, dict)]

    # --- write -----------------------------------------------------------------------------------

    def write(self, entity, records, mode=WriteMode.UPSERT):
        d = self._definition(entity)
        write = d.get("write") or {}
        if not write:
            raise ConfigError(
                _("The entity %(entity)s has no write endpoint configured.") % {"entity": entity}
            )
        if write.get("batch"):
            return self._write_batch(d, write["batch"], records)
        return [self._write_one(d, write, record, mode) for record in records]

    def _write_one(self, d, write, record, mode) -> WriteResult:
        id_field = d.get("id_field", "id")
        record_id = get_path(record, id_field)
        update = write.get("update")
        create = write.get("create")
        try:
            if record_id not in (None, "") and update and mode != WriteMode.CREATE:
                body = self._json(
                    update.get("method", "PUT"), update["path"].format(id=_path_id(record_id)), json=record
                )
                action = "updated"
            elif create and mode != WriteMode.UPDATE:
                # A create has no idempotency key here: never resent after a timeout or a 5xx.
                body = self._json(create.get("method", "POST"), create["path"], json=record, idempotent=False)
                action = "created"
            else:
                raise RecordError(_("Nothing to write to: no id for an update, or creating is not allowed."))
        except (RecordError, NotFound) as exc:
            return WriteResult.failed(
                exc if isinstance(exc, RecordError) else RecordError(exc.message, status=404)
            )
        new_id = get_path(body, write.get("result_id_path", id_field)) if isinstance(body, dict) else None
        return WriteResult(ok=True, target_id=str(new_id if new_id is not None else record_id), action=action)

    def _write_batch(self, d, batch, records) -> list[WriteResult]:
        payload = {batch.get("body_key", "items"): records} if batch.get("body_key", "items") else records
        # A batch endpoint's semantics are unknown (it may create): never resent after a lost answer
        # unless its definition says it is an upsert ("idempotent": true).
        response = self._call(
            batch.get("method", "POST"), batch["path"], json=payload, idempotent=bool(batch.get("idempotent"))
        )
        if response.status_code >= 400 and response.status_code not in (207, 422):
            error = RecordError(remote_message(response), status=response.status_code)
            return [WriteResult.failed(error) for _ in records]
        body = decode_json(response)
        results = (
            get_path(body, batch.get("results_path", "results"))
            if batch.get("results_path", "results")
            else body
        )
        if not isinstance(results, list) or len(results) != len(records):
            raise ConfigError(_("The batch answer does not list one result per record."), reason="config")
        out = []
        error_path, id_path = batch.get("error_path", "error"), batch.get("result_id_path", "id")
        # One plain key (the usual case) is read directly: what get_path does for it, per result.
        error_key = error_path if error_path and "." not in error_path else None
        id_key = id_path if id_path and "." not in id_path else None
        for result in results:
            is_dict = isinstance(result, dict)
            if not is_dict:
                error = None
            elif error_key is not None:
                error = result.get(error_key)
            else:
                error = get_path(result, error_path)
            if error:
                message = error if isinstance(error, str) else json.dumps(error)[:300]
                out.append(WriteResult.failed(RecordError(message, remote=result)))
            else:
                if not is_dict:
                    new_id = None
                elif id_key is not None:
                    new_id = result.get(id_key)
                else:
                    new_id = get_path(result, id_path)
                out.append(
                    WriteResult(ok=True, target_id=None if new_id is None else str(new_id), action="upserted")
                )
        return out

    def delete(self, entity, ids):
        d = self._definition(entity)
        delete = d.get("delete")
        if not delete:
            raise ConfigError(
                _("The entity %(entity)s has no delete endpoint configured.") % {"entity": entity}
            )
        results = []
        for record_id in ids:
            response = self._call(
                delete.get("method", "DELETE"), delete["path"].format(id=_path_id(record_id))
            )
            if response.status_code in (200, 202, 204, 404):
                results.append(WriteResult(ok=True, target_id=str(record_id), action="deleted"))
            else:
                results.append(
                    WriteResult.failed(RecordError(remote_message(response), status=response.status_code))
                )
        return results


def _not_an_object(entity: str, position: int, value) -> RecordError:
    kind = "null" if value is None else "a list" if isinstance(value, list) else type(value).__name__
    return RecordError(
        _("Item %(n)s of the %(entity)s page is not a JSON object (%(kind)s): %(value)s")
        % {"n": position, "entity": entity, "kind": kind, "value": json.dumps(value)[:100]},
        reason="parse",
    )


def _body(response):
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def format_since(value: str, fmt: str) -> str:
    """An incremental bound in the API's format: iso (as given), epoch, epoch_ms or a strftime pattern."""
    if fmt == "iso":
        return value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if fmt == "epoch":
        return str(int(moment.timestamp()))
    if fmt == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    return moment.astimezone(UTC).strftime(fmt)


def _relative(path) -> bool:
    return (
        isinstance(path, str)
        and bool(path)
        and "://" not in path
        and not path.startswith("//")
        and ".." not in path
    )


def validate_entities(value) -> str:
    """The first problem of an entities definition, in words; empty when it is usable."""
    return entity_list_problem(value, _check_entity)


def _check_entity(where: str, d: dict) -> str:
    path = d.get("path")
    if not _relative(path):
        return _('%(where)s needs a “path” relative to the base URL, e.g. "/products".') % {"where": where}
    paging = d.get("pagination") or {}
    if not isinstance(paging, dict) or paging.get("type", "none") not in PAGINATION_TYPES:
        return _("%(where)s: pagination “type” must be one of %(types)s.") % {
            "where": where,
            "types": ", ".join(sorted(PAGINATION_TYPES)),
        }
    if "page_size" in paging and (
        not isinstance(paging["page_size"], int) or not 1 <= paging["page_size"] <= 10000
    ):
        return _("%(where)s: “page_size” must be a whole number from 1 to 10000.") % {"where": where}
    for name, value in (("fetch_path", d.get("fetch_path")), ("delete", (d.get("delete") or {}).get("path"))):
        if value is not None and not _relative(value):
            return _("%(where)s: “%(name)s” needs a path relative to the base URL.") % {
                "where": where,
                "name": name,
            }
    incremental = d.get("incremental") or {}
    if incremental and not isinstance(incremental.get("param"), str):
        return _("%(where)s: “incremental” needs a “param”.") % {"where": where}
    write = d.get("write") or {}
    for part in ("create", "update", "batch"):
        spec = write.get(part)
        if spec is not None and not (isinstance(spec, dict) and _relative(spec.get("path"))):
            return _("%(where)s: write “%(part)s” needs a relative “path”.") % {
                "where": where,
                "part": part,
            }
        if spec and spec.get("method", "POST").upper() not in ("POST", "PUT", "PATCH"):
            return _("%(where)s: write “%(part)s” method must be POST, PUT or PATCH.") % {
                "where": where,
                "part": part,
            }
    return ""
