"""Where the flow map's systems and flows go: a deterministic layered layout, computed on the server.

Why the server renders the layout (in Python, as SVG) rather than a layout library in the browser:

- Deterministic: the same configuration gives the same picture, byte for byte — for every user, on
  every reload and in the downloaded SVG — so people learn where their systems are, and a change in
  the picture means a change in the configuration.
- Testable: the guarantee that matters for readability (no two node labels overlap) is a property of
  the geometry computed here, asserted by unit tests on the demo and on generated 20-system/60-flow
  configurations, without a browser; the browser test only confirms it with the real fonts.
- Nothing to vendor: a maintained layout library (ELK, dagre, Graphviz) is a large bundle or a native
  binary to pin, audit and update — and the console must work offline with every asset vendored —
  for graphs of a few dozen nodes that a simplified Sugiyama layout handles in a few hundred lines.
- Works without JavaScript: the map, its links, the filters, the impact analysis and the SVG download
  are plain HTML and SVG; ``static/hub/flowmap.js`` only adds pan and zoom, popovers and live colours.

The layout (Sugiyama, simplified):

1. the layers are the roles' columns — PIM, ERP, CRM, e-commerce, marketplace, other
   (``flows.choices.SystemRole``) — empty columns dropped;
2. flows between the same two systems form a bundle; a bundle spanning several columns gets a
   waypoint in every column it crosses, so that long flows pass between the nodes, never over them;
3. the order within each column minimises crossings by barycentre sweeps (down and up, keeping the
   best order seen) and adjacent swaps; ties are broken by name, never by database order;
4. vertical positions pull each column towards its neighbours (isotonic regression keeps the order and
   the minimum spacing); horizontal positions come from the estimated label widths, so node labels,
   which sit under a fixed-size node, cannot overlap — neither within a column nor across columns;
5. flows are cubic curves through their waypoints; parallel flows are offset, flows within a column
   arc beside it, self-loops curl over their node; flow labels are stacked without overlap in the gap
   next to their source. Thickness grows with the volume of the last 24 h on a log scale.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from flows.choices import Criticality, SystemRole

ROLE_ORDER = (
    SystemRole.PIM,
    SystemRole.ERP,
    SystemRole.CRM,
    SystemRole.ECOMMERCE,
    SystemRole.MARKETPLACE,
    SystemRole.OTHER,
)
ROLE_ABBREVIATIONS = {
    "pim": "PIM",
    "erp": "ERP",
    "crm": "CRM",
    "ecommerce": "SHOP",
    "marketplace": "MKT",
    "other": "SYS",
}

NODE_R = 22  # every node is the same circle: only its label's width varies
NODE_FONT = 13
NODE_LINE = 16
NODE_LABEL_MAX_WIDTH = 176  # a longer name wraps onto a second line, then ends with "…"
NODE_LABEL_LINES = 2
EDGE_FONT = 11
EDGE_LINE = 13
EDGE_LABEL_MAX_WIDTH = 190
HEADER_FONT = 13
PERSONAL_GLYPH = 14  # width kept for the personal-data marker in front of a flow's label

MARGIN = 24
HEADER_HEIGHT = 36
ROW_GAP = 24  # between two nodes of a column (label of the upper one included above)
WAYPOINT_GAP = 10
EDGE_SPACING = 9  # between two parallel flows
GAP_PADDING = 14  # between a column's node labels and the flow labels of the gap beside it
MIN_GAP = 96
LABEL_GAP = 6  # between two stacked flow labels
SWEEPS = 12
BALANCE_PASSES = 8

FONT_FAMILY = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', "
    "'Liberation Sans', 'DejaVu Sans', sans-serif"
)

# Advance widths in em, rounded up from DejaVu Sans — the widest of the usual sans-serif fonts — so the
# estimate errs on the wide side whichever font the browser picks.
_EM_NARROW = {**dict.fromkeys("il.,:;'!|`", 0.32), **dict.fromkeys("jI", 0.34), " ": 0.33}
_EM_MEDIUM = {**dict.fromkeys('ftr()[]{}-/\\"', 0.45), "·": 0.34, "s": 0.54, "c": 0.57, "z": 0.54}
_EM_WIDE = {**dict.fromkeys("mM", 0.99), **dict.fromkeys("wW", 1.0), "@": 1.0, "%": 0.96, "—": 1.0}


def char_width(ch: str, size: float) -> float:
    if ch in _EM_NARROW:
        em = _EM_NARROW[ch]
    elif ch in _EM_MEDIUM:
        em = _EM_MEDIUM[ch]
    elif ch in _EM_WIDE:
        em = _EM_WIDE[ch]
    elif ch.isdigit():
        em = 0.64
    elif ch.isupper():
        em = 0.78
    elif ch.isascii() or ch.isalpha():
        em = 0.63
    else:  # arrows, ellipsis, symbols
        em = 1.0
    return em * size


def text_width(text: str, size: float) -> float:
    """The estimated width of ``text`` at ``size`` px (on the wide side: see ``_EM_*``)."""
    return sum(char_width(ch, size) for ch in text) * 1.04 + 2


def _truncate(text: str, size: float, max_width: float) -> str:
    if text_width(text, size) <= max_width:
        return text
    while text and text_width(text + "…", size) > max_width:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap(text: str, size: float, max_width: float, max_lines: int) -> list[str]:
    """``text`` in at most ``max_lines`` lines of at most ``max_width`` px; the last one ends with "…"
    when the text is longer. Words longer than a line are cut."""
    words = text.split() or [""]
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= max_width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while text_width(current, size) > max_width:  # a word longer than a line: cut it
            cut = len(current)
            while cut > 1 and text_width(current[:cut], size) > max_width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1 :])]
    lines[-1] = _truncate(lines[-1], size, max_width)
    return lines


def edge_width(volume_24h: int | float | None) -> float:
    """Stroke width from the records moved in the last 24 h, on a log scale: 1.5 px for none, about
    +1.25 px per factor of ten, at most 8 px."""
    volume = max(0.0, float(volume_24h or 0))
    return round(min(8.0, 1.5 + 1.25 * math.log10(1 + volume)), 1)


def criticality_label(value: str) -> str:
    try:
        return str(Criticality(value).label)
    except ValueError:
        return str(value or "")


def edge_label_lines(edge) -> list[str]:
    """A flow's label: the data it moves, then how often and how critical."""
    if edge.source_entity == edge.target_entity or not edge.target_entity:
        entity = edge.source_entity
    else:
        entity = f"{edge.source_entity} → {edge.target_entity}"
    width = EDGE_LABEL_MAX_WIDTH - (PERSONAL_GLYPH if edge.personal else 0)
    second = " · ".join(
        part for part in (str(edge.frequency or ""), criticality_label(edge.criticality)) if part
    )
    return [_truncate(entity, EDGE_FONT, width), _truncate(second, EDGE_FONT, EDGE_LABEL_MAX_WIDTH)]


