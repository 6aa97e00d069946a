"""The flow map: systems as nodes, flows as directed edges, impact analysis and the flow inventory.

One home for the map page, its live colours, the impact panel and the inventory downloads: all of them
read the live configuration here (nothing is drawn or written by hand, so nothing goes stale).

Visibility: a user sees the flows they may view (``permissions.restrict``). The systems at both ends
of a visible flow are nodes too (the flow's own page names them); a system the user may not view
has no link and no health (``MapNode.visible`` False).

Impact of a system going down (``impact``): every flow reading or writing it stops, and so does every
flow chained behind a stopped flow (``Flow.after_flow``); the systems those flows feed get stale data,
and the flows out of a stale system carry the stale data on, transitively along edge direction. The
analysis is on the configuration: a paused flow counts as the flow it is when running.
"""

from __future__ import annotations

import csv
import io
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import F, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, HealthStatus, PersonalData, Trigger
from flows.models import FieldMapping, Flow, Run, System
from flows.models.runs import FINISHED, RunStatus
from integration_hub.permissions import restrict
from monitoring import dashboard
from monitoring.metrics import FRESH_STATUSES

HEALTHY, STALE, FAILING, PAUSED, NEVER = "healthy", "stale", "failing", "paused", "never"
STATE_LABELS = {
    HEALTHY: _("healthy"),
    STALE: _("stale against its SLA"),
    FAILING: _("failing"),
    PAUSED: _("paused"),
    NEVER: _("never delivered"),
}
# "Critical" for single points of failure and the impact order: the two top levels of flows.choices.
CRITICAL_LEVELS = (Criticality.CRITICAL, Criticality.HIGH)
CRITICALITY_RANK = {value: rank for rank, value in enumerate(Criticality.values)}
VOLUME_WINDOW = timedelta(hours=24)


@dataclass
class MapNode:
    id: int
    slug: str
    name: str
    role: str
    role_label: str
    criticality: str
    health: str
    url: str
    visible: bool = True  # False: an end of a visible flow the user may not view (no link, no health)


@dataclass
class MapEdge:
    id: int
    source: int
    target: int
    name: str
    source_entity: str
    target_entity: str
    frequency: str
    criticality: str
    state: str
    volume_24h: int
    personal: bool
    categories: list[str]
    enabled: bool
    url: str
    last_run: dict | None
    freshness: str
    sla_minutes: int | None
    after: int | None = None  # the flow (edge id) this one runs after (``Trigger.AFTER_FLOW``)
    trigger: str = ""
    last_fresh: str | None = None  # ISO time of the last succeeded or partial run's end

    @property
    def critical(self) -> bool:
        return self.criticality in CRITICAL_LEVELS

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


@dataclass
class FlowGraph:
    nodes: list[MapNode]
    edges: list[MapEdge]

    @cached_property
    def _nodes_by_id(self) -> dict[int, MapNode]:
        return {n.id: n for n in self.nodes}

    @cached_property
    def _edges_by_id(self) -> dict[int, MapEdge]:
        return {e.id: e for e in self.edges}

    def node(self, node_id: int) -> MapNode | None:
        return self._nodes_by_id.get(node_id)

    def edge(self, edge_id: int) -> MapEdge | None:
        return self._edges_by_id.get(edge_id)


# --- the colour rule -----------------------------------------------------------------------------


def edge_state(flow, last_run, now: datetime, *, last_fresh: datetime | None = None) -> str:
    """The live state of a flow on the map: ``paused``, ``failing``, ``never``, ``stale`` or ``healthy``.

    ``last_run`` is the flow's newest finished run (an active run says nothing yet: it is skipped);
    ``last_fresh`` when the last succeeded or partial run finished (taken from ``last_run`` when not
    given). Paused beats everything (a paused flow delivers nothing, whatever its past); a newest run
    that failed is ``failing``; otherwise freshness against the SLA, as on the dashboard
    (``dashboard.freshness``): older than the SLA is ``stale``, no delivery yet is ``never``.
    """
    if not flow.enabled:
        return PAUSED
    if last_run is not None and last_run.status == RunStatus.FAILED:
        return FAILING
    if last_fresh is None and last_run is not None and last_run.status in FRESH_STATUSES:
        last_fresh = last_run.finished
    state, _age = dashboard.freshness(last_fresh, flow.freshness_sla_minutes, now)
    if state == dashboard.NEVER:
        return NEVER
    if state in (dashboard.LATE, dashboard.STALE):
        return STALE
    return HEALTHY


