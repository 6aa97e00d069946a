"""Trace: one search box for support staff — any id, SKU, order number or e-mail address → the record's
ID links across every system, its last runs, its failures, and why a flow did not write it.

One home for the console page (``/trace/``) and the API (``/api/trace/``). What is matched:

- ID links by source id, target id (exact) or the hub's own reference (``hub:<system>:<entity>:<id>``);
- failed records by source id (a record that never went through has no link);
- identifying values — SKU, order number, e-mail, phone… — through the keyed hashes the engine keeps on
  each link (``flows.lookup``): values of flows mapping personal data are encrypted, so they are never
  searched in clear, and a hash lookup costs no decryption.

Each record found is followed across systems with ``flows.links.record_history`` (the same source record
in other flows, target ids read as sources by downstream flows). Only flows and systems the user may
view are searched and followed; failure messages and link values are masked for users without the
personal-data right.

Why a flow did not write a record: the engine counts filtered and unchanged records per page, not per
record (a per-record row would cost the hot loop). Trace infers it from what is kept: a flow reading the
record's entity with no link and no failure for it left it out with its filters (shown) or has not read
it yet; a link last written before the flow's latest runs was unchanged since (or outside their
incremental read).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.failures import Presenter
from flows.links import RecordHistory, record_history, visible_links
from flows.lookup import lookup_key
from flows.models import FailedRecord, Flow, Run, System
from flows.models.runs import FINISHED
from flows.services import mask_record
from integration_hub import personal
from integration_hub.permissions import restrict

MAX_RECORDS = 10  # records shown for one search (each followed across systems)
MAX_MATCHES = 50  # links and failures matched before grouping them into records

EXAMPLES = (
    ("DEC-11900", gettext_lazy("a SKU or a product identifier")),
    ("000000123", gettext_lazy("an order number")),
    ("jane.doe@example.com", gettext_lazy("a customer's e-mail address")),
    ("hub:pim:products:DEC-11900", gettext_lazy("the hub's reference stamped on a record")),
    ("42", gettext_lazy("the id a target system gave a record")),
)


@dataclass
class Reason:
    flow: Flow
    kind: str  # "filtered", "unchanged"
    text: str


@dataclass
class TracedRecord:
    matched_by: str
    history: RecordHistory
    reasons: list[Reason] = field(default_factory=list)
    values: dict[int, dict] = field(default_factory=dict)  # link pk → its last values (masked)
    messages: dict[int, str] = field(default_factory=dict)  # failure pk → its message (masked)


@dataclass
class TraceResult:
    query: str
    records: list[TracedRecord] = field(default_factory=list)
    truncated: bool = False


def _describe_filters(definition: dict) -> str:
    parts = []
    for item in definition.get("filters") or []:
        value = item.get("value")
        parts.append(
            " ".join(str(p) for p in (item.get("path"), item.get("op", "").replace("_", " "), value) if p)
        )
    return "; ".join(parts)


def _matches(query: str, user) -> list[tuple[str, System, str, str]]:
    """(how it matched, source system, source entity, source id) of each record ``query`` names."""
    flows = restrict(Flow.objects.all(), user, "view")
    links = visible_links(user).filter(flow__in=flows)
    found: list[tuple[str, System, str, str]] = []
    conditions = [
        (_("source id"), Q(source_id=query)),
        (_("target id"), Q(target_id=query)),
        (_("identifying value"), Q(lookup_keys__contains=lookup_key(query))),
    ]
    if query.startswith("hub:") and query.count(":") >= 3:
        _hub, slug, entity, source_id = query.split(":", 3)
        conditions.insert(
            0, (_("hub reference"), Q(source_system__slug=slug, source_entity=entity, source_id=source_id))
        )
    for how, condition in conditions:
        for link in links.filter(condition).order_by("-last_synced", "pk")[:MAX_MATCHES]:
            if how == _("target id"):  # the record named is the target one: follow it from there
                found.append((how, link.target_system, link.target_entity, link.target_id))
            else:
                found.append((how, link.source_system, link.source_entity, link.source_id))
    failures = (
        FailedRecord.objects.filter(flow__in=flows, source_id=query)
        .select_related("flow__source_system")
        .order_by("-updated")[:MAX_MATCHES]
    )
    for failure in failures:
        found.append(
            (_("failed record"), failure.flow.source_system, failure.flow.source_entity, failure.source_id)
        )
    return found


def trace(query: str, user) -> TraceResult:
    """Every record ``query`` names, followed across systems: links, runs, failures, reasons."""
    query = (query or "").strip()[:255]
    result = TraceResult(query=query)
    if not query:
        return result
    presenter = Presenter(user)
    seen: set[tuple] = set()
    for how, system, entity, record_id in _matches(query, user):
        key = (system.pk, entity, record_id)
        if key in seen:
            continue
        if len(result.records) >= MAX_RECORDS:
            result.truncated = True
            break
        history = record_history(system, entity, record_id, user=user)
        seen.update(node.key for node in history.records)
        traced = TracedRecord(matched_by=how, history=history)
        _present(traced, presenter)
        traced.reasons = _reasons(history, user)
        result.records.append(traced)
    return result


def _present(traced: TracedRecord, presenter: Presenter) -> None:
    shown_in_clear = []
    for link in traced.history.links:
        values = link.values
        if values and not presenter.allowed:
            # A link whose flow was deleted keeps its values: masked by their keys' look alone.
            target_paths = presenter.paths(link.flow)[1] if link.flow is not None else set()
            values = mask_record(values, target_paths)
        elif values:
            shown_in_clear.append(link)
        traced.values[link.pk] = link.shown_values = values
    if shown_in_clear:
        personal.shown_unmasked(presenter.user, shown_in_clear, what=_("trace: values last written"))
    for failure in traced.history.failures:
        traced.messages[failure.pk] = failure.shown_message = presenter.message(failure)


def _reasons(history: RecordHistory, user) -> list[Reason]:
    """Why a flow reading one of these records did not write it (filtered out, or unchanged since)."""
    flows = restrict(Flow.objects.all(), user, "view")
    linked = {
        (link.flow_id, link.source_system_id, link.source_entity, link.source_id) for link in history.links
    }
    failed = {(f.flow_id, f.source_id) for f in history.failures}
    reasons = []
    for node in history.records:
        readers = flows.filter(source_system=node.system, source_entity=node.entity).select_related(
            "current_version"
        )
        for flow in readers:
            if (flow.pk, node.system.pk, node.entity, node.id) in linked or (flow.pk, node.id) in failed:
                continue
            latest = flow.runs.filter(status__in=FINISHED).order_by("-pk").first()
            if latest is None:
                continue  # never ran: nothing to explain
            filters = _describe_filters({"filters": flow.filters})
            if filters and latest.filtered:
                text = _(
                    "%(record)s has no link in this flow: left out by its filters (%(filters)s) — run #%(run)s "
                    "left %(n)s records out — or not read yet by an incremental run."
                ) % {"record": node.id, "filters": filters, "run": latest.pk, "n": latest.filtered}
            else:
                text = _(
                    "%(record)s has no link in this flow: not read by its runs yet (run #%(run)s was the latest)."
                ) % {"record": node.id, "run": latest.pk}
            reasons.append(Reason(flow=flow, kind="filtered", text=text))
    for link in history.links:
        if link.flow_id is None or link.last_synced is None:
            continue
        later = (
            Run.objects.filter(flow_id=link.flow_id, status__in=FINISHED, started__gt=link.last_synced)
            .exclude(pk=link.last_run_id)
            .order_by("-pk")
            .first()
        )
        if later is not None and later.unchanged:
            reasons.append(
                Reason(
                    flow=link.flow,
                    kind="unchanged",
                    text=_(
                        "%(record)s was last written by run #%(written)s; later runs (the latest #%(run)s, "
                        "%(n)s unchanged) skipped it: its mapped values are the same as those last sent, or it "
                        "was outside their incremental read."
                    )
                    % {
                        "record": link.source_id,
                        "written": link.last_run_id or "—",
                        "run": later.pk,
                        "n": later.unchanged,
                    },
                )
            )
    return reasons


def as_data(result: TraceResult) -> dict:
    """The API's shape of a search: plain ids and values, already masked for the user."""

    def ref(node):
        return {"system": node.system.slug, "entity": node.entity, "id": node.id}

    records = []
    for traced in result.records:
        history = traced.history
        records.append(
            {
                "matched_by": str(traced.matched_by),
                "record": ref(history.start),
                "across_systems": [ref(node) for node in history.records],
                "links": [
                    {
                        "id": link.pk,
                        "flow": link.flow_id,
                        "flow_name": str(link.flow) if link.flow_id else None,
                        "source": {
                            "system": link.source_system.slug,
                            "entity": link.source_entity,
                            "id": link.source_id,
                        },
                        "target": {
                            "system": link.target_system.slug,
                            "entity": link.target_entity,
                            "id": link.target_id,
                        },
                        "last_run": link.last_run_id,
                        "last_synced": link.last_synced,
                        "last_values": traced.values.get(link.pk) or {},
                    }
                    for link in history.links
                ],
                "runs": [
                    {
                        "id": run.pk,
                        "flow": run.flow_id,
                        "status": run.status,
                        "trigger": run.trigger,
                        "queued_at": run.queued_at,
                        "finished": run.finished,
                    }
                    for run in history.runs
                ],
                "failures": [
                    {
                        "id": f.pk,
                        "flow": f.flow_id,
                        "source_id": f.source_id,
                        "stage": f.stage,
                        "error_class": f.error_class,
                        "status": f.status,
                        "message": traced.messages.get(f.pk, ""),
                        "run": f.run_id,
                    }
                    for f in history.failures
                ],
                "reasons": [{"flow": r.flow.pk, "kind": r.kind, "text": r.text} for r in traced.reasons],
                "truncated": history.truncated,
            }
        )
    return {"query": result.query, "records": records, "truncated": result.truncated}
