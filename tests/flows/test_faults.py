"""The fault test: the sandbox answers 10 % of requests with a 5xx, 5 % with a 429 and lets 2 % time out.
Every record must still be delivered or sit in the failed records with its reason, and every run's
counters must add up."""

import pytest

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.models import FailedRecord, Run, RunStatus
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

FAULTS = {"error_rate": 0.10, "rate_limit_rate": 0.05, "timeout_rate": 0.02, "timeout_s": 2.0, "seed": 7}


def test_every_record_is_delivered_or_kept_with_its_reason_under_faults():
    with running(["pim", "shop"], **FAULTS) as urls:
        systems = {s.slug: s for s in ensure_demo_systems(urls=urls)}
        for system in systems.values():
            system.timeout = 1  # a timed-out request is given up after 1 s (the sandbox waits 2 s)
            system.save()
        flow = blueprints.create_from_blueprint("catalog")
        data = designer.definition_of(flow)
        data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
        flow = designer.save_flow(data, flow=flow)

        runs = []
        for _attempt in range(4):  # a read that fails through every retry stops a run: rerun it
            run, _created = sync.request_run(flow)
            run.refresh_from_db()
            runs.append(run)
            if run.status != RunStatus.FAILED:
                break
        assert runs[-1].status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), runs[-1].message
        for run in runs:
            counted = run.filtered + run.unchanged + run.created + run.updated + run.deleted + run.failed
            assert run.read == counted, run.counters()

        import httpx

        stats = {name: httpx.get(f"{url}/_sandbox/stats").json()["faults"] for name, url in urls.items()}
        assert all(stats[name].get(kind) for name in stats for kind in ("error", "rate_limit")), stats
        pim, shop = systems["pim"].get_connector(), systems["shop"].get_connector()
        pim.retries = shop.retries = 8
        try:
            products = [r for page in pim.read("products") for r in page.records]
            chairs = {p["identifier"] for p in products if p["enabled"] and p["family"] == "chairs"}
            delivered = {p["sku"] for p in shop.lookup("products", "sku", sorted(chairs))}
        finally:
            pim.close()
            shop.close()
        waiting = {
            f.source_id: f for f in FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"])
        }
        missing = chairs - delivered - set(waiting)
        assert missing == set(), f"{len(missing)} records neither delivered nor kept"
        assert all(f.message and f.error_class for f in waiting.values())
        assert sum(run.failed for run in runs) >= len(waiting)
        assert Run.objects.filter(flow=flow, status=RunStatus.RUNNING).count() == 0
