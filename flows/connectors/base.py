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
from flows.connectors.paths import get_path


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


# How a connector may erase a data subject's record (``SubjectEntity.strategy``):
# delete the record; overwrite its personal fields (``mask``); call the vendor's own GDPR endpoint
# (``vendor``); keep it under a legal exemption (``exempt``, Art. 17(3)); or leave it to a person
# in the system itself (``manual``).
ERASE_STRATEGIES = ("delete", "mask", "vendor", "exempt", "manual")


@dataclass
class SubjectEntity:
    """Where persons live in one system, declared by the connector class (``subject_entities``).

    ``identifiers`` maps an identifier kind the hub knows a person by (``email``, ``phone``,
    ``customer_id``) to the field of ``entity`` it is looked up in (``lookup(entity, field, values)``);
    kinds an entity does not list are not searched there. ``strategy`` is the default erasure,
    ``strategies`` every strategy the connector can carry out for this entity (the default first;
    ``exempt`` and ``manual`` never touch the system and are always possible). ``mask`` gives the
    replacement value of each personal field for the ``mask`` strategy (dotted paths for nested
    fields); ``exemption`` the legal justification when the records are kept (Art. 17(3)).
    """

    entity: str  # e.g. "customers", "contacts", "partners", "orders"
    identifiers: dict[str, str]  # identifier kind ("email", "phone", "customer_id") -> lookup field
    strategy: str  # default erasure: "delete" | "mask" | "vendor" | "exempt" | "manual"
    mask: dict = field(default_factory=dict)  # field -> replacement value, for "mask"
    exemption: str = ""  # default legal justification when kept/masked by law (Art. 17(3))
    label: str = ""  # human name of the entity ("Customer accounts")
    # Added to the contract: the strategies this connector carries out for the entity (default first)
    # and the noun of one record in labels ("customer" → "customer #42").
    strategies: tuple[str, ...] = ()
    noun: str = ""

    def allowed(self) -> tuple[str, ...]:
        """The strategies a DPO may choose for this entity, the default first."""
        own = self.strategies or (self.strategy,)
        return tuple(dict.fromkeys((self.strategy, *own, "exempt", "manual")))


