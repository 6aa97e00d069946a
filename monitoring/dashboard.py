"""What the dashboard (home page) and ``/api/dashboard/`` show, for one user: the one home of both.

Everything is narrowed to the flows the user may view (``permissions.restrict``): a flow they may not
see has no row, no running sync, no failure in the feed and no share in the charts' numbers.

Freshness of a flow: how long ago its last *succeeded or partial* run finished (the same notion as
``hub_flow_freshness_seconds`` in ``/metrics``, ``metrics.FRESH_STATUSES``), against the flow's
freshness SLA:

- ``fresh`` (green): at most the SLA old;
- ``late`` (amber): older than the SLA, at most twice the SLA;
- ``stale`` (red): older than twice the SLA;
- ``never``: the flow has no succeeded or partial run yet (red when it has an SLA: nothing delivered);
- ``no_sla``: fresh data exists but the flow sets no SLA (neutral, the age is still shown).

Cost: constant in the number of flows and runs shown — one query for the flows (their last run and
last fresh finish are correlated subqueries on the ``(flow, -queued_at)`` run index), one for those
runs, one for the schedules, one for the running runs, one aggregate for the hourly series, one for
the failures feed, and the broker's queue and the worker clusters' heartbeats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flows.failures import Presenter, visible_failures
from flows.models import Flow, Run
from flows.models.runs import ACTIVE, RunStatus
from integration_hub import health
from integration_hub.permissions import restrict
from monitoring.metrics import FRESH_STATUSES

logger = logging.getLogger(__name__)

FRESH, LATE, STALE, NEVER, NO_SLA = "fresh", "late", "stale", "never", "no_sla"
FRESHNESS_LABELS = {
    FRESH: _("fresh"),
    LATE: _("late"),
    STALE: _("stale"),
    NEVER: _("never ran"),
    NO_SLA: _("no SLA"),
}
WINDOWS = {"24h": 24, "7d": 24 * 7}
DEFAULT_WINDOW = "24h"
FAILURES_SHOWN = 10
# The series keep to runs queued at most this long before the window opens, so the range is read on
# the run table's queued_at index; a run that lasted longer than this is left out of the charts.
LONGEST_RUN_COUNTED = timedelta(days=1)
SECTIONS = ("flows", "running", "series", "workers", "failures")


def visible_flows(user):
    return restrict(Flow.objects.all(), user, "view")


# --- freshness and the flows table -------------------------------------------------------------


def freshness(
    last_fresh: datetime | None, sla_minutes: int | None, now: datetime
) -> tuple[str, timedelta | None]:
    """The freshness state of a flow whose data was last delivered at ``last_fresh`` and its age."""
    if last_fresh is None:
        return NEVER, None
    age = max(timedelta(0), now - last_fresh)
    if not sla_minutes:
        return NO_SLA, age
    sla = timedelta(minutes=sla_minutes)
    if age <= sla:
        return FRESH, age
    if age <= 2 * sla:
        return LATE, age
    return STALE, age


@dataclass
class FlowRow:
    flow: Flow
    last_run: Run | None
    last_fresh: datetime | None
    state: str
    age: timedelta | None
    next_run: datetime | None

    @property
    def state_label(self) -> str:
        return str(FRESHNESS_LABELS[self.state])

    @property
    def age_seconds(self) -> int | None:
        return None if self.age is None else int(self.age.total_seconds())

    @property
    def records_per_minute(self) -> float | None:
        """Records read per minute by the last run (so far, while it runs)."""
        rate = self.last_run.rate if self.last_run else None
        return None if rate is None else round(rate * 60, 1)

    def as_dict(self) -> dict:
        run = self.last_run
        return {
            "flow": self.flow.pk,
            "name": self.flow.name,
            "url": self.flow.get_absolute_url(),
            "enabled": self.flow.enabled,
            "criticality": self.flow.criticality,
            "freshness_sla_minutes": self.flow.freshness_sla_minutes,
            "freshness": self.state,
            "last_delivered": self.last_fresh.isoformat() if self.last_fresh else None,
            "age_seconds": self.age_seconds,
            "last_run": None
            if run is None
            else {
                "run": run.pk,
                "status": run.status,
                "started": run.started.isoformat() if run.started else None,
                "finished": run.finished.isoformat() if run.finished else None,
            },
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "records_per_minute": self.records_per_minute,
        }


def _next_runs(flows: list[Flow]) -> dict[int, datetime]:
    """When each flow's schedule (its own, or its fan-out group's) fires next: one query."""
    from django_q.models import Schedule

    from flows.schedules import group_schedule_name, schedule_name, wanted_schedules
    from flows.sync import fanout_key

    wanted = wanted_schedules(flows)
    names = {}
    for flow in flows:
        key = fanout_key(flow)
        for name in (schedule_name(flow.pk), group_schedule_name(key) if key else None):
            if name in wanted:
                names[flow.pk] = name
                break
    if not names:
        return {}
    times = dict(Schedule.objects.filter(name__in=set(names.values())).values_list("name", "next_run"))
    return {pk: times[name] for pk, name in names.items() if times.get(name)}


def flow_rows(user, now: datetime | None = None) -> list[FlowRow]:
    """One row per flow ``user`` may view: last run, freshness against the SLA, next run, rate."""
    now = now or timezone.now()
    # No pk tie-break: the (flow, -queued_at) index then gives the newest run without a sort.
    runs = Run.objects.filter(flow=OuterRef("pk")).order_by("-queued_at")
    flows = list(
        visible_flows(user)
        .select_related(None)
        .annotate(
            last_run_id=Subquery(runs.values("pk")[:1]),
            last_fresh=Subquery(runs.filter(status__in=FRESH_STATUSES).values("finished")[:1]),
        )
        .order_by("name")
    )
    last_runs = Run.objects.in_bulk([f.last_run_id for f in flows if f.last_run_id])
    next_runs = _next_runs(flows)
    rows = []
    for flow in flows:
        state, age = freshness(flow.last_fresh, flow.freshness_sla_minutes, now)
        rows.append(
            FlowRow(
                flow, last_runs.get(flow.last_run_id), flow.last_fresh, state, age, next_runs.get(flow.pk)
            )
        )
    return rows


# --- running syncs -------------------------------------------------------------------------------


def running_runs(user) -> list[Run]:
    """Queued and running runs of the flows ``user`` may view, oldest first."""
    return list(
        Run.objects.filter(status__in=ACTIVE, flow__in=visible_flows(user))
        .select_related("flow")
        .order_by("queued_at", "pk")
    )


def run_dict(run: Run) -> dict:
    """The fields of a running sync; the same shape as a ``run.progress`` event's payload."""
    return {
        **run.progress(),
        "flow_name": run.flow.name,
        "url": run.get_absolute_url(),
        "started": run.started.isoformat() if run.started else None,
    }


