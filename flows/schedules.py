"""Recurring jobs of the flows app, as named django-q2 schedules created idempotently."""

HEALTH_CHECK = "flows: health check of every system"
HEALTH_CHECK_MINUTES = 5
REAPER = "flows: interrupt runs whose worker died"
# django-q2 hands each fired task the due time it fired for (``due=<ISO time>``, kept in the task's
# arguments): a schedule fired twice for one due time would show (tests/scale/test_two_clusters.py).
DUE_KWARG = "due"
FLOW_PREFIX = "flow #"  # one schedule per enabled flow with an interval or cron trigger
GROUP_PREFIX = "flows reading "  # one schedule per fan-out group (flows sharing one read of a source)


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=HEALTH_CHECK,
        defaults={
            "func": "flows.tasks.check_all_systems",
            "schedule_type": Schedule.MINUTES,
            "minutes": HEALTH_CHECK_MINUTES,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name=REAPER,
        defaults={
            "func": "flows.tasks.reap_stuck_runs",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def schedule_name(flow_id: int) -> str:
    return f"{FLOW_PREFIX}{flow_id}"


def group_schedule_name(key: tuple) -> str:
    import hashlib

    digest = hashlib.sha256(repr(tuple(key)).encode()).hexdigest()[:10]
    return f"{GROUP_PREFIX}{key[0]}/{key[1]}"[:80] + f" {digest}"


def _trigger_schedule(flow) -> dict | None:
    """The schedule a flow's trigger asks for: interval or cron while enabled (and a webhook flow's
    catch-up interval); None otherwise."""
    from django_q.models import Schedule

    from flows.choices import Trigger

    if not flow.enabled:
        return None
    # A webhook-triggered flow with an interval also runs on it: a safety net for missed events.
    if flow.trigger in (Trigger.INTERVAL, Trigger.WEBHOOK) and flow.interval_minutes:
        return {"schedule_type": Schedule.MINUTES, "minutes": flow.interval_minutes, "cron": None}
    if flow.trigger == Trigger.CRON and flow.cron:
        return {"schedule_type": Schedule.CRON, "cron": flow.cron, "minutes": None}
    return None


def wanted_schedules(flows) -> dict[str, dict]:
    """Every flow schedule the configuration asks for, by name. Flows that read the same source entity
    on the same trigger (a fan-out group) share one schedule and one read of the source."""
    from flows.sync import fanout_key

    groups: dict[tuple, list] = {}
    for flow in flows:
        key = fanout_key(flow)
        if key is not None:
            groups.setdefault(key, []).append(flow)
    wanted = {}
    for flow in flows:
        spec = _trigger_schedule(flow)
        if spec is None:
            continue
        key = fanout_key(flow)
        if key is not None and len(groups[key]) > 1:
            if flow is groups[key][0]:
                wanted[group_schedule_name(key)] = {
                    "func": "flows.tasks.scheduled_group_run",
                    "args": repr((list(key),)),
                    "intended_date_kwarg": DUE_KWARG,
                    **spec,
                }
            continue
        wanted[schedule_name(flow.pk)] = {
            "func": "flows.tasks.scheduled_run",
            "args": repr((flow.pk,)),
            "intended_date_kwarg": DUE_KWARG,
            **spec,
        }
    return wanted


def sync_flow_schedule(flow) -> None:
    """The flow schedules follow the triggers (a change to one flow may form or break a fan-out group,
    so all of them are compared; only the differences are written)."""
    sync_all_flow_schedules()


def sync_all_flow_schedules() -> None:
    from django_q.models import Schedule

    from flows.models import Flow

    wanted = wanted_schedules(list(Flow.objects.order_by("pk")))
    existing = {
        s.name: s
        for s in Schedule.objects.filter(name__startswith=FLOW_PREFIX)
        | Schedule.objects.filter(name__startswith=GROUP_PREFIX)
    }
    for name, schedule in existing.items():
        if name not in wanted:
            schedule.delete()
    for name, spec in wanted.items():
        current = existing.get(name)
        fields = {"repeats": -1, **spec}
        if current is None:
            Schedule.objects.create(name=name, **fields)
        elif any(getattr(current, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(current, k, v)
            current.save()
