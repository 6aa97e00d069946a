"""Recurring jobs of the monitoring app, as named django-q2 schedules created idempotently."""

ALERTS = "monitoring: evaluate alert rules"


def ensure_schedules(**kwargs) -> None:
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=ALERTS,
        defaults={
            "func": "monitoring.tasks.evaluate_alerts",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )
