"""Recurring jobs of the flows app, as named django-q2 schedules created idempotently."""

HEALTH_CHECK = "flows: health check of every system"
HEALTH_CHECK_MINUTES = 5


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
