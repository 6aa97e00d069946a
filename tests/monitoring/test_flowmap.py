"""The flow map's model: systems as nodes, flows as directed edges with their live state, what a
system going down affects (transitively), the single points of failure, and the flow inventory with
its downloads — on the demo configuration and on generated 20-system / 60-flow configurations."""

import csv
import io
import itertools
import random
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flows.blueprints import BLUEPRINTS, ensure_demo_flows
from flows.choices import Criticality, SystemRole, Trigger
from flows.demo import ensure_demo_systems
from flows.models import FieldMapping, Flow, Run, RunStatus, System
from integration_hub import services
from integration_hub.context import acting_as
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from monitoring import flowmap
from monitoring.flowmap import edge_state
from tests.factories import FlowFactory, SystemFactory, UserFactory

NOW = timezone.now()


@pytest.fixture
def demo(db):
    """The demo's four systems and five template flows (nothing runs: no sandbox needed)."""
    admin = UserFactory(username="integrator", roles=[INTEGRATION_ADMIN])
    with acting_as(admin, source="web"):  # as the admin does it from the console
        ensure_demo_systems(owner=admin)
        ensure_demo_flows(owner=admin)
    systems = {s.slug: s for s in System.objects.all()}
    flows = {b["key"]: Flow.objects.get(name=str(b["title"])) for b in BLUEPRINTS}
    return {"admin": admin, "systems": systems, "flows": flows}


def ids(flows, *keys):
    return [flows[k].pk for k in keys]


# --- the demo graph ------------------------------------------------------------------------------


def test_every_demo_system_is_a_node_and_every_flow_an_edge_in_its_direction(demo):
    graph = flowmap.build_graph()
    s, f = demo["systems"], demo["flows"]
    assert {n.id for n in graph.nodes} == {x.pk for x in s.values()}
    pim = graph.node(s["pim"].pk)
    assert (pim.slug, pim.role, pim.role_label, pim.criticality) == ("pim", "pim", "PIM", "high")
    assert pim.url == s["pim"].get_absolute_url() and pim.visible

    edges = {e.id: e for e in graph.edges}
    assert set(edges) == {x.pk for x in f.values()}
    route = {e.id: (e.source, e.target) for e in graph.edges}
    assert route[f["catalog"].pk] == (s["pim"].pk, s["shop"].pk)
    assert route[f["stock"].pk] == (s["erp"].pk, s["shop"].pk)
    assert route[f["orders"].pk] == (s["shop"].pk, s["erp"].pk)
    assert route[f["customers"].pk] == (s["shop"].pk, s["crm"].pk)
    assert route[f["consent"].pk] == (s["crm"].pk, s["shop"].pk)

    stock = edges[f["stock"].pk]
    assert (stock.source_entity, stock.target_entity) == ("stock", "source_items")
    assert (stock.frequency, stock.criticality, stock.sla_minutes) == ("every 1 min", "critical", 5)
    assert edges[f["catalog"].pk].frequency == "every 60 min"
    # The template flows are created paused and never ran.
    assert {e.state for e in graph.edges} == {"paused"}
    assert all(e.last_run is None and e.freshness == "never" and e.volume_24h == 0 for e in graph.edges)
    # Personal data: customer flows carry it, the catalog does not.
    assert not edges[f["catalog"].pk].personal and edges[f["catalog"].pk].categories == []
    customers = edges[f["customers"].pk]
    assert customers.personal and "email" in customers.categories and "name" in customers.categories
    assert edges[f["orders"].pk].personal


def test_pim_down_stops_the_catalog_and_leaves_everything_downstream_stale(demo):
    s, f = demo["systems"], demo["flows"]
    result = flowmap.impact(flowmap.build_graph(), s["pim"].pk)
    assert result["stopped"] == ids(f, "catalog")
    # Shop stale → orders (→ ERP stale → stock) and customers (→ CRM stale → consent): critical first.
    assert result["flows"] == ids(f, "stock", "catalog", "orders", "consent", "customers")
    assert result["systems"] == [s["shop"].pk, s["crm"].pk, s["erp"].pk]  # nearest first, then by name
    assert result["paths"]["flows"][f["stock"].pk] == ids(f, "catalog", "orders", "stock")
    assert result["paths"]["systems"][s["crm"].pk] == ids(f, "catalog", "customers")