def describe_frequency(flow, after_name: str | None = None) -> str:
    """How often a flow runs, in words: "every 15 min", "cron */5 * * * *", "on webhook", "after X"."""
    if flow.trigger == Trigger.INTERVAL and flow.interval_minutes:
        return gettext("every %(n)s min") % {"n": flow.interval_minutes}
    if flow.trigger == Trigger.CRON and flow.cron:
        return gettext("cron %(expr)s") % {"expr": flow.cron}
    if flow.trigger == Trigger.WEBHOOK:
        if flow.webhook_topic:
            return gettext("on webhook %(topic)s") % {"topic": flow.webhook_topic}
        return gettext("on webhook")
    if flow.trigger == Trigger.AFTER_FLOW:
        if after_name:
            return gettext("after %(flow)s") % {"flow": after_name}
        return gettext("after another flow")
    return gettext("manual")


def describe_freshness(last_fresh: datetime | None, now: datetime) -> str:
    if last_fresh is None:
        return gettext("never")
    if now - last_fresh < timedelta(minutes=1):
        return gettext("just now")
    return gettext("%(age)s ago") % {"age": timesince(last_fresh, now, depth=1)}


# --- building the graph --------------------------------------------------------------------------


def visible_flows(user=None):
    flows = Flow.objects.all()
    return flows if user is None else restrict(flows, user, "view")


def _categories(flow_ids) -> dict[int, list[str]]:
    out: dict[int, set[str]] = {}
    rows = (
        FieldMapping.objects.filter(flow_id__in=flow_ids)
        .exclude(personal="")
        .values_list("flow_id", "personal")
    )
    for flow_id, personal in rows:
        out.setdefault(flow_id, set()).add(personal)
    return {pk: sorted(values) for pk, values in out.items()}


def _volumes(flow_ids, now: datetime) -> dict[int, int]:
    since = now - VOLUME_WINDOW
    rows = (
        Run.objects.filter(flow_id__in=flow_ids, finished__gte=since, finished__lte=now)
        .order_by()
        .values("flow_id")
        .annotate(written=Sum(F("created") + F("updated") + F("deleted")))
    )
    return {row["flow_id"]: row["written"] or 0 for row in rows}


def _run_dict(run: Run | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "status": run.status,
        "finished": run.finished.isoformat() if run.finished else None,
        "url": run.get_absolute_url(),
    }


