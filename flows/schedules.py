"""Recurring jobs of the flows app, as named django-q2 schedules created idempotently."""

HEALTH_CHECK = "flows: health check of every system"
HEALTH_CHECK_MINUTES = 5
REAPER = "flows: interrupt runs whose worker died"
FLOW_PREFIX = "flow #"  # one schedule per enabled flow with an interval or cron trigger


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


def sync_flow_schedule(flow) -> None:
    """The flow's django-q2 schedule follows its trigger: interval or cron while enabled (and a webhook
    flow's catch-up interval), none otherwise."""
    from django_q.models import Schedule

    from flows.choices import Trigger

    name = schedule_name(flow.pk)
    wanted = None
    # A webhook-triggered flow with an interval also runs on it: a safety net for missed events.
    if flow.enabled and flow.trigger in (Trigger.INTERVAL, Trigger.WEBHOOK) and flow.interval_minutes:
        wanted = {"schedule_type": Schedule.MINUTES, "minutes": flow.interval_minutes, "cron": None}
    elif flow.enabled and flow.trigger == Trigger.CRON and flow.cron:
        wanted = {"schedule_type": Schedule.CRON, "cron": flow.cron, "minutes": None}
    if wanted is None:
        Schedule.objects.filter(name=name).delete()
        return
    Schedule.objects.update_or_create(
        name=name,
        defaults={"func": "flows.tasks.scheduled_run", "args": repr((flow.pk,)), "repeats": -1, **wanted},
    )


def sync_all_flow_schedules() -> None:
    from django_q.models import Schedule

    from flows.models import Flow

    flows = list(Flow.objects.all())
    for flow in flows:
        sync_flow_schedule(flow)
    known = {schedule_name(f.pk) for f in flows}
    Schedule.objects.filter(name__startswith=FLOW_PREFIX).exclude(name__in=known).delete()
