"""Time and concurrency around runs: a schedule firing while the flow's previous run still runs, a flow
edited while it runs, and the clock moved forward and back under the scheduler."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from bench import catalog
from flows import designer, schedules, tasks
from flows.models import Flow, Run, RunStatus, RunTrigger
from tests.live import wait_for
from tests.soak import summary
from tests.soak.catalog import Server, Source, Target, expected_digests, hub_objects
from tests.soak.runs import assert_counters_add_up, hub_run, start_hub_run
from tests.soak.test_fault_mix import check_target

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

RECORDS, PAGE_SIZE = 600, 20


@pytest.fixture
def servers():
    # 60 ms a request: a run of 30 pages lasts seconds, long enough to act while it runs.
    source = Server("source", Source(RECORDS), latency_ms=60).start()
    target = Server("target", Target()).start()
    yield source, target
    source.stop()
    target.stop()


def running_run(flow, proc) -> Run:
    return wait_for(
        lambda: Run.objects.filter(flow=flow, status=RunStatus.RUNNING, pages__gte=1).first(),
        timeout=120,
        message="the run to commit its first page",
    )


def test_a_schedule_firing_during_a_run_waits_for_it_and_never_runs_alongside(servers, request):
    source, target = servers
    flow = hub_objects(source.url, target.url, page_size=PAGE_SIZE)
    Flow.objects.filter(pk=flow.pk).update(enabled=True)  # scheduled runs are for enabled flows
    proc = start_hub_run(flow)
    try:
        first = running_run(flow, proc)
        tasks.scheduled_run(flow.pk)  # the schedule fires while the run goes on…
        tasks.scheduled_run(flow.pk)  # …and again
        assert Run.objects.filter(flow=flow, status=RunStatus.RUNNING).count() == 1
        waiting = Run.objects.get(flow=flow, status=RunStatus.QUEUED)
        assert waiting.trigger == RunTrigger.SCHEDULE
        assert Run.objects.filter(flow=flow).count() == 2  # the second firing folded into the waiting run
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED, first.message
    done = hub_run(flow)  # a worker picks the waiting run up (``hub run`` follows it)
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.SUCCEEDED, (waiting.message, done.stdout + done.stderr)
    assert waiting.started >= first.finished  # one after the other, never together
    assert Run.objects.filter(flow=flow).count() == 2
    assert (waiting.created, waiting.unchanged) == (0, RECORDS)
    for run in (first, waiting):
        assert_counters_add_up(run)
    result = check_target(target, expected_digests(range(1, RECORDS + 1)), set())
    assert result == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}
    summary.record(request.node.name, runs=2, records_checked=RECORDS, records_lost=0, duplicates=0)


def test_a_flow_edited_while_it_runs_keeps_its_version_until_the_next_run(servers, request):
    source, target = servers
    flow = hub_objects(source.url, target.url, page_size=PAGE_SIZE)
    old_version = flow.current_version_id
    proc = start_hub_run(flow)
    try:
        running_run(flow, proc)
        data = designer.definition_of(flow)
        for mapping in data["mappings"]:
            if mapping["target"] == "brand":
                mapping["transforms"] = [{"op": "lower"}]
        flow = designer.save_flow(data, flow=Flow.objects.get(pk=flow.pk))
        assert flow.current_version_id != old_version
        proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    first = Run.objects.get(flow=flow)
    assert first.status == RunStatus.SUCCEEDED, first.message
    assert first.version_id == old_version
    # Every record as the version the run started with mapped it: none with the new mapping.
    old = check_target(target, expected_digests(range(1, RECORDS + 1)), set())
    assert old == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}

    done = hub_run(flow)
    second = Run.objects.filter(flow=flow).order_by("-pk").first()
    assert second.status == RunStatus.SUCCEEDED, (second.message, done.stdout + done.stderr)
    assert second.version_id == flow.current_version_id
    assert second.updated == RECORDS  # the new mapping changes every record's brand
    lowered = {}
    for i in range(1, RECORDS + 1):
        record = catalog.map_record(catalog.source_record(i))
        record["brand"] = record["brand"].lower()
        lowered[record["sku"]] = f"{catalog.record_digest(record):064x}"
    new = check_target(target, lowered, set())
    assert new == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}
    summary.record(request.node.name, runs=2, records_checked=2 * RECORDS, records_lost=0, duplicates=0)


def test_the_clock_moved_forward_or_back_fires_a_schedule_once(servers, request):
    """django-q2's scheduler, as the hub configures it (no catch-up): a clock moved 3 hours forward runs
    a 15-minute flow once, not twelve times; moved back, nothing runs again before its next time."""
    from django_q.models import Schedule
    from django_q.scheduler import scheduler

    source, target = servers
    flow = hub_objects(source.url, target.url, page_size=200)
    Flow.objects.filter(pk=flow.pk).update(enabled=True, trigger="interval", interval_minutes=15)
    schedules.sync_all_flow_schedules()
    schedule = Schedule.objects.get(name=schedules.schedule_name(flow.pk))
    start = timezone.now()
    Schedule.objects.filter(pk=schedule.pk).update(next_run=start + dt.timedelta(minutes=15))

    def runs() -> int:
        return Run.objects.filter(flow=flow, trigger=RunTrigger.SCHEDULE).count()

    with time_machine.travel(start + dt.timedelta(hours=3), tick=True):
        scheduler()  # tasks run inline in the test process: the run is done when this returns
        assert runs() == 1
        scheduler()
        assert runs() == 1
        next_run = Schedule.objects.get(pk=schedule.pk).next_run
        assert next_run > timezone.now()
    with time_machine.travel(start + dt.timedelta(hours=1), tick=True):  # moved back
        scheduler()
        assert runs() == 1
    with time_machine.travel(next_run + dt.timedelta(minutes=1), tick=True):
        scheduler()
        assert runs() == 2
    statuses = list(Run.objects.filter(flow=flow).order_by("pk").values_list("status", flat=True))
    assert statuses == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]
    for run in Run.objects.filter(flow=flow):
        assert_counters_add_up(run)
    result = check_target(target, expected_digests(range(1, RECORDS + 1)), set())
    assert result == {"lost": [], "duplicates": 0, "wrong": [], "delivered": RECORDS}
    summary.record(request.node.name, runs=2, records_checked=RECORDS, records_lost=0, duplicates=0)
