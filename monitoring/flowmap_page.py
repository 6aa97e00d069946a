"""The flow map page, its SVG download and its live state (``/map/``, ``/map/map.svg``, ``/map/state.json``).

The graph, the impact analysis and the single points of failure come from ``monitoring.flowmap``
(permission-filtered there); the geometry from ``monitoring.flowmap_layout``. This module only decides
what is drawn (the filters, given as GET parameters and applied here so the page works without
JavaScript), how it is labelled, and renders it: the page and the downloaded SVG share one template
partial, so the file is exactly the map on screen.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from django import forms
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from flows.choices import Criticality, HealthStatus, SystemRole
from flows.models import Flow, System
from flows.models.runs import RunStatus
from integration_hub.permissions import has_global_permission
from integration_hub.views import generic
from monitoring import flowmap
from monitoring.flowmap_layout import FONT_FAMILY, Layout, criticality_label, layout_graph
from monitoring.flowmap_views import may_view_map

# Colours as presentation attributes, so the downloaded SVG keeps them without any stylesheet; on the
# page, flowmap.css sets the same colours by class, which is what the live updates change.
STATE_COLOURS = {
    flowmap.HEALTHY: "#198754",
    flowmap.STALE: "#d97706",
    flowmap.FAILING: "#dc3545",
    flowmap.PAUSED: "#6c757d",
    flowmap.NEVER: "#9aa1a8",
}
STATE_DASHES = {flowmap.PAUSED: "6 4", flowmap.NEVER: "2 4"}
HEALTH_COLOURS = {
    HealthStatus.UP: "#198754",
    HealthStatus.DEGRADED: "#d97706",
    HealthStatus.DOWN: "#dc3545",
    HealthStatus.UNKNOWN: "#9aa1a8",
}
NODE_STROKES = {Criticality.CRITICAL: 3.5, Criticality.HIGH: 2.5}

NO_DENIAL = gettext_lazy("The flow map shows the flows you may view: you may view none.")


class MapFilterForm(forms.Form):
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        required=False,
        choices=[("", gettext_lazy("All roles")), *SystemRole.choices],
    )
    criticality = forms.ChoiceField(
        label=gettext_lazy("Criticality"),
        required=False,
        choices=[("", gettext_lazy("Any criticality")), *Criticality.choices],
    )
    personal = forms.BooleanField(label=gettext_lazy("Personal data only"), required=False)
    failing = forms.BooleanField(label=gettext_lazy("Failing only"), required=False)
    impact = forms.TypedChoiceField(
        label=gettext_lazy("If this system goes down"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, nodes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["impact"].choices = [("", gettext_lazy("Choose a system…"))] + [
            (node.id, node.name) for node in sorted(nodes, key=lambda n: n.name.casefold())
        ]


@dataclass
class MapFilters:
    role: str = ""
    criticality: str = ""
    personal: bool = False
    failing: bool = False
    impact: int | None = None

    @property
    def narrows(self) -> bool:
        return bool(self.role or self.criticality or self.personal or self.failing)

    @classmethod
    def from_query(cls, query, graph) -> tuple[MapFilters, MapFilterForm]:
        form = MapFilterForm(query or None, nodes=graph.nodes)
        if not form.is_bound or not form.is_valid():
            # An unknown value (a stale bookmark) is dropped, not an error: keep the ones that hold.
            data = form.cleaned_data if form.is_bound else {}
            form = MapFilterForm({k: v for k, v in (query or {}).items() if k in data}, nodes=graph.nodes)
            form.is_valid()
        data = getattr(form, "cleaned_data", {})
        return (
            cls(
                role=data.get("role") or "",
                criticality=data.get("criticality") or "",
                personal=bool(data.get("personal")),
                failing=bool(data.get("failing")),
                impact=data.get("impact"),
            ),
            form,
        )

    def apply(self, graph: flowmap.FlowGraph) -> tuple[list, list]:
        """The nodes and edges drawn: every flow passing the filters, with the systems at its ends; all
        systems when nothing narrows the map (a system without flows still shows)."""
        nodes = {node.id: node for node in graph.nodes}
        edges = []
        for edge in graph.edges:
            if self.role and self.role not in (nodes[edge.source].role, nodes[edge.target].role):
                continue
            if self.criticality and edge.criticality != self.criticality:
                continue
            if self.personal and not edge.personal:
                continue
            if self.failing and edge.state != flowmap.FAILING:
                continue
            edges.append(edge)
        if not self.narrows:
            return list(graph.nodes), edges
        shown = {e.source for e in edges} | {e.target for e in edges}
        return [n for n in graph.nodes if n.id in shown or (self.role and n.role == self.role)], edges

    def query(self, **changes) -> str:
        """The query string of these filters, with ``changes``."""
        values = {
            "role": self.role,
            "criticality": self.criticality,
            "personal": "on" if self.personal else "",
            "failing": "on" if self.failing else "",
            "impact": self.impact or "",
        }
        values.update(changes)
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in values.items() if v})

    @property
    def query_without_impact(self) -> str:
        return self.query(impact="")


# --- labels -------------------------------------------------------------------------------------------


def _label(choices, value) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value or "")


def last_run_text(last_run: dict | None, now: datetime) -> str:
    if not last_run:
        return _("no run yet")
    status = _label(RunStatus, last_run.get("status"))
    finished = last_run.get("finished")
    if not finished:
        return status
    when = datetime.fromisoformat(finished)
    if (now - when).total_seconds() < 60:
        return _("%(status)s, just now") % {"status": status}
    return _("%(status)s, %(age)s ago") % {"status": status, "age": timesince(when, now, depth=1)}


def edge_entity(edge) -> str:
    if edge.source_entity == edge.target_entity or not edge.target_entity:
        return edge.source_entity
    return f"{edge.source_entity} → {edge.target_entity}"


def edge_tip(edge, nodes: dict, now: datetime) -> list[str]:
    """What hovering a flow tells: its name and ends first, then its live state, last run and freshness."""
    source, target = nodes.get(edge.source), nodes.get(edge.target)
    lines = [
        edge.name,
        f"{source.name if source else '?'} → {target.name if target else '?'} · {edge_entity(edge)}",
        _("State: %(state)s") % {"state": edge.state_label},
        _("Last run: %(run)s") % {"run": last_run_text(edge.last_run, now)},
        _("Freshness: %(age)s") % {"age": edge.freshness}
        + (f" ({_('SLA %(n)s min') % {'n': edge.sla_minutes}})" if edge.sla_minutes else ""),
        _("%(frequency)s · %(criticality)s · %(n)s records in 24 h")
        % {
            "frequency": edge.frequency,
            "criticality": criticality_label(edge.criticality),
            "n": edge.volume_24h,
        },
    ]
    if edge.personal:
        lines.append(_("Personal data: %(categories)s") % {"categories": ", ".join(edge_categories(edge))})
    return lines


def edge_categories(edge) -> list[str]:
    return [str(flowmap.PERSONAL_LABELS.get(c, c)) for c in edge.categories]


def node_tip(node, spof: bool) -> list[str]:
    lines = [
        node.name,
        f"{node.role_label} · {_('criticality: %(c)s') % {'c': criticality_label(node.criticality)}}",
        _("Health: %(health)s") % {"health": _label(HealthStatus, node.health)}
        if node.visible
        else _("You may not view this system."),
    ]
    if spof:
        lines.append(_("Single point of failure: its loss stops a critical flow."))
    return lines


# --- what is drawn ------------------------------------------------------------------------------------


@dataclass
class DrawnEdge:
    placed: object
    edge: object
    title: str
    tip: str  # JSON list of lines, for the popover
    colour: str
    dash: str
    classes: str
    source: object
    target: object
    url: str
    categories: str  # the personal-data categories, in words
    criticality: str  # in words


@dataclass
class DrawnNode:
    placed: object
    node: object
    title: str
    tip: str
    health_colour: str
    stroke: float
    classes: str
    url: str
    edges: list[DrawnEdge] = field(default_factory=list)  # its outgoing flows, right after it in focus order


def _absolute(request, url: str, standalone: bool) -> str:
    return request.build_absolute_uri(url) if (standalone and url) else url


def draw(request, graph, layout: Layout, *, spof: set, impact: dict | None, standalone=False, now=None):
    """The nodes in focus order (by column, top to bottom), each with its outgoing flows."""
    now = now or timezone.now()
    nodes = {node.id: node for node in graph.nodes}
    affected_flows = set(impact["flows"]) if impact else set()
    stopped = set(impact["stopped"]) if impact else set()
    affected_systems = set(impact["systems"]) if impact else set()
    root = impact["system"] if impact else None
    drawn: dict[int, DrawnNode] = {}
    for placed in sorted(layout.nodes, key=lambda p: (p.column, p.y, p.node.name)):
        node = placed.node
        classes = [f"fm-node fm-role-{node.role} fm-health-{node.health}"]
        if node.id in spof:
            classes.append("fm-spof")
        if impact:
            if node.id == root:
                classes.append("fm-impact-root")
            elif node.id in affected_systems:
                classes.append("fm-impact-stale")
            else:
                classes.append("fm-dimmed")
        tip = node_tip(node, node.id in spof)
        drawn[node.id] = DrawnNode(
            placed=placed,
            node=node,
            title=" — ".join(tip),
            tip=json.dumps(tip, ensure_ascii=False),
            health_colour=HEALTH_COLOURS.get(node.health, HEALTH_COLOURS[HealthStatus.UNKNOWN]),
            stroke=NODE_STROKES.get(node.criticality, 1.5),
            classes=" ".join(classes),
            url=_absolute(request, node.url, standalone),
        )
    for placed in layout.edges:
        edge = placed.edge
        classes = [f"fm-state-{edge.state}"]
        if edge.personal:
            classes.append("fm-personal")
        if impact:
            if edge.id in stopped:
                classes.append("fm-impact-stopped")
            elif edge.id in affected_flows:
                classes.append("fm-impact-stale")
            else:
                classes.append("fm-dimmed")
        tip = edge_tip(edge, nodes, now)
        drawn[edge.source].edges.append(
            DrawnEdge(
                placed=placed,
                edge=edge,
                title=" — ".join(tip),
                tip=json.dumps(tip, ensure_ascii=False),
                colour=STATE_COLOURS.get(edge.state, STATE_COLOURS[flowmap.NEVER]),
                dash=STATE_DASHES.get(edge.state, ""),
                classes=" ".join(classes),
                source=nodes.get(edge.source),
                target=nodes.get(edge.target),
                url=_absolute(request, edge.url, standalone),
                categories=", ".join(edge_categories(edge)),
                criticality=criticality_label(edge.criticality),
            )
        )
    order = {p.node.id: (p.column, p.y) for p in layout.nodes}
    for item in drawn.values():
        item.edges.sort(key=lambda d: (order.get(d.edge.target, (0, 0)), d.edge.name))
    return list(drawn.values())


def _impact_context(graph, impact: dict) -> dict:
    rank = flowmap.CRITICALITY_RANK
    system = graph.node(impact["system"])
    systems = [graph.node(pk) for pk in impact["systems"]]
    # Critical first (stable: nearest first within a level, as ``impact`` orders them).
    systems.sort(key=lambda n: rank.get(n.criticality, len(rank)))
    return {
        "system": system,
        "stopped": [_listed(graph.edge(pk)) for pk in impact["stopped"]],
        "stale": [_listed(graph.edge(pk)) for pk in impact["stale"]],
        "systems": systems,
    }


def _listed(edge) -> dict:
    return {"edge": edge, "criticality": criticality_label(edge.criticality)}


def map_context(request, *, standalone: bool = False) -> dict:
    """Everything the page (or the downloaded SVG) shows, for ``request.user`` and its GET filters."""
    now = timezone.now()
    graph = flowmap.build_graph(request.user, now=now)
    filters, form = MapFilters.from_query(request.GET, graph)
    nodes, edges = filters.apply(graph)
    layout = layout_graph(nodes, edges)
    spof_ids = flowmap.single_points_of_failure(graph)
    stops = flowmap.critical_flows_stopped(graph)
    impact = None
    if filters.impact is not None and graph.node(filters.impact) is not None:
        impact = flowmap.impact(graph, filters.impact)
    drawn = draw(request, graph, layout, spof=set(spof_ids), impact=impact, standalone=standalone, now=now)
    node_by_id = {node.id: node for node in graph.nodes}
    rows = []
    for item in drawn:
        for edge in item.edges:
            rows.append(edge)
    return {
        "graph": graph,
        "layout": layout,
        "drawn": drawn,
        "rows": rows,
        "filters": filters,
        "filter_form": form,
        "impact": _impact_context(graph, impact) if impact else None,
        "spofs": [
            {
                "node": node_by_id[pk],
                "flows": [graph.edge(e) for e in stops.get(pk, [])],
                "query": filters.query(impact=pk),
            }
            for pk in spof_ids
        ],
        "standalone": standalone,
        "font_family": FONT_FAMILY,
        "state_colours": STATE_COLOURS,
        "legend_states": [
            (state, str(label), STATE_COLOURS[state]) for state, label in flowmap.STATE_LABELS.items()
        ],
        "svg_query": request.GET.urlencode(),
        "generated": now,
    }


class MapAccessMixin:
    def dispatch(self, request, *args, **kwargs):
        if not may_view_map(request.user):
            generic.deny(request, str(NO_DENIAL))
        return super().dispatch(request, *args, **kwargs)


class FlowMapView(MapAccessMixin, View):
    """Systems by role and the flows between them, coloured by live state; filters, impact analysis,
    single points of failure and a table of every flow as the map's text alternative."""

    template_name = "monitoring/flowmap.html"

    def get(self, request):
        context = map_context(request)
        context.update(
            can_add_system=has_global_permission(request.user, System, "add"),
            can_add_flow=has_global_permission(request.user, Flow, "add"),
        )
        return render(request, self.template_name, context)