def test_crm_down_stops_its_flows_but_not_the_catalog(demo):
    s, f = demo["systems"], demo["flows"]
    result = flowmap.impact(flowmap.build_graph(), s["crm"].pk)
    assert sorted(result["stopped"]) == sorted(ids(f, "customers", "consent"))
    assert set(result["flows"]) == set(ids(f, "customers", "consent", "orders", "stock"))
    assert result["flows"][0] == f["stock"].pk  # the critical one first
    assert set(result["systems"]) == {s["shop"].pk, s["erp"].pk}
    assert s["crm"].pk not in result["systems"]


def test_a_flow_chained_after_a_stopped_flow_stops_too(demo):
    s, f = demo["systems"], demo["flows"]
    chained = FlowFactory(
        name="Price list after catalog",
        source_system=s["erp"],
        target_system=s["crm"],
        trigger=Trigger.AFTER_FLOW,
        after_flow=f["catalog"],
        criticality=Criticality.LOW,
    )
    graph = flowmap.build_graph()
    edge = graph.edge(chained.pk)
    assert edge.after == f["catalog"].pk and edge.frequency == f"after {f['catalog'].name}"
    result = flowmap.impact(graph, s["pim"].pk)
    assert set(result["stopped"]) == {f["catalog"].pk, chained.pk}
    assert result["paths"]["flows"][chained.pk] == [f["catalog"].pk, chained.pk]
    assert result["flows"][-1] == chained.pk  # low criticality last
    # Its source (the ERP) going down stops it without the catalog.
    assert chained.pk in flowmap.impact(graph, s["erp"].pk)["stopped"]
    assert f["catalog"].pk not in flowmap.impact(graph, s["erp"].pk)["flows"]


def test_single_points_of_failure_of_the_demo(demo):
    s, f = demo["systems"], demo["flows"]
    graph = flowmap.build_graph()
    # Shop: catalog, stock, orders, consent; ERP: stock, orders; PIM (high): catalog; CRM: consent.
    assert flowmap.single_points_of_failure(graph) == [s["shop"].pk, s["erp"].pk, s["pim"].pk, s["crm"].pk]
    Flow.objects.filter(pk=f["consent"].pk).update(criticality=Criticality.NORMAL)
    graph = flowmap.build_graph()
    assert flowmap.single_points_of_failure(graph) == [s["shop"].pk, s["erp"].pk, s["pim"].pk]
    assert flowmap.critical_flows_stopped(graph)[s["shop"].pk] == sorted(ids(f, "catalog", "stock", "orders"))


# --- generated configurations --------------------------------------------------------------------

LEVELS = [Criticality.CRITICAL, Criticality.HIGH, Criticality.NORMAL, Criticality.LOW]


def generate(n_systems, n_flows, seed):
    rng = random.Random(seed)
    roles = list(SystemRole.values)
    systems = [
        SystemFactory(name=f"Gen {seed}-{i}", slug=f"gen-{seed}-{i}", role=rng.choice(roles))
        for i in range(n_systems)
    ]
    flows = []
    for i in range(n_flows):
        source, target = rng.sample(systems, 2)
        after = rng.choice(flows) if flows and rng.random() < 0.15 else None
        flows.append(
            FlowFactory(
                name=f"Gen flow {seed}-{i}",
                source_system=source,
                target_system=target,
                criticality=rng.choice(LEVELS),
                trigger=Trigger.AFTER_FLOW if after else Trigger.INTERVAL,
                interval_minutes=None if after else rng.choice([1, 5, 15, 60]),
                after_flow=after,
            )
        )
    return systems, flows


