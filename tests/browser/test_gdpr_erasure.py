"""An erasure request end to end in Chromium, the way a DPO lives it: record the request for a sandbox
customer held by the shop (Magento), the ERP (Odoo) and the CRM (HubSpot), verify the identity, see the
plan ("found in 3 systems…") before anything changes, execute (a real worker runs the tasks; the page
follows the progress), then check through each sandbox's own API that the person is gone, download the
evidence pack (every system with its post-check, no plain e-mail), and see the person, brought back in the
shop as a restored backup would and then in the CRM, left out of the next syncs (shop → CRM, CRM → shop)
and counted as suppressed.
"""

import json

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.support import outside_loop, session_cookie
from tests.gdpr.test_requests_sandbox import decrypted_hub_text, readd_in_crm_and_flow_to_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture
def sandbox():
    from sandbox.testing import running

    with running(["shop", "erp", "crm"]) as urls:
        yield urls


@pytest.fixture
def dpo_page(page, context, asgi_url):
    from integration_hub.roles import DPO
    from tests.factories import UserFactory

    user = outside_loop(UserFactory, username="dora", roles=[DPO])
    context.add_cookies([outside_loop(session_cookie, user, asgi_url)])
    return page


def prepare(urls):
    """The demo systems on the sandboxes; the customers flow run once (the hub holds links about
    everyone); the shop's orders masked rather than kept whole (the DPO's choice)."""
    from flows import blueprints, sync
    from flows.demo import ensure_demo_systems
    from gdpr.models import ErasureStrategy
    from gdpr.models.choices import Strategy

    systems = {s.slug: s for s in ensure_demo_systems(urls=urls)}
    flow = blueprints.create_from_blueprint("customers")
    sync.request_run(flow, full=True)  # the test process runs queued tasks inline
    ErasureStrategy.objects.create(system=systems["shop"], entity="orders", strategy=Strategy.MASK)
    return systems, flow


def found_in(system, email) -> list:
    connector = system.get_connector()
    try:
        return connector.find_subject({"email": [email]})
    finally:
        connector.close()


def test_a_dpo_erases_a_person_everywhere_and_the_next_sync_suppresses_them(
    dpo_page, sandbox, worker, watch, tmp_path
):
    from flows.models import Run, RunStatus
    from gdpr.models import DataSubjectRequest
    from sandbox.seed import dataset, shared_person

    email = shared_person(dataset(42))
    systems, flow = outside_loop(prepare, sandbox)
    first = Run.objects.filter(flow=flow).get()
    assert first.status == RunStatus.SUCCEEDED, first.message
    (account,) = [r.data for r in found_in(systems["shop"], email) if r.entity == "customers"]
    assert all(found_in(systems[s], email) for s in ("shop", "erp", "crm"))

    page = dpo_page
    # 1. Record the request.
    page.goto("/gdpr/requests/")
    page.get_by_role("link", name="Add data-subject request").click()
    page.get_by_label("Received on").fill(timezone.localdate().isoformat())
    page.get_by_label("E-mail addresses").fill(email)
    page.get_by_role("button", name="Record the request").click()
    expect(page.locator("h1")).to_have_text("DSR-" + str(timezone.localdate().year) + "-0001")
    expect(page.locator("#identifiers")).not_to_contain_text(email)  # masked

    # 2. Nothing can be planned before the identity is verified.
    expect(page.locator("#plan-button")).to_have_count(0)
    page.get_by_label("How was the identity verified?").fill("ID document seen")
    page.locator("#verify-button").click()
    expect(page.locator("#request-state")).to_have_text("identity verified")

    # 3. The plan, before anything changes.
    page.locator("#plan-button").click()
    expect(page.locator("#plan-summary")).to_contain_text("Found in 3 systems")
    assert all(found_in(systems[s], email) for s in ("shop", "erp", "crm"))  # nothing erased yet

    # 4. Execute: a worker runs the tasks; the page follows and reloads when done.
    page.locator("#execute-button").click()
    expect(page.locator("#request-state")).to_have_text("completed", timeout=90_000)
    expect(page.locator("#request-tasks [data-task-status=failed]")).to_have_count(0)

    # Gone from each system, as its own API shows (the ERP's sale orders are kept by law, pointing to the
    # anonymised partner: they hold no personal value of their own).
    for slug in ("shop", "erp", "crm"):
        assert [r for r in found_in(systems[slug], email) if r.entity != "sale_orders"] == [], slug
    request = DataSubjectRequest.objects.get()
    assert request.identifiers == {}
    assert email.casefold() not in decrypted_hub_text()  # links, failed records, logs, webhook events

    # 5. The evidence pack: every system with its post-check, no plain identifier.
    with page.expect_download() as download:
        page.get_by_role("link", name="Evidence (JSON)").click()
    path = tmp_path / "evidence.json"
    download.value.save_as(path)
    text = path.read_text()
    assert email.casefold() not in text.casefold()
    pack = json.loads(text)
    checked = {t["system"] for t in pack["data"]["tasks"] if t["post_check"] == "passed"}
    assert {systems[s].name for s in ("shop", "erp", "crm")} <= checked | {"Integration Hub"}
    assert {systems[s].name for s in ("shop", "erp", "crm")} <= {t["system"] for t in pack["data"]["tasks"]}

    # 6. The person comes back in the shop (a restored backup): the next sync leaves them out.
    def re_add():
        from flows.connectors.base import WriteMode

        shop = systems["shop"].get_connector()
        try:
            fields = {k: account[k] for k in ("email", "firstname", "lastname", "website_id") if k in account}
            (written,) = shop.write("customers", [fields], WriteMode.CREATE)
            assert written.ok, written.error
        finally:
            shop.close()

    outside_loop(re_add)
    from flows import sync

    second, _created = outside_loop(sync.request_run, flow, full=True)
    second = Run.objects.get(pk=second.pk)
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert second.suppressed == 1
    assert found_in(systems["crm"], email) == []  # the CRM did not receive them

    # 7. The person re-added in the CRM: the next CRM → shop sync leaves them out and counts them.
    from flows.models import RecordLink

    flow_back = outside_loop(readd_in_crm_and_flow_to_shop, systems, email)
    third, _created = outside_loop(sync.request_run, flow_back, full=True)
    third = Run.objects.get(pk=third.pk)
    assert third.status == RunStatus.SUCCEEDED, third.message
    assert third.suppressed == 1
    restored = next(r.id for r in found_in(systems["shop"], email) if r.entity == "customers")
    assert not RecordLink.objects.filter(flow=flow_back, target_id=restored).exists()
    page.goto("/gdpr/requests/suppression/")
    expect(page.locator("table")).to_contain_text("email")
    assert not watch.blocked and not watch.page_errors