class FlowMapSVGView(MapAccessMixin, View):
    """The map as an SVG file: the same drawing as the page (with its filters), links made absolute."""

    def get(self, request):
        context = map_context(request, standalone=True)
        svg = render_to_string("monitoring/flowmap.html#map-svg", context, request=request)
        response = HttpResponse(
            '<?xml version="1.0" encoding="UTF-8"?>\n' + svg.strip() + "\n", content_type="image/svg+xml"
        )
        response["Content-Disposition"] = (
            f'attachment; filename="flow-map-{timezone.localdate().isoformat()}.svg"'
        )
        return response


class FlowMapStateView(MapAccessMixin, View):
    """The live state of every flow (and system) the user may view, for flowmap.js after a run ends:
    ``{"edges": {id: {state, state_label, volume_24h, freshness, last_run, ...}}, "nodes": {id: {health}}}``."""

    def get(self, request):
        now = timezone.now()
        graph = flowmap.build_graph(request.user, now=now)
        nodes = {node.id: node for node in graph.nodes}
        edges = {}
        for edge in graph.edges:
            tip = edge_tip(edge, nodes, now)
            edges[str(edge.id)] = {
                "state": edge.state,
                "state_label": edge.state_label,
                "volume_24h": edge.volume_24h,
                "freshness": edge.freshness,
                "last_run": edge.last_run,
                "last_run_text": last_run_text(edge.last_run, now),
                "tip": tip,
                "title": " — ".join(tip),
            }
        return JsonResponse(
            {
                "edges": edges,
                "nodes": {str(node.id): {"health": node.health} for node in graph.nodes if node.visible},
            }
        )