def build_graph(user=None, now: datetime | None = None) -> FlowGraph:
    """The map of what ``user`` may view (``None``: everything): systems as nodes, flows as edges.

    Constant number of queries: flows (with their newest finished run and last delivery as
    subqueries), those runs, the systems, the personal-data tags, the 24-hour volumes.
    """
    now = now or timezone.now()
    finished = Run.objects.filter(flow=OuterRef("pk"), status__in=FINISHED).order_by("-queued_at")
    flows = list(
        visible_flows(user)
        .select_related(None)
        .annotate(
            last_run_id=Subquery(finished.values("pk")[:1]),
            last_fresh=Subquery(
                finished.filter(status__in=FRESH_STATUSES).order_by("-finished").values("finished")[:1]
            ),
        )
        .order_by("name", "pk")
    )
    flow_ids = [f.pk for f in flows]
    names = {f.pk: f.name for f in flows}
    runs = Run.objects.in_bulk([f.last_run_id for f in flows if f.last_run_id])
    categories = _categories(flow_ids)
    volumes = _volumes(flow_ids, now)

    system_ids = {f.source_system_id for f in flows} | {f.target_system_id for f in flows}
    systems = System.objects.all()
    viewable = (
        set(systems.values_list("pk", flat=True))
        if user is None
        else set(restrict(systems, user, "view").values_list("pk", flat=True))
    )
    nodes = []
    for system in systems.filter(pk__in=system_ids | viewable).order_by("role", "name", "pk"):
        shown = system.pk in viewable
        nodes.append(
            MapNode(
                id=system.pk,
                slug=system.slug,
                name=system.name,
                role=system.role,
                role_label=str(system.get_role_display()),
                criticality=system.criticality,
                health=system.health_status if shown else HealthStatus.UNKNOWN,
                url=system.get_absolute_url() if shown else "",
                visible=shown,
            )
        )

    edges = []
    for flow in flows:
        run = runs.get(flow.last_run_id)
        after = flow.after_flow_id if flow.after_flow_id in names else None
        tags = categories.get(flow.pk, [])
        edges.append(
            MapEdge(
                id=flow.pk,
                source=flow.source_system_id,
                target=flow.target_system_id,
                name=flow.name,
                source_entity=flow.source_entity,
                target_entity=flow.target_entity,
                frequency=describe_frequency(flow, names.get(after)),
                criticality=flow.criticality,
                state=edge_state(flow, run, now, last_fresh=flow.last_fresh),
                volume_24h=volumes.get(flow.pk, 0),
                personal=bool(tags),
                categories=tags,
                enabled=flow.enabled,
                url=flow.get_absolute_url(),
                last_run=_run_dict(run),
                freshness=describe_freshness(flow.last_fresh, now),
                sla_minutes=flow.freshness_sla_minutes,
                after=after,
                trigger=flow.trigger,
                last_fresh=flow.last_fresh.isoformat() if flow.last_fresh else None,
            )
        )
    return FlowGraph(nodes=nodes, edges=edges)


# --- impact analysis -----------------------------------------------------------------------------


def _criticality_key(edge: MapEdge) -> int:
    return CRITICALITY_RANK.get(edge.criticality, len(CRITICALITY_RANK))


def stopped_flows(graph: FlowGraph, system_id: int) -> dict[int, list[int]]:
    """The flows that stop when ``system_id`` is down: those reading or writing it, and those chained
    (``after``) behind a stopped flow, transitively; each with its path (edge ids, first the flow
    that touches the system)."""
    followers: dict[int, list[MapEdge]] = {}
    for edge in graph.edges:
        if edge.after is not None:
            followers.setdefault(edge.after, []).append(edge)
    paths = {e.id: [e.id] for e in graph.edges if system_id in (e.source, e.target)}
    queue = deque(paths)
    while queue:
        current = queue.popleft()
        for follower in followers.get(current, []):
            if follower.id not in paths:
                paths[follower.id] = [*paths[current], follower.id]
                queue.append(follower.id)
    return paths


def _node_name(graph: FlowGraph, pk: int) -> str:
    node = graph.node(pk)
    return node.name if node else ""


