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
import signal
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from json.encoder import c_make_encoder, encode_basestring_ascii

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, InterfaceError, OperationalError, connection, connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from flows import lookup, policy, runlog, suppression
from flows.choices import FlowWriteMode, MatchStrategy, SyncMode
from flows.connectors.base import Page, WriteMode, WriteResult
from flows.connectors.errors import ConnectorError, NotFound, RecordError, TransientError
from flows.engine.mapping import CompiledFlow, wire
from flows.engine.paths import parse_path
from flows.models import Flow, System
from flows.models.runs import (
    COUNTERS,
    FINISHED,
    FailedRecord,
    RecordLink,
    Run,
    RunStatus,
    RunTrigger,
    store_json,
    stored_json,
)
from integration_hub import realtime

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between two progress events of one run
FETCH_CHUNK = 100  # chosen records fetched from the source per request
MAX_RECORD_IDS = 10_000  # beyond this many chosen records a run reads the whole entity instead
LINK_CHUNK = 2_000  # source ids per query reading a page's links (well under any backend's limit)
# Pages in a row whose write failed for a transient reason (after the client's retries) before the
# run gives up: the target is down, the next run starts where this one stopped.
TRANSIENT_PAGES = 3


def stale_after() -> timedelta:
    """A running run whose heartbeat is older than this is taken as dead (its worker was killed)."""
    return timedelta(seconds=getattr(settings, "HUB_RUN_STALE_AFTER", 120))


class RunRefused(Exception):
    """The flow cannot run as it is (no version yet, a system missing…): the message says why."""


# --- starting -----------------------------------------------------------------------------------------


def request_run(
    flow: Flow,
    *,
    trigger: str = RunTrigger.MANUAL,
    user=None,
    full: bool = False,
    record_ids: list | None = None,
    backfill_from: str = "",
    enqueue: bool = True,
) -> tuple[Run, bool]:
    """Queue a run of ``flow``'s current version; ``(run, True)`` when a new run was queued.

    ``record_ids``: source ids fetched fresh and written even if unchanged (resync, replay, webhook
    events); with only those, the run does not read the rest of the entity. ``backfill_from``: read
    from this bound instead of the flow's cursor.

    A flow has at most one queued run: a trigger while one waits is coalesced into it (``(run, False)``):
    its chosen records are added, and a whole read, a full resync or an earlier backfill bound asked
    meanwhile are kept. The queued run starts as soon as no other run of the flow is running (the
    running one starts it when it ends).
    """
    if flow.current_version_id is None:
        raise RunRefused(_("The flow has no saved version to run."))
    problem = run_problem(flow)
    if problem:
        raise RunRefused(problem)
    ids = list(dict.fromkeys(str(i) for i in (record_ids or []) if str(i)))
    read_all = not ids or len(ids) > MAX_RECORD_IDS
    if len(ids) > MAX_RECORD_IDS:
        ids = []
    reap_stuck_runs(flow=flow)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                flow=flow,
                version_id=flow.current_version_id,
                trigger=trigger,
                full=full,
                record_ids=ids,
                read_all=read_all,
                backfill_from=backfill_from or "",
                requested_by=user if getattr(user, "pk", None) else None,
            )
    except IntegrityError:
        with transaction.atomic():
            run = Run.objects.select_for_update().filter(flow=flow, status=RunStatus.QUEUED).first()
            if run is None:  # it started between our insert and this read: queue again
                return request_run(
                    flow,
                    trigger=trigger,
                    user=user,
                    full=full,
                    record_ids=record_ids,
                    backfill_from=backfill_from,
                    enqueue=enqueue,
                )
            _coalesce(run, full=full, ids=ids, read_all=read_all, backfill_from=backfill_from)
        return run, False
    if enqueue:
        _enqueue(run)
    else:
        _publish(run)  # the caller starts it (a fan-out group runs its members together)
    return run, True


def _coalesce(run: Run, *, full: bool, ids: list[str], read_all: bool, backfill_from: str) -> None:
    """Fold one more trigger into the waiting run (called with its row locked)."""
    merged = list(dict.fromkeys([*run.record_ids, *ids]))
    changes = {}
    if len(merged) > MAX_RECORD_IDS:
        changes.update(record_ids=[], read_all=True)
    elif merged != run.record_ids:
        changes["record_ids"] = merged
    if read_all and not run.read_all:
        changes["read_all"] = True
    if full and not run.full:
        changes["full"] = True
    if backfill_from and (not run.backfill_from or backfill_from < run.backfill_from):
        changes["backfill_from"] = backfill_from
    if changes:
        Run.objects.filter(pk=run.pk).update(**changes)
        for name, value in changes.items():
            setattr(run, name, value)


def replay_failed(
    flow: Flow, *, user=None, ids: list[int] | None = None, signature: str | None = None
) -> Run:
    """Replay failed records — by pk, all open ones with one signature, or all open ones of the flow:
    each is re-read fresh from the source and written with the flow's current version."""
    failures = FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]).exclude(source_id="")
    if ids is not None:
        failures = failures.filter(pk__in=ids)
    if signature:
        failures = failures.filter(signature=signature)
    source_ids = list(failures.values_list("source_id", flat=True))
    if not source_ids:
        raise RunRefused(_("There is no failed record to replay here."))
    with transaction.atomic():  # marked before the run can start (it is queued on commit)
        FailedRecord.objects.filter(pk__in=failures.values("pk")).update(status=FailedRecord.Status.RETRYING)
        run, _created = request_run(flow, trigger=RunTrigger.RETRY, user=user, record_ids=source_ids)
    run.refresh_from_db()
    return run


def run_problem(flow: Flow) -> str:
    """Why the flow cannot run as it is configured ("" when it can)."""
    reason = policy.run_blocked_reason(flow)
    if reason:
        return str(reason)
    version = flow.current_version
    if version is None:
        return ""
    definition = version.definition
    try:
        target = System.objects.get(slug=definition["target_system"])
        entity = target.get_connector().entity(definition["target_entity"])
    except (System.DoesNotExist, NotFound, KeyError):
        return ""  # the run itself reports a missing system or entity, with the details
    return idempotency_problem(definition, entity)


