"""Supervision end to end in Chromium, the way an operator lives it: a run started with "Run now" moves on the
open dashboard (progress bar, then the flows table and the chart) without a reload; a fault of the target
sandbox makes an error group appear live in the open triage inbox; once the fault is gone, "Replay group"
(run by a real worker) delivers the records and the group leaves the open inbox, live.

The fault is the sandbox shop answering every request with HTTP 500 (``error_rate=1, error_status=500``):
the sandbox's fault knobs apply to a whole server, and a server-wide 4xx would refuse the product look-up
that precedes every Magento write (a ``ConfigError`` that stops the run) rather than reject records one by
one. A 500 is not retried by the client: each page's records are kept as failed records at once, with
their reason, and the run stops after three such pages — fast, and under the circuit breaker's threshold.
"""

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.support import outside_loop
from tests.live import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]

# The running sync's read counter as the dashboard shows it, polled in page time.
PROBE = """
window.__seen = {reads: []};
setInterval(() => {
  const row = document.querySelector("#running-syncs .running-sync");
  if (!row) return;
  const read = Number(row.dataset.read);
  const reads = window.__seen.reads;
  if (reads[reads.length - 1] !== read) reads.push(read);
}, 25);
"""


@pytest.fixture
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        # The PIM answers slowly enough for the progress bar to be seen moving (20 pages).
        httpx.put(f"{urls['pim']}/_sandbox/faults", json={"latency_ms": 120}).raise_for_status()
        yield urls


def shop_fault(urls, on: bool):
    changes = {"error_rate": 1.0, "error_status": 500} if on else {"error_rate": 0.0}
    httpx.put(f"{urls['shop']}/_sandbox/faults", json=changes).raise_for_status()


def catalog_flows(urls):
    """Two catalog flows over the sandbox PIM and shop: the chairs, and the tables."""
    from flows import blueprints, designer
    from flows.demo import ensure_demo_systems

    ensure_demo_systems(urls=urls)
    flows = []
    for family, name in (("chairs", "Chairs to the shop"), ("tables", "Tables to the shop")):
        flow = blueprints.create_from_blueprint("catalog", name=name)
        data = designer.definition_of(flow)
        data["filters"].append({"path": "family", "op": "equals", "value": family})
        flows.append(designer.save_flow(data, flow=flow))
    return flows


def runs_of(flow):
    from flows.models import Run

    return list(Run.objects.filter(flow=flow).order_by("pk").values_list("status", "failed"))


def test_an_operator_runs_watches_triages_and_replays_without_reloading(
    admin_page, context, sandbox, worker, watch
):
    chairs, tables = outside_loop(catalog_flows, sandbox)
    page_a = admin_page
    page_a.add_init_script(PROBE)

    # 1. Dashboard open in page A; "Run now" in page B: the bar moves, then the table and the chart catch up.
    page_a.goto("/")
    expect(page_a.locator("#live-status")).to_have_attribute("data-state", "live")
    page_a.evaluate("window.__noReload = 1")
    row = page_a.locator(f'#flow-table tr[data-flow="{chairs.pk}"]')
    expect(row.locator(".last-run")).to_contain_text("never")
    expect(page_a.locator("#chart-summary")).to_contain_text("window: 0 records synced")

    page_b = context.new_page()
    page_b.goto(chairs.get_absolute_url())
    page_b.locator("#run-now").click()

    running = page_a.locator("#running-syncs .running-sync")
    expect(running).to_have_count(1, timeout=60_000)
    expect(running).to_contain_text("Chairs to the shop")
    page_a.wait_for_function("() => window.__seen.reads.filter((n) => n > 0).length >= 2", timeout=90_000)
    expect(running).to_have_count(0, timeout=120_000)
    expect(row.locator(".run-status")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(row).not_to_have_attribute("data-freshness", "never")
    expect(page_a.locator("#chart-summary")).to_contain_text(
        re.compile(r"window: [1-9][0-9]* records synced"), timeout=30_000
    )
    reads = page_a.evaluate("window.__seen.reads")
    assert reads == sorted(reads), reads  # the bar never went backwards
    assert page_a.evaluate("window.__noReload") == 1  # no reload, no navigation

    # 2. The shop fails every request; the inbox is open in page A; the tables flow is run from the UI.
    page_a.goto("/triage/")
    expect(page_a.locator("#live-status")).to_have_attribute("data-state", "live")
    empty = "No open error group — every record went through."
    expect(page_a.locator("#triage-list")).to_contain_text(empty)
    page_a.evaluate("window.__noReload = 1")
    httpx.put(f"{sandbox['pim']}/_sandbox/faults", json={"latency_ms": 0}).raise_for_status()
    shop_fault(sandbox, on=True)
    page_b.goto(tables.get_absolute_url())
    page_b.locator("#run-now").click()

    group_row = page_a.locator("#error-groups tbody tr")
    expect(group_row).to_have_count(1, timeout=90_000)  # one cause, one group — without a reload
    expect(group_row).to_contain_text("Tables to the shop")
    expect(group_row).to_contain_text(
        re.compile(r"shop \(sandbox\) rejected \d+ products: The system failed \(HTTP 500\)")
    )
    expect(group_row.locator("[data-errorgroup-status]")).to_have_text("open")
    assert page_a.evaluate("window.__noReload") == 1

    # The faulted run ends (it stops after three failed pages); its records wait with their reason.
    finished = wait_for(
        lambda: [r for r in outside_loop(runs_of, tables) if r[0] not in ("queued", "running")],
        timeout=90,
        interval=0.5,
        message="the faulted run to end",
    )
    assert finished[0][1] > 0, finished

    # 3. The cause is fixed; "Replay group" on the group's page queues a run the worker delivers.
    shop_fault(sandbox, on=False)
    href = group_row.locator("a").first.get_attribute("href")
    page_b.goto(href)
    expect(page_b.locator("h1")).to_contain_text("HTTP 500")
    page_b.locator("#replay-group").click()
    expect(page_b.locator(".alert-success")).to_contain_text("Replaying in run")

    expect(group_row).to_have_count(0, timeout=90_000)
    expect(page_a.locator("#triage-list")).to_contain_text(empty)
    expect(page_b.locator("#errorgroup-body [data-errorgroup-status]").first).to_have_text(
        "resolved", timeout=30_000
    )
    assert page_a.evaluate("window.__noReload") == 1
    assert worker.poll() is None
    assert not watch.errors, watch.errors
    assert not watch.blocked, watch.blocked
