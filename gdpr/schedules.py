"""Recurring jobs of the GDPR app, as named django-q2 schedules created idempotently."""

RETENTION = "gdpr: retention purge"


def ensure_schedules(**kwargs) -> None:
    """The daily retention purge (at 03:00, a quiet hour), created once and kept on every migrate."""
    from datetime import datetime, time, timedelta

    from django.utils import timezone
    from django_q.models import Schedule

    tomorrow = timezone.localdate() + timedelta(days=1)
    first = timezone.make_aware(datetime.combine(tomorrow, time(3, 0)))
    schedule, created = Schedule.objects.get_or_create(
        name=RETENTION,
        defaults={
            "func": "gdpr.retention.purge_due",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": first,
        },
    )
    if not created and (schedule.func, schedule.schedule_type) != (
        "gdpr.retention.purge_due",
        Schedule.DAILY,
    ):
        schedule.func, schedule.schedule_type, schedule.repeats = (
            "gdpr.retention.purge_due",
            Schedule.DAILY,
            -1,
        )
        schedule.save(update_fields=["func", "schedule_type", "repeats"])
