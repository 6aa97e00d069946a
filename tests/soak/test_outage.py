"""The target system goes down in the middle of a run (its port refuses connections) and comes back.

The run either rides the outage out through its retries or fails with a message naming the target;
the scheduled health check sees the system down and the *system down* alert fires, the *run failed*
alert too if the run failed; once the target is back, both resolve, and the next run leaves the
target exactly equal to the source (what could not be written waited in the failed records).

CI takes the target down for 5 seconds; ``make soak`` for 2 minutes.
"""

import time

import pytest

from flows import services
from flows.models import FailedRecord, Run, RunStatus
from monitoring import alerts
from monitoring.models import Alert, AlertRule
from monitoring.models.alerts import AlertState
from tests.live import wait_for
from tests.soak import summary
from tests.soak.catalog import Server, Source, Target, expected_digests, hub_objects
from tests.soak.runs import assert_counters_add_up, hub_run, start_hub_run
from tests.soak.test_fault_mix import check_target

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

RECORDS, PAGE_SIZE = 2_000, 50


def firing(rule) -> list[Alert]:
    return list(Alert.objects.filter(rule=rule, state=AlertState.FIRING))


@pytest.mark.parametrize(
    "outage", [pytest.param(5, id="5s"), pytest.param(120, id="2min", marks=pytest.mark.soak)]
)
def test_a_target_down_mid_run_loses_nothing_and_alerts(outage, request):
    source = Server("source", Source(RECORDS), latency_ms=60).start()  # a run of several seconds
    target = Server("target", Target()).start()
    proc = None
    try:
        flow = hub_objects(source.url, target.url, page_size=PAGE_SIZE, timeout=5)
        target_system = flow.target_system
        failed_rule = AlertRule.objects.create(
            name="Run failed", condition="run_failed", scope_kind="flow", flow=flow
        )
        down_rule = AlertRule.objects.create(
            name="Target down", condition="system_down", scope_kind="system", system=target_system
        )

        proc = start_hub_run(flow)
        wait_for(
            lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING, pages__gte=3).exists(),
            timeout=120,
            message="the run to commit its first pages",
        )
        target.stop()
        down_at = time.monotonic()
        # The health check (a schedule every 5 minutes; called here) sees it down: the alert fires.
        services.check_system(target_system, trigger="schedule")
        alerts.evaluate()
        assert [a.scope_key for a in firing(down_rule)] == [f"system:{target_system.pk}"]
        time.sleep(max(0.0, outage - (time.monotonic() - down_at)))
        target.start()
        output = proc.communicate(timeout=600)[0]
        run = Run.objects.filter(flow=flow).order_by("pk").first()
        # It recovered (the retries outlasted the outage) or failed clearly, naming the target.
        assert run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED), output
        if run.status == RunStatus.FAILED:
            assert target_system.name in run.message, run.message
            assert [a.scope_key for a in firing(failed_rule)] == [f"flow:{flow.pk}"]
        assert_counters_add_up(run)

        services.check_system(target_system, trigger="schedule")
        alerts.evaluate()
        assert firing(down_rule) == []
        done = hub_run(flow)
        last = Run.objects.filter(flow=flow).order_by("-pk").first()
        assert last.status == RunStatus.SUCCEEDED, (last.message, done.stdout + done.stderr)
        assert_counters_add_up(last)
        assert firing(failed_rule) == []  # resolved by the run that went through
        assert not FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]).exists()
        result = check_target(target, expected_digests(range(1, RECORDS + 1)), set())
        assert result == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}
        summary.record(
            request.node.name,
            runs=Run.objects.filter(flow=flow).count(),
            records_checked=RECORDS,
            records_lost=len(result["lost"]),
            duplicates=result["duplicates"],
        )
        summary.note(
            request.node.name,
            outage_seconds=outage,
            run_during_outage=run.status,
            alerts_fired=Alert.objects.filter(rule__in=[failed_rule, down_rule]).count(),
            alerts_resolved=Alert.objects.filter(
                rule__in=[failed_rule, down_rule], state=AlertState.RESOLVED
            ).count(),
        )
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
        source.stop()
        target.stop()