def fixed_point_impact(flows, down):
    """The rule written the slow, obvious way: repeat until nothing changes."""
    stopped = {f.pk for f in flows if down in (f.source_system_id, f.target_system_id)}
    affected, stale_systems = set(stopped), set()
    changed = True
    while changed:
        changed = False
        for f in flows:
            if f.after_flow_id in stopped and f.pk not in stopped:
                stopped.add(f.pk)
                affected.add(f.pk)
                changed = True
            if f.pk in affected and f.target_system_id != down and f.target_system_id not in stale_systems:
                stale_systems.add(f.target_system_id)
                changed = True
            if f.source_system_id in stale_systems and f.pk not in affected:
                affected.add(f.pk)
                changed = True
    return stopped, affected, stale_systems


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_impact_is_the_transitive_closure_on_small_graphs(db, seed):
    systems, flows = generate(6, 9, seed)
    graph = flowmap.build_graph()
    for system in systems:
        result = flowmap.impact(graph, system.pk)
        stopped, affected, stale_systems = fixed_point_impact(flows, system.pk)
        assert set(result["stopped"]) == stopped
        assert set(result["flows"]) == affected
        assert set(result["systems"]) == stale_systems


def test_generated_20_systems_60_flows(db, django_assert_max_num_queries):
    systems, flows = generate(20, 60, seed=2026)
    with django_assert_max_num_queries(8):
        graph = flowmap.build_graph()
    assert len(graph.nodes) == 20 and len(graph.edges) == 60
    rank = flowmap.CRITICALITY_RANK
    by_id = {f.pk: f for f in flows}
    for system in systems:
        result = flowmap.impact(graph, system.pk)
        stopped, affected, stale_systems = fixed_point_impact(flows, system.pk)
        assert (set(result["stopped"]), set(result["flows"]), set(result["systems"])) == (
            stopped,
            affected,
            stale_systems,
        )
        assert len(result["flows"]) == len(set(result["flows"]))
        ranks = [rank[graph.edge(pk).criticality] for pk in result["flows"]]
        assert ranks == sorted(ranks), "critical first"
        # Closed: every flow leaving a stale system is affected; no flow is affected without a reason.
        for flow in flows:
            if flow.source_system_id in stale_systems or system.pk in (
                flow.source_system_id,
                flow.target_system_id,
            ):
                assert flow.pk in affected
        for pk, chain in result["paths"]["flows"].items():
            first = by_id[chain[0]]
            assert system.pk in (first.source_system_id, first.target_system_id)
            assert chain[-1] == pk
            for before, after in itertools.pairwise(chain):
                nxt = by_id[after]
                assert nxt.after_flow_id == before or nxt.source_system_id == by_id[before].target_system_id

    # Single points of failure: every system touching a critical/high flow (or upstream of its chain),
    # the one stopping most first.
    critical = {f.pk for f in flows if f.criticality in (Criticality.CRITICAL, Criticality.HIGH)}
    counts = {}
    for system in systems:
        stopped, _a, _s = fixed_point_impact(flows, system.pk)
        if stopped & critical:
            counts[system.pk] = len(stopped & critical)
    spof = flowmap.single_points_of_failure(graph)
    assert set(spof) == set(counts)
    assert [counts[pk] for pk in spof] == sorted(counts.values(), reverse=True)


# --- the colour rule -----------------------------------------------------------------------------


def run(status, minutes_ago=None):
    finished = None if minutes_ago is None else NOW - timedelta(minutes=minutes_ago)
    return Run(status=status, finished=finished)


@pytest.mark.parametrize(
    ("enabled", "sla", "last_run", "last_fresh_minutes", "state"),
    [
        (False, 60, run(RunStatus.SUCCEEDED, 1), None, "paused"),
        (False, 60, run(RunStatus.FAILED, 1), None, "paused"),
        (True, 60, None, None, "never"),
        (True, 60, run(RunStatus.CANCELLED, 1), None, "never"),
        (True, 60, run(RunStatus.FAILED, 1), 2, "failing"),
        (True, 60, run(RunStatus.SUCCEEDED, 10), None, "healthy"),
        (True, 60, run(RunStatus.PARTIAL, 59), None, "healthy"),
        (True, 60, run(RunStatus.SUCCEEDED, 61), None, "stale"),
        (True, 60, run(RunStatus.SUCCEEDED, 500), None, "stale"),
        (True, None, run(RunStatus.SUCCEEDED, 5000), None, "healthy"),
        (True, 60, run(RunStatus.INTERRUPTED, 1), 90, "stale"),
        (True, 60, run(RunStatus.CANCELLED, 1), 30, "healthy"),
    ],
)
def test_edge_state(enabled, sla, last_run, last_fresh_minutes, state):
    flow = Flow(enabled=enabled, freshness_sla_minutes=sla)
    fresh = None if last_fresh_minutes is None else NOW - timedelta(minutes=last_fresh_minutes)
    assert edge_state(flow, last_run, NOW, last_fresh=fresh) == state