def reconcile_key(definition: dict, entity) -> tuple[str, str]:
    """The target field unlinked records are recognised by, so that a rerun never creates twice.

    ``("sku", "natural")``: a natural key the mapping fills; ``("ref", "reference")``: the hub stamps
    its own reference there; ``("", "connector")``: the connector upserts on the entity's own keys;
    ``("", "")``: nothing — a crash between a create and its link could duplicate the record.
    """
    if definition.get("match_strategy") == MatchStrategy.NATURAL_KEY and definition.get("target_key"):
        return definition["target_key"], "natural"
    mapped = {m.get("target") for m in definition.get("mappings") or []}
    if len(entity.natural_keys) == 1 and entity.natural_keys[0] in mapped:
        return entity.natural_keys[0], "natural"
    if entity.reference_field:
        return entity.reference_field, "reference"
    if (
        definition.get("write_mode") != FlowWriteMode.CREATE
        and entity.natural_keys
        and all(k in mapped for k in entity.natural_keys)
    ):
        return "", "connector"
    return "", ""


def idempotency_problem(definition: dict, entity) -> str:
    if definition.get("write_mode") == FlowWriteMode.UPDATE:
        return ""  # never creates
    if reconcile_key(definition, entity)[1]:
        return ""
    return _(
        "This flow could create a record twice if a run is interrupted between the write and the ID "
        "link: the target entity “%(entity)s” has no reference field the hub can stamp. Match records "
        "by a natural key (a field both systems share, such as a SKU or an e-mail), map one of the "
        "target's keys (%(keys)s), or use the “update only” write mode."
    ) % {"entity": entity.key, "keys": ", ".join(entity.natural_keys) or "—"}


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
    stale = Run.objects.filter(status=RunStatus.RUNNING, heartbeat__lt=timezone.now() - stale_after())
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
            runlog.write(
                run,
                "warning",
                "run.interrupted",
                _(
                    "Interrupted: the worker stopped beating; the next run resumes from the last committed page."
                ),
                heartbeat=run.heartbeat.isoformat() if run.heartbeat else None,
                pages=run.pages,
                cursor_after=run.cursor_after,
            )
            transaction.on_commit(lambda flow_id=run.flow_id: start_queued(flow_id))
    return count + resend_lost_queued(flow=flow)


def queued_resend_after() -> timedelta:
    """A queued run waiting this long while no run of its flow is running may have lost its task."""
    return timedelta(seconds=getattr(settings, "HUB_RUN_QUEUED_RESEND_AFTER", 600))


def resend_lost_queued(*, flow: Flow | None = None) -> int:
    """Send the task of queued runs again when it may have been lost (a task queue flushed, or Redis
    restarted without persistence): such a run would wait forever, and every later trigger would fold
    into it — the flow would stop without a word. A run queued longer than ``queued_resend_after()``
    while no run of its flow is running gets its task again, at most once per that period; should the
    first task still come, it finds the run taken and does nothing (``_claim``)."""
    from flows.coordination import get_shared, set_shared

    period = queued_resend_after()
    waiting = Run.objects.filter(status=RunStatus.QUEUED, queued_at__lt=timezone.now() - period).exclude(
        flow_id__in=Run.objects.filter(status=RunStatus.RUNNING).values("flow_id")
    )
    if flow is not None:
        waiting = waiting.filter(flow=flow)
    count = 0
    for run in waiting:
        key = f"run-resent:{run.pk}"
        if get_shared(key):
            continue
        set_shared(key, "1", period.total_seconds())
        minutes = max(1, round((timezone.now() - run.queued_at).total_seconds() / 60))
        runlog.write(
            run,
            "warning",
            "run.resent",
            _(
                "Still waiting after %(minutes)s min with no run of its flow going: its task was sent "
                "again (the task queue may have lost it)."
            )
            % {"minutes": minutes},
        )
        _enqueue(run)
        count += 1
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
    return _execute_claimed(run)


def _execute_claimed(run: Run) -> Run:
    try:
        _Executor(run).execute()
    except Exception as exc:  # the run must never stay "running": record why it failed
        _record_failure_surely(run, exc)
    run.refresh_from_db()
    _after_run(run)
    return run


# After a lost database connection: how long to keep trying to record the failure (a restart takes seconds).
DB_RECOVERY_WAITS = (0.5, 1, 2, 4, 8, 15)


def _record_failure_surely(run: Run, exc: Exception) -> None:
    """Record the failure; when the database connection itself died (a restart, a failover), on a new
    connection as soon as the database answers again — otherwise the run would look "running" until
    the reaper took its silent worker for dead."""
    waits = () if connection.in_atomic_block else DB_RECOVERY_WAITS  # (a test's transaction: no retry)
    for wait in (None, *waits):
        if wait is not None:
            time.sleep(wait)
            connections.close_all()  # a broken connection is never reused; the next query opens one
        try:
            _record_failure(run, exc)
            return
        except (OperationalError, InterfaceError) as db_exc:
            logger.warning("Run %s: its failure could not be recorded yet (%s)", run.pk, db_exc)
    _record_failure(run, exc)  # the database is still away: this raises, the reaper marks the run later


def _record_failure(run: Run, exc: Exception) -> None:
    logger.exception("Run %s of flow %s failed", run.pk, run.flow_id, exc_info=exc)
    if isinstance(exc, ConnectorError):
        message = exc.message
    elif isinstance(exc, OperationalError | InterfaceError):
        message = _(
            "The hub's database connection was lost during the run (%(e)s); what was committed is kept, "
            "the next run reads again what was not."
        ) % {"e": str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__}
    else:
        message = _("Unexpected error: %(e)s") % {"e": exc}
    runlog.write(
        run,
        "error",
        "run.failed",
        _("Failed: %(message)s") % {"message": message},
        error=getattr(exc, "kind", type(exc).__name__),
        http_status=getattr(exc, "status", None),
        reason=getattr(exc, "reason", None),
    )
    Run.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, finished=timezone.now(), message=str(message)[:4000]
    )


# --- fan-out: one read of a source entity for every flow that reads it on the same trigger --------------


def fanout_key(flow: Flow) -> tuple | None:
    """Flows with the same key read the same source entity at the same moments: they share one read.

    ``(source system id, source entity, trigger, interval or cron, cursor field)`` for enabled flows on
    an interval or a cron; None for the others (they always run alone)."""
    from flows.choices import Trigger

    if not flow.enabled or flow.trigger not in (Trigger.INTERVAL, Trigger.CRON):
        return None
    spec = flow.interval_minutes if flow.trigger == Trigger.INTERVAL else flow.cron
    if not spec:
        return None
    return (flow.source_system_id, flow.source_entity, flow.trigger, str(spec), flow.cursor_field or "")