def impact(graph: FlowGraph, system_id: int) -> dict:
    """What ``system_id`` going down affects.

    ``flows``: every affected flow (stopped or carrying stale data), critical first (then nearest
    first, then by name); ``systems``: the systems downstream (fed stale data), transitively,
    nearest first (then by name), never the system itself; ``stopped`` / ``stale``: the flows by
    kind; ``paths``: for each affected flow and system (``{"flows": {id: [...]}, "systems":
    {id: [...]}}``) the chain of flows (edge ids) that carries the failure to it, a shortest one.
    """
    by_source: dict[int, list[MapEdge]] = {}
    for edge in graph.edges:
        by_source.setdefault(edge.source, []).append(edge)
    flow_paths = stopped_flows(graph, system_id)
    stopped = set(flow_paths)
    system_paths: dict[int, list[int]] = {}
    # Breadth first from the stopped flows: their targets get stale data, and so on downstream.
    queue = deque(sorted(stopped, key=lambda pk: (len(flow_paths[pk]), pk)))
    while queue:
        edge = graph.edge(queue.popleft())
        target = edge.target
        if target == system_id or target in system_paths:
            continue
        system_paths[target] = flow_paths[edge.id]
        for out in by_source.get(target, []):
            if out.id not in flow_paths:
                flow_paths[out.id] = [*flow_paths[edge.id], out.id]
                queue.append(out.id)
    order = sorted(
        flow_paths,
        key=lambda pk: (_criticality_key(graph.edge(pk)), len(flow_paths[pk]), graph.edge(pk).name, pk),
    )
    return {
        "system": system_id,
        "flows": order,
        "systems": sorted(system_paths, key=lambda pk: (len(system_paths[pk]), _node_name(graph, pk), pk)),
        "stopped": [pk for pk in order if pk in stopped],
        "stale": [pk for pk in order if pk not in stopped],
        "paths": {"flows": {pk: flow_paths[pk] for pk in order}, "systems": system_paths},
    }


def critical_flows_stopped(graph: FlowGraph) -> dict[int, list[int]]:
    """For each system, the critical (``CRITICAL_LEVELS``) flows its loss stops; only systems with one."""
    out = {}
    for node in graph.nodes:
        stopped = [pk for pk in stopped_flows(graph, node.id) if graph.edge(pk).critical]
        if stopped:
            out[node.id] = sorted(stopped)
    return out


def single_points_of_failure(graph: FlowGraph) -> list[int]:
    """Systems whose loss stops at least one critical or high flow, most such flows first (then by
    the system's own criticality and name)."""
    stops = critical_flows_stopped(graph)

    def key(pk):
        node = graph.node(pk)
        return (-len(stops[pk]), CRITICALITY_RANK.get(node.criticality, 99), node.name, pk)

    return sorted(stops, key=key)


# --- the inventory -------------------------------------------------------------------------------

INVENTORY_COLUMNS = [
    ("name", _("Flow")),
    ("source_system", _("Source system")),
    ("target_system", _("Target system")),
    ("direction", _("Direction")),
    ("entity", _("Entity")),
    ("fields", _("Fields (target ← source)")),
    ("personal_data", _("Personal data")),
    ("trigger", _("Trigger")),
    ("frequency", _("Frequency")),
    ("criticality", _("Criticality")),
    ("sla", _("Freshness SLA")),
    ("owner", _("Owner")),
    ("purpose", _("Purpose")),
    ("last_change", _("Last change")),
    ("changed_by", _("Changed by")),
    ("enabled", _("Enabled")),
    ("url", _("Address")),
]
PERSONAL_LABELS = dict(PersonalData.choices)


def _field_line(mapping: FieldMapping) -> str:
    source = mapping.source or gettext("(constant)")
    line = f"{mapping.target} ← {source}"
    if mapping.personal:
        line += f" [{PERSONAL_LABELS.get(mapping.personal, mapping.personal)}]"
    return line


def _last_changes(flows) -> dict[int, tuple[datetime, str]]:
    """The newest audit entry of each flow's edits: (time, who)."""
    from django.contrib.contenttypes.models import ContentType

    from integration_hub.models import AuditAction, AuditEntry

    ct = ContentType.objects.get_for_model(Flow)
    # Changes of the flow itself: access grants and views of personal data are not edits of it.
    edits = (AuditAction.CREATE, AuditAction.UPDATE, AuditAction.IMPORT)
    newest = AuditEntry.objects.filter(
        content_type=ct, object_id=OuterRef("object_id"), action__in=edits
    ).order_by("-time", "-pk")
    rows = (
        AuditEntry.objects.filter(content_type=ct, object_id__in=[str(f.pk) for f in flows])
        .filter(pk=Subquery(newest.values("pk")[:1]))
        .select_related("user")
    )
    out = {}
    for entry in rows:
        who = entry.user.get_username() if entry.user else entry.user_name
        out[int(entry.object_id)] = (entry.time, who or gettext("the system"))
    return out


