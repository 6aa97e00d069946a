"""The connector contract: what every connector declares and the methods the engine calls.

A connector class is registered under a key (``@register_connector``). It declares its configuration
form (``parameters`` and ``sensitive_parameters``, NetBox data-backend style), the roles it suits, its
capabilities and its entities. An instance is built for one system from a ``ConnectionSettings``
snapshot; connectors never see a request and keep no state between runs except through the models
(token caches and request budgets live in ``flows.coordination``).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.utils.translation import gettext_lazy as _

from flows.connectors.errors import ConnectorError, NotFound, RecordError


class Capability(enum.StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    DISCOVER = "discover"
    WEBHOOK = "webhook"
    SUBJECT_LOOKUP = "subject_lookup"
    SUBJECT_ERASE = "subject_erase"
    SUBJECT_EXPORT = "subject_export"


class WriteMode(enum.StrEnum):
    UPSERT = "upsert"
    CREATE = "create"
    UPDATE = "update"


@dataclass(frozen=True)
class Field:
    """One field of an entity, as discovered or declared. ``path`` reaches it in a record."""

    name: str
    type: str = "string"  # string, number, integer, boolean, datetime, date, object, array
    label: str = ""
    required: bool = False
    personal: str = ""  # a personal-data guess: "email", "phone", "name", "address", "birthdate"…
    example: Any = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "label": str(self.label or self.name),
            "required": self.required,
            "personal": self.personal,
            "example": self.example,
        }


@dataclass(frozen=True)
class Entity:
    """A kind of record a system holds (products, stock, contacts…)."""

    key: str
    label: str = ""
    fields: tuple[Field, ...] = ()
    id_field: str = "id"
    cursor_field: str = ""  # the field incremental reads filter on ("updated", "write_date"…)
    natural_keys: tuple[str, ...] = ()  # fields that identify a record across systems (sku, email)
    # A field the system keeps where the hub may stamp its own reference on the records it creates
    # (an external id, Odoo's ``ref``): a create-only target without a natural key is reconciled on it
    # after a crash, so a record is never created twice.
    reference_field: str = ""
    # A record the source keeps but has retired (archived, inactive): (field, value), e.g. Odoo's
    # ("active", False). A mirror flow's incremental read deletes its linked target record.
    tombstone: tuple[str, Any] | None = None
    capabilities: frozenset[Capability] = frozenset({Capability.READ})
    samples: tuple[dict, ...] = ()

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "label": str(self.label or self.key),
            "id_field": self.id_field,
            "cursor_field": self.cursor_field,
            "natural_keys": list(self.natural_keys),
            "reference_field": self.reference_field,
            "tombstone": list(self.tombstone) if self.tombstone else None,
            "capabilities": sorted(self.capabilities),
            "fields": [f.as_dict() for f in self.fields],
            "samples": list(self.samples),
        }


@dataclass
class Page:
    """One page of source records. ``cursor`` resumes the read after this page (opaque to the engine).

    ``errors``: source records that could not even be parsed (a broken CSV line): the engine sends
    each to triage with its message instead of stopping the read.
    """

    records: list[dict]
    cursor: str | None = None
    has_more: bool = False
    errors: list[RecordError] = field(default_factory=list)
    # On the first page of a read, when the source says: how many records this read yields in all
    # (from this page on). The run's progress bar and its ETA come from it.
    total: int | None = None


@dataclass
class WriteResult:
    """What happened to one record of a write or delete, in input order."""

    ok: bool
    target_id: str | None = None
    action: str = ""  # created, updated, deleted, unchanged
    error: ConnectorError | None = None

    @classmethod
    def failed(cls, error: ConnectorError) -> WriteResult:
        return cls(ok=False, error=error)


@dataclass
class CheckResult:
    """A connection test. ``kind`` names the failure in plain words for the console."""

    ok: bool
    latency_ms: float | None = None
    message: str = ""
    kind: str = ""  # dns, refused, tls, timeout, auth, forbidden, http, config, malformed
    detail: str = ""


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a connector needs to reach one system, decrypted, detached from the ORM."""

    system_id: int | None
    name: str
    params: dict = field(default_factory=dict)
    secrets: dict = field(default_factory=dict)
    timeout: float = 30.0
    rate_limit: float | None = None  # requests per second for the whole system, all processes
    max_concurrency: int | None = None  # requests in flight for the whole system, all processes
    verify_tls: bool = True