def fanout_members(key: tuple) -> list[Flow]:
    system_id, entity, trigger, _spec, _cursor = key
    candidates = Flow.objects.filter(
        source_system_id=system_id, source_entity=entity, trigger=trigger, enabled=True
    ).order_by("pk")
    return [flow for flow in candidates if fanout_key(flow) == tuple(key)]


def run_fanout(key: tuple, *, trigger: str = RunTrigger.SCHEDULE) -> list[Run]:
    """A group's trigger fired: queue a run of each member and start the new ones together, in one task
    that reads the source once (members already waiting keep their own turn)."""
    from django_q.tasks import async_task

    started = []
    for flow in fanout_members(key):
        try:
            run, created = request_run(flow, trigger=trigger, enqueue=False)
        except RunRefused as exc:
            logger.warning("Flow %s not run with its fan-out group: %s", flow.pk, exc)
            continue
        if created:
            started.append(run)
    if started:
        ids = [run.pk for run in started]
        transaction.on_commit(
            lambda: async_task("flows.tasks.run_group", ids, task_name=f"runs {','.join(map(str, ids))}")
        )
    return started


def execute_group(run_ids: list[int]) -> list[Run]:
    """Run several flows' queued runs over one read of their common source entity."""
    runs = [run for run in (_claim(pk) for pk in run_ids) if run is not None]
    if len(runs) <= 1:
        return [_execute_claimed(run) for run in runs]
    _Group(runs).execute()
    done = []
    for run in runs:
        run.refresh_from_db()
        _after_run(run)
        done.append(run)
    return done


class _Group:
    """Members share the source connector and its pages; each keeps its own mapping, target, links,
    counters, failures and cursor. The read starts from the lowest committed cursor of the group (from
    the start when one member reads everything); each member skips what its own cursor already covers.
    A member that fails, or is cancelled, leaves the group; the others go on."""

    def __init__(self, runs: list[Run]):
        self.runs = runs

    def execute(self) -> None:
        members, alone = [], []
        for run in self.runs:
            try:
                member = _Executor(run)
                member._resume_point()
            except Exception as exc:
                _record_failure(run, exc)
                continue
            # An interrupted member resumes its own read; chosen-records-only runs read nothing.
            (alone if run.resume or not run.read_all else members).append(member)
        for member in alone:
            self._alone(member)
        if not members:
            return
        first = members[0]
        source = first.source_system.get_connector()
        cancelled = {}
        active = []
        try:
            for member in members:
                try:
                    member.target = member.target_system.get_connector()
                    member.prepare(source)
                    cancelled[member] = member.run_chosen(source)
                except Exception as exc:
                    self._drop(member, exc)
                    continue
                if not cancelled[member]:
                    active.append(member)
            bounds = [m.run.cursor_before for m in active]
            since = "" if not all(bounds) else min(bounds)
            complete = False
            if active:
                for page in source.read(first.source_entity, since=since or None):
                    for member in list(active):
                        try:
                            stop = member.take_page(self._part_for(member, page))
                        except Exception as exc:
                            active.remove(member)
                            self._drop(member, exc)
                            continue
                        if stop:
                            cancelled[member] = True
                            active.remove(member)
                    source.commit(first.source_entity, page.cursor)
                    if not active:
                        break
                else:
                    complete = True
            for member in active:
                member.end_read(complete)
        except Exception as exc:  # the shared read failed: every member still reading fails
            for member in active:
                if not getattr(member, "dropped", False):
                    self._drop(member, exc)
        finally:
            source.close()
            for member in members:
                target = getattr(member, "target", None)
                if target is not None:
                    target.close()
        for member in members:
            if not getattr(member, "dropped", False):
                member._finish(cancelled.get(member, False))

    @staticmethod
    def _part_for(member, page) -> Page:
        """The page as this member sees it: without the records its own cursor already covers."""
        bound = member.run.cursor_before
        if not bound or member.cursor_path is None:
            return page
        records = [r for r in page.records if _cursor_value(member.cursor_path.get(r)) >= bound]
        return Page(records=records, cursor=page.cursor, has_more=page.has_more, errors=page.errors)

    @staticmethod
    def _drop(member, exc: Exception) -> None:
        member.dropped = True
        _record_failure(member.run, exc)

    @staticmethod
    def _alone(member) -> None:
        try:
            member.execute()
        except Exception as exc:
            _record_failure(member.run, exc)


def _after_run(run: Run) -> None:
    _publish(run)
    try:
        from monitoring import triage

        triage.resolve_delivered(run.flow)  # groups whose every record went through
    except Exception:
        logger.exception("Error groups after run %s", run.pk)
    try:
        policy.after_run(run)  # may pause the flow after failed runs in a row, with an alert
    except Exception:
        logger.exception("Failure policy after run %s", run.pk)
    from monitoring import alerts  # monitoring builds on flows: imported here, not at the top

    alerts.evaluate_after_run(run)  # the alert rules covering this flow (never raises)
    start_queued(run.flow_id)
    if run.status == RunStatus.SUCCEEDED:
        for follower in Flow.objects.filter(after_flow_id=run.flow_id, enabled=True):
            try:
                request_run(follower, trigger=RunTrigger.CHAIN)
            except RunRefused as exc:
                logger.warning("Chained flow %s not started: %s", follower.pk, exc)


