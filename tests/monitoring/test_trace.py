"""Trace: one search box — by source id, target id, SKU or order number, e-mail address — finds a record
across every system, with its runs, failures and why a flow left it out; only in flows the user may
view; personal values masked without the personal-data right."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.lookup import lookup_key
from flows.models import FailedRecord, FlowVersion, RecordLink, Run, RunStatus
from integration_hub import services
from integration_hub.roles import DPO, SUPPORT
from monitoring import trace
from sandbox.testing import running
from tests.factories import FlowFactory, SystemFactory, UserFactory

PAGE = reverse("monitoring:trace")
API = reverse("api-trace")


def client_for(user, api=False):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def link(flow, source_id, target_id, *, run=None, values="", lookup_keys=""):
    return RecordLink.objects.create(
        flow=flow,
        source_system=flow.source_system,
        source_entity=flow.source_entity,
        source_id=source_id,
        target_system=flow.target_system,
        target_entity=flow.target_entity,
        target_id=target_id,
        last_run=run,
        last_synced=timezone.now(),
        last_values=values,
        lookup_keys=lookup_keys,
    )


def finished_run(flow, **counters):
    version = FlowVersion.objects.get_or_create(flow=flow, number=1, defaults={"definition": {}})[0]
    now = timezone.now()
    return Run.objects.create(
        flow=flow, version=version, status=RunStatus.SUCCEEDED, started=now, finished=now, **counters
    )


@pytest.fixture
def chain(db):
    """PIM product P-100 → shop product 77 (catalog) → ERP item 900 (shop → ERP, reading shop products);
    and P-100 → CRM (a second flow from the same PIM record)."""
    pim = SystemFactory(name="PIM", slug="pim-t")
    shop = SystemFactory(name="Shop", slug="shop-t")
    erp = SystemFactory(name="ERP", slug="erp-t")
    crm = SystemFactory(name="CRM", slug="crm-t")
    catalog = FlowFactory(name="Catalog", source_system=pim, target_system=shop)
    items = FlowFactory(name="Items", source_system=shop, target_system=erp, target_entity="items")
    leads = FlowFactory(name="Leads", source_system=pim, target_system=crm, target_entity="notes")
    filtered = FlowFactory(
        name="Chairs only",
        source_system=pim,
        target_system=erp,
        target_entity="chairs",
        filters=[{"path": "family", "op": "equals", "value": "chairs"}],
    )
    runs = {flow.name: finished_run(flow, read=10, created=5) for flow in (catalog, items, leads)}
    runs["Chairs only"] = finished_run(filtered, read=10, filtered=9, created=1)
    links = {
        "catalog": link(catalog, "P-100", "77", run=runs["Catalog"],
                        values='{"sku":"P-100","name":"Oak chair"}', lookup_keys=lookup_key("P-100")),
        "items": link(items, "77", "900", run=runs["Items"]),
        "leads": link(leads, "P-100", "N-5", run=runs["Leads"]),
    }  # fmt: skip
    failure = FailedRecord.objects.create(
        flow=items, run=runs["Items"], source_id="78", stage="write", error_class="invalid", signature="s",
        message="Item for “ann@example.com” refused",
    )  # fmt: skip
    return {
        "flows": {f.name: f for f in (catalog, items, leads, filtered)},
        "links": links,
        "failure": failure,
    }


def nodes(result):
    return {(n.system.slug, n.id) for n in result.records[0].history.records}


def test_by_source_id_follows_the_record_across_every_system(chain):
    result = trace.trace("P-100", UserFactory(roles=[SUPPORT]))
    assert len(result.records) == 1
    assert nodes(result) == {("pim-t", "P-100"), ("shop-t", "77"), ("erp-t", "900"), ("crm-t", "N-5")}
    assert {link.pk for link in result.records[0].history.links} == {lk.pk for lk in chain["links"].values()}
    assert {run.flow.name for run in result.records[0].history.runs} == {"Catalog", "Items", "Leads"}
    # The flow that reads PIM products but has no link for P-100 says why: its filter.
    (reason,) = [r for r in result.records[0].reasons if r.kind == "filtered"]
    assert reason.flow.name == "Chairs only" and "family equals chairs" in reason.text


def test_by_target_id_downstream_and_by_hub_reference(chain):
    support = UserFactory(roles=[SUPPORT])
    result = trace.trace("900", support)  # the ERP id: followed back up to the PIM record
    assert result.records[0].matched_by == "target id"
    assert ("pim-t", "P-100") in nodes(result)
    result = trace.trace("hub:pim-t:products:P-100", support)
    assert result.records[0].matched_by == "hub reference" and ("erp-t", "900") in nodes(result)


def test_by_identifying_value_whatever_its_case(chain):
    link = chain["links"]["items"]
    RecordLink.objects.filter(pk=link.pk).update(
        lookup_keys=f"{lookup_key('ORD-2025-0042')} {lookup_key('x')}"
    )
    result = trace.trace("  ord-2025-0042 ", UserFactory(roles=[SUPPORT]))
    assert result.records[0].matched_by == "identifying value"
    assert ("pim-t", "P-100") in nodes(result)
    assert trace.trace("ORD-2025-0043", UserFactory(roles=[SUPPORT])).records == []


def test_failures_are_found_by_source_id_and_masked(chain):
    support = UserFactory(roles=[SUPPORT])
    data = client_for(support, api=True).get(API, {"q": "78"}).json()
    (record,) = data["records"]
    assert record["matched_by"] == "failed record"
    assert record["failures"][0]["message"] == "Item for “a***@example.com” refused"
    page = client_for(support).get(PAGE, {"q": "78"}).content.decode()
    assert "a***@example.com" in page and "ann@example.com" not in page
    dpo = UserFactory(roles=[DPO])
    assert "ann@example.com" in client_for(dpo).get(PAGE, {"q": "78"}).content.decode()


def test_only_flows_the_user_may_view_are_searched_and_followed(chain):
    user = UserFactory()
    services.grant_access(chain["flows"]["Catalog"], user, ["view_flow"])
    result = trace.trace("P-100", user)
    assert nodes(result) == {("pim-t", "P-100"), ("shop-t", "77")}  # not the ERP or CRM side
    assert trace.trace("900", user).records == []  # an id only a hidden flow knows
    assert trace.trace("78", user).records == []  # a hidden flow's failure
    api = client_for(user, api=True).get(API, {"q": "P-100"}).json()
    assert "900" not in str(api) and "N-5" not in str(api)
    # No flow at all: neither the page nor the API.
    nobody = UserFactory()
    assert client_for(nobody).get(PAGE, {"q": "P-100"}).status_code == 403
    assert client_for(nobody, api=True).get(API, {"q": "P-100"}).status_code == 403
    assert Client().get(PAGE).status_code in (302, 403)


def test_page_empty_state_examples_and_navbar_box(chain):
    support = UserFactory(roles=[SUPPORT])
    html = client_for(support).get(PAGE).content.decode()
    assert "What can be searched" in html and 'href="?q=jane.doe%40example.com"' in html
    assert 'id="nav-trace"' in html and f'action="{PAGE}"' in html
    html = client_for(support).get(PAGE, {"q": "nothing-like-this"}).content.decode()
    assert 'id="trace-empty"' in html
    html = client_for(support).get(PAGE, {"q": "P-100"}).content.decode()
    assert 'class="card mb-4 trace-record"' in html and "family equals chairs" in html
    # The values last written: a name looks personal, masked for Support.
    assert "Oak chair" not in html and "Oa*****ir" in html


# --- through the engine: the lookup keys a real run keeps ----------------------------------------------


@pytest.fixture(scope="module")
def sandbox():
    with running(["shop", "crm"]) as urls:
        yield urls


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_an_e_mail_finds_the_customer_a_real_run_wrote_with_encrypted_values(sandbox):
    ensure_demo_systems(urls=sandbox)
    flow = blueprints.create_from_blueprint("customers")
    designer.save_flow(designer.definition_of(flow), flow=flow)
    run, _created = sync.request_run(flow)
    run.refresh_from_db()
    assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), run.message
    customer = RecordLink.objects.filter(flow=flow).exclude(lookup_keys="").order_by("pk").first()
    assert customer is not None
    assert customer.last_values[0] not in "{["  # personal: encrypted at rest, not searchable in clear
    email = customer.values["properties"]["email"]
    assert "@" in email

    support = UserFactory(roles=[SUPPORT])
    data = client_for(support, api=True).get(API, {"q": email.upper()}).json()
    (record,) = data["records"]
    assert record["matched_by"] == "identifying value"
    assert record["record"] == {"system": "shop", "entity": "customers", "id": customer.source_id}
    assert record["runs"][0]["id"] == run.pk
    shown = record["links"][0]["last_values"]["properties"]["email"]
    assert shown != email and shown.endswith(email.split("@")[1])  # masked for Support
    dpo = client_for(UserFactory(roles=[DPO]), api=True).get(API, {"q": email}).json()
    assert dpo["records"][0]["links"][0]["last_values"]["properties"]["email"] == email
