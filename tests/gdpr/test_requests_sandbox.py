"""An erasure against the sandbox shop (Magento), ERP (Odoo) and CRM (HubSpot) over HTTP, through the
real connectors: plan, execute, post-checks, the hub's own rows purged (nothing decrypts to the e-mail),
the suppression list stopping the next sync, and ``reapply_erasures`` after a "restore"."""

import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from flows import blueprints, designer, sync
from flows.connectors.base import WriteMode
from flows.demo import ensure_demo_systems
from flows.models import FailedRecord, RecordLink, Run, RunLogLine, RunStatus, WebhookEvent
from gdpr import evidence, requests
from gdpr.models import DataSubjectRequest, ErasureStrategy, EvidencePack
from gdpr.models.choices import RequestState, Strategy, TaskStatus
from integration_hub import crypto
from sandbox.seed import dataset, shared_person
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module")
def sandbox():
    with running(["shop", "erp", "crm"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def find(system, email):
    connector = system.get_connector()
    try:
        return connector.find_subject({"email": [email]})
    finally:
        connector.close()


def run_now(flow, **kwargs) -> Run:
    run, created = sync.request_run(flow, **kwargs)
    assert created
    run.refresh_from_db()
    return run


def decrypted_hub_text() -> str:
    """Everything the hub keeps about records, decrypted: links, failed records, logs, webhook events."""
    parts = []
    for link in RecordLink.objects.all():
        parts += [json.dumps(link.values), json.dumps(link.changes), link.source_id, link.target_id]
    for failed in FailedRecord.objects.all():
        parts += [json.dumps(failed.payload), failed.message, failed.source_id]
    for line in RunLogLine.objects.all():
        parts += [line.message, json.dumps(line.context)]
    for event in WebhookEvent.objects.all():
        parts.append(crypto.decrypt(event.payload_encrypted))
    for run in Run.objects.all():
        parts.append(json.dumps(run.record_ids))
    return "\n".join(parts).casefold()


def readd_in_crm_and_flow_to_shop(systems, email):
    """The person's contact created again in the CRM, and a CRM → shop flow (the consent template,
    every contact rather than the opted-out only: the contacts API cannot opt a contact out)."""
    crm = systems["crm"].get_connector()
    try:
        (added,) = crm.write("contacts", [{"email": email, "firstname": "Back"}], WriteMode.CREATE)
        assert added.ok, added.error
    finally:
        crm.close()
    flow = blueprints.create_from_blueprint("consent")
    data = designer.definition_of(flow)
    data["filters"] = []
    return designer.save_flow(data, flow=flow)


def test_erasure_in_shop_erp_and_crm_then_suppressed_by_the_next_sync(systems):
    email = shared_person(dataset(42))
    assert {s for s in ("shop", "erp", "crm") if find(systems[s], email)} == {"shop", "erp", "crm"}
    (account,) = [r.data for r in find(systems["shop"], email) if r.entity == "customers"]
    # The customers flow puts the shop's customers in the CRM: the hub now holds links about the person.
    flow = blueprints.create_from_blueprint("customers")
    first = run_now(flow, full=True)
    assert first.status == RunStatus.SUCCEEDED, first.message
    assert email.casefold() in decrypted_hub_text()
    # The DPO chooses to mask the shop's orders rather than keep them whole.
    ErasureStrategy.objects.create(system=systems["shop"], entity="orders", strategy=Strategy.MASK)

    request = requests.create_request("erasure", "email", timezone.localdate(), {"email": [email]})
    requests.verify_identity(request, "ID document seen", user=None)
    requests.plan_request(request)
    summary = requests.plan_summary(request)
    assert summary["systems"] == 3 and summary["records"] >= 3 and summary["hub_rows"] >= 1
    requests.execute_request(request)
    request.refresh_from_db()
    tasks = list(request.tasks.select_related("system"))
    assert request.state == RequestState.COMPLETED, [(t.system, t.entity, t.status, t.error) for t in tasks]
    for task in tasks:
        if task.status == TaskStatus.SUCCEEDED and task.action in ("erase", "mask"):
            assert task.post_check == "passed", (task.system, task.entity, task.post_check_detail)
    # Gone from each system, as its own API shows; gone from the hub's tables.
    for slug in ("shop", "erp", "crm"):
        assert [r for r in find(systems[slug], email) if r.entity != "sale_orders"] == [], slug
    assert email.casefold() not in decrypted_hub_text()
    pack = EvidencePack.objects.get(request=request)
    assert email.casefold() not in json.dumps(pack.data).casefold()
    assert evidence.verify_chain() == []

    # A restored backup of the shop brings the account back: the next sync leaves the person out.
    shop = systems["shop"].get_connector()
    try:
        fields = {k: account[k] for k in ("email", "firstname", "lastname", "website_id") if k in account}
        (written,) = shop.write("customers", [fields], WriteMode.CREATE)
        assert written.ok, written.error
    finally:
        shop.close()
    second = run_now(flow, full=True)
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert second.suppressed == 1
    assert find(systems["crm"], email) == []  # the CRM did not receive them again

    # The person re-added in the CRM: a CRM → shop flow leaves them out too.
    third = run_now(readd_in_crm_and_flow_to_shop(systems, email), full=True)
    assert third.status == RunStatus.SUCCEEDED, third.message
    assert third.suppressed == 1
    assert not RecordLink.objects.filter(flow=third.flow, target_id=written.target_id).exists()

    # reapply_erasures erases again by the record ids kept in the tasks: the ones erased are already
    # gone; the account re-created under a new id is not found (the identifiers are gone) — the
    # suppression list is what keeps it out of the other systems.
    out = io.StringIO()
    call_command("reapply_erasures", stdout=out)
    assert f"{request.reference}: 0 erased again" in out.getvalue() and "0 failed" in out.getvalue()
    assert DataSubjectRequest.objects.get(pk=request.pk).state == RequestState.COMPLETED
