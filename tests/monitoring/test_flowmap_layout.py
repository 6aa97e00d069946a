"""The flow map's layout (monitoring/flowmap_layout.py): deterministic, columns by role, no two node
labels overlapping, every flow drawn — on the demo configuration and on generated 20-system /
60-flow configurations. Pure geometry: no database."""

import itertools
import random
import re
from dataclasses import dataclass, field

import pytest

from monitoring.flowmap_layout import NODE_LABEL_MAX_WIDTH, NODE_R, edge_width, layout_graph, text_width, wrap

ROLES = ["pim", "erp", "crm", "ecommerce", "marketplace", "other"]
PATH = re.compile(r"^M-?[\d.]+,-?[\d.]+( C(-?[\d.]+,-?[\d.]+ ){2}-?[\d.]+,-?[\d.]+)+$")


@dataclass
class Node:
    id: int
    name: str
    role: str
    role_label: str = ""


@dataclass
class Edge:
    id: int
    source: int
    target: int
    name: str
    source_entity: str = "products"
    target_entity: str = "products"
    frequency: str = "every 15 min"
    criticality: str = "high"
    personal: bool = False
    volume_24h: int = 0
    categories: list = field(default_factory=list)


def demo():
    """The demo's shape (flows.demo + the five templates), names included."""
    nodes = [
        Node(1, "Akeneo PIM (sandbox)", "pim"),
        Node(2, "Adobe Commerce shop (sandbox)", "ecommerce"),
        Node(3, "Odoo ERP (sandbox)", "erp"),
        Node(4, "HubSpot CRM (sandbox)", "crm"),
    ]
    edges = [
        Edge(1, 1, 2, "Catalog: PIM → shop", frequency="every 60 min"),
        Edge(2, 3, 2, "Stock: ERP → shop", "stock", "source_items", "every 1 min", "critical"),
        Edge(3, 2, 3, "Orders: shop → ERP", "orders", "sale_orders", "every 5 min", personal=True),
        Edge(4, 2, 4, "Customers: shop → CRM", "customers", "contacts", criticality="normal", personal=True),
        Edge(5, 4, 2, "Marketing consent: CRM → shop", "contacts", "customers", personal=True),
    ]
    return nodes, edges


def generated(seed: int, n_systems: int = 20, n_flows: int = 60):
    rng = random.Random(seed)
    words = ["Shop", "Warehouse", "Billing", "Legacy", "Marketing", "Logistics", "Marketplace", "WMS"]
    nodes = [
        Node(
            i,
            f"{rng.choice(words)} {rng.choice(words)} system {i}" + " extra" * rng.randint(0, 4),
            rng.choice(ROLES),
        )
        for i in range(1, n_systems + 1)
    ]
    edges = []
    for k in range(1, n_flows + 1):
        source, target = rng.randint(1, n_systems), rng.randint(1, n_systems)
        edges.append(
            Edge(
                100 + k,
                source,
                target,
                f"Flow {k}",
                rng.choice(["products", "orders", "customers", "stock_levels_per_warehouse"]),
                rng.choice(["products", "sale_orders", "contacts"]),
                rng.choice(["every 1 min", "every 60 min", "on webhook", "cron */5 * * * *"]),
                rng.choice(["critical", "high", "normal", "low"]),
                rng.random() < 0.3,
                rng.choice([0, 3, 250, 40_000]),
            )
        )
    return nodes, edges


def overlapping(boxes):
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2) if box_a.overlaps(box_b)]


def assert_readable(layout, nodes, edges):
    assert {p.node.id for p in layout.nodes} == {n.id for n in nodes}
    assert {p.edge.id for p in layout.edges} == {e.id for e in edges}
    node_labels = [(p.node.name, p.label_box) for p in layout.nodes]
    assert overlapping(node_labels) == []
    # Flow labels overlap neither each other nor a node label; nodes do not overlap either.
    edge_labels = [(p.edge.name, p.label_box) for p in layout.edges]
    assert overlapping(edge_labels + node_labels) == []
    circles = [
        (p.node.name, type(p.label_box)(p.x - NODE_R, p.y - NODE_R, p.x + NODE_R, p.y + NODE_R))
        for p in layout.nodes
    ]
    assert overlapping(circles + node_labels) == []
    for placed in layout.edges:
        assert PATH.match(placed.d), placed.d
        assert placed.arrow.startswith("M") and placed.arrow.endswith("Z")
    # Everything inside the drawing.
    for _name, box in node_labels + edge_labels:
        assert box.x0 >= 0 and box.x1 <= layout.width and box.y0 >= 0 and box.y1 <= layout.height