_CANONICAL = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"))
# The C encoder ``_CANONICAL.encode`` would build for every record, built once (the same arguments,
# without the circular-reference bookkeeping a mapped record never needs): a third of the cost.
_FAST_CANONICAL = (
    c_make_encoder(None, _CANONICAL.default, encode_basestring_ascii, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)


def canonical(record: dict) -> str:
    """The mapped record as canonical JSON: what is hashed, and kept as the link's last values."""
    if _FAST_CANONICAL is not None and type(record) is dict:
        try:
            return "".join(_FAST_CANONICAL(record, 0))
        except Exception:  # noqa: S110 - the reference encoder below gives the same text or error
            pass
    return json.dumps(record, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)


def record_hash(record: dict) -> str:
    return hashlib.sha256(canonical(record).encode()).hexdigest()


def _leaves(value, prefix: str = "") -> dict:
    if isinstance(value, dict) and value:
        found = {}
        for key, item in value.items():
            found.update(_leaves(item, f"{prefix}.{key}" if prefix else str(key)))
        return found
    return {prefix: value}


def field_changes(old: dict, new: dict) -> list[dict]:
    """The fields (dotted paths) whose value differs between two mapped records, with both values."""
    before, after = _leaves(old or {}), _leaves(new or {})
    return [
        {"field": name, "old": before.get(name), "new": after.get(name)}
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    ]


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


def _run_column(name: str) -> str:
    """A ``Run`` field's column, quoted for raw SQL."""
    return connection.ops.quote_name(Run._meta.get_field(name).column)


_crash_counts: dict[str, int] = {}


@contextmanager
def _bound_cursor():
    """A cursor for many rows of one statement. PostgreSQL: psycopg's server-side binding (the values
    travel apart from the text; nothing prepared, as Django leaves it) — Django's cursors bind on
    the client, quoting every value of every row into a statement of its own: the links of a page
    of 100 took 3.9 ms of CPU, 2.2 ms so. Same connection, same transaction. Errors come as Django's
    (``django.db.OperationalError``…), as through its own cursors: the recovery from a lost
    connection (``_record_failure_surely``) and the callers' handlers catch those."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    import psycopg

    with connection.wrap_database_errors:
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            yield cursor


def _crash_point(name: str) -> None:
    """Test-only: ``HUB_TEST_CRASH_AT=<point>[:<nth>]`` kills this process (SIGKILL, no cleanup) the
    nth time the run passes ``point`` — how the crash tests reach the worst moments of a run."""
    wanted = os.environ.get("HUB_TEST_CRASH_AT")
    if not wanted:
        return
    point, _sep, nth = wanted.partition(":")
    if point != name:
        return
    _crash_counts[name] = _crash_counts.get(name, 0) + 1
    if _crash_counts[name] == int(nth or 1):
        logger.warning("HUB_TEST_CRASH_AT=%s: killing this worker now", wanted)
        os.kill(os.getpid(), signal.SIGKILL)


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
        mode = self.definition.get("write_mode")
        self.create_only = mode == FlowWriteMode.CREATE
        self.write_mode = (
            WriteMode.UPSERT if mode in (FlowWriteMode.UPSERT, FlowWriteMode.MIRROR) else WriteMode(mode)
        )
        self.mirror = mode == FlowWriteMode.MIRROR
        # Echo suppression: with an opposite flow (target → source on the same entities), what this
        # flow would write may be what the other flow just wrote there; it is compared with the
        # target's current values first and not written back when equal.
        self.echo_check = Flow.objects.filter(
            source_system=self.target_system,
            source_entity=self.target_entity,
            target_system=self.source_system,
            target_entity=self.source_entity,
        ).exists()
        self.mapped_paths = [parse_path(m["target"]) for m in self.definition.get("mappings") or []]
        # Values and changes kept on the links are encrypted when the flow maps personal data.
        self.personal = any(m.get("personal") for m in self.definition.get("mappings") or [])
        self.echoes = 0
        self.reconciled = 0  # records found already in the target (written by an interrupted run)
        self.open_failures = FailedRecord.objects.filter(
            flow=self.flow, status__in=["open", "retrying"]
        ).exists()
        self.deletes_held = 0  # mirror deletes not made: too many at once to be a real deletion
        self.transient_pages = 0
        self.cancel_seen = False  # set by each page's counters update (``_count_page``)
        self.log = runlog.RunLog(run)  # the run's structured log, written with each page's commit
        self.page_number = 0
        self.lookup_paths = lookup.paths_of(self.definition)  # identifying values, hashed for Trace
        self.source_lookup_paths = lookup.source_paths_of(self.definition)
        # The GDPR suppression list (keyed hashes of erased persons' e-mails and phones): a record that
        # carries one is left out and counted ``suppressed``.
        self.suppressed_keys = suppression.active_keys()
        self.suppress_paths = suppression.paths_of(self.definition) if self.suppressed_keys else []
        self.suppress_hits: dict[str, int] = {}
        self.consent_path = suppression.consent_path(self.flow.pk)
        self.lookups: dict[str, dict] = {}  # source id → its mapped record, for the page being written
        self.page_links: dict[str, tuple] = {}  # source id → (target id, last hash) linked at its read
        self.page_mark = time.monotonic()

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
        """Where the read starts: an interrupted run's last committed page, a backfill bound, else the
        flow's cursor."""
        run = self.run
        previous = self.flow.runs.exclude(pk=run.pk).filter(status__in=FINISHED).order_by("-pk").first()
        if (
            previous is not None
            and previous.status == RunStatus.INTERRUPTED
            and previous.read_all
            and run.read_all
            and not run.full
            and not run.backfill_from
            and previous.version_id == run.version_id
        ):
            run.resume = previous.resume
            run.cursor_before = previous.cursor_before
            run.cursor_after = previous.cursor_after
        else:
            incremental = self.definition.get("sync_mode") == SyncMode.INCREMENTAL
            if run.backfill_from:
                run.cursor_before = run.backfill_from
            else:
                run.cursor_before = self.flow.sync_cursor if incremental and not run.full else ""
            run.cursor_after = run.cursor_before
            run.resume = ""
        Run.objects.filter(pk=run.pk).update(
            resume=run.resume, cursor_before=run.cursor_before, cursor_after=run.cursor_after
        )
        self._log_start()

    def _chosen_ids(self) -> list[str]:
        """The run's chosen records, plus the failures waiting for a retry (replayed, or transient)."""
        waiting = FailedRecord.objects.filter(flow=self.flow).exclude(source_id="")
        waiting = waiting.filter(status=FailedRecord.Status.RETRYING) | waiting.filter(
            status=FailedRecord.Status.OPEN, error_class__in=["transient", "rate_limited"]
        )
        return list(dict.fromkeys([*self.run.record_ids, *waiting.values_list("source_id", flat=True)]))

    def execute(self) -> None:
        run = self.run
        self._resume_point()
        source = self.source_system.get_connector()
        target = self.target_system.get_connector()
        self.target = target
        try:
            self.prepare(source)
            cancelled = self.run_chosen(source)
            read_ok = False
            if run.read_all and not cancelled:
                pages = source.read(
                    self.source_entity, cursor=run.resume or None, since=run.cursor_before or None
                )
                for page in pages:
                    cancelled = self.take_page(page)
                    source.commit(self.source_entity, page.cursor)
                    if cancelled:
                        break
                else:
                    read_ok = True
            self.end_read(read_ok and not cancelled)
        finally:
            source.close()
            target.close()
        self._finish(cancelled)

    # The steps of a run, also driven by a fan-out group (``_Group``) for several flows at once.

    def prepare(self, source) -> None:
        """Resolve the paths and keys of both entities (no network)."""
        run, target = self.run, self.target
        entity = source.entity(self.source_entity)
        self.id_path = parse_path(entity.id_field or "id")
        # Mirror: a record the source retired (its tombstone) has its linked target record deleted.
        self.tombstone = entity.tombstone if self.mirror else None
        cursor_field = self.definition.get("cursor_field") or entity.cursor_field
        self.cursor_path = parse_path(cursor_field) if cursor_field else None
        target_entity = target.entity(self.target_entity)
        self.target_id_path = parse_path(target_entity.id_field or "id")
        target_key = self.definition.get("target_key")
        self.target_key_path = parse_path(target_key) if target_key else None
        key, how = reconcile_key(self.definition, target_entity)
        self.key = key
        self.key_path = parse_path(key) if key else None
        self.stamp = how == "reference"
        # The engine looks unlinked records up itself when the connector cannot match them: a
        # create-only write, or the hub's own reference.
        self.look_up = bool(key) and (self.create_only or self.stamp)
        if not how and self.definition.get("write_mode") != FlowWriteMode.UPDATE:
            self.log.add("warning", "idempotency.risk", idempotency_problem(self.definition, target_entity))
        self.compiled.reset_run()
        # Mirror deletes need a read of everything from the start: a link no page mentioned then is a
        # record deleted in the source.
        self.whole = run.read_all and not run.resume and not run.cursor_before

    def run_chosen(self, source) -> bool:
        """Fetch and write the chosen records (and the failures waiting for a retry); True if the run
        was cancelled meanwhile."""
        chosen = self._chosen_ids()
        for start in range(0, len(chosen), FETCH_CHUNK):
            self._chosen_page(source, self.target, chosen[start : start + FETCH_CHUNK])
            if self._cancel_requested():
                return True
        return False

    def take_page(self, page) -> bool:
        """One page of the read; True when the run was asked to stop."""
        run = self.run
        _crash_point("page_read")
        if page.total is not None and run.expected is None:
            run.refresh_from_db(fields=["read"])
            run.expected = run.read + page.total  # the chosen records read first, and these
            Run.objects.filter(pk=run.pk).update(expected=run.expected)
        self._page(page, self.target)
        _crash_point("page_committed")
        return self._cancel_requested()

    def end_read(self, complete: bool) -> None:
        """After the last page: a complete whole read of a mirror flow deletes what the source lost."""
        if self.mirror and self.whole and complete:
            self._mirror_deletes(self.target)

    def _cancel_requested(self) -> bool:
        """Whether the run was asked to stop, as the last page's counters update read it."""
        return self.cancel_seen

    def _chosen_page(self, source, target, ids: list[str]) -> None:
        records = source.fetch(self.source_entity, ids)
        found = {_cursor_value(self.id_path.get(r)) for r in records}
        gone = [i for i in ids if i not in found]
        if gone:  # deleted from the source since: nothing left to deliver
            FailedRecord.objects.filter(
                flow=self.flow, source_id__in=gone, status__in=["open", "retrying"]
            ).update(
                status=FailedRecord.Status.IGNORED, message=_("The record no longer exists in the source.")
            )
        self._page(Page(records=records), target, chosen=True)

    # --- one page -----------------------------------------------------------------------------------

    def _page(self, page, target, *, chosen: bool = False) -> None:
        """Map, compare, write and commit one page. ``chosen``: records asked for by id — written even
        when unchanged, and they move neither the cursor nor the resume position."""
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
        texts = {}  # source id → the mapped record as canonical JSON
        retired = []  # mirror: source ids of records the source retired
        self.lookups = {}
        # The loop runs for every record: what it reads on ``self`` is read once per page.
        id_get = self.id_path.get
        cursor_get = self.cursor_path.get if self.cursor_path is not None and not chosen else None
        tombstone, consent_path = self.tombstone, self.consent_path
        map_record = self.compiled.map
        lookups = self.lookups if self.lookup_paths else None
        for record in page.records:
            counts["read"] += 1
            source_id = id_get(record)
            if type(source_id) is not str:
                source_id = _cursor_value(source_id)
            if cursor_get is not None:
                high = max(high, _cursor_value(cursor_get(record)))
            if tombstone is not None and record.get(tombstone[0]) == tombstone[1]:
                retired.append(source_id)
                continue
            if consent_path is not None and not suppression.granted(consent_path.get(record)):
                # Consent-based purpose: no consent, not sent; a withdrawal deletes what was sent.
                retired.append(source_id)
                continue
            mapped = map_record(record)
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
            if self.suppress_paths and self._suppressed(out):
                counts["suppressed"] += 1
                continue
            text = canonical(out)
            texts[source_id] = text
            if lookups is not None:
                lookups[source_id] = out  # hashed only if written (``_upsert_links``)
            candidates.append((source_id, record, out, hashlib.sha256(text.encode()).hexdigest()))
        # source id → (target id, last hash): plain values, not model instances (a page has thousands).
        links = self._page_links([c[0] for c in candidates if c[0]])
        self.page_links = links
        now = timezone.now()
        link_rows = []
        to_write = []
        for source_id, record, out, digest in candidates:
            link = links.get(source_id)
            if link is not None and (self.create_only or (link[1] == digest and not chosen)):
                counts["unchanged"] += 1  # a create-only flow never rewrites what it created
                continue
            if link is not None and self.definition.get("match_strategy") == MatchStrategy.LINKS:
                self.target_id_path.set(out, link[0])
            if self.stamp:
                self.key_path.set(out, self.reference(source_id))
            to_write.append((source_id, record, out, digest))
        results = []
        try:
            to_write = self._reconcile(to_write, links, counts, link_rows, target)
            if self.echo_check and to_write:
                to_write = self._suppress_echoes(to_write, links, counts, link_rows, target)
            if to_write:
                results = target.write(self.target_entity, [w[2] for w in to_write], self.write_mode)
            self.transient_pages = 0
        except TransientError as exc:
            # The target stayed unreachable through the client's retries: the page's records wait in
            # the failed records (retried by the next run), the run goes on — unless it keeps failing.
            self.transient_pages += 1
            self._log_transient(exc, len(to_write))
            results = [WriteResult.failed(exc)] * len(to_write)
        _crash_point("after_write")
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
            target_id = result.target_id or (links[source_id][0] if source_id in links else "")
            if not target_id and self.target_key_path is not None:
                target_id = _cursor_value(self.target_key_path.get(out))
            if source_id and target_id:
                link_rows.append((source_id, str(target_id), digest))
        link_rows = self._with_values(link_rows, texts, updated={w[0] for w in to_write if w[0] in links})
        if retired:
            self._delete_retired(retired, counts, failures, target)
        seen = []
        if self.mirror and self.whole and not chosen:
            seen = [_cursor_value(self.id_path.get(r)) for r in page.records]
        self._commit(page, counts, failures, link_rows, high, now, chosen=chosen, seen=seen)
        if self.transient_pages >= TRANSIENT_PAGES:
            raise TransientError(
                _("%(system)s kept failing for %(n)s pages in a row; the run stopped. Last error: %(e)s")
                % {"system": self.target_system.name, "n": self.transient_pages, "e": results[0].error}
            )

    def _suppressed(self, out: dict) -> bool:
        """Whether the mapped record carries an erased person's identifier (counted per key)."""
        hits = [k for k in lookup.keys_of(out, self.suppress_paths).split() if k in self.suppressed_keys]
        for key in hits:
            self.suppress_hits[key] = self.suppress_hits.get(key, 0) + 1
        return bool(hits)

    def _suppress_echoes(self, to_write, links, counts, link_rows, target):
        """Leave out the records whose mapped values the target already holds (an opposite flow wrote
        them): counted unchanged, their link's hash updated — one read of the target per page."""
        from flows.designer import same_value

        wanted = {}  # target id or natural key value → record to write
        by_key = []
        for item in to_write:
            source_id, _record, out, _digest = item
            if source_id in links:
                wanted[("id", str(links[source_id][0]))] = item
            elif self.key_path is not None and self.key_path.get(out) not in (None, ""):
                wanted[("key", str(self.key_path.get(out)))] = item
                by_key.append(str(self.key_path.get(out)))
        current = {}
        ids = [value for kind, value in wanted if kind == "id"]
        if ids:
            for record in target.fetch(self.target_entity, ids):
                current[("id", _cursor_value(self.target_id_path.get(record)))] = record
        if by_key:
            for record in target.lookup(self.target_entity, self.key, by_key):
                current.setdefault(("key", str(self.key_path.get(record))), record)
        echoes = set()
        for ref, item in wanted.items():
            record = current.get(ref)
            if record is None:
                continue
            out = item[2]
            if all(same_value(path.get(record), path.get(out)) for path in self.mapped_paths):
                echoes.add(item[0])
                counts["unchanged"] += 1
                link_rows.append((item[0], _cursor_value(self.target_id_path.get(record)), item[3]))
        self.echoes += len(echoes)
        return [item for item in to_write if item[0] not in echoes]

    def reference(self, source_id: str) -> str:
        """The hub's own reference stamped on a record it writes (found again after a crash)."""
        return f"hub:{self.source_system.slug}:{self.source_entity}:{source_id}"[:255]

    def _reconcile(self, to_write, links, counts, link_rows, target):
        """Find in the target the unlinked records an interrupted run may have written already.

        Only when the connector cannot match them itself (a create-only write, the hub's reference):
        a record found is linked — and, create-only, not written again; otherwise updated in place."""
        if not self.look_up:
            return to_write
        unlinked = [w for w in to_write if w[0] not in links]
        keys = {
            str(self.key_path.get(w[2])): w for w in unlinked if self.key_path.get(w[2]) not in (None, "")
        }
        if not keys:
            return to_write
        found = {}
        for record in target.lookup(self.target_entity, self.key, list(keys)):
            found.setdefault(str(self.key_path.get(record)), _cursor_value(self.target_id_path.get(record)))
        remaining = []
        for item in to_write:
            source_id, record, out, digest = item
            target_id = found.get(str(self.key_path.get(out))) if source_id not in links else None
            if not target_id:
                remaining.append(item)
                continue
            self.reconciled += 1
            if self.create_only:
                counts["unchanged"] += 1
                link_rows.append((source_id, target_id, digest))
                continue
            self.target_id_path.set(out, target_id)
            remaining.append(item)
        return remaining

    def _links(self):
        """This flow's pair of entities: every link from its source entity to its target entity."""
        return RecordLink.objects.filter(
            source_system=self.source_system,
            source_entity=self.source_entity,
            target_system=self.target_system,
            target_entity=self.target_entity,
        )

    def _page_links(self, source_ids: list[str]) -> dict[str, tuple[str, str]]:
        """``{source id: (target id, last hash)}`` of the page's linked records: one raw query per
        chunk of ids (the ORM's ``__in`` prepares each of a page's thousand values in Python)."""
        table = connection.ops.quote_name(RecordLink._meta.db_table)
        fixed = [self.source_system.pk, self.source_entity, self.target_system.pk, self.target_entity]
        found = {}
        with connection.cursor() as cursor:
            for start in range(0, len(source_ids), LINK_CHUNK):
                chunk = source_ids[start : start + LINK_CHUNK]
                # The table name is the model's own; every value is a parameter.
                cursor.execute(
                    f"SELECT source_id, target_id, last_hash FROM {table} "  # noqa: S608
                    "WHERE source_system_id = %s AND source_entity = %s AND target_system_id = %s "
                    f"AND target_entity = %s AND source_id IN ({', '.join(['%s'] * len(chunk))})",
                    [*fixed, *chunk],
                )
                for source_id, target_id, last_hash in cursor.fetchall():
                    found[source_id] = (target_id, last_hash)
        return found

    def _with_values(self, link_rows, texts, *, updated) -> list[tuple]:
        """Add to each link row the mapped values written and, for an update, the field-level changes
        from the values the link kept (read here only for the records that changed)."""
        before = {}
        if updated:
            before = dict(
                self._links()
                .filter(source_id__in=[row[0] for row in link_rows if row[0] in updated])
                .exclude(last_values="")
                .values_list("source_id", "last_values")
            )
        rows = []
        for source_id, target_id, digest in link_rows:
            text = texts.get(source_id, "")
            changes = ""
            if source_id in before and text:
                old = stored_json(before[source_id])
                if old is not None:
                    changes = json.dumps(field_changes(old, json.loads(text)), cls=DjangoJSONEncoder)
            rows.append(
                (
                    source_id,
                    target_id,
                    digest,
                    store_json(text, personal=self.personal),
                    store_json(changes, personal=self.personal),
                )
            )
        return rows

    def _upsert_links(self, link_rows, now) -> None:
        """The page's links in one or two statements, on SQLite and PostgreSQL alike: the ORM's bulk
        upsert costs twice as much building a model instance per link.

        Links the page read found (``page_links``) are upserted; the others are inserted with ``ON
        CONFLICT DO NOTHING`` — with foreign keys enforced, SQLite takes three times longer over an
        ``ON CONFLICT DO UPDATE`` that inserts than over one that skips. Should any of them have been
        linked meanwhile (another flow of the same pair of entities), the count of inserted rows says
        so and they are upserted too: the end state is always the upsert's."""
        table = connection.ops.quote_name(RecordLink._meta.db_table)
        stamp = connection.ops.adapt_datetimefield_value(now)
        # The table name is the model's own; every value is a parameter.
        insert = (
            f"INSERT INTO {table} (flow_id, source_system_id, source_entity, source_id, target_system_id, "  # noqa: S608
            "target_entity, target_id, last_hash, last_values, last_changes, last_run_id, last_synced, "
            "created, lookup_keys) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (source_system_id, source_entity, source_id, target_system_id, target_entity) "
        )
        upsert = insert + (
            "DO UPDATE SET flow_id = excluded.flow_id, target_id = excluded.target_id, "
            "last_hash = excluded.last_hash, last_values = excluded.last_values, "
            "last_changes = excluded.last_changes, last_run_id = excluded.last_run_id, "
            "lookup_keys = excluded.lookup_keys, "
            "last_synced = excluded.last_synced"
        )
        fixed = (self.flow.pk, self.source_system.pk, self.source_entity)
        target = (self.target_system.pk, self.target_entity)
        lookups, self.lookups = self.lookups, {}
        base = lookup.hasher() if lookups else None
        paths, run_id, known = self.lookup_paths, self.run.pk, self.page_links
        linked, new = [], []
        for source_id, target_id, digest, values, changes in link_rows:
            row = (
                *fixed,
                source_id[:255],
                *target,
                target_id[:255],
                digest,
                values,
                changes,
                run_id,
                stamp,
                stamp,
                lookup.keys_of(lookups[source_id], paths, base) if source_id in lookups else "",
            )
            (linked if source_id in known else new).append(row)
        with _bound_cursor() as cursor:
            if linked:
                cursor.executemany(upsert, linked)
            if new:
                cursor.executemany(insert + "DO NOTHING", new)
                if cursor.rowcount != len(new):
                    cursor.executemany(upsert, new)

    def _commit(self, page, counts, failures, link_rows, high, now, *, chosen: bool = False, seen=()) -> None:
        run = self.run
        with transaction.atomic():
            if link_rows:
                self._upsert_links(link_rows, now)
            if getattr(self, "retired_links", None):
                self._links().filter(source_id__in=self.retired_links).delete()
                self.retired_links = []
            if seen:  # mirror: the records this read met still exist in the source
                self._links().filter(source_id__in=seen).exclude(last_run=run).update(last_run=run)
            delivered = [row[0] for row in link_rows]
            if delivered and self.open_failures:  # a record that now went through closes its failure
                FailedRecord.objects.filter(
                    flow=self.flow, source_id__in=delivered, status__in=["open", "retrying"]
                ).update(status=FailedRecord.Status.RESOLVED)
            saved = [self._fail(failure) for failure in failures]
            if saved:  # the triage inbox groups them by signature (monitoring.triage)
                from monitoring import triage

                triage.record_failures(self.flow, saved)
            if high:
                run.cursor_after = max(run.cursor_after or "", high)
            if not chosen:
                run.resume = page.cursor or ""
            self._count_page(counts, now)
            self._log_page(counts, chosen=chosen, cursor=page.cursor)
            if self.suppress_hits:
                hits, self.suppress_hits = self.suppress_hits, {}
                suppression.report_hits(hits)
        self._progress()

    def _count_page(self, counts: dict, now) -> None:
        """Add the page's counters to the run, with its resume position, cursor and heartbeat: one raw
        statement (the ORM compiles this ten-expression update anew for every page)."""
        run = self.run
        column = {name: _run_column(name) for name in [*counts, "pages"]}
        sets = ", ".join(f"{c} = {c} + %s" for c in column.values())
        table = connection.ops.quote_name(Run._meta.db_table)
        resume, cursor_after, heartbeat = (_run_column(n) for n in ("resume", "cursor_after", "heartbeat"))
        # Every name is one of the model's own columns; every value is a parameter.
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {sets}, {resume} = %s, {cursor_after} = %s, {heartbeat} = %s "  # noqa: S608
                f"WHERE id = %s RETURNING {_run_column('cancel_requested')}",
                [
                    *counts.values(),
                    1,
                    run.resume,
                    run.cursor_after,
                    connection.ops.adapt_datetimefield_value(now),
                    run.pk,
                ],
            )
            # Asked to stop? Read by the same statement, not by a query of its own per page.
            row = cursor.fetchone()
            self.cancel_seen = bool(row and row[0])

    def _failure_keys(self, failure: dict) -> str:
        """The keyed hashes of a failed record's identifying values, mapped and source side."""
        keys = []
        if isinstance(failure.get("mapped"), dict) and self.lookup_paths:
            keys.append(lookup.keys_of(failure["mapped"], self.lookup_paths))
        if isinstance(failure.get("source"), dict) and self.source_lookup_paths:
            keys.append(lookup.keys_of(failure["source"], self.source_lookup_paths))
        return " ".join(dict.fromkeys(" ".join(keys).split()))

    def _fail(self, failure: dict) -> FailedRecord:
        self.open_failures = True
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
        record.lookup_keys = self._failure_keys(failure)
        record.save()
        return record

    def _delete_retired(self, retired, counts, failures, target) -> None:
        """Delete the linked target records of source records retired in this page; an unlinked one was
        never sent (counted filtered out). The links go in the page's commit."""
        linked = dict(self._links().filter(source_id__in=retired).values_list("source_id", "target_id"))
        counts["filtered"] += len(retired) - len(linked)
        if not linked:
            return
        try:
            results = target.delete(self.target_entity, list(linked.values()))
        except TransientError as exc:
            results = [WriteResult.failed(exc)] * len(linked)
        gone = []
        for source_id, result in zip(linked, results, strict=True):
            if result.ok:
                counts["deleted"] += 1
                gone.append(source_id)
            else:
                counts["failed"] += 1
                failures.append(
                    {"source_id": source_id, "stage": "delete", "error": result.error, "source": None,
                     "mapped": None}
                )  # fmt: skip
        self.retired_links = gone

    def _mirror_deletes(self, target) -> None:
        """Delete in the target the linked records this whole read did not meet (deleted in the source).

        Held back, with a message, when that would remove more than half of the linked records: a
        source that answers an empty list by mistake must not empty the target."""
        stale = self._links().exclude(last_run=self.run)
        count = stale.count()
        total = self._links().count()
        confirmed = self.run.trigger == RunTrigger.RESYNC and self.run.requested_by_id is not None
        if count > 10 and count * 2 > total and not confirmed:
            self.deletes_held = count
            return
        ids = list(stale.values_list("pk", "source_id", "target_id").order_by("pk"))
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start : start + FETCH_CHUNK]
            try:
                results = target.delete(self.target_entity, [target_id for _pk, _s, target_id in chunk])
            except TransientError as exc:
                results = [WriteResult.failed(exc)] * len(chunk)
            counts = dict.fromkeys(COUNTERS, 0)
            gone, failures = [], []
            for (pk, source_id, _target_id), result in zip(chunk, results, strict=True):
                if result.ok:
                    gone.append(pk)
                    counts["deleted"] += 1
                else:
                    counts["failed"] += 1
                    failures.append(
                        {"source_id": source_id, "stage": "delete", "error": result.error, "source": None,
                         "mapped": None}
                    )  # fmt: skip
            with transaction.atomic():
                RecordLink.objects.filter(pk__in=gone).delete()
                saved = [self._fail(failure) for failure in failures]
                if saved:
                    from monitoring import triage

                    triage.record_failures(self.flow, saved)
                Run.objects.filter(pk=self.run.pk).update(
                    **{name: F(name) + value for name, value in counts.items() if value},
                    heartbeat=timezone.now(),
                )
            self._progress()

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
        if self.deletes_held:
            held = _(
                "Mirror: %(n)s linked records were not in the source, more than half of them — deleting "
                "them was held back. If the source really deleted them, a full resync started by a person "
                "deletes them."
            ) % {"n": self.deletes_held}
            message = f"{message} {held}".strip()
        if self.reconciled:
            found = _(
                "%(n)s records written by an interrupted run were found in the target and linked, "
                "not written twice."
            ) % {"n": self.reconciled}
            message = f"{message} {found}".strip()
        with transaction.atomic():
            Run.objects.filter(pk=run.pk).update(
                status=status,
                finished=timezone.now(),
                resume="" if not cancelled else run.resume,
                message=message,
            )
            cursor = max(run.cursor_after or "", self.flow.sync_cursor or "")
            if not cancelled and run.read_all and cursor != self.flow.sync_cursor:
                Flow.objects.filter(pk=self.flow.pk).update(sync_cursor=cursor)
            self._log_end(run, status, message)

    # --- the run's structured log (``flows.runlog``) -------------------------------------------------

    def _log_start(self) -> None:
        run = self.run
        incremental = bool(run.cursor_before) and not run.full
        if run.resume:
            how = _("resuming an interrupted run")
        elif run.backfill_from:
            how = _("backfill")
        else:
            how = _("incremental read") if incremental else _("full read")
        self.log.add(
            "info",
            "run.started",
            _("Started (%(trigger)s, version %(version)s, %(how)s).")
            % {"trigger": run.get_trigger_display(), "version": run.version.number, "how": how},
            trigger=run.trigger,
            version=run.version.number,
            mode="incremental" if incremental else "full",
            cursor_before=run.cursor_before,
            resume=bool(run.resume),
            chosen=len(run.record_ids or []),
            worker=run.worker,
        )
        self.log.flush()
        self.page_mark = time.monotonic()

    def _log_page(self, counts: dict, *, chosen: bool, cursor) -> None:
        """One line per committed page, written in the page's transaction."""
        now = time.monotonic()
        duration, self.page_mark = now - self.page_mark, now
        self.page_number += 1
        self.log.add(
            "warning" if counts.get("failed") else "info",
            "page.committed",
            _("Page %(n)s committed: %(read)s read, %(created)s created, %(updated)s updated, %(unchanged)s "
              "unchanged, %(filtered)s filtered out, %(failed)s failed.")
            % {"n": self.page_number, **counts}
            + (
                " " + _("%(n)s left out: erased persons (GDPR suppression list).") % {"n": counts["suppressed"]}
                if counts.get("suppressed")
                else ""
            ),
            page=self.page_number,
            chosen=chosen or None,
            duration_ms=round(duration * 1000),
            cursor_after=self.run.cursor_after,
            **{name: value for name, value in counts.items() if value},
        )  # fmt: skip
        self.log.flush()

    def _log_transient(self, exc: TransientError, records: int) -> None:
        breaker = getattr(exc, "reason", "") == "breaker"
        self.log.add(
            "warning",
            "breaker.refused" if breaker else "page.transient",
            (
                _("%(system)s's circuit breaker is open: %(n)s records wait for the next run.")
                if breaker
                else _("%(system)s did not answer through the retries: %(n)s records wait for the next run.")
            )
            % {"system": self.target_system.name, "n": records},
            http_status=getattr(exc, "status", None),
            reason=getattr(exc, "reason", None),
            error=str(exc)[:300],
            in_a_row=self.transient_pages,
        )

    def _log_end(self, run: Run, status: str, message: str) -> None:
        if self.reconciled:
            self.log.add("warning", "idempotency.reconciled", message, reconciled=self.reconciled)
        if self.deletes_held:
            self.log.add("warning", "mirror.held", message, held=self.deletes_held)
        level = "warning" if status == RunStatus.PARTIAL else "info"
        event = "run.cancelled" if status == RunStatus.CANCELLED else "run.finished"
        self.log.add(
            level,
            event,
            _("%(status)s: %(read)s read, %(written)s written, %(failed)s failed, cursor %(cursor)s.")
            % {
                "status": RunStatus(status).label.capitalize(),
                "read": run.read,
                "written": run.written,
                "failed": run.failed,
                "cursor": run.cursor_after or "—",
            },
            status=status,
            pages=run.pages,
            cursor_before=run.cursor_before,
            cursor_after=run.cursor_after,
            echoes=self.echoes or None,
            **run.counters(),
        )
        self.log.flush()

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self.last_progress < PROGRESS_EVERY:
            return
        self.last_progress = now
        Run.objects.filter(pk=self.run.pk).update(heartbeat=timezone.now())
        self.run.refresh_from_db()
        _publish(self.run, now=True)


def _publish(run: Run, *, now: bool = False) -> None:
    payload = run.progress()
    send = realtime.send_now if now else realtime.publish
    for group in (realtime.object_group(Flow, run.flow_id), realtime.model_group(Flow)):
        send(group, "run.progress", payload)