# --- hourly series -------------------------------------------------------------------------------


def _hours(window: str, now: datetime) -> list[datetime]:
    """The window's hour buckets, oldest first, as UTC instants (starts of local hours)."""
    start = timezone.localtime(now).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    count = WINDOWS[window]
    return [start - timedelta(hours=count - 1 - i) for i in range(count)]


def series(user, window: str = DEFAULT_WINDOW, flow: int | None = None, now: datetime | None = None) -> dict:
    """Records synced, records failed and the error rate per hour over ``window`` (``24h`` or ``7d``).

    A run counts in the hour it finished. Records synced = created + updated + deleted; error rate =
    failed / records read (or failed / (synced + failed) when a run read nothing, e.g. a replay), in
    percent, None for an hour without records. ``flow`` narrows to one flow (ignored unless the user
    may view it); ``by_flow`` gives the window's totals per flow, from the same single query.
    """
    if window not in WINDOWS:
        window = DEFAULT_WINDOW
    now = now or timezone.now()
    hours = _hours(window, now)
    since = hours[0]
    runs = Run.objects.filter(
        flow__in=visible_flows(user),
        queued_at__gte=since - LONGEST_RUN_COUNTED,
        finished__gte=since,
        finished__lte=now,
    )
    if flow is not None:
        runs = runs.filter(flow_id=flow)
    rows = (
        runs.annotate(hour=TruncHour("finished"))
        .order_by()
        .values("hour", "flow_id")
        .annotate(
            read=Sum("read"),
            created=Sum("created"),
            updated=Sum("updated"),
            deleted=Sum("deleted"),
            failed=Sum("failed"),
            runs=Count("pk"),
            failed_runs=Count("pk", filter=Q(status=RunStatus.FAILED)),
        )
    )
    index = {hour: i for i, hour in enumerate(hours)}
    size = len(hours)
    synced, failed, read, run_count, failed_runs = ([0] * size for _i in range(5))
    by_flow: dict[int, dict] = {}
    for row in rows:
        i = index.get(row["hour"].astimezone(UTC))
        if i is None:
            continue
        written = (row["created"] or 0) + (row["updated"] or 0) + (row["deleted"] or 0)
        synced[i] += written
        failed[i] += row["failed"] or 0
        read[i] += row["read"] or 0
        run_count[i] += row["runs"]
        failed_runs[i] += row["failed_runs"]
        totals = by_flow.setdefault(row["flow_id"], {"synced": 0, "failed": 0, "runs": 0})
        totals["synced"] += written
        totals["failed"] += row["failed"] or 0
        totals["runs"] += row["runs"]
    error_rate = [record_error_rate(failed[i], read[i], synced[i]) for i in range(size)]
    total_synced, total_failed = sum(synced), sum(failed)
    return {
        "window": window,
        "flow": flow,
        "hours": [h.isoformat() for h in hours],
        "labels": [timezone.localtime(h).strftime("%d %H:00" if window == "7d" else "%H:00") for h in hours],
        "synced": synced,
        "failed": failed,
        "error_rate": error_rate,
        "runs": run_count,
        "failed_runs": failed_runs,
        "totals": {
            "synced": total_synced,
            "failed": total_failed,
            "runs": sum(run_count),
            "failed_runs": sum(failed_runs),
            "error_rate": record_error_rate(total_failed, sum(read), total_synced),
        },
        "by_flow": {str(pk): totals for pk, totals in by_flow.items()},
    }