def inventory(user=None) -> list[dict]:
    """One row per flow ``user`` may view (``None``: all), by name: what data moves from where to where,
    how often, how critical, whose, why, and who changed it last (the audit log). Values are text."""
    flows = list(
        visible_flows(user)
        .select_related("source_system", "target_system", "owner", "after_flow")
        .order_by("name", "pk")
    )
    mappings: dict[int, list[FieldMapping]] = {}
    for mapping in FieldMapping.objects.filter(flow__in=[f.pk for f in flows]).order_by(
        "flow", "position", "pk"
    ):
        mappings.setdefault(mapping.flow_id, []).append(mapping)
    changes = _last_changes(flows)
    rows = []
    for flow in flows:
        fields = mappings.get(flow.pk, [])
        personal = sorted({m.personal for m in fields if m.personal})
        changed = changes.get(flow.pk)
        rows.append(
            {
                "id": flow.pk,
                "name": flow.name,
                "source_system": flow.source_system.name,
                "target_system": flow.target_system.name,
                "direction": f"{flow.source_system.name} → {flow.target_system.name}",
                "entity": f"{flow.source_entity} → {flow.target_entity}",
                "fields": [_field_line(m) for m in fields],
                "personal_data": [str(PERSONAL_LABELS.get(p, p)) for p in personal],
                "trigger": str(flow.get_trigger_display()),
                "frequency": describe_frequency(flow, flow.after_flow.name if flow.after_flow else None),
                "criticality": str(flow.get_criticality_display()),
                "sla": gettext("%(n)s min") % {"n": flow.freshness_sla_minutes}
                if flow.freshness_sla_minutes
                else "",
                "owner": flow.owner.get_username() if flow.owner else "",
                "purpose": flow.purpose,
                "description": flow.description,
                "last_change": timezone.localtime(changed[0]).date().isoformat() if changed else "",
                "changed_by": changed[1] if changed else "",
                "enabled": gettext("yes") if flow.enabled else gettext("no"),
                "is_enabled": flow.enabled,
                "url": flow.get_absolute_url(),
            }
        )
    return rows


def _cell(value) -> str:
    return "; ".join(value) if isinstance(value, list) else str(value)


def inventory_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(label) for _key, label in INVENTORY_COLUMNS])
    for row in rows:
        # A leading = + - @ would be a formula in a spreadsheet: quote it away.
        writer.writerow([_safe(_cell(row[key])) for key, _label in INVENTORY_COLUMNS])
    return out.getvalue()


def _safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def inventory_markdown(rows: list[dict], generated: datetime | None = None) -> str:
    generated = generated or timezone.now()
    lines = [
        f"# {gettext('Flow inventory')}",
        "",
        gettext("Generated from the live configuration on %(when)s: %(n)s flows.")
        % {"when": timezone.localtime(generated).strftime("%Y-%m-%d %H:%M"), "n": len(rows)},
        "",
    ]
    for row in rows:
        lines += [
            f"## {_md(row['name'])}",
            "",
            f"| {gettext('Field')} | {gettext('Value')} |",
            "| --- | --- |",
        ]
        for key, label in INVENTORY_COLUMNS:
            if key in ("name", "fields"):
                continue
            lines.append(f"| {_md(str(label))} | {_md(_cell(row[key])) or '—'} |")
        lines += ["", f"**{gettext('Fields (target ← source)')}**", ""]
        lines += [f"- {_md(line)}" for line in row["fields"]] or [f"- {gettext('no field mapped')}"]
        lines.append("")
    if not rows:
        lines.append(gettext("No flow yet."))
    return "\n".join(lines) + "\n"


__all__ = [
    "FlowGraph",
    "MapEdge",
    "MapNode",
    "build_graph",
    "edge_state",
    "impact",
    "inventory",
    "inventory_csv",
    "inventory_markdown",
    "single_points_of_failure",
]
