"""Crash tests: a real worker process (``manage.py hub run``) is killed with SIGKILL at chosen points of
a run — including the worst one, after the target accepted a write and before the ID links were saved —
then the flow is run again. The target's own API must then list every source record exactly once, the
links must point at those records, and the killed run must show ``interrupted``.

The points are reached with the engine's test-only hook ``HUB_TEST_CRASH_AT=<point>:<nth>``.
"""

import signal
import subprocess
import sys
import time

import pytest

from flows import blueprints, designer
from flows.demo import ensure_demo_systems
from flows.models import RecordLink, Run, RunStatus
from sandbox.testing import running
from tests.live import ROOT, subprocess_env

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def sandbox():
    # Fresh systems per test: what one test created in the ERP must not be found by the next.
    with running(["pim", "shop", "erp"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def hub_run(flow, *, crash_at: str = "") -> subprocess.CompletedProcess:
    """``manage.py hub run`` in its own process: a real worker, on this test's databases."""
    env = subprocess_env(HUB_RUN_STALE_AFTER="1")
    if crash_at:
        env["HUB_TEST_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "manage.py", "hub", "run", str(flow.pk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def read_all(system, entity) -> list[dict]:
    connector = system.get_connector()
    try:
        return [r for page in connector.read(entity) for r in page.records]
    finally:
        connector.close()


def create_only_contacts():
    """Shop customers → ERP contacts, create only, matched by the hub's ID links alone: the ERP has
    no key the mapping fills, so the hub stamps its reference in the contact's ``ref``."""
    data = blueprints.definition_for("customers", name="Customers to ERP, create only")
    data.update(
        target_system="erp",
        target_entity="partners",
        sync_mode="full",
        cursor_field="",
        match_strategy="links",
        source_key="",
        target_key="",
        write_mode="create",
        quality_rules=[],
        mappings=[
            {"target": "name", "source": "lastname", "transforms": [{"op": "trim"}], "personal": "name"},
            {"target": "city", "source": "addresses.0.city", "transforms": [], "personal": "address"},
        ],
    )
    return designer.save_flow(data)


def crash_then_rerun(flow, crash_at: str) -> Run:
    crashed = hub_run(flow, crash_at=crash_at)
    assert crashed.returncode == -signal.SIGKILL, crashed.stdout + crashed.stderr
    killed = Run.objects.get(flow=flow)
    assert killed.status == RunStatus.RUNNING  # as the dead worker left it
    time.sleep(1.5)  # its heartbeat is now older than HUB_RUN_STALE_AFTER
    rerun = hub_run(flow)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    killed.refresh_from_db()
    assert killed.status == RunStatus.INTERRUPTED
    last = Run.objects.filter(flow=flow).exclude(pk=killed.pk).get()
    assert last.status == RunStatus.SUCCEEDED, last.message
    return last


@pytest.mark.parametrize("crash_at", ["after_write:2", "page_read:3", "page_committed:2"])
def test_a_create_only_target_gets_each_record_once_whatever_the_crash(systems, crash_at):
    flow = create_only_contacts()
    customers = read_all(systems["shop"], "customers")
    before = [p for p in read_all(systems["erp"], "partners") if str(p.get("ref") or "").startswith("hub:")]
    assert before == []

    last = crash_then_rerun(flow, crash_at)

    stamped = [p for p in read_all(systems["erp"], "partners") if str(p.get("ref") or "").startswith("hub:")]
    by_ref: dict[str, list[int]] = {}
    for partner in stamped:
        by_ref.setdefault(partner["ref"], []).append(partner["id"])
    expected = {f"hub:shop:customers:{c['id']}" for c in customers}
    assert set(by_ref) == expected  # none missing
    assert all(len(ids) == 1 for ids in by_ref.values())  # none duplicated
    links = {link.source_id: link.target_id for link in RecordLink.objects.filter(flow=flow)}
    assert links == {str(c["id"]): str(by_ref[f"hub:shop:customers:{c['id']}"][0]) for c in customers}
    if crash_at.startswith("after_write"):
        # The page written before the kill was found again, not created twice — and the run says so.
        assert "found in the target" in last.message


def test_an_upsert_on_a_natural_key_survives_a_crash_after_the_write(systems):
    flow = blueprints.create_from_blueprint("catalog")
    data = designer.definition_of(flow)
    data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
    flow = designer.save_flow(data, flow=flow)
    products = [p for p in read_all(systems["pim"], "products") if p["enabled"] and p["family"] == "chairs"]

    crash_then_rerun(flow, "after_write:2")

    connector = systems["shop"].get_connector()
    try:
        in_shop = connector.lookup("products", "sku", [p["identifier"] for p in products])
        id_field = connector.entity("products").id_field
    finally:
        connector.close()
    assert sorted(p["sku"] for p in in_shop) == sorted(p["identifier"] for p in products)
    links = RecordLink.objects.filter(flow=flow)
    assert sorted(links.values_list("source_id", flat=True)) == sorted(p["identifier"] for p in products)
    assert {link.target_id for link in links} == {str(p[id_field]) for p in in_shop}
