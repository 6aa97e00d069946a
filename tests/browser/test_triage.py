"""The triage inbox in Chromium: a run whose records the target side refuses makes an error group appear in
the open inbox without a reload; once the cause is fixed, "Replay group" (run by a real worker) resolves it
and it leaves the open inbox, live."""

import pytest
from playwright.sync_api import expect

from tests.browser.support import outside_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        yield urls


def set_price_rule(flow, minimum):
    from flows import designer

    data = designer.definition_of(flow)
    data["quality_rules"] = (
        [{"kind": "range", "field": "price", "params": {"min": minimum}}] if minimum else []
    )
    return designer.save_flow(data, flow=flow)


def chairs_with_an_impossible_price_rule(urls):
    """The catalog for the chairs only, with a price rule no chair meets: every enabled chair fails."""
    from flows import blueprints, designer
    from flows.demo import ensure_demo_systems

    ensure_demo_systems(urls=urls)
    flow = blueprints.create_from_blueprint("catalog", name="Chairs to the shop")
    data = designer.definition_of(flow)
    data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
    return set_price_rule(designer.save_flow(data, flow=flow), 1_000_000)


def run_in_this_process(flow):
    """Run the flow here (the test settings run django-q2 tasks synchronously); its events go out live."""
    from flows import sync

    run, _created = sync.request_run(flow)
    run.refresh_from_db()
    return run


def test_an_error_group_appears_live_and_leaves_the_open_inbox_when_its_replay_delivers(
    admin_page, context, sandbox, worker, watch
):
    flow = outside_loop(chairs_with_an_impossible_price_rule, sandbox)
    inbox = admin_page
    inbox.goto("/triage/")
    expect(inbox.locator("#live-status")).to_have_attribute("data-state", "live")
    expect(inbox.locator("#triage-list")).to_contain_text("No open error group — every record went through.")
    inbox.evaluate("window.__inboxMarker = 'still here'")

    run = outside_loop(run_in_this_process, flow)
    assert run.status == "partial" and run.failed > 0

    row = inbox.locator("#error-groups tbody tr")
    expect(row).to_have_count(1)  # one cause, one group — without a reload
    expect(row).to_contain_text(f"{run.failed} products failed a data-quality rule")
    expect(row).to_contain_text("Chairs to the shop")
    expect(row.locator("[data-errorgroup-status]")).to_have_text("open")
    assert inbox.evaluate("window.__inboxMarker") == "still here"

    # On a phone, the inbox and the group's page (payloads side by side become stacked) fit the screen.
    href = row.locator("a").first.get_attribute("href")
    phone = context.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    for url in ("/triage/", href):
        phone.goto(url)
        expect(phone.locator("main h1")).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
    phone.close()

    # The cause is fixed (the rule goes); "Replay group" on the group's page queues a run for the worker.
    outside_loop(set_price_rule, flow, None)
    detail = context.new_page()
    detail.goto(href)
    expect(detail.locator("h1")).to_contain_text("failed a data-quality rule")
    detail.locator("#replay-group").click()
    expect(detail.locator(".alert-success")).to_contain_text("Replaying in run")

    # The worker delivers every record: the group resolves and leaves the open inbox, live.
    expect(row).to_have_count(0, timeout=90_000)
    expect(inbox.locator("#triage-list")).to_contain_text("No open error group — every record went through.")
    assert inbox.evaluate("window.__inboxMarker") == "still here"
    expect(detail.locator("#errorgroup-body [data-errorgroup-status]").first).to_have_text(
        "resolved", timeout=30_000
    )
    expect(detail.locator("#errorgroup-body")).to_contain_text("automatically: every record went through")
    assert worker.poll() is None
    assert not watch.errors, watch.errors
    assert not watch.blocked, watch.blocked