def test_edges_show_their_runs_state_volume_and_freshness(demo):
    f = demo["flows"]
    catalog, stock = f["catalog"], f["stock"]
    Flow.objects.filter(pk__in=[catalog.pk, stock.pk]).update(enabled=True)
    now = timezone.now()

    def make(flow, status, minutes_ago, **counters):
        finished = now - timedelta(minutes=minutes_ago)
        r = Run.objects.create(
            flow=flow,
            version=flow.current_version,
            status=status,
            started=finished,
            finished=finished,
            **counters,
        )
        Run.objects.filter(pk=r.pk).update(queued_at=finished)
        return r

    make(catalog, RunStatus.SUCCEEDED, 60 * 30, created=1000)  # older than 24 h: not in the volume
    make(catalog, RunStatus.SUCCEEDED, 20, created=3, updated=2, deleted=1)
    make(stock, RunStatus.SUCCEEDED, 30, updated=7)
    failed = make(stock, RunStatus.FAILED, 2, updated=1)
    edges = {e.id: e for e in flowmap.build_graph().edges}
    assert (edges[catalog.pk].state, edges[catalog.pk].volume_24h) == ("healthy", 6)
    assert edges[catalog.pk].freshness == "20\xa0minutes ago"
    stock_edge = edges[stock.pk]
    assert (stock_edge.state, stock_edge.volume_24h) == ("failing", 8)
    assert stock_edge.last_run == {
        "id": failed.pk,
        "status": "failed",
        "finished": failed.finished.isoformat(),
        "url": failed.get_absolute_url(),
    }
    # The failure is fixed: the last delivery (30 min) is past the 5-minute SLA.
    make(stock, RunStatus.CANCELLED, 1)
    assert flowmap.build_graph().edge(stock.pk).state == "stale"


# --- the inventory -------------------------------------------------------------------------------

ALWAYS = [
    "name",
    "source_system",
    "target_system",
    "direction",
    "entity",
    "fields",
    "trigger",
    "frequency",
    "criticality",
    "sla",
    "owner",
    "last_change",
    "changed_by",
    "enabled",
]


def test_inventory_lists_every_demo_flow_with_every_column(demo):
    f = demo["flows"]
    rows = {row["name"]: row for row in flowmap.inventory()}
    assert set(rows) == {flow.name for flow in f.values()}
    for row in rows.values():
        assert all(row[key] for key in ALWAYS), row
        assert set(row) >= {key for key, _label in flowmap.INVENTORY_COLUMNS}
    orders = rows[f["orders"].name]
    assert orders["direction"] == "Adobe Commerce shop (sandbox) → Odoo ERP (sandbox)"
    assert orders["entity"] == "orders → sale_orders"
    assert orders["purpose"].startswith("Order fulfilment")
    assert (orders["owner"], orders["changed_by"]) == ("integrator", "integrator")
    assert orders["last_change"] == timezone.localdate().isoformat()
    assert (orders["trigger"], orders["frequency"], orders["criticality"], orders["sla"]) == (
        "Every N minutes",
        "every 5 min",
        "High",
        "60 min",
    )
    customers = rows[f["customers"].name]
    assert "E-mail" in customers["personal_data"]
    assert any(line.endswith("[E-mail]") and " ← " in line for line in customers["fields"])
    for key in ("orders", "customers", "consent"):
        assert rows[f[key].name]["purpose"], key
    assert rows[f["catalog"].name]["personal_data"] == []


