"""The hub's metrics in Prometheus' text exposition format (version 0.0.4), for ``/metrics``.

Written by hand rather than through ``prometheus_client``: the values are read from the database at
scrape time, so there is no process-wide registry to keep, and the format is a few lines. The cost of
a scrape does not grow with the number of runs beyond one aggregate query over the run table: one
query for flows, one for runs, one for failed records, one for systems, one per system for its circuit
breaker (shared state), the broker's queue size and the worker clusters' heartbeats.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.utils import timezone

from flows import breaker
from flows.choices import HealthStatus
from flows.models import FailedRecord, Flow, Run, System
from flows.models.runs import RunStatus
from integration_hub import health

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600)  # seconds
OUTCOMES = ("filtered", "unchanged", "created", "updated", "deleted", "failed")
FRESH_STATUSES = (RunStatus.SUCCEEDED, RunStatus.PARTIAL)
UNRESOLVED = (FailedRecord.Status.OPEN, FailedRecord.Status.RETRYING)


def escape_label_value(value) -> str:
    """A label value as the text format wants it: backslash, double quote and line feed escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return str(value)


@dataclass
class Family:
    """One metric family: its name, type, help and samples ``(suffix, labels, value)``."""

    name: str
    type: str
    help: str
    samples: list[tuple[str, dict, float]] = field(default_factory=list)

    def add(self, labels: dict, value: float, suffix: str = "") -> None:
        self.samples.append((suffix, labels, value))

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.type}"]
        for suffix, labels, value in self.samples:
            label_text = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
            name = f"{self.name}{suffix}"
            lines.append(
                f"{name}{{{label_text}}} {format_value(value)}" if labels else f"{name} {format_value(value)}"
            )
        return "\n".join(lines) + "\n"


def _le(bound) -> str:
    return "+Inf" if bound == math.inf else format_value(float(bound))


def collect() -> list[Family]:
    """Read every metric from the database and the broker, now."""
    now = timezone.now()
    flow_rows = list(
        Flow.objects.order_by("name").values("pk", "name", "enabled", "criticality", "freshness_sla_minutes")
    )
    flows = {row["pk"]: row["name"] for row in flow_rows}

    runs = Family("hub_runs_total", "counter", "Runs per flow and status (the runs the hub keeps).")
    read = Family("hub_records_read_total", "counter", "Source records read by the runs of each flow.")
    records = Family(
        "hub_records_total",
        "counter",
        "Records read by the runs of each flow, by outcome (filtered, unchanged, created, updated, "
        "deleted, failed).",
    )
    durations = Family(
        "hub_run_duration_seconds",
        "histogram",
        "Duration of the finished runs of each flow, from start to finish (every run the hub keeps).",
    )
    freshness = Family(
        "hub_flow_freshness_seconds",
        "gauge",
        "Seconds since the last succeeded or partial run of each flow finished (absent: never).",
    )
    sla = Family(
        "hub_flow_freshness_sla_seconds",
        "gauge",
        "Freshness SLA of each flow in seconds (absent: no SLA set).",
    )
    enabled = Family("hub_flow_enabled", "gauge", "1 when the flow runs on its trigger, 0 when paused.")
    info = Family("hub_flow_info", "gauge", "Always 1; the flow's criticality as a label.")

    # One aggregate query over the run table gives counts, counters, the histogram and freshness.
    duration = ExpressionWrapper(F("finished") - F("started"), output_field=DurationField())
    timed = Q(started__isnull=False, finished__isnull=False)
    bucket_counts = {
        f"le_{bound}": Count("pk", filter=timed & Q(duration__lte=timedelta(seconds=bound)))
        for bound in DURATION_BUCKETS
    }
    rows = (
        Run.objects.order_by()
        .alias(duration=duration)
        .values("flow_id", "status")
        .annotate(
            n=Count("pk"),
            timed_n=Count("pk", filter=timed),
            duration_sum=Sum("duration", filter=timed),
            last_finished=Max("finished"),
            **{f"sum_{name}": Sum(name) for name in ("read", *OUTCOMES)},
            **bucket_counts,
        )
    )
    per_flow = defaultdict(lambda: defaultdict(float))
    last_fresh = {}
    for row in rows:
        name = flows.get(row["flow_id"])
        if name is None:  # a flow deleted between the two queries
            continue
        runs.add({"flow": name, "status": row["status"]}, row["n"])
        totals = per_flow[name]
        for key in ("read", *OUTCOMES):
            totals[key] += row[f"sum_{key}"] or 0
        for bound in DURATION_BUCKETS:
            totals[f"le_{bound}"] += row[f"le_{bound}"]
        totals["timed_n"] += row["timed_n"]
        totals["duration_sum"] += row["duration_sum"].total_seconds() if row["duration_sum"] else 0.0
        if row["status"] in FRESH_STATUSES and row["last_finished"]:
            last_fresh[name] = max(last_fresh.get(name, row["last_finished"]), row["last_finished"])

    for name in flows.values():
        totals = per_flow.get(name)
        if totals is None:
            continue
        read.add({"flow": name}, int(totals["read"]))
        for outcome in OUTCOMES:
            records.add({"flow": name, "outcome": outcome}, int(totals[outcome]))
        for bound in (*DURATION_BUCKETS, math.inf):
            count = totals["timed_n"] if bound == math.inf else totals[f"le_{bound}"]
            durations.add({"flow": name, "le": _le(bound)}, int(count), "_bucket")
        durations.add({"flow": name}, float(totals["duration_sum"]), "_sum")
        durations.add({"flow": name}, int(totals["timed_n"]), "_count")

    for row in flow_rows:
        name = row["name"]
        if name in last_fresh:
            freshness.add({"flow": name}, max(0.0, (now - last_fresh[name]).total_seconds()))
        if row["freshness_sla_minutes"]:
            sla.add({"flow": name}, row["freshness_sla_minutes"] * 60)
        enabled.add({"flow": name}, 1 if row["enabled"] else 0)
        info.add({"flow": name, "criticality": row["criticality"]}, 1)

    failed = Family(
        "hub_failed_records_open",
        "gauge",
        "Failed records of each flow not resolved yet (open or being retried).",
    )
    unresolved = dict(
        FailedRecord.objects.filter(status__in=UNRESOLVED)
        .order_by()
        .values("flow_id")
        .annotate(n=Count("pk"))
        .values_list("flow_id", "n")
    )
    for pk, name in flows.items():
        failed.add({"flow": name}, unresolved.get(pk, 0))

    return [
        runs,
        read,
        records,
        durations,
        freshness,
        sla,
        enabled,
        info,
        failed,
        *_system_families(),
        *_worker_families(),
    ]


