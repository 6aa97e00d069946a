"""The hub purging itself of a person: their ID links, failed-record payloads, run-log lines and received
webhook events.

The rows are found without decrypting every payload: links and failed records carry the keyed hashes of
their identifying values (``lookup_keys``, ``flows.lookup``), and the person's record ids in each system
come from the plan (what each connector's ``find_subject`` returned). Only the webhook events of the
systems that hold the person are decrypted, one system at a time, to look for those ids and values.
Every purge is written to ``PurgeLog`` (store, rows, reason: the request's reference — never an
identifier).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q

from flows.models import FailedRecord, RecordLink, Run, RunLogLine, WebhookEvent
from gdpr.models import PurgeLog
from gdpr.models.choices import HubStore
from integration_hub import crypto

# Record ids this short ("1", "42") are too common to look for as text in logs and webhook bodies:
# they are matched only where a column holds exactly an id (links, failed records).
MIN_TEXT_TERM = 4


@dataclass
class HubRows:
    """The hub's own rows about one person (primary keys per store)."""

    record_links: list[int] = field(default_factory=list)
    failed_records: list[int] = field(default_factory=list)
    run_log_lines: list[int] = field(default_factory=list)
    webhook_events: list[int] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)  # runs whose chosen record ids name the person
    ids: list[str] = field(default_factory=list)  # the person's record ids in every system (links too)

    def as_dict(self) -> dict:
        return {
            "record_links": self.record_links,
            "failed_records": self.failed_records,
            "run_log_lines": self.run_log_lines,
            "webhook_events": self.webhook_events,
            "runs": self.runs,
        }

    @property
    def total(self) -> int:
        return sum(len(v) for k, v in self.as_dict().items() if k != "runs") + len(self.runs)


def _key_query(field_name: str, keys: list[str]) -> Q:
    query = Q(pk__in=[])
    for key in keys:
        query |= Q(**{f"{field_name}__contains": key})
    return query


def _text_terms(values: list[str]) -> list[str]:
    return sorted({str(v).strip() for v in values if len(str(v).strip()) >= MIN_TEXT_TERM})


def find_hub_rows(keys: list[str], records: list[dict], values: list[str] = ()) -> HubRows:
    """The hub's rows about a person.

    ``keys``: the keyed hashes of their identifiers; ``records``: ``{"system", "entity", "id"}`` of their
    records found in the systems; ``values``: their plain identifiers when still known (to search the
    text of logs and webhook bodies; empty after the erasure dropped them).
    """
    rows = HubRows()
    keys = [k for k in keys if k]
    link_query = _key_query("lookup_keys", keys)
    failed_query = _key_query("lookup_keys", keys)
    for rec in records:
        system, entity, rid = rec["system"], rec["entity"], str(rec["id"])
        link_query |= Q(source_system_id=system, source_entity=entity, source_id=rid)
        link_query |= Q(target_system_id=system, target_entity=entity, target_id=rid)
        failed_query |= Q(flow__source_system_id=system, flow__source_entity=entity, source_id=rid)
    links = list(
        RecordLink.objects.filter(link_query).values(
            "pk",
            "source_system_id",
            "source_entity",
            "source_id",
            "target_system_id",
            "target_entity",
            "target_id",
        )
    )
    rows.record_links = sorted(link["pk"] for link in links)
    # The links name the person's ids in systems whose connectors could not look them up: their failed
    # records (by source id) belong to the person too.
    for link in links:
        failed_query |= Q(
            flow__source_system_id=link["source_system_id"],
            flow__source_entity=link["source_entity"],
            source_id=link["source_id"],
        )
    rows.failed_records = sorted(FailedRecord.objects.filter(failed_query).values_list("pk", flat=True))

    ids_by_system: dict[int, set[str]] = {}
    for rec in records:
        ids_by_system.setdefault(rec["system"], set()).add(str(rec["id"]))
    for link in links:
        ids_by_system.setdefault(link["source_system_id"], set()).add(str(link["source_id"]))
        ids_by_system.setdefault(link["target_system_id"], set()).add(str(link["target_id"]))

    rows.ids = sorted({i for ids in ids_by_system.values() for i in ids})
    terms = _text_terms([*values, *rows.ids])
    if terms:
        text_query = Q(pk__in=[])
        for term in terms:
            text_query |= Q(message__icontains=term) | Q(context__icontains=term)
        # Only the logs of runs of flows that read or write one of the person's systems.
        systems = list(ids_by_system)
        lines = RunLogLine.objects.filter(
            Q(run__flow__source_system_id__in=systems) | Q(run__flow__target_system_id__in=systems)
        )
        rows.run_log_lines = sorted(lines.filter(text_query).values_list("pk", flat=True))

    # Runs started for chosen records ("resync these ids") keep those ids.
    all_ids = {i for ids in ids_by_system.values() for i in ids}
    if all_ids:
        systems = list(ids_by_system)
        for run in (
            Run.objects.filter(flow__source_system_id__in=systems)
            .exclude(record_ids=[])
            .only("pk", "record_ids")
        ):
            if any(str(i) in all_ids for i in run.record_ids or []):
                rows.runs.append(run.pk)

    # Webhook bodies are encrypted and carry no lookup keys: decrypt those of the person's systems only.
    needles = [t.casefold() for t in terms]
    if needles:
        for event in WebhookEvent.objects.filter(system_id__in=list(ids_by_system)).only(
            "pk", "payload_encrypted"
        ):
            try:
                text = crypto.decrypt(event.payload_encrypted).casefold()
            except crypto.DecryptionError:  # an undecryptable body names nobody we can tell
                continue
            if any(needle in text for needle in needles):
                rows.webhook_events.append(event.pk)
    return rows