def record_error_rate(failed: int, read: int, synced: int) -> float | None:
    """Failed records in percent of the records read (of synced + failed when nothing was read, e.g. a
    replay); None without records. The chart and the error-rate alert share it."""
    base = read or (synced + failed)
    return round(100 * failed / base, 1) if base else None


# --- workers and queue ---------------------------------------------------------------------------


def _oldest_queued(broker) -> datetime | None:
    """When the task waiting longest in the broker's queue was queued (None: the queue is empty)."""
    from django_q.signing import SignedPackage

    if hasattr(broker.connection, "lindex"):  # Redis: a list, pushed right, popped left
        raw = broker.connection.lindex(broker.list_key, 0)
    else:  # the ORM broker: rows not locked by a worker
        row = (
            broker.get_connection()
            .filter(key=broker.list_key, lock__lte=timezone.now())
            .order_by("id")
            .values_list("payload", flat=True)
            .first()
        )
        raw = row
    if not raw:
        return None
    task = SignedPackage.loads(raw)
    return task.get("started")


def worker_health(now: datetime | None = None) -> dict:
    """The django-q2 clusters alive (the ``/readyz`` notion), the queue depth and its oldest task."""
    now = now or timezone.now()
    result = {
        "clusters": None,
        "workers": None,
        "queue_depth": None,
        "oldest_queued_seconds": None,
        "error": "",
    }
    try:
        clusters = health.live_clusters()
        result["clusters"] = len(clusters)
        result["workers"] = sum(len(s.workers) for s in clusters)
    except Exception as exc:
        logger.warning("dashboard: worker cluster statistics unreadable", exc_info=True)
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]
    try:
        from django_q.brokers import get_broker

        broker = get_broker()
        result["queue_depth"] = broker.queue_size()
        oldest = _oldest_queued(broker)
        if oldest is not None:
            result["oldest_queued_seconds"] = max(0, int((now - oldest).total_seconds()))
    except Exception as exc:
        logger.warning("dashboard: broker unreadable", exc_info=True)
        result["error"] = f"{type(exc).__name__}: {exc}"[:200]
    result["up"] = bool(result["clusters"])
    return result


# --- recent failures -----------------------------------------------------------------------------


def recent_failures(user, limit: int = FAILURES_SHOWN) -> list[dict]:
    """The newest failed records of the flows ``user`` may view, messages masked unless they may see
    personal data (``failures.Presenter``)."""
    presenter = Presenter(user)
    records = visible_failures(user).order_by("-updated", "-pk")[:limit]
    return [
        {
            "id": record.pk,
            "flow": record.flow_id,
            "flow_name": record.flow.name,
            "url": record.flow.get_absolute_url(),
            "failures_url": _failures_url(record.flow_id),
            "run": record.run_id,
            "source_id": record.source_id,
            "stage": record.stage,
            "error_class": record.error_class,
            "http_status": record.http_status,
            "message": presenter.message(record),
            "status": record.status,
            "status_label": record.get_status_display(),
            "attempts": record.attempts,
            "updated": record.updated,
        }
        for record in records
    ]


def _failures_url(flow_id: int) -> str:
    from django.urls import reverse

    return reverse("flows:flow_failures", args=[flow_id])


# --- everything ----------------------------------------------------------------------------------


def snapshot(user, *, window: str = DEFAULT_WINDOW, flow: int | None = None, sections=SECTIONS) -> dict:
    """The dashboard's data for ``user`` as JSON-ready values (what ``/api/dashboard/`` returns)."""
    now = timezone.now()
    data: dict = {"generated": now.isoformat()}
    if "flows" in sections:
        data["flows"] = [row.as_dict() for row in flow_rows(user, now)]
    if "running" in sections:
        data["running"] = [run_dict(run) for run in running_runs(user)]
    if "series" in sections:
        data["series"] = series(user, window, flow, now)
    if "workers" in sections:
        data["workers"] = worker_health(now)
    if "failures" in sections:
        data["failures"] = recent_failures(user)
    return data
