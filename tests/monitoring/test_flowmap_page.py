"""The flow map page (/map/), its SVG download (/map/map.svg) and its live state (/map/state.json):
only what the user may view, filters applied by the server, the impact list of the demo, the single
points of failure, and an SVG file that is valid XML naming every system."""

import re
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from flows.blueprints import BLUEPRINTS, ensure_demo_flows
from flows.demo import DEMO_SYSTEMS, ensure_demo_systems
from flows.models import Flow, FlowVersion, Run, System
from integration_hub import services
from integration_hub.context import acting_as
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def demo(db):
    admin = UserFactory(username="integrator", roles=[INTEGRATION_ADMIN])
    with acting_as(admin, source="web"):
        ensure_demo_systems(owner=admin)
        ensure_demo_flows(owner=admin)
    systems = {s.slug: s for s in System.objects.all()}
    flows = {b["key"]: Flow.objects.get(name=str(b["title"])) for b in BLUEPRINTS}
    return {"admin": admin, "systems": systems, "flows": flows}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def drawn_edges(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<g id="edge-(\d+)"', html)}


def drawn_nodes(html: str) -> set[int]:
    return {int(pk) for pk in re.findall(r'<a id="node-(\d+)"', html)}


def fail(flow):
    version = flow.versions.first() or FlowVersion.objects.create(flow=flow, number=1, definition={})
    now = timezone.now()
    return Run.objects.create(
        flow=flow, version=version, trigger="manual", status="failed", started=now, finished=now
    )


def test_a_viewer_sees_every_system_and_flow_with_links_and_a_table(demo):
    response = client_for(UserFactory(roles=[VIEWER])).get(reverse("flowmap:map"))
    assert response.status_code == 200
    html = response.content.decode()
    assert drawn_edges(html) == {f.pk for f in demo["flows"].values()}
    assert drawn_nodes(html) == {s.pk for s in demo["systems"].values()}
    for system in demo["systems"].values():
        assert f'href="{system.get_absolute_url()}"' in html
    for flow in demo["flows"].values():
        assert f'<a id="edge-link-{flow.pk}" class="fm-edge-link fm-state-paused' in html
        assert f'href="{flow.get_absolute_url()}"' in html
        assert f'<tr data-edge="{flow.pk}" data-state="paused"' in html  # the text alternative
    # Personal data is marked on the flows carrying it; the catalog carries none.
    assert 'class="fm-edge-link fm-state-paused fm-personal"' in html
    assert f'<a id="edge-link-{demo["flows"]["catalog"].pk}" class="fm-edge-link fm-state-paused" ' in html
    # The inventory downloads and the SVG download are linked.
    for name in ("flowmap:inventory", "flowmap:inventory_md", "flowmap:inventory_csv", "flowmap:map_svg"):
        assert f'href="{reverse(name)}' in html
    assert 'data-section="map"' in html and f'href="{reverse("flowmap:map")}"' in html  # the navbar


def test_users_who_may_view_no_flow_are_refused(demo):
    assert Client().get(reverse("flowmap:map")).status_code == 302  # to the login page
    nobody = client_for(UserFactory())
    for name in ("flowmap:map", "flowmap:map_svg", "flowmap:state"):
        assert nobody.get(reverse(name)).status_code == 403


def test_only_permitted_flows_are_drawn(demo):
    f, s = demo["flows"], demo["systems"]
    user = UserFactory()
    services.grant_access(f["orders"], user, ["view_flow"])
    client = client_for(user)
    html = client.get(reverse("flowmap:map")).content.decode()
    assert drawn_edges(html) == {f["orders"].pk}
    assert drawn_nodes(html) == {s["shop"].pk, s["erp"].pk}
    assert f["catalog"].name not in html and s["pim"].name not in html
    # Ends the user may not view are named, not linked.
    assert f'href="{s["shop"].get_absolute_url()}"' not in html
    state = client.get(reverse("flowmap:state")).json()
    assert set(state["edges"]) == {str(f["orders"].pk)} and state["nodes"] == {}
    svg = client.get(reverse("flowmap:map_svg")).content.decode()
    assert f["catalog"].name not in svg and s["pim"].name not in svg


def test_filters_are_applied_by_the_server(demo):
    f, s = demo["flows"], demo["systems"]
    client = client_for(demo["admin"])
    crm = client.get(reverse("flowmap:map"), {"role": "crm"}).content.decode()
    assert drawn_edges(crm) == {f["customers"].pk, f["consent"].pk}
    assert drawn_nodes(crm) == {s["crm"].pk, s["shop"].pk}
    critical = client.get(reverse("flowmap:map"), {"criticality": "critical"}).content.decode()
    assert drawn_edges(critical) == {f["stock"].pk}
    personal = client.get(reverse("flowmap:map"), {"personal": "on"}).content.decode()
    assert drawn_edges(personal) == {f["orders"].pk, f["customers"].pk, f["consent"].pk}
    assert drawn_edges(client.get(reverse("flowmap:map"), {"failing": "on"}).content.decode()) == set()
    Flow.objects.filter(pk=f["stock"].pk).update(enabled=True)
    fail(f["stock"])
    failing = client.get(reverse("flowmap:map"), {"failing": "on"}).content.decode()
    assert drawn_edges(failing) == {f["stock"].pk}
    assert 'id="edge-{}" class="fm-edge fm-state-failing'.format(f["stock"].pk) in failing
    # Filters combine; an unknown value is ignored rather than an error.
    both = client.get(reverse("flowmap:map"), {"role": "erp", "personal": "on"}).content.decode()
    assert drawn_edges(both) == {f["orders"].pk}
    assert client.get(reverse("flowmap:map"), {"role": "mainframe"}).status_code == 200


def test_impact_of_the_pim_going_down_critical_first(demo):
    f, s = demo["flows"], demo["systems"]
    html = client_for(demo["admin"]).get(reverse("flowmap:map"), {"impact": s["pim"].pk}).content.decode()
    result = html[html.index('id="impact-result"') :]
    assert "If Akeneo PIM (sandbox) goes down:" in result

    def listed(css_class):
        block = result[result.index(f'class="{css_class}') :]
        block = block[: block.index("</ol>")]
        return [int(pk) for pk in re.findall(r'data-(?:edge|node)="(\d+)"', block)]

    assert listed("impact-stopped") == [f["catalog"].pk]
    # Stale downstream, critical first: the stock (critical), then the high, then the normal flows.
    assert listed("impact-stale-flows") == [f["stock"].pk, f["orders"].pk, f["consent"].pk, f["customers"].pk]
    assert listed("impact-systems") == [s["shop"].pk, s["erp"].pk, s["crm"].pk]  # critical, critical, normal
    # On the map: the PIM is the root, the rest highlighted: only the demo systems no flow touches
    # (a second shop, waiting for its flows) are dimmed, and no flow.
    assert 'class="fm-node-link fm-node fm-role-pim fm-health-unknown fm-spof fm-impact-root"' in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    linked = {pk for flow in f.values() for pk in (flow.source_system_id, flow.target_system_id)}
    dimmed = {int(pk) for pk in re.findall(r'<a id="node-(\d+)" class="[^"]*fm-dimmed', svg)}
    assert dimmed == {system.pk for system in s.values()} - linked
    assert not re.search(r'<g id="edge-\d+" class="[^"]*fm-dimmed', svg)
    assert '<a href="?" class="btn btn-sm btn-outline-secondary" id="impact-clear">' in html
    kept = client_for(demo["admin"]).get(reverse("flowmap:map"), {"impact": s["pim"].pk, "personal": "on"})
    assert (
        'href="?personal=on" class="btn btn-sm btn-outline-secondary" id="impact-clear"'
        in kept.content.decode()
    )
    # The CRM's loss leaves the catalog running: it is dimmed.
    crm = client_for(demo["admin"]).get(reverse("flowmap:map"), {"impact": s["crm"].pk}).content.decode()
    assert re.search(rf'<g id="edge-{f["catalog"].pk}" class="fm-edge [^"]*fm-dimmed', crm)


def test_single_points_of_failure_panel(demo):
    s = demo["systems"]
    html = client_for(demo["admin"]).get(reverse("flowmap:map")).content.decode()
    panel = html[html.index('id="spof-panel"') :]
    panel = panel[: panel.index("</section>")]
    assert [int(pk) for pk in re.findall(r'data-node="(\d+)"', panel)] == [
        s["shop"].pk,
        s["erp"].pk,
        s["pim"].pk,
        s["crm"].pk,
    ]
    assert f"?impact={s['shop'].pk}" in panel


def test_the_svg_download_is_valid_xml_naming_every_system_and_flow(demo):
    response = client_for(UserFactory(roles=[VIEWER])).get(reverse("flowmap:map_svg"))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert re.match(
        r'attachment; filename="flow-map-\d{4}-\d{2}-\d{2}\.svg"', response["Content-Disposition"]
    )
    root = ET.fromstring(response.content)  # noqa: S314 - our own response
    assert root.tag == f"{SVG}svg" and len(root.get("viewBox").split()) == 4
    text = " ".join("".join(el.itertext()) for el in root.iter(f"{SVG}text"))
    labels = {"".join(t.itertext()) for t in root.iter(f"{SVG}text") if "fm-node-label" in t.get("class", "")}
    for system in demo["systems"].values():
        # A long name wraps onto two lines (tspans): compare without the line breaks.
        assert system.name.replace(" ", "") in {label.replace(" ", "") for label in labels}
    assert "products" in text and "every 60 min" in text
    titles = " ".join(t.text or "" for t in root.iter(f"{SVG}title"))
    for flow in demo["flows"].values():
        assert flow.name in titles
    links = [a.get("href") for a in root.iter(f"{SVG}a")]
    assert f"http://testserver{demo['flows']['catalog'].get_absolute_url()}" in links  # works from the file


def test_state_json_reports_every_flows_live_state(demo):
    f = demo["flows"]
    Flow.objects.filter(pk=f["catalog"].pk).update(enabled=True)
    fail(f["catalog"])
    state = client_for(UserFactory(roles=[VIEWER])).get(reverse("flowmap:state")).json()
    assert set(state["edges"]) == {str(flow.pk) for flow in f.values()}
    catalog = state["edges"][str(f["catalog"].pk)]
    assert catalog["state"] == "failing" and catalog["last_run"]["status"] == "failed"
    assert catalog["freshness"] == "never" and catalog["volume_24h"] == 0
    assert state["edges"][str(f["stock"].pk)]["state"] == "paused"


def test_empty_states_say_what_to_do_next(db):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    html = client_for(admin).get(reverse("flowmap:map")).content.decode()
    assert "Nothing to map yet" in html and reverse("flows:system_add") in html
    assert reverse("flows:flow_templates") in html
    with acting_as(admin, source="web"):
        ensure_demo_systems(owner=admin)
    html = client_for(admin).get(reverse("flowmap:map")).content.decode()
    assert "No flow yet" in html and reverse("flows:flow_templates") in html
    assert len(drawn_nodes(html)) == len(DEMO_SYSTEMS)