class Connector:
    """Base class. Subclasses set the class attributes and implement what their capabilities promise."""

    key: ClassVar[str] = ""
    label: ClassVar[str] = ""
    description: ClassVar[str] = ""
    help_text: ClassVar[str] = ""  # where to find the credentials in the vendor's admin
    roles: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[dict[str, forms.Field]] = {}
    sensitive_parameters: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})
    # Attempts after the first on transient failures; a connection test answers at once instead.
    retries: int = 4

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings
        self.params = settings.params
        self.secrets = settings.secrets

    # --- configuration ---------------------------------------------------------------------------

    @classmethod
    def clean_parameters(cls, params: dict, secrets: dict) -> dict:
        """Cross-field validation of a configuration; return {field: message} for what is wrong."""
        return {}

    # --- the contract ----------------------------------------------------------------------------

    def entities(self) -> list[Entity]:
        """The entities this system holds, as declared (no network)."""
        return []

    def entity(self, key: str) -> Entity:
        for entity in self.entities():
            if entity.key == key:
                return entity
        raise NotFound(_("This system has no entity “%(key)s”.") % {"key": key})

    def check(self) -> CheckResult:
        """Test the connection and the credentials. Never raises: failures are in the result."""
        from flows.connectors.http import explain

        start = time.perf_counter()
        self.retries = 0  # a person is waiting for the answer: report the first failure
        client = getattr(self, "_client", None)
        if client is not None and hasattr(client, "max_retries"):
            client.max_retries = 0  # a client built before the check keeps no retries either
        try:
            self.ping()
        except Exception as exc:  # a connection test reports every failure in plain words
            return explain(exc, latency_ms=(time.perf_counter() - start) * 1000)
        return CheckResult(
            ok=True, latency_ms=round((time.perf_counter() - start) * 1000, 1), message=str(_("Connected"))
        )

    def ping(self) -> None:
        """The cheapest authenticated call; raises a ``ConnectorError`` when it fails."""
        entities = self.entities()
        if entities:
            next(iter(self.read(entities[0].key, limit=1)), None)

    def discover(self, sample_size: int = 5) -> list[Entity]:
        """Entities with their fields and a few sample records, read from the live system."""
        from flows.connectors.discovery import infer_fields

        found = []
        for entity in self.entities():
            samples: list[dict] = []
            if Capability.READ in entity.capabilities:
                for page in self.read(entity.key, limit=sample_size):
                    samples.extend(page.records)
                    if len(samples) >= sample_size:
                        break
            samples = samples[:sample_size]
            fields = entity.fields or infer_fields(samples)
            if entity.fields and samples:
                fields = _merge_fields(entity.fields, infer_fields(samples))
            found.append(
                Entity(
                    key=entity.key,
                    label=entity.label,
                    fields=tuple(fields),
                    id_field=entity.id_field,
                    cursor_field=entity.cursor_field,
                    natural_keys=entity.natural_keys,
                    reference_field=entity.reference_field,
                    tombstone=entity.tombstone,
                    capabilities=entity.capabilities,
                    samples=tuple(samples),
                )
            )
        return found

    def read(
        self, entity: str, cursor: str | None = None, *, since: str | None = None, limit: int | None = None
    ) -> Iterator[Page]:
        """Yield pages of ``entity`` from ``cursor`` (or from ``since``, an incremental bound) to the end."""
        raise NotImplementedError

    def fetch(self, entity: str, ids: list[str]) -> list[dict]:
        """Records by id, for preview, replay and resyncing one record. Missing ids are left out."""
        raise NotImplementedError

    def lookup(self, entity: str, field_name: str, values: list[str]) -> list[dict]:
        """Records whose ``field_name`` is one of ``values`` (matching, crash reconciliation)."""
        raise NotImplementedError

    def write(
        self, entity: str, records: list[dict], mode: WriteMode = WriteMode.UPSERT
    ) -> list[WriteResult]:
        """Write records; one result per record, in order. A rejected record is a failed result, not an
        exception; an exception means the whole batch did not go through (transient, auth…)."""
        raise NotImplementedError

    def delete(self, entity: str, ids: list[str]) -> list[WriteResult]:
        raise NotImplementedError

    def commit(self, entity: str, cursor: str | None) -> None:
        """Called once the batch that ends at ``cursor`` is committed by the engine: a source that
        consumes what it delivered (files moved aside, messages acknowledged) does it here. Default: nothing."""

    def close(self) -> None:
        """Release connections."""


def _merge_fields(declared, inferred) -> list[Field]:
    names = {f.name for f in declared}
    return [*declared, *(f for f in inferred if f.name not in names)]
