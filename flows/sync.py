"""The sync engine: run a flow version from its source to its target, page by page.

One home for every way a run starts (console, API, ``manage.py hub run``, schedules, webhooks, chains):
``request_run``. A worker executes it with ``execute_run``.

A run, for each page the source yields:
1. counts it read; a filter leaves a record out (``filtered``); a mapping error or a data-quality rule
   sends it to ``FailedRecord`` with its reason (``failed``);
2. hashes the mapped record (canonical JSON): equal to the link's last hash → ``unchanged``, not sent;
3. writes the rest in one batch through the target connector (the linked target id is set when the flow
   matches through ID links; the connector upserts on the natural key otherwise); a record the target
   refuses goes to ``FailedRecord``;
4. then, in one transaction, saves the links, the failures, the counters and the position the read
   resumes from — so the cursor only moves once the page it covers is written and linked.

A run that dies (its worker killed) is found by its stale heartbeat and marked ``interrupted``; the
next run resumes from its last committed page. Rewriting a page that was written but not committed is
harmless: writes are upserts on the linked id or the natural key, and unchanged records are skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import time
from datetime import datetime, timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.choices import FlowWriteMode, MatchStrategy, SyncMode
from flows.connectors.base import WriteMode
from flows.connectors.errors import ConnectorError, RecordError
from flows.engine.mapping import CompiledFlow, wire
from flows.engine.paths import parse_path
from flows.models import Flow, System
from flows.models.runs import COUNTERS, FINISHED, FailedRecord, RecordLink, Run, RunStatus, RunTrigger
from integration_hub import realtime

logger = logging.getLogger(__name__)

# A running run whose heartbeat is older than this is taken as dead (its worker was killed).
STALE_AFTER = timedelta(seconds=120)
PROGRESS_EVERY = 0.5  # seconds between two progress events of one run


class RunRefused(Exception):
    """The flow cannot run as it is (no version yet, a system missing…): the message says why."""


# --- starting -----------------------------------------------------------------------------------------


def request_run(
    flow: Flow, *, trigger: str = RunTrigger.MANUAL, user=None, full: bool = False
) -> tuple[Run, bool]:
    """Queue a run of ``flow``'s current version; ``(run, True)`` when a new run was queued.

    A flow has at most one queued run: a trigger while one waits is coalesced into it (``(run, False)``;
    a full resync asked meanwhile makes the waiting run a full one). The queued run starts as soon as no
    other run of the flow is running (the running one starts it when it ends).
    """
    if flow.current_version_id is None:
        raise RunRefused(_("The flow has no saved version to run."))
    reap_stuck_runs(flow=flow)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                flow=flow,
                version_id=flow.current_version_id,
                trigger=trigger,
                full=full,
                requested_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError:
        run = Run.objects.filter(flow=flow, status=RunStatus.QUEUED).first()
        if run is None:  # it started between our insert and this read: queue again
            return request_run(flow, trigger=trigger, user=user, full=full)
        if full and not run.full:
            Run.objects.filter(pk=run.pk).update(full=True)
            run.full = True
        return run, False
    _enqueue(run)
    return run, True


def _enqueue(run: Run) -> None:
    from django_q.tasks import async_task

    run_id = run.pk
    transaction.on_commit(lambda: async_task("flows.tasks.run_flow", run_id, task_name=f"run {run_id}"))
    _publish(run)


def start_queued(flow_id: int) -> None:
    """Start the flow's waiting run, if any (called when a run ends)."""
    waiting = Run.objects.filter(flow_id=flow_id, status=RunStatus.QUEUED).first()
    if waiting is not None:
        _enqueue(waiting)


def cancel_run(run: Run) -> Run:
    """Ask a run to stop: a queued run is cancelled at once, a running one between two pages."""
    if run.status == RunStatus.QUEUED:
        Run.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
            status=RunStatus.CANCELLED, finished=timezone.now(), message=_("Cancelled before it started.")
        )
    elif run.status == RunStatus.RUNNING:
        Run.objects.filter(pk=run.pk).update(cancel_requested=True)
    run.refresh_from_db()
    _publish(run)
    return run