def _system_families() -> list[Family]:
    health_family = Family(
        "hub_system_health",
        "gauge",
        "1 for the system's last health status (up, degraded, down, unknown), 0 for the others.",
    )
    circuit = Family(
        "hub_system_circuit_open",
        "gauge",
        "1 while the system's circuit breaker is open or half-open (requests fail fast), else 0.",
    )
    systems = list(System.objects.order_by("name").values_list("pk", "name", "health_status"))
    try:
        open_circuits = breaker.states([pk for pk, _n, _s in systems])
    except Exception:
        logger.warning("metrics: circuit breaker states unreadable", exc_info=True)
        open_circuits = None
    for pk, name, status in systems:
        for choice in HealthStatus.values:
            health_family.add({"system": name, "status": choice}, 1 if status == choice else 0)
        if open_circuits is not None:
            circuit.add({"system": name}, 1 if pk in open_circuits else 0)
    return [health_family, circuit]


def _worker_families() -> list[Family]:
    queue = Family("hub_queue_depth", "gauge", "Tasks waiting in the django-q2 broker's queue.")
    workers = Family(
        "hub_workers_up",
        "gauge",
        f"django-q2 worker clusters whose heartbeat is at most {health.WORKER_HEARTBEAT_MAX_AGE} s old.",
    )
    try:
        from django_q.brokers import get_broker

        queue.add({}, get_broker().queue_size())
    except Exception:  # an unreachable broker leaves the sample out; /readyz says why
        logger.warning("metrics: broker queue size unreadable", exc_info=True)
    try:
        workers.add({}, len(health.live_clusters()))
    except Exception:
        logger.warning("metrics: worker cluster statistics unreadable", exc_info=True)
    return [queue, workers]


def render(families: list[Family] | None = None) -> str:
    """The exposition text of ``families`` (all metrics, read now, by default)."""
    return "".join(family.render() for family in (collect() if families is None else families))