@dataclass
class SubjectRecord:
    """One record of a data subject found in a system (``Connector.find_subject``)."""

    entity: str
    id: str  # the record's id in that system
    data: dict  # the record as the system returns it (access exports, plan display)
    label: str = ""  # short label for pages, e.g. "customer #42" (no personal values)


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
    # GDPR: where persons live in this system (see ``find_subject`` / ``erase_subject``).
    subject_entities: ClassVar[tuple[SubjectEntity, ...]] = ()
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

    # --- GDPR: data subjects --------------------------------------------------------------------

    def subject_entity(self, entity: str) -> SubjectEntity:
        """The declared ``SubjectEntity`` of ``entity``; ``NotFound`` when persons are not kept there."""
        for declared in self.subject_entities:
            if declared.entity == entity:
                return declared
        raise NotFound(
            _("This system keeps no data subjects in “%(entity)s”.") % {"entity": entity}, reason="config"
        )

    def subject_label(self, declared: SubjectEntity, record_id: str, record: dict) -> str:
        """A short label for one record of a person, with no personal value: "customer #42"."""
        return f"{declared.noun or declared.entity} #{record_id}"

    def find_subject(self, identifiers: dict[str, list[str]]) -> list[SubjectRecord]:
        """Every record of one data subject in this system (``Capability.SUBJECT_LOOKUP``).

        ``identifiers`` maps identifier kinds (``email``, ``phone``, ``customer_id``…) to the values
        known for the person (a single text is taken as a list of one). For each declared subject
        entity, each kind it lists is looked up (``lookup(entity, field, values)``); related records
        found by the same identifiers (a customer's orders by their e-mail) are returned too. Each
        record once, in the order of ``subject_entities``; ``[]`` when nothing is found.

        A post-check after an erasure runs this again: the records of entities kept under an
        exemption (``strategy == "exempt"``, or erased by masking so that the identifiers no longer
        match) are expected to remain or to vanish accordingly, the rest must be gone.
        """
        wanted = normalise_identifiers(identifiers)
        found: dict[tuple[str, str], SubjectRecord] = {}
        for declared in self.subject_entities:
            id_field = self.entity(declared.entity).id_field
            for kind, field_name in declared.identifiers.items():
                values = wanted.get(kind)
                if not values:
                    continue
                for record in self.lookup(declared.entity, field_name, values):
                    record_id = get_path(record, id_field)
                    if record_id in (None, ""):
                        continue
                    key = (declared.entity, str(record_id))
                    if key not in found:
                        found[key] = SubjectRecord(
                            entity=declared.entity,
                            id=str(record_id),
                            data=record,
                            label=self.subject_label(declared, str(record_id), record),
                        )
        return list(found.values())

    def erase_subject(
        self, entity: str, record_id: str, *, strategy: str, mask: dict | None = None
    ) -> WriteResult:
        """Erase one record of a data subject (``Capability.SUBJECT_ERASE``).

        - ``delete``: ``delete(entity, [id])`` → ``action="erased"``;
        - ``mask``: the mask values (``mask``, or the entity's declared ``mask``) written over the
          record (``write(…, WriteMode.UPDATE)``) → ``action="masked"``;
        - ``vendor``: the vendor's own GDPR endpoint, where the connector has one (overridden);
        - ``exempt``: nothing is touched, the record is kept by law → ``action="exempt"``;
        - ``manual``: nothing is touched → a failed result (reason ``manual``) saying it is left to a
          person in the system itself.

        A record already gone (or already masked) is ``ok`` with ``action="unchanged"``. A refusal
        (by the system, or a strategy this entity does not support) is ``WriteResult.failed`` with a
        ``RecordError`` saying why; transient, auth and configuration failures raise as elsewhere.
        """
        record_id = str(record_id or "").strip()
        try:
            declared = self.subject_entity(entity)
        except NotFound as exc:
            return WriteResult.failed(RecordError(exc.message, reason="config"))
        refused = self._refuse_strategy(declared, strategy)
        if refused is not None:
            return refused
        if strategy == "exempt":
            return WriteResult(ok=True, target_id=record_id, action="exempt")
        if strategy == "manual":
            return WriteResult.failed(
                RecordError(
                    _("Erasing this record is left to a person, in the system itself."), reason="manual"
                )
            )
        if not record_id:
            return WriteResult.failed(RecordError(_("No record id to erase."), reason="validation"))
        if strategy == "delete":
            return self._erase_by_delete(entity, record_id)
        if strategy == "mask":
            return self._erase_by_mask(declared, record_id, mask)
        return WriteResult.failed(  # "vendor" without an override
            RecordError(
                _("This system has no GDPR erasure endpoint of its own: choose another strategy."),
                reason="config",
            )
        )

    def export_subject(self, entity: str, record_id: str) -> dict:
        """One record of a data subject as the system holds it (``Capability.SUBJECT_EXPORT``), for
        access and portability requests; ``NotFound`` when it is gone."""
        records = self.fetch(entity, [str(record_id)])
        if not records:
            raise NotFound(
                _("No %(entity)s record %(id)s here any more.") % {"entity": entity, "id": record_id},
                status=404,
            )
        return records[0]

    def _refuse_strategy(self, declared: SubjectEntity, strategy: str) -> WriteResult | None:
        if strategy in declared.allowed():
            return None
        return WriteResult.failed(
            RecordError(
                _(
                    "“%(strategy)s” is not a way this system's %(entity)s can be erased (possible: %(allowed)s)."
                )
                % {
                    "strategy": strategy,
                    "entity": declared.label or declared.entity,
                    "allowed": ", ".join(declared.allowed()),
                },
                reason="config",
            )
        )

    def _erase_by_delete(self, entity: str, record_id: str) -> WriteResult:
        if not self.fetch(entity, [record_id]):
            return WriteResult(ok=True, target_id=record_id, action="unchanged")
        (result,) = self.delete(entity, [record_id])
        if not result.ok:
            return result
        return WriteResult(ok=True, target_id=record_id, action="erased")

    def _erase_by_mask(self, declared: SubjectEntity, record_id: str, mask: dict | None) -> WriteResult:
        values = declared.mask if mask is None else mask
        if not values:
            return WriteResult.failed(
                RecordError(_("No fields to mask are given for this entity."), reason="config")
            )
        current = self.fetch(declared.entity, [record_id])
        if not current:
            return WriteResult(ok=True, target_id=record_id, action="unchanged")
        if is_masked(current[0], values):
            return WriteResult(ok=True, target_id=record_id, action="unchanged")
        id_field = self.entity(declared.entity).id_field
        (result,) = self.write(declared.entity, [{id_field: record_id, **values}], WriteMode.UPDATE)
        if not result.ok:
            return result
        return WriteResult(ok=True, target_id=record_id, action="masked")

    def commit(self, entity: str, cursor: str | None) -> None:
        """Called once the batch that ends at ``cursor`` is committed by the engine: a source that
        consumes what it delivered (files moved aside, messages acknowledged) does it here. Default: nothing."""

    def close(self) -> None:
        """Release connections."""


def normalise_identifiers(identifiers) -> dict[str, list[str]]:
    """``{kind: [values]}`` from what callers pass: kinds lower-cased, a single value taken as a list,
    blank values and duplicates left out."""
    out: dict[str, list[str]] = {}
    for kind, raw in (identifiers or {}).items():
        values = raw if isinstance(raw, list | tuple | set | frozenset) else [raw]
        clean = [str(v).strip() for v in values if v is not None and v is not False]
        key = str(kind).strip().lower()
        merged = list(dict.fromkeys([*out.get(key, []), *(v for v in clean if v)]))
        if merged:
            out[key] = merged
    return out


def _blank(value) -> bool:
    return value is None or value is False or value == "" or value == []


def is_masked(record: dict, mask: dict) -> bool:
    """Whether ``record`` holds the mask values already (``None``, ``False``, ``""`` and ``[]`` are
    all "empty", as systems read a cleared field differently)."""
    for name, value in mask.items():
        current = get_path(record, name)
        if not (_blank(current) and _blank(value)) and current != value:
            return False
    return True


def _merge_fields(declared, inferred) -> list[Field]:
    names = {f.name for f in declared}
    return [*declared, *(f for f in inferred if f.name not in names)]