def reap_stuck_runs(*, flow: Flow | None = None) -> int:
    """Mark running runs whose worker stopped beating as interrupted; their waiting runs may start."""
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat__lt=timezone.now() - STALE_AFTER)
    if flow is not None:
        stale = stale.filter(flow=flow)
    count = 0
    for run in stale:
        updated = Run.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
            status=RunStatus.INTERRUPTED,
            finished=timezone.now(),
            message=_(
                "The worker stopped during the run; the next run resumes from its last committed page."
            ),
        )
        if updated:
            count += 1
            logger.warning(
                "Run %s of flow %s interrupted (no heartbeat since %s)", run.pk, run.flow_id, run.heartbeat
            )
            transaction.on_commit(lambda flow_id=run.flow_id: start_queued(flow_id))
    return count


# --- executing ----------------------------------------------------------------------------------------


def _claim(run_id: int) -> Run | None:
    """queued → running, unless another run of the flow is running (the index refuses it)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            claimed = Run.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
                status=RunStatus.RUNNING,
                started=now,
                heartbeat=now,
                worker=f"{socket.gethostname()}:{os.getpid()}"[:120],
            )
    except IntegrityError:
        return None  # the running run starts this one when it ends
    if not claimed:
        return None
    return Run.objects.select_related("flow", "version", "flow__source_system", "flow__target_system").get(
        pk=run_id
    )


def execute_run(run_id: int) -> Run | None:
    """Run ``run_id`` if it is still queued and no other run of its flow is running; None otherwise."""
    run = _claim(run_id)
    if run is None:
        return None
    flow = run.flow
    try:
        _Executor(run).execute()
    except Exception as exc:  # the run must never stay "running": record why it failed
        logger.exception("Run %s of flow %s failed", run.pk, flow.pk)
        message = (
            exc.message if isinstance(exc, ConnectorError) else _("Unexpected error: %(e)s") % {"e": exc}
        )
        Run.objects.filter(pk=run.pk).update(
            status=RunStatus.FAILED, finished=timezone.now(), message=str(message)[:4000]
        )
    run.refresh_from_db()
    _after_run(run)
    return run


def _after_run(run: Run) -> None:
    _publish(run)
    start_queued(run.flow_id)
    if run.status == RunStatus.SUCCEEDED:
        for follower in Flow.objects.filter(after_flow_id=run.flow_id, enabled=True):
            try:
                request_run(follower, trigger=RunTrigger.CHAIN)
            except RunRefused as exc:
                logger.warning("Chained flow %s not started: %s", follower.pk, exc)


def record_hash(record: dict) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode()).hexdigest()


_VOLATILE = re.compile(r"\d+|[0-9a-f]{8}-[0-9a-f-]{27}|“[^”]*”|\"[^\"]*\"|'[^']*'", re.IGNORECASE)


def signature(flow_id: int, error_class: str, message: str) -> str:
    """The same failure on many records gets one signature: ids, numbers and quoted values stripped."""
    normal = _VOLATILE.sub("#", message.lower()).strip()[:500]
    return hashlib.sha256(f"{flow_id}|{error_class}|{normal}".encode()).hexdigest()[:32]


def _cursor_value(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class _Executor:
    def __init__(self, run: Run):
        self.run = run
        self.flow = run.flow
        self.definition = run.version.definition
        self.source_system: System = System.objects.get(slug=self.definition["source_system"])
        self.target_system: System = System.objects.get(slug=self.definition["target_system"])
        self.source_entity = self.definition["source_entity"]
        self.target_entity = self.definition["target_entity"]
        self.compiled = CompiledFlow(self.definition, link_lookup=self._link_lookup)
        self.last_progress = 0.0

    # ID links of other flows, for the link_lookup transform (e.g. ERP partner → shop customer).
    def _link_lookup(self, system: str, entity: str, source_id):
        link = (
            RecordLink.objects.filter(
                source_system__slug=system,
                source_entity=entity,
                source_id=str(source_id),
                target_system=self.target_system,
            )
            .values_list("target_id", flat=True)
            .first()
        )
        if link is None:
            raise RecordError(
                _("No ID link yet for %(system)s %(entity)s %(id)s: sync that record first.")
                % {"system": system, "entity": entity, "id": source_id},
                reason="link",
            )
        return link

    def _resume_point(self) -> None:
        """Where the read starts: an interrupted run's last committed page, else the flow's cursor."""
        run = self.run
        previous = self.flow.runs.exclude(pk=run.pk).filter(status__in=FINISHED).order_by("-pk").first()
        if (
            previous is not None
            and previous.status == RunStatus.INTERRUPTED
            and not run.full
            and previous.version_id == run.version_id
        ):
            run.resume = previous.resume
            run.cursor_before = previous.cursor_before
            run.cursor_after = previous.cursor_after
        else:
            incremental = self.definition.get("sync_mode") == SyncMode.INCREMENTAL
            run.cursor_before = self.flow.sync_cursor if incremental and not run.full else ""
            run.cursor_after = run.cursor_before
            run.resume = ""
        Run.objects.filter(pk=run.pk).update(
            resume=run.resume, cursor_before=run.cursor_before, cursor_after=run.cursor_after
        )

    def execute(self) -> None:
        run = self.run
        self._resume_point()
        source = self.source_system.get_connector()
        target = self.target_system.get_connector()
        try:
            entity = source.entity(self.source_entity)
            self.id_path = parse_path(entity.id_field or "id")
            cursor_field = self.definition.get("cursor_field") or entity.cursor_field
            self.cursor_path = parse_path(cursor_field) if cursor_field else None
            self.target_id_path = parse_path(target.entity(self.target_entity).id_field or "id")
            self.compiled.reset_run()
            pages = source.read(
                self.source_entity, cursor=run.resume or None, since=run.cursor_before or None
            )
            cancelled = False
            for page in pages:
                self._page(page, target)
                source.commit(self.source_entity, page.cursor)
                if Run.objects.filter(pk=run.pk, cancel_requested=True).exists():
                    cancelled = True
                    break
        finally:
            source.close()
            target.close()
        self._finish(cancelled)

    # --- one page -----------------------------------------------------------------------------------

    def _page(self, page, target) -> None:
        counts = dict.fromkeys(COUNTERS, 0)
        failures: list[dict] = []
        high = ""
        for problem in page.errors:
            counts["read"] += 1
            counts["failed"] += 1
            failures.append(
                {"source_id": "", "stage": "read", "error": problem, "source": None, "mapped": None}
            )
        candidates = []  # (source id, source record, mapped record, hash)
        for record in page.records:
            counts["read"] += 1
            source_id = _cursor_value(self.id_path.get(record))
            if self.cursor_path is not None:
                value = _cursor_value(self.cursor_path.get(record))
                high = max(high, value)
            mapped = self.compiled.map(record)
            if mapped.filtered_out:
                counts["filtered"] += 1
                continue
            if not mapped.ok:
                counts["failed"] += 1
                stage = "mapping" if mapped.errors else "rule"
                message = "; ".join(
                    [f"{e.target}: {e.message}" for e in mapped.errors]
                    + [f"{f.field}: {f.message}" for f in mapped.rule_failures]
                )
                failures.append(
                    {
                        "source_id": source_id,
                        "stage": stage,
                        "error": RecordError(message, reason=stage),
                        "source": record,
                        "mapped": wire(mapped.record),
                    }
                )
                continue
            out = wire(mapped.record)
            candidates.append((source_id, record, out, record_hash(out)))
        links = {
            link.source_id: link
            for link in RecordLink.objects.filter(
                source_system=self.source_system,
                source_entity=self.source_entity,
                target_system=self.target_system,
                target_entity=self.target_entity,
                source_id__in=[c[0] for c in candidates if c[0]],
            )
        }
        to_write = []
        for source_id, record, out, digest in candidates:
            link = links.get(source_id)
            if link is not None and link.last_hash == digest:
                counts["unchanged"] += 1
                continue
            if link is not None and self.definition.get("match_strategy") == MatchStrategy.LINKS:
                self.target_id_path.set(out, link.target_id)
            to_write.append((source_id, record, out, digest))
        results = []
        if to_write:
            mode = self.definition.get("write_mode")
            write_mode = (
                WriteMode.UPSERT if mode in (FlowWriteMode.UPSERT, FlowWriteMode.MIRROR) else WriteMode(mode)
            )
            results = target.write(self.target_entity, [w[2] for w in to_write], write_mode)
        now = timezone.now()
        link_rows = []
        for (source_id, record, out, digest), result in zip(to_write, results, strict=True):
            if not result.ok:
                counts["failed"] += 1
                failures.append(
                    {
                        "source_id": source_id,
                        "stage": "write",
                        "error": result.error,
                        "source": record,
                        "mapped": out,
                    }
                )
                continue
            action = result.action if result.action in ("created", "updated", "unchanged") else ""
            counts[action or ("updated" if source_id in links else "created")] += 1
            target_id = result.target_id or (links[source_id].target_id if source_id in links else "")
            if not target_id and self.definition.get("target_key"):
                target_id = _cursor_value(parse_path(self.definition["target_key"]).get(out))
            if source_id and target_id:
                link_rows.append((source_id, str(target_id), digest))
        self._commit(page, counts, failures, link_rows, high, now)

    def _commit(self, page, counts, failures, link_rows, high, now) -> None:
        run = self.run
        with transaction.atomic():
            # One upsert for the page's links (not a query per record).
            RecordLink.objects.bulk_create(
                [
                    RecordLink(
                        flow=self.flow,
                        source_system=self.source_system,
                        source_entity=self.source_entity,
                        source_id=source_id,
                        target_system=self.target_system,
                        target_entity=self.target_entity,
                        target_id=target_id,
                        last_hash=digest,
                        last_run=run,
                        last_synced=now,
                    )
                    for source_id, target_id, digest in link_rows
                ],
                update_conflicts=True,
                unique_fields=[
                    "source_system",
                    "source_entity",
                    "source_id",
                    "target_system",
                    "target_entity",
                ],
                update_fields=["flow", "target_id", "last_hash", "last_run", "last_synced"],
            )
            delivered = [row[0] for row in link_rows]
            if delivered:  # a record that now went through closes its open failure
                FailedRecord.objects.filter(
                    flow=self.flow, source_id__in=delivered, status__in=["open", "retrying"]
                ).update(status=FailedRecord.Status.RESOLVED)
            for failure in failures:
                self._fail(failure)
            if high:
                run.cursor_after = max(run.cursor_after or "", high)
            run.resume = page.cursor or ""
            Run.objects.filter(pk=run.pk).update(
                **{name: F(name) + value for name, value in counts.items()},
                resume=run.resume,
                cursor_after=run.cursor_after,
                pages=F("pages") + 1,
                heartbeat=now,
            )
        self._progress()

    def _fail(self, failure: dict) -> None:
        error = failure["error"]
        error_class = getattr(error, "kind", "error") if error is not None else "error"
        message = str(getattr(error, "message", error) or _("The target refused the record."))
        payload = {"source": failure["source"], "mapped": failure["mapped"]}
        source_id = failure["source_id"]
        existing = None
        if source_id:
            existing = FailedRecord.objects.filter(
                flow=self.flow, source_id=source_id, status__in=["open", "retrying"]
            ).first()
        record = existing or FailedRecord(flow=self.flow, source_id=source_id)
        if existing is not None:
            record.attempts += 1
            record.status = FailedRecord.Status.OPEN
        record.run = self.run
        record.stage = failure["stage"]
        record.error_class = error_class[:40]
        record.message = message[:4000]
        record.http_status = getattr(error, "status", None)
        record.signature = signature(self.flow.pk, error_class, message)
        record.payload = payload
        record.save()

    # --- the end ------------------------------------------------------------------------------------

    def _finish(self, cancelled: bool) -> None:
        run = self.run
        run.refresh_from_db()
        if cancelled:
            status, message = RunStatus.CANCELLED, _("Cancelled between two pages; what was written is kept.")
        elif run.failed:
            status = RunStatus.PARTIAL
            message = _("%(n)s records could not be delivered: see the failed records.") % {"n": run.failed}
        else:
            status, message = RunStatus.SUCCEEDED, ""
        with transaction.atomic():
            Run.objects.filter(pk=run.pk).update(
                status=status,
                finished=timezone.now(),
                resume="" if not cancelled else run.resume,
                message=message,
            )
            if not cancelled and run.cursor_after and run.cursor_after != self.flow.sync_cursor:
                Flow.objects.filter(pk=self.flow.pk).update(sync_cursor=run.cursor_after)

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self.last_progress < PROGRESS_EVERY:
            return
        self.last_progress = now
        Run.objects.filter(pk=self.run.pk).update(heartbeat=timezone.now())
        self.run.refresh_from_db()
        _publish(self.run, now=True)


def _publish(run: Run, *, now: bool = False) -> None:
    payload = {
        "run": run.pk,
        "flow": run.flow_id,
        "status": run.status,
        "counters": run.counters(),
        "pages": run.pages,
    }
    send = realtime.send_now if now else realtime.publish
    for group in (realtime.object_group(Flow, run.flow_id), realtime.model_group(Flow)):
        send(group, "run.progress", payload)