def role_column(role: str) -> SystemRole:
    return SystemRole(role) if role in SystemRole.values else SystemRole.OTHER


# --- the result -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    @property
    def width(self) -> float:
        return round(self.x1 - self.x0, 1)

    @property
    def height(self) -> float:
        return round(self.y1 - self.y0, 1)


@dataclass
class TextLine:
    text: str
    x: float
    y: float  # baseline


@dataclass
class PlacedNode:
    node: Any
    column: int
    x: float
    y: float
    lines: list[TextLine]
    label_box: Box
    abbreviation: str
    r: float = NODE_R

    @property
    def health_x(self) -> float:
        return round(self.x + self.r * 0.72, 1)

    @property
    def health_y(self) -> float:
        return round(self.y - self.r * 0.72, 1)

    @property
    def ring_r(self) -> float:
        """The radius of the ring marking a single point of failure."""
        return self.r + 5


@dataclass
class PlacedEdge:
    edge: Any
    kind: str  # "forward" (to a column on the right), "backward", "column" (same column) or "loop"
    d: str  # the curve, as an SVG path
    arrow: str  # the arrowhead, a closed SVG path
    width: float
    lines: list[TextLine]
    label_box: Box
    personal_at: tuple[float, float] | None  # where the personal-data marker goes, when it carries any

    @property
    def personal_marker(self) -> dict | None:
        """A small person (head and shoulders) in front of the label, for flows carrying personal data."""
        if self.personal_at is None:
            return None
        x, y = self.personal_at
        return {
            "cx": round(x + 5, 1),
            "cy": round(y - 2, 1),
            "d": f"M{_n(x)},{_n(y + 5)} a5,4.5 0 0 1 10,0 z",
        }


