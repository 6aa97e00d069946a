"""django-q2 task functions of the flows app: ids in, safe to run twice."""

from flows import services


def check_all_systems():
    return services.check_all_systems()


def run_health_scan(scan_id: int) -> None:
    from flows import datahealth
    from integration_hub.context import acting_as

    with acting_as(None, source="task:data health"):
        datahealth.run_scan(scan_id)


def run_flow(run_id: int) -> None:
    from flows import sync
    from integration_hub.context import acting_as

    with acting_as(None, source="task:run"):
        sync.execute_run(run_id)


def reap_stuck_runs() -> int:
    from flows import sync

    return sync.reap_stuck_runs()


def scheduled_run(flow_id: int, due: str | None = None) -> None:
    """A flow's schedule fired: queue a run (coalesced into a waiting one). ``due``: the due time
    django-q2 fired it for (kept in the task's arguments, see ``flows.schedules.DUE_KWARG``)."""
    from flows import sync
    from flows.models import Flow, RunTrigger

    flow = Flow.objects.filter(pk=flow_id, enabled=True).first()
    if flow is None:
        return
    try:
        sync.request_run(flow, trigger=RunTrigger.SCHEDULE)
    except sync.RunRefused:
        return


def dispatch_webhooks(system_id: int) -> int:
    """Turn a system's stored webhook events into runs of the flows they trigger."""
    from flows import webhooks

    return webhooks.dispatch(system_id)


def run_group(run_ids: list[int]) -> None:
    """Several flows' runs over one read of their common source (a fan-out group)."""
    from flows import sync
    from integration_hub.context import acting_as

    with acting_as(None, source="task:run"):
        sync.execute_group(list(run_ids))


def scheduled_group_run(key: list, due: str | None = None) -> None:
    """A fan-out group's schedule fired: its members run together over one read (``due``: as for
    ``scheduled_run``)."""
    from flows import sync

    sync.run_fanout(tuple(key))
