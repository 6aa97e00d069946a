"""The flow map in Chromium: the demo's map shows every system and flow with labels that do not
overlap (measured with the browser's own fonts), a flow whose run fails turns red live without a
reload, and the keyboard zooms the map. A screenshot goes to the test artefacts (test-results/)."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import outside_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", Path(__file__).resolve().parents[2] / "test-results"))

BOXES = """(selector) => Array.from(document.querySelectorAll(selector), (el) => {
  const b = el.getBBox();
  return {text: el.textContent, x0: b.x, y0: b.y, x1: b.x + b.width, y1: b.y + b.height};
})"""


def demo_map(admin):
    """The demo's four systems and five template flows, enabled (a paused flow stays grey whatever
    its runs do)."""
    from flows.blueprints import BLUEPRINTS, ensure_demo_flows
    from flows.demo import ensure_demo_systems
    from flows.models import Flow, System
    from integration_hub.context import acting_as

    with acting_as(admin, source="web"):
        ensure_demo_systems(owner=admin)
        ensure_demo_flows(owner=admin)
    Flow.objects.update(enabled=True)
    return (
        {s.slug: s for s in System.objects.all()},
        {b["key"]: Flow.objects.get(name=str(b["title"])) for b in BLUEPRINTS},
    )


def fail_a_run(flow_pk):
    """A run of the flow that failed, announced the way the sync engine does (flows.sync._publish)."""
    from django.utils import timezone

    from flows.models import Flow, FlowVersion, Run
    from integration_hub import realtime

    flow = Flow.objects.get(pk=flow_pk)
    version = flow.versions.first() or FlowVersion.objects.create(flow=flow, number=1, definition={})
    now = timezone.now()
    run = Run.objects.create(
        flow=flow, version=version, trigger="manual", status="failed", started=now, finished=now
    )
    for group in (realtime.object_group(Flow, flow.pk), realtime.model_group(Flow)):
        realtime.publish(group, "run.progress", run.progress())
    return run


def overlaps(a, b):
    return a["x0"] < b["x1"] and b["x0"] < a["x1"] and a["y0"] < b["y1"] and b["y0"] < a["y1"]


def test_the_demo_map_is_readable_and_a_failing_flow_turns_red_live(admin_page, admin, watch):
    page = admin_page
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    systems, flows = outside_loop(demo_map, admin)
    page.goto("/map/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")

    # Every system and every flow is drawn, each a link to its page.
    labels = page.evaluate(BOXES, ".fm-node-label")
    assert sorted(label["text"].replace(" ", "") for label in labels) == sorted(
        s.name.replace(" ", "") for s in systems.values()
    )
    for system in systems.values():
        expect(page.locator(f"#node-{system.pk}")).to_have_attribute("href", system.get_absolute_url())
    for flow in flows.values():
        expect(page.locator(f"#edge-{flow.pk}")).to_have_class(re.compile(r"\bfm-state-never\b"))
        expect(page.locator(f"#edge-link-{flow.pk}")).to_have_attribute("href", flow.get_absolute_url())
        expect(page.locator(f'#flow-map-table tr[data-edge="{flow.pk}"]')).to_contain_text(flow.name)
    # Readable: no two node labels overlap, nor a flow label a node label — in the browser's fonts.
    edge_labels = page.evaluate(BOXES, ".fm-edge-text")
    assert len(edge_labels) == len(flows)
    boxes = labels + edge_labels
    clashes = [(a["text"], b["text"]) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if overlaps(a, b)]
    assert clashes == []
    assert all(label["x1"] - label["x0"] > 40 for label in labels)  # drawn, not collapsed

    # Hovering a flow shows its last run and freshness.
    page.locator(f"#edge-link-{flows['stock'].pk} .fm-edge-text").hover()
    expect(page.locator("#flow-map-popover")).to_contain_text("Last run: no run yet")
    expect(page.locator("#flow-map-popover")).to_contain_text("Freshness: never")

    # The keyboard zooms the map (the view box narrows), 0 fits it again.
    before = page.locator("#flow-map-svg").get_attribute("viewBox")
    page.locator("#flow-map").focus()
    page.keyboard.press("+")
    zoomed = page.locator("#flow-map-svg").get_attribute("viewBox")
    assert float(zoomed.split()[2]) < float(before.split()[2])
    page.keyboard.press("0")
    expect(page.locator("#flow-map-svg")).to_have_attribute("viewBox", before)
    # Tab walks the map column by column, each system followed by the flows leaving it.
    order = []
    for _ in range(4):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id"))
    s, f = systems, flows
    assert order == [
        f"node-{s['pim'].pk}",
        f"edge-link-{f['catalog'].pk}",
        f"node-{s['erp'].pk}",
        f"edge-link-{f['stock'].pk}",
    ]
    expect(page.locator("#flow-map-popover")).to_contain_text("Stock: ERP → shop")  # focus shows it too

    # A run of the stock flow fails: its edge turns red, without a reload.
    page.evaluate("window.__mapMarker = 'still here'")
    stock = flows["stock"].pk
    outside_loop(fail_a_run, stock)
    expect(page.locator(f"#edge-{stock}")).to_have_class(re.compile(r"\bfm-state-failing\b"))
    expect(page.locator(f"#edge-link-{stock}")).to_have_class(re.compile(r"\bfm-state-failing\b"))
    expect(page.locator(f'#flow-map-table tr[data-edge="{stock}"]')).to_have_attribute(
        "data-state", "failing"
    )
    assert (
        page.evaluate(f"getComputedStyle(document.querySelector('#edge-{stock} .fm-line')).stroke")
        == "rgb(220, 53, 69)"
    )
    expect(page.locator(f"#edge-{flows['catalog'].pk}")).to_have_class(re.compile(r"\bfm-state-never\b"))
    assert page.evaluate("window.__mapMarker") == "still here"

    page.mouse.move(0, 0)  # no popover, no focus ring on the picture
    page.evaluate("document.activeElement && document.activeElement.blur()")
    expect(page.locator("#flow-map-popover")).to_be_hidden()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    page.locator("#flow-map").screenshot(path=str(ARTEFACTS / "flowmap-demo.png"))
    page.screenshot(path=str(ARTEFACTS / "flowmap-demo-page.png"), full_page=True)
    assert page.evaluate("window.__csp || []") == []
    assert not watch.errors, watch.errors
    assert not watch.blocked, watch.blocked


def test_alt_click_on_a_system_shows_its_impact(admin_page, admin):
    page = admin_page
    systems, _flows = outside_loop(demo_map, admin)
    page.goto("/map/?personal=on")
    page.locator(f"#node-{systems['crm'].pk} .fm-node-circle").click(modifiers=["Alt"])
    expect(page).to_have_url(re.compile(rf"impact={systems['crm'].pk}"))
    expect(page).to_have_url(re.compile(r"personal=on"))  # the filters are kept
    expect(page.locator("#impact-result")).to_contain_text("If HubSpot CRM (sandbox) goes down:")
    expect(page.locator(".impact-stopped li")).to_have_count(2)


@pytest.mark.parametrize("width", [390, 1280])
def test_the_map_page_meets_wcag_aa_and_fits_the_screen(admin_page, admin, width):
    from tests.browser.test_accessibility import axe_violations

    page = admin_page
    page.set_viewport_size({"width": width, "height": 844})
    systems, _flows = outside_loop(demo_map, admin)
    page.goto(f"/map/?impact={systems['pim'].pk}")
    expect(page.locator("#impact-result")).to_contain_text("These systems go stale")
    assert axe_violations(page) == []
    sizes = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert sizes["scroll"] <= sizes["inner"], sizes
