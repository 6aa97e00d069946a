"""Fan-out, read once: two flows that read the shop's customers on the same schedule share one schedule
and one read of the shop; each keeps its own runs, links and counters."""

import ast

import httpx
import pytest
from django_q.models import Schedule

from flows import blueprints, designer, sync, tasks
from flows.demo import ensure_demo_systems
from flows.models import RecordLink, Run, RunStatus
from flows.schedules import GROUP_PREFIX, schedule_name
from sandbox.testing import running
from tests.factories import approved_activity_for

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def sandbox():
    with running(["shop", "crm", "erp"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def two_flows_on_the_shop_customers():
    to_crm = blueprints.create_from_blueprint("customers")
    approved_activity_for(to_crm)  # both map personal data: the GDPR register must cover them
    data = designer.definition_of(to_crm)
    data["enabled"] = True
    to_crm = designer.save_flow(data, flow=to_crm)
    data = blueprints.definition_for("customers", name="Customers to ERP contacts")
    data.update(
        enabled=True,
        target_system="erp",
        target_entity="partners",
        match_strategy="links",
        source_key="",
        target_key="",
        write_mode="create",
        quality_rules=[],
        mappings=[
            {"target": "name", "source": "lastname", "transforms": [{"op": "trim"}], "personal": "name"},
        ],
    )
    to_erp = designer.save_flow({**data, "enabled": False})
    approved_activity_for(to_erp)
    return to_crm, designer.save_flow(data, flow=to_erp)


def shop_requests(url) -> int:
    return httpx.get(f"{url}/_sandbox/stats").json()["total"]


def test_flows_reading_the_same_entity_on_the_same_schedule_share_one_read(systems, sandbox):
    to_crm, to_erp = two_flows_on_the_shop_customers()
    key = sync.fanout_key(to_crm)
    assert key == sync.fanout_key(to_erp)
    # One schedule for the group, none of their own.
    group = Schedule.objects.get(name__startswith=GROUP_PREFIX)
    assert group.func == "flows.tasks.scheduled_group_run" and group.minutes == 15
    assert not Schedule.objects.filter(name__in=[schedule_name(to_crm.pk), schedule_name(to_erp.pk)]).exists()

    before = shop_requests(sandbox["shop"])
    # What the scheduler does when the group's schedule fires (test settings run the task inline).
    (args,) = ast.literal_eval(group.args)
    tasks.scheduled_group_run(args)
    together = shop_requests(sandbox["shop"]) - before
    started = Run.objects.filter(flow__in=[to_crm, to_erp])
    assert sorted(run.flow_id for run in started) == [to_crm.pk, to_erp.pk]
    runs = {run.flow_id: run for run in started}
    for run in runs.values():
        assert run.status == RunStatus.SUCCEEDED, run.message
        assert run.read == 500 and run.trigger == "schedule"
    assert runs[to_erp.pk].created == 500
    assert RecordLink.objects.filter(flow=to_erp).count() == 500
    assert RecordLink.objects.filter(flow=to_crm).count() == 500

    # The same two runs one after the other read the shop twice.
    before = shop_requests(sandbox["shop"])
    for flow in (to_crm, to_erp):
        sync.request_run(flow, full=True)
    apart = shop_requests(sandbox["shop"]) - before
    assert together <= apart / 2 + 2  # one read (plus a token) instead of two

    # Next time the read starts from the group's lowest cursor; each member reads only what is new
    # for it: one changed customer.
    shop = systems["shop"].get_connector()
    try:
        customer = next(r for page in shop.read("customers", limit=1) for r in page.records)
        assert shop.write("customers", [{**customer, "lastname": "Quéré"}], "update")[0].ok
    finally:
        shop.close()
    again = {run.flow_id: run for run in sync.run_fanout(key)}
    for run in again.values():
        run.refresh_from_db()
        assert run.status == RunStatus.SUCCEEDED and 1 <= run.read < 5, run.counters()
    assert again[to_crm.pk].updated == 1
    assert again[to_erp.pk].created == 0  # create only: the contact exists, it is not created twice


def test_pausing_one_member_breaks_the_group_back_into_its_own_schedule(systems):
    to_crm, to_erp = two_flows_on_the_shop_customers()
    designer.pause_flow(to_erp)
    assert not Schedule.objects.filter(name__startswith=GROUP_PREFIX).exists()
    assert Schedule.objects.get(name=schedule_name(to_crm.pk)).func == "flows.tasks.scheduled_run"
    assert not Schedule.objects.filter(name=schedule_name(to_erp.pk)).exists()
