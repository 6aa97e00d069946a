"""The live dashboard in Chromium: a run started with "Run now" on a flow page shows on the open
dashboard as a progress bar that advances, then leaves it for the flows table and the chart — all
without a reload."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import outside_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

# Every value the running sync's bar and counter take on the dashboard, polled in page time; and a
# marker that a navigation or reload would wipe.
PROBE = """
window.__dashboardMarker = "still here";
window.__seen = {percents: [], reads: [], events: 0, subscribed: 0};
document.addEventListener("hub:subscribed", () => { window.__seen.subscribed += 1; }, true);
document.addEventListener("hub:run.progress", () => { window.__seen.events += 1; }, true);
setInterval(() => {
  const row = document.querySelector("#running-syncs .running-sync");
  if (!row) return;
  const bar = row.querySelector("progress");
  const percent = bar && bar.hasAttribute("value") ? bar.value : null;
  const read = Number(row.dataset.read);
  const seen = window.__seen;
  if (percent !== null && seen.percents[seen.percents.length - 1] !== percent) seen.percents.push(percent);
  if (seen.reads[seen.reads.length - 1] !== read) seen.reads.push(read);
}, 25);
"""


@pytest.fixture
def sandbox():
    from sandbox.testing import running

    # A little latency per request: the run reads 20 pages of the PIM over several seconds.
    with running(["pim", "shop"], latency_ms=150) as urls:
        yield urls


def chairs_catalog(urls):
    """The catalog blueprint over the sandbox PIM and shop, written for the chairs only."""
    from flows import blueprints, designer
    from flows.demo import ensure_demo_systems

    ensure_demo_systems(urls=urls)
    flow = blueprints.create_from_blueprint("catalog", name="Chairs to the shop")
    data = designer.definition_of(flow)
    data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
    return designer.save_flow(data, flow=flow)


def test_a_run_started_on_a_flow_page_moves_live_on_the_open_dashboard(
    admin_page, context, sandbox, worker, watch
):
    flow = outside_loop(chairs_catalog, sandbox)
    dashboard = admin_page
    section_fetches = []
    dashboard.on(
        "request",
        lambda r: r.headers.get("hx-target") == "running-syncs" and section_fetches.append(r.url),
    )
    dashboard.add_init_script(PROBE)
    dashboard.goto("/")
    expect(dashboard.locator("#live-status")).to_have_attribute("data-state", "live")
    row = dashboard.locator(f'#flow-table tr[data-flow="{flow.pk}"]')
    expect(row.locator(".last-run")).to_contain_text("never")
    expect(dashboard.locator("#chart-summary")).to_contain_text("window: 0 records synced")

    flow_page = context.new_page()
    flow_page.goto(flow.get_absolute_url())
    flow_page.locator("#run-now").click()

    running = dashboard.locator("#running-syncs .running-sync")
    expect(running).to_have_count(1, timeout=60_000)
    expect(running).to_contain_text("Chairs to the shop")
    # The bar advances from the events alone: at least two different values while the run lasts.
    dashboard.wait_for_function("() => window.__seen.reads.filter((n) => n > 0).length >= 2", timeout=90_000)
    # The run ends: its row leaves, the flows table and the chart catch up.
    expect(running).to_have_count(0, timeout=120_000)
    expect(row.locator(".run-status")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(row).not_to_have_attribute("data-freshness", "never")
    expect(dashboard.locator("#dashboard-charts")).not_to_have_attribute("data-synced", "0", timeout=30_000)
    expect(dashboard.locator("#chart-summary")).to_contain_text(
        re.compile(r"window: [1-9][0-9]* records synced")
    )

    seen = dashboard.evaluate("window.__seen")
    assert seen["reads"] == sorted(seen["reads"]), seen  # never backwards
    # Progress is applied from the events' payloads: the section is fetched only when a run appears
    # (and once on subscribing), not per event.
    # (A re-subscription after a dropped connection catches up with one more fetch: counted apart.)
    assert len(section_fetches) <= 2 + seen["subscribed"] < 1 + seen["subscribed"] + seen["events"], (
        section_fetches,
        seen,
    )
    assert dashboard.evaluate("window.__dashboardMarker") == "still here"  # no reload, no navigation
    assert worker.poll() is None
    assert not watch.errors, watch.errors
    assert not watch.blocked, watch.blocked


def populated_dashboard():
    """Two flows with runs over the last days, one running, and a failure with a long message."""
    from datetime import timedelta

    from django.utils import timezone

    from flows.models import FailedRecord, FlowVersion, Run
    from tests.factories import FlowFactory, SystemFactory

    now = timezone.now()
    shop = SystemFactory(name="Shop", max_concurrency=4, rate_limit=5)
    flows = [
        FlowFactory(name=name, target_system=shop, freshness_sla_minutes=sla)
        for name, sla in (("Stock levels from the ERP to the shop", 5), ("Prices", 60))
    ]
    for k, flow in enumerate(flows):
        version = FlowVersion.objects.create(flow=flow, number=1, definition={})
        for hours in (30, 3, 1):
            started = now - timedelta(hours=hours, minutes=1)
            run = Run.objects.create(
                flow=flow, version=version, trigger="schedule", status="succeeded", read=100 * (k + 1),
                created=10 * (k + 1), updated=5, failed=k, started=started, finished=now - timedelta(hours=hours),
            )  # fmt: skip
            Run.objects.filter(pk=run.pk).update(queued_at=started)
    Run.objects.create(
        flow=flows[0], version=flows[0].versions.first(), trigger="manual", status="running", read=40,
        expected=200, started=now - timedelta(seconds=20),
    )  # fmt: skip
    FailedRecord.objects.create(
        flow=flows[1], source_id="SKU-" + "9" * 40, stage="write", error_class="rejected",
        message="The shop refused the price: " + "x" * 250, signature="s",
    )  # fmt: skip
    return flows


def finished_run(flow, **counters):
    from django.utils import timezone

    from flows.models import Run

    now = timezone.now()
    return Run.objects.create(
        flow=flow, version=flow.versions.first(), trigger="manual", status="succeeded", started=now,
        finished=now, **counters,
    )  # fmt: skip


@pytest.mark.parametrize("width", [390, 1280])
def test_populated_dashboard_fits_the_screen_and_its_charts_switch_without_csp_violations(
    admin_page, watch, width
):
    page = admin_page
    page.set_viewport_size({"width": width, "height": 844})
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation',"
        " e => (window.__csp = window.__csp || []).push(e.violatedDirective + ' ' + e.blockedURI));"
    )
    flows = outside_loop(populated_dashboard)
    page.goto("/")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#running-syncs progress")).to_have_attribute("value", "20")
    expect(page.locator("#chart-summary")).to_contain_text("80 records synced")  # 2 runs x (15 + 25) in 24 h
    page.locator("label[for=chart-window-7d]").click()
    expect(page.locator("#chart-summary")).to_contain_text("120 records synced")
    page.locator("#chart-flow").select_option(str(flows[1].pk))
    expect(page.locator("#chart-summary")).to_contain_text("75 records synced")  # Prices: 3 runs x 25
    page.locator("#chart-table").locator("xpath=ancestor::details").locator("summary").click()
    expect(page.locator("#chart-table tbody tr")).to_have_count(3)
    # Chart.js drew on the canvas (a text alternative is not a replacement for a broken chart).
    assert page.evaluate("() => !!window.Chart && !!Chart.getChart('records-chart')")

    # Disconnected: the navbar says so; reconnected: the page catches up on what changed meanwhile
    # (a run written straight to the database publishes no event: only the catch-up can show it).
    page.evaluate("""() => {
      window.__states = [];
      new MutationObserver(() => window.__states.push(document.getElementById("live-status").dataset.state))
        .observe(document.getElementById("live-status"), {attributes: true, attributeFilter: ["data-state"]});
    }""")
    outside_loop(finished_run, flows[1], created=1000)
    page.evaluate("() => window.hubLive.socket.close()")
    page.wait_for_function("() => window.__states.includes('offline')")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(page.locator("#chart-summary")).to_contain_text("1075 records synced")
    expect(page.locator(f'#flow-table tr[data-flow="{flows[1].pk}"] .freshness')).to_contain_text(
        re.compile(r"products \d{1,2} s old")  # was "1 h 0 min old"
    )

    sizes = page.evaluate("() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")
    assert sizes["scroll"] <= sizes["inner"], sizes
    assert page.evaluate("window.__csp || []") == []
    assert not watch.errors, watch.errors