def test_demo_layout_is_readable_and_in_role_columns():
    nodes, edges = demo()
    layout = layout_graph(nodes, edges)
    assert_readable(layout, nodes, edges)
    assert [c.role for c in layout.columns] == ["pim", "erp", "crm", "ecommerce"]
    x = {p.node.name: p.x for p in layout.nodes}
    assert x["Akeneo PIM (sandbox)"] < x["Odoo ERP (sandbox)"] < x["HubSpot CRM (sandbox)"]
    assert x["HubSpot CRM (sandbox)"] < x["Adobe Commerce shop (sandbox)"]
    kinds = {p.edge.name: p.kind for p in layout.edges}
    assert kinds["Catalog: PIM → shop"] == "forward" and kinds["Orders: shop → ERP"] == "backward"
    # The two flows between the ERP and the shop (one each way) are drawn apart.
    stock, orders = layout.edge(2), layout.edge(3)
    assert stock.d != orders.d
    # Personal data is marked on the flows that carry it only.
    assert layout.edge(3).personal_marker and layout.edge(4).personal_marker
    assert layout.edge(1).personal_marker is None


@pytest.mark.parametrize("seed", range(6))
def test_generated_20_systems_60_flows_are_readable(seed):
    nodes, edges = generated(seed)
    layout = layout_graph(nodes, edges)
    assert_readable(layout, nodes, edges)
    assert len(layout.nodes) == 20 and len(layout.edges) == 60


def test_same_input_same_output_whatever_the_order():
    nodes, edges = generated(3)
    first = layout_graph(nodes, edges)
    rng = random.Random(1)
    shuffled_nodes, shuffled_edges = nodes[:], edges[:]
    rng.shuffle(shuffled_nodes)
    rng.shuffle(shuffled_edges)
    again = layout_graph(shuffled_nodes, shuffled_edges)

    def picture(layout):
        return (
            layout.width,
            layout.height,
            [(p.node.id, p.x, p.y, p.label_box, [line.text for line in p.lines]) for p in layout.nodes],
            [(p.edge.id, p.d, p.arrow, p.width, p.label_box) for p in layout.edges],
        )

    assert picture(first) == picture(again) == picture(layout_graph(nodes, edges))


def test_parallel_flows_loops_and_flows_within_a_column_each_get_a_path():
    nodes = [Node(1, "ERP one", "erp"), Node(2, "ERP two", "erp"), Node(3, "Shop", "ecommerce")]
    edges = [
        Edge(1, 1, 3, "a"),
        Edge(2, 1, 3, "b"),
        Edge(3, 1, 3, "c"),
        Edge(4, 3, 1, "back"),
        Edge(5, 1, 2, "within the ERP column"),
        Edge(6, 2, 2, "to itself"),
    ]
    layout = layout_graph(nodes, edges)
    assert_readable(layout, nodes, edges)
    kinds = {p.edge.name: p.kind for p in layout.edges}
    assert kinds == {"a": "forward", "b": "forward", "c": "forward", "back": "backward",
                     "within the ERP column": "column", "to itself": "loop"}  # fmt: skip
    assert len({layout.edge(i).d for i in (1, 2, 3, 4)}) == 4  # parallel flows never drawn on one another


def test_long_names_wrap_then_end_with_an_ellipsis():
    lines = wrap(
        "The very long name of a legacy warehouse management system nobody dares to rename", 13, 176, 2
    )
    assert len(lines) == 2 and lines[1].endswith("…")
    assert all(text_width(line, 13) <= NODE_LABEL_MAX_WIDTH for line in lines)
    nodes = [Node(i, "W" * 60 + str(i), "erp") for i in range(1, 4)] + [Node(9, "m" * 80, "pim")]
    layout = layout_graph(nodes, [Edge(1, 1, 9, "x")])
    assert_readable(layout, nodes, [Edge(1, 1, 9, "x")])


def test_thickness_grows_with_volume_on_a_log_scale():
    widths = [edge_width(v) for v in (0, 10, 100, 1_000, 10_000, 10**9)]
    assert widths == sorted(widths) and len(set(widths)) == len(widths)
    assert widths[0] == 1.5 and widths[-1] == 8.0
    assert edge_width(1000) - edge_width(100) == pytest.approx(edge_width(100) - edge_width(10), abs=0.15)


def test_an_empty_graph_is_an_empty_drawing():
    layout = layout_graph([], [])
    assert layout.nodes == [] and layout.edges == [] and layout.width > 0


def test_an_unknown_role_goes_to_the_other_column():
    nodes = [Node(1, "A", "pim"), Node(2, "B", "mainframe")]
    layout = layout_graph(nodes, [Edge(1, 1, 2, "x")])
    assert [c.role for c in layout.columns] == ["pim", "other"]