@dataclass
class Column:
    role: str
    label: str
    x: float
    y: float


@dataclass
class Layout:
    width: float
    height: float
    columns: list[Column] = field(default_factory=list)
    nodes: list[PlacedNode] = field(default_factory=list)
    edges: list[PlacedEdge] = field(default_factory=list)

    @property
    def view_box(self) -> str:
        return f"0 0 {_n(self.width)} {_n(self.height)}"

    def node(self, node_id) -> PlacedNode | None:
        return next((placed for placed in self.nodes if placed.node.id == node_id), None)

    def edge(self, edge_id) -> PlacedEdge | None:
        return next((placed for placed in self.edges if placed.edge.id == edge_id), None)


def _n(value: float) -> str:
    """A coordinate for SVG: one decimal at most, a dot whatever the language."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --- the algorithm --------------------------------------------------------------------------------------


@dataclass
class _Item:
    """A node or a bundle's waypoint in one column."""

    key: tuple
    layer: int
    above: float  # the item's extent above its anchor (its centre)
    below: float
    name: str  # the tie-break
    is_node: bool
    y: float = 0.0


def _sort_name(text: str) -> str:
    return text.casefold()


def _isotonic(desired: list[float], offsets: list[float]) -> list[float]:
    """Positions as close as possible (least squares) to ``desired``, in the same order, with at least
    the spacing that ``offsets`` (cumulative minimum distances from the first item) imposes."""
    z = [d - o for d, o in zip(desired, offsets, strict=True)]
    blocks: list[list[float]] = []  # [sum, count]
    for value in z:
        blocks.append([value, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    fitted: list[float] = []
    for total, count in blocks:
        fitted.extend([total / count] * int(count))
    return [f + o for f, o in zip(fitted, offsets, strict=True)]


def _offsets(items: list[_Item]) -> list[float]:
    offsets = [0.0]
    for upper, lower in itertools.pairwise(items):
        gap = ROW_GAP if (upper.is_node or lower.is_node) else WAYPOINT_GAP
        offsets.append(offsets[-1] + upper.below + gap + lower.above)
    return offsets


class _Graph:
    def __init__(self, nodes, edges):
        present = {role_column(node.role) for node in nodes}
        self.roles = [role for role in ROLE_ORDER if role in present]
        layer_of_role = {role: i for i, role in enumerate(self.roles)}
        self.nodes = sorted(nodes, key=lambda n: (_sort_name(n.name), str(n.id)))
        self.node_by_id = {node.id: node for node in self.nodes}
        self.layer = {node.id: layer_of_role[role_column(node.role)] for node in self.nodes}
        self.node_lines = {
            node.id: wrap(node.name, NODE_FONT, NODE_LABEL_MAX_WIDTH, NODE_LABEL_LINES) for node in self.nodes
        }
        edges = [e for e in edges if e.source in self.node_by_id and e.target in self.node_by_id]
        self.edges = sorted(edges, key=lambda e: (_sort_name(e.name), str(e.id)))
        self.items: dict[tuple, _Item] = {}
        self.order: list[list[_Item]] = [[] for _ in self.roles]
        for node in self.nodes:
            lines = self.node_lines[node.id]
            item = _Item(
                key=("n", node.id),
                layer=self.layer[node.id],
                above=NODE_R + 5,
                below=NODE_R + 6 + len(lines) * NODE_LINE,
                name=_sort_name(node.name),
                is_node=True,
            )
            self.items[item.key] = item
            self.order[item.layer].append(item)
        # Bundles: the flows between one pair of systems, in either direction.
        self.bundles: dict[tuple, list] = {}
        self.loops: list = []
        for edge in self.edges:
            if edge.source == edge.target:
                self.loops.append(edge)
                continue
            a, b = edge.source, edge.target
            if (self.layer[a], _sort_name(self.node_by_id[a].name), str(a)) > (
                self.layer[b],
                _sort_name(self.node_by_id[b].name),
                str(b),
            ):
                a, b = b, a
            self.bundles.setdefault((a, b), []).append(edge)
        for (a, _b), bundle in self.bundles.items():
            # Flows from left to right (or top to bottom) first, then the way back; by name within each.
            bundle.sort(key=lambda e, a=a: (e.source != a, _sort_name(e.name), str(e.id)))
        self.chains: dict[tuple, list[tuple]] = {}
        self.neighbours: dict[tuple, list[tuple[tuple, int]]] = {key: [] for key in self.items}
        for (a, b), bundle in self.bundles.items():
            la, lb = self.layer[a], self.layer[b]
            chain = [("n", a)]
            half = (len(bundle) - 1) * EDGE_SPACING / 2 + 3
            name = f"{_sort_name(self.node_by_id[a].name)}\x00{_sort_name(self.node_by_id[b].name)}"
            for layer in range(la + 1, lb):
                item = _Item(
                    key=("w", a, b, layer), layer=layer, above=half, below=half, name=name, is_node=False
                )
                self.items[item.key] = item
                self.neighbours[item.key] = []
                self.order[layer].append(item)
                chain.append(item.key)
            chain.append(("n", b))
            self.chains[(a, b)] = chain
            if la == lb:
                continue
            for left, right in itertools.pairwise(chain):
                self.neighbours[left].append((right, len(bundle)))
                self.neighbours[right].append((left, len(bundle)))
        for layer in self.order:
            layer.sort(key=lambda item: (item.name, str(item.key)))

    # -- ordering ----------------------------------------------------------------------------------

    def _positions(self, layer: int) -> dict[tuple, int]:
        return {item.key: i for i, item in enumerate(self.order[layer])}

    def _reorder(self, layer: int, reference: int) -> None:
        pos = self._positions(reference)

        def barycentre(index: int, item: _Item) -> float:
            weighted = [(pos[key], w) for key, w in self.neighbours[item.key] if key in pos]
            if not weighted:
                return float(index)
            return sum(p * w for p, w in weighted) / sum(w for _p, w in weighted)

        current = self.order[layer]
        keyed = [(barycentre(i, item), item.name, str(item.key), item) for i, item in enumerate(current)]
        keyed.sort(key=lambda row: row[:3])
        self.order[layer] = [row[3] for row in keyed]

    def _segments(self, layer: int) -> list[tuple[int, int, int]]:
        """The segments between ``layer`` and ``layer + 1``: (upper position, lower position, weight)."""
        left, right = self._positions(layer), self._positions(layer + 1)
        segments = []
        for key, pos in left.items():
            for other, weight in self.neighbours[key]:
                if other in right:
                    segments.append((pos, right[other], weight))
        return segments

    def crossings(self) -> int:
        total = 0
        for layer in range(len(self.order) - 1):
            segments = self._segments(layer)
            for i, (a1, b1, w1) in enumerate(segments):
                for a2, b2, w2 in segments[i + 1 :]:
                    if (a1 - a2) * (b1 - b2) < 0:
                        total += w1 * w2
        return total

    def _pair_crossings(self, u: _Item, v: _Item) -> int:
        """Crossings between the segments of ``u`` and ``v`` when ``u`` is above ``v``."""
        total = 0
        for reference in (u.layer - 1, u.layer + 1):
            if not 0 <= reference < len(self.order):
                continue
            pos = self._positions(reference)
            mine = [(pos[k], w) for k, w in self.neighbours[u.key] if k in pos]
            theirs = [(pos[k], w) for k, w in self.neighbours[v.key] if k in pos]
            total += sum(w1 * w2 for p1, w1 in mine for p2, w2 in theirs if p1 > p2)
        return total

    def _transpose(self) -> None:
        improved = True
        rounds = 0
        while improved and rounds < 8:
            improved = False
            rounds += 1
            for layer in self.order:
                for i in range(len(layer) - 1):
                    u, v = layer[i], layer[i + 1]
                    if self._pair_crossings(v, u) < self._pair_crossings(u, v):
                        layer[i], layer[i + 1] = v, u
                        improved = True

    def minimise_crossings(self) -> None:
        best = [list(layer) for layer in self.order]
        best_count = self.crossings()
        for _sweep in range(SWEEPS):
            if best_count == 0:
                break
            for layer in range(1, len(self.order)):
                self._reorder(layer, layer - 1)
            for layer in range(len(self.order) - 2, -1, -1):
                self._reorder(layer, layer + 1)
            self._transpose()
            count = self.crossings()
            if count < best_count:
                best, best_count = [list(layer) for layer in self.order], count
        self.order = best

    # -- vertical positions ------------------------------------------------------------------------

    def place_vertically(self) -> None:
        for layer in self.order:
            for item, offset in zip(layer, _offsets(layer), strict=True):
                item.y = offset
        # Centre the columns on the tallest one, then pull each towards its neighbours.
        spans = [
            (layer[-1].y + layer[-1].below - (layer[0].y - layer[0].above)) if layer else 0
            for layer in self.order
        ]
        tallest = max(spans, default=0)
        for layer, span in zip(self.order, spans, strict=True):
            for item in layer:
                item.y += (tallest - span) / 2
        for pass_ in range(BALANCE_PASSES):
            layers = range(len(self.order)) if pass_ % 2 == 0 else range(len(self.order) - 1, -1, -1)
            for index in layers:
                layer = self.order[index]
                if not layer:
                    continue
                desired = []
                for item in layer:
                    ys = [(self.items[key].y, w) for key, w in self.neighbours[item.key]]
                    desired.append(sum(y * w for y, w in ys) / sum(w for _y, w in ys) if ys else item.y)
                for item, y in zip(layer, _isotonic(desired, _offsets(layer)), strict=True):
                    item.y = y
        top = min((layer[0].y - layer[0].above for layer in self.order if layer), default=0)
        shift = MARGIN + HEADER_HEIGHT - top
        for item in self.items.values():
            item.y = round(item.y + shift, 1)


def _curve(points: list[tuple[float, float]]) -> tuple[str, tuple[float, float], tuple[float, float]]:
    """A smooth path through ``points`` (horizontal tangents at each point); with the last control point
    and the end, for the arrowhead."""
    (x0, y0), *rest = points
    parts = [f"M{_n(x0)},{_n(y0)}"]
    control = (x0, y0)
    for x1, y1 in rest:
        dx = (x1 - x0) / 2
        control = (x1 - dx, y1)
        parts.append(f"C{_n(x0 + dx)},{_n(y0)} {_n(control[0])},{_n(control[1])} {_n(x1)},{_n(y1)}")
        x0, y0 = x1, y1
    return " ".join(parts), control, (x0, y0)


def _arrow(control: tuple[float, float], end: tuple[float, float], width: float) -> tuple[str, float]:
    """An arrowhead whose tip is ``end``, pointing away from ``control``; and its length."""
    dx, dy = end[0] - control[0], end[1] - control[1]
    norm = math.hypot(dx, dy) or 1.0
    ux, uy = dx / norm, dy / norm
    length = 7 + width * 1.3
    half = 3.5 + width * 0.9
    bx, by = end[0] - ux * length, end[1] - uy * length
    p1 = (bx - uy * half, by + ux * half)
    p2 = (bx + uy * half, by - ux * half)
    return (
        f"M{_n(end[0])},{_n(end[1])} L{_n(p1[0])},{_n(p1[1])} L{_n(p2[0])},{_n(p2[1])} Z",
        length,
    )


def _shorten(points: list[tuple[float, float]], by: float) -> list[tuple[float, float]]:
    """The last point moved back by ``by`` towards the one before (the line stops under the arrowhead)."""
    (x0, _y0), (x1, y1) = points[-2], points[-1]
    if abs(x1 - x0) > 1e-6:  # horizontal tangents: move along x
        return [*points[:-1], (x1 - math.copysign(min(by, abs(x1 - x0) / 2), x1 - x0), y1)]
    return points


def layout_graph(nodes, edges) -> Layout:
    """Place ``nodes`` (``MapNode``-like: id, name, role, role_label) and ``edges`` (``MapEdge``-like:
    id, source, target, name, source_entity, target_entity, frequency, criticality, personal,
    volume_24h). Pure: the same input gives the same output, whatever its order."""
    graph = _Graph(list(nodes), list(edges))
    if not graph.nodes:
        return Layout(width=2 * MARGIN, height=2 * MARGIN)
    graph.minimise_crossings()
    graph.place_vertically()
    n_layers = len(graph.roles)
    headers = [str(role.label) for role in graph.roles]

    # Horizontal extent of each column: the widest of its node labels, its header and its node.
    half = []
    for index in range(n_layers):
        widths = [text_width(headers[index], HEADER_FONT), 2 * NODE_R + 12]
        for item in graph.order[index]:
            if item.is_node:
                widths.extend(text_width(line, NODE_FONT) for line in graph.node_lines[item.key[1]])
        half.append(max(widths) / 2)

    # Flow labels: which gap (the one right of column g) and at which height each wants to be.
    y_of = {key: item.y for key, item in graph.items.items()}
    routes = []  # (edge, kind, points, gap, desired label y)
    for (a, b), bundle in graph.bundles.items():
        chain = graph.chains[(a, b)]
        la, lb = graph.layer[a], graph.layer[b]
        for i, edge in enumerate(bundle):
            offset = (i - (len(bundle) - 1) / 2) * EDGE_SPACING
            if la == lb:
                routes.append((edge, "column", (a, b, i), la, (y_of[("n", a)] + y_of[("n", b)]) / 2 + offset))
                continue
            ys = [y_of[key] + offset for key in chain]
            forward = edge.source == a
            gap = la if forward else lb - 1
            first = gap - la  # index in the chain of the label's segment start
            routes.append(
                (
                    edge,
                    "forward" if forward else "backward",
                    (chain, offset),
                    gap,
                    (ys[first] + ys[first + 1]) / 2,
                )
            )
    for edge in graph.loops:
        routes.append((edge, "loop", None, graph.layer[edge.source], y_of[("n", edge.source)] - NODE_R))

    labels = {}
    for edge, *_rest in routes:
        lines = edge_label_lines(edge)
        width = max(
            text_width(lines[0], EDGE_FONT) + (PERSONAL_GLYPH if edge.personal else 0),
            text_width(lines[1], EDGE_FONT),
        )
        labels[edge.id] = (lines, width + 8, len(lines) * EDGE_LINE + 4)
    n_gaps = n_layers if any(route[3] == n_layers - 1 for route in routes) else n_layers - 1
    gap_width = []
    for gap in range(n_gaps):
        widest = max((labels[route[0].id][1] for route in routes if route[3] == gap), default=0)
        gap_width.append(max(MIN_GAP, widest + 2 * GAP_PADDING))
    xs = [MARGIN + half[0]]
    for index in range(1, n_layers):
        xs.append(xs[-1] + half[index - 1] + gap_width[index - 1] + half[index])
    width = xs[-1] + half[-1] + (gap_width[-1] if n_gaps == n_layers else 0) + MARGIN
    centre_of_gap = [xs[g] + half[g] + gap_width[g] / 2 for g in range(n_gaps)]

    # Stack the labels of each gap, as near their flows as they can be without overlapping.
    label_y: dict[Any, float] = {}
    for gap in range(n_gaps):
        mine = sorted(
            (route for route in routes if route[3] == gap),
            key=lambda r: (r[4], _sort_name(r[0].name), str(r[0].id)),
        )
        if not mine:
            continue
        heights = [labels[route[0].id][2] for route in mine]
        offsets = [0.0]
        for upper, lower in itertools.pairwise(heights):
            offsets.append(offsets[-1] + upper / 2 + LABEL_GAP + lower / 2)
        placed = _isotonic([route[4] for route in mine], offsets)
        low = MARGIN + HEADER_HEIGHT + heights[0] / 2
        if placed[0] < low:
            placed = [y + low - placed[0] for y in placed]
        for route, y in zip(mine, placed, strict=True):
            label_y[route[0].id] = y

    layout = Layout(width=round(width, 1), height=0)
    layout.columns = [
        Column(role=str(role.value), label=headers[i], x=round(xs[i], 1), y=MARGIN + HEADER_FONT)
        for i, role in enumerate(graph.roles)
    ]
    bottom = MARGIN + HEADER_HEIGHT
    for layer in graph.order:
        for item in layer:
            if not item.is_node:
                continue
            node = graph.node_by_id[item.key[1]]
            x = round(xs[item.layer], 1)
            lines = graph.node_lines[node.id]
            top = item.y + NODE_R + 6
            text = [
                TextLine(line, x, round(top + (i + 1) * NODE_LINE - 4, 1)) for i, line in enumerate(lines)
            ]
            label_w = max(text_width(line, NODE_FONT) for line in lines)
            box = Box(
                round(x - label_w / 2, 1),
                round(top, 1),
                round(x + label_w / 2, 1),
                round(top + len(lines) * NODE_LINE, 1),
            )
            layout.nodes.append(
                PlacedNode(
                    node=node,
                    column=item.layer,
                    x=x,
                    y=item.y,
                    lines=text,
                    label_box=box,
                    abbreviation=ROLE_ABBREVIATIONS.get(node.role, node.role[:4].upper()),
                )
            )
            bottom = max(bottom, box.y1)

    for edge, kind, geometry, gap, _desired in routes:
        width_px = edge_width(edge.volume_24h)
        if kind in ("forward", "backward"):
            chain, offset = geometry
            ends = max(-0.6 * NODE_R, min(0.6 * NODE_R, offset * 0.6))
            reach = math.sqrt(NODE_R**2 - ends**2)
            points = [(xs[graph.items[key].layer], y_of[key] + offset) for key in chain]
            points[0] = (points[0][0] + reach, y_of[chain[0]] + ends)
            points[-1] = (points[-1][0] - reach, y_of[chain[-1]] + ends)
            if kind == "backward":
                points.reverse()
            tip_control = points[-2]
            arrow, length = _arrow((tip_control[0], points[-1][1]), points[-1], width_px)
            d, _control, _end = _curve(_shorten(points, length * 0.8))
        elif kind == "column":
            a, b, index = geometry
            source, target = (a, b) if edge.source == a else (b, a)
            x = xs[graph.layer[a]]
            bulge = (half[graph.layer[a]] + 18 + index * EDGE_SPACING) * 4 / 3
            start = (x + NODE_R, y_of[("n", source)])
            end = (x + NODE_R, y_of[("n", target)])
            c1, c2 = (start[0] + bulge, start[1]), (end[0] + bulge, end[1])
            arrow, length = _arrow(c2, end, width_px)
            d = (
                f"M{_n(start[0])},{_n(start[1])} C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} "
                f"{_n(end[0] + length * 0.8)},{_n(end[1])}"
            )
        else:  # a flow from a system to itself
            x, y = xs[graph.layer[edge.source]], y_of[("n", edge.source)]
            start = (x + NODE_R * 0.7, y - NODE_R * 0.7)
            end = (x + NODE_R, y)
            c1 = (x + NODE_R * 1.6, y - NODE_R * 2.6)
            c2 = (x + NODE_R * 3.2, y)
            arrow, length = _arrow(c2, end, width_px)
            d = (
                f"M{_n(start[0])},{_n(start[1])} C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} "
                f"{_n(end[0] + length * 0.8)},{_n(end[1])}"
            )
        lines, label_w, label_h = labels[edge.id]
        cx, cy = centre_of_gap[gap], label_y[edge.id]
        box = Box(
            round(cx - label_w / 2, 1),
            round(cy - label_h / 2, 1),
            round(cx + label_w / 2, 1),
            round(cy + label_h / 2, 1),
        )
        glyph = PERSONAL_GLYPH if edge.personal else 0
        text = [
            TextLine(
                line,
                round(cx + (glyph / 2 if i == 0 else 0), 1),
                round(box.y0 + 2 + (i + 1) * EDGE_LINE - 3, 1),
            )
            for i, line in enumerate(lines)
        ]
        line_w = text_width(lines[0], EDGE_FONT)
        # The marker sits in the room kept for it, just left of the first line (centred at cx + glyph / 2).
        personal_at = (round(cx - glyph / 2 - line_w / 2, 1), round(text[0].y - 4, 1)) if glyph else None
        layout.edges.append(
            PlacedEdge(
                edge=edge,
                kind=kind,
                d=d,
                arrow=arrow,
                width=width_px,
                lines=text,
                label_box=box,
                personal_at=personal_at,
            )
        )
        bottom = max(bottom, box.y1)
    for item in graph.items.values():
        bottom = max(bottom, item.y + item.below)
    layout.height = round(bottom + MARGIN, 1)
    layout.edges.sort(key=lambda placed: (_sort_name(placed.edge.name), str(placed.edge.id)))
    return layout