def test_inventory_last_change_follows_the_audit_log(demo):
    f = demo["flows"]
    editor = UserFactory(username="editor")
    flow = f["catalog"]
    flow.description = "Edited"
    with acting_as(editor, source="test"):
        flow.save()
    services.grant_access(flow, UserFactory(username="reader"), ["view_flow"])  # not an edit
    row = next(r for r in flowmap.inventory() if r["id"] == flow.pk)
    assert row["changed_by"] == "editor"


def test_inventory_csv_and_markdown(demo):
    rows = flowmap.inventory()
    parsed = list(csv.reader(io.StringIO(flowmap.inventory_csv(rows))))
    assert parsed[0] == [str(label) for _key, label in flowmap.INVENTORY_COLUMNS]
    assert "Personal data" in parsed[0] and "Changed by" in parsed[0] and "Purpose" in parsed[0]
    assert sorted(r[0] for r in parsed[1:]) == sorted(r["name"] for r in rows)
    markdown = flowmap.inventory_markdown(rows)
    for row in rows:
        assert f"\n## {row['name']}\n" in markdown
    assert markdown.count("\n## ") == len(rows)


def test_inventory_csv_neutralises_formulas(db):
    FlowFactory(name="=HYPERLINK(1)", purpose="@evil")
    parsed = list(csv.reader(io.StringIO(flowmap.inventory_csv(flowmap.inventory()))))
    assert parsed[1][0] == "'=HYPERLINK(1)"


# --- permissions ---------------------------------------------------------------------------------

DOWNLOADS = ["flowmap:inventory", "flowmap:inventory_md", "flowmap:inventory_csv"]


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("name", DOWNLOADS)
def test_downloads_refuse_users_without_flow_view(demo, name):
    assert Client().get(reverse(name)).status_code == 302  # to the login page
    assert client_for(UserFactory()).get(reverse(name)).status_code == 403


def test_downloads_for_a_viewer(demo):
    client = client_for(UserFactory(roles=[VIEWER]))
    page = client.get(reverse("flowmap:inventory"))
    assert page.status_code == 200
    html = page.content.decode()
    for flow in demo["flows"].values():
        assert f'id="flow-{flow.pk}"' in html
    assert "hub/flow_inventory.css" in html  # the print styles
    md = client.get(reverse("flowmap:inventory_md"))
    assert md["Content-Type"].startswith("text/markdown") and "attachment" in md["Content-Disposition"]
    assert md.content.decode().count("\n## ") == 5
    assert f"http://testserver/flows/{demo['flows']['orders'].pk}/" in md.content.decode()
    csv_response = client.get(reverse("flowmap:inventory_csv"))
    assert len(list(csv.reader(io.StringIO(csv_response.content.decode())))) == 6


def test_an_object_grant_on_one_flow_shows_only_that_flow(demo):
    f, s = demo["flows"], demo["systems"]
    user = UserFactory()
    services.grant_access(f["orders"], user, ["view_flow"])
    client = client_for(user)
    parsed = list(csv.reader(io.StringIO(client.get(reverse("flowmap:inventory_csv")).content.decode())))
    assert [r[0] for r in parsed[1:]] == [f["orders"].name]
    html = client.get(reverse("flowmap:inventory")).content.decode()
    assert f["orders"].name in html and f["catalog"].name not in html
    assert client.get(reverse("flowmap:inventory_md")).content.decode().count("\n## ") == 1

    graph = flowmap.build_graph(user)
    assert [e.id for e in graph.edges] == [f["orders"].pk]
    # Both ends are named (the flow's page names them) but not linked: the user may not view them.
    assert {n.id for n in graph.nodes} == {s["shop"].pk, s["erp"].pk}
    assert all(not n.visible and n.url == "" and n.health == "unknown" for n in graph.nodes)
    assert flowmap.build_graph(UserFactory()).edges == []


def test_flows_with_no_mapping_have_an_empty_field_list(db):
    flow = FlowFactory(name="Bare")
    FieldMapping.objects.filter(flow=flow).delete()
    row = flowmap.inventory()[0]
    assert row["fields"] == [] and "no field mapped" in flowmap.inventory_markdown([row])