def _log(store: str, rows: int, reason: str) -> None:
    if rows:
        PurgeLog.objects.create(store=store, rows=rows, reason=reason[:200])


def purge_hub_rows(rows: HubRows, *, reason: str, values: list[str] = (), ids: list[str] = ()) -> dict:
    """Delete the person's links, failed records and webhook events; scrub the run-log lines and runs
    that name them. Returns the counts per store (each logged in ``PurgeLog``)."""
    from integration_hub.redact import MASK

    with transaction.atomic():
        links = RecordLink.objects.filter(pk__in=rows.record_links).delete()[0]
        failed = FailedRecord.objects.filter(pk__in=rows.failed_records).delete()[0]
        events = WebhookEvent.objects.filter(pk__in=rows.webhook_events).delete()[0]
        ids = [*ids, *rows.ids]
        terms = _text_terms([*values, *ids])
        lines = 0
        for line in RunLogLine.objects.filter(pk__in=rows.run_log_lines):
            line.message = _scrub_text(line.message, terms, MASK)
            line.context = json.loads(_scrub_text(json.dumps(line.context), terms, MASK, json_safe=True))
            line.save(update_fields=["message", "context"])
            lines += 1
        runs = 0
        id_set = {str(i) for i in ids}
        for run in Run.objects.filter(pk__in=rows.runs).only("pk", "record_ids"):
            kept = [i for i in run.record_ids or [] if str(i) not in id_set]
            Run.objects.filter(pk=run.pk).update(record_ids=kept)
            runs += 1
        _log(HubStore.RECORD_LINKS, links, reason)
        _log(HubStore.FAILED_RECORDS, failed, reason)
        _log(HubStore.WEBHOOK_EVENTS, events, reason)
        _log(HubStore.RUNS, lines + runs, reason)
    return {
        "record_links": links,
        "failed_records": failed,
        "webhook_events": events,
        "run_log_lines": lines,
        "runs": runs,
    }


def _scrub_text(text: str, terms: list[str], mask: str, *, json_safe: bool = False) -> str:
    import re

    for term in sorted(terms, key=len, reverse=True):
        needle = json.dumps(term)[1:-1] if json_safe else term
        text = re.sub(re.escape(needle), mask, text, flags=re.IGNORECASE)
    return text
