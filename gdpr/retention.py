"""Retention of the hub's own stores: one rule per store, a daily purge, each purge logged.

What a purge removes, per store (``HubStore``):

- runs: finished runs (and their log lines) older than the rule, except each flow's latest run;
- failed records: resolved or ignored ones whose last failure is older — never an open one;
- ID links: the values last written and the last changes are cleared; the link itself stays, since the
  sync engine needs it to stay idempotent (update the record it created instead of creating another);
- webhook events: received events older than the rule;
- audit log: entries older than the rule.

``purge_store`` deletes (or clears) in batches, each in its own transaction, then writes a ``PurgeLog``
row and an audit entry. The console's "purge now", the daily schedule and erasure all come here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.models import FailedRecord, RecordLink, Run, WebhookEvent
from flows.models.runs import FINISHED
from gdpr.models import PurgeLog, RetentionRule
from gdpr.models.choices import HubStore
from integration_hub import audit
from integration_hub.models.audit import AuditAction, AuditEntry

logger = logging.getLogger(__name__)

BATCH_SIZE = 500

# Sensible defaults (days), created once; the DPO changes them on the retention page.
DEFAULT_KEEP_DAYS = {
    HubStore.RUNS: 400,
    HubStore.FAILED_RECORDS: 180,
    HubStore.RECORD_LINKS: 180,
    HubStore.WEBHOOK_EVENTS: 30,
    HubStore.AUDIT: 3 * 365,
}


def ensure_rules(**kwargs) -> None:
    """Create the missing default rules; never changes a rule that exists (safe after every migrate)."""
    for store, days in DEFAULT_KEEP_DAYS.items():
        if not RetentionRule.objects.filter(store=store).exists():
            RetentionRule.objects.get_or_create(store=store, defaults={"keep_days": days})


def cutoff(rule: RetentionRule, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=rule.keep_days)


def purgeable(store: str, older_than: datetime) -> QuerySet:
    """The rows of ``store`` a purge at ``older_than`` removes (or, for ID links, clears)."""
    if store == HubStore.RUNS:
        latest = Run.objects.order_by().values("flow_id").annotate(last=Max("pk")).values("last")
        return (
            Run.objects.filter(status__in=FINISHED)
            .filter(Q(finished__lt=older_than) | Q(finished__isnull=True, queued_at__lt=older_than))
            .exclude(pk__in=latest)
        )
    if store == HubStore.FAILED_RECORDS:
        return FailedRecord.objects.filter(
            status__in=(FailedRecord.Status.RESOLVED, FailedRecord.Status.IGNORED), updated__lt=older_than
        )
    if store == HubStore.RECORD_LINKS:
        dated = Q(last_synced__lt=older_than) | Q(last_synced__isnull=True, created__lt=older_than)
        return RecordLink.objects.filter(dated).exclude(last_values="", last_changes="")
    if store == HubStore.WEBHOOK_EVENTS:
        return WebhookEvent.objects.filter(received__lt=older_than)
    if store == HubStore.AUDIT:
        return AuditEntry.objects.filter(time__lt=older_than)
    raise ValueError(f"unknown hub store {store!r}")


def count_purgeable(store: str, now: datetime | None = None) -> int:
    """How many rows a purge of ``store`` would remove now (the dry run the console shows)."""
    rule = RetentionRule.objects.get(store=store)
    return purgeable(store, cutoff(rule, now)).count()


def _purge_batch(store: str, pks: list[int]) -> None:
    if store == HubStore.RECORD_LINKS:
        RecordLink.objects.filter(pk__in=pks).update(last_values="", last_changes="")
    else:
        # A queryset delete: no per-row delete() (audit entries refuse one), cascades still apply.
        purgeable_model(store).objects.filter(pk__in=pks).delete()


def purgeable_model(store: str):
    return {
        HubStore.RUNS: Run,
        HubStore.FAILED_RECORDS: FailedRecord,
        HubStore.RECORD_LINKS: RecordLink,
        HubStore.WEBHOOK_EVENTS: WebhookEvent,
        HubStore.AUDIT: AuditEntry,
    }[store]


def purge_store(
    store: str, now: datetime | None = None, *, reason: str = "", batch_size: int = BATCH_SIZE, user=None
) -> PurgeLog:
    """Purge what the rule of ``store`` no longer keeps, in batches; log it (``PurgeLog`` + audit entry).

    Returns the ``PurgeLog`` row, written even when nothing was left to purge (the rule ran)."""
    now = now or timezone.now()
    rule = RetentionRule.objects.get(store=store)
    older_than = cutoff(rule, now)
    rows = 0
    while True:
        # The selection is re-read per batch: rows deleted by the last batch are gone from it.
        pks = list(purgeable(store, older_than).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not pks:
            break
        with transaction.atomic():
            _purge_batch(store, pks)
        rows += len(pks)
    reason = reason or _("retention rule: keep %(n)s days") % {"n": rule.keep_days}
    with transaction.atomic():
        log = PurgeLog.objects.create(store=store, rows=rows, older_than=older_than, reason=reason[:200])
        RetentionRule.objects.filter(pk=rule.pk).update(last_purge_at=log.time, last_purged=rows)
        verb = _("cleared the values of") if store == HubStore.RECORD_LINKS else _("deleted")
        audit.record(
            AuditAction.DELETE,
            log,
            message=_("Retention purge of %(store)s: %(verb)s %(n)s rows older than %(date)s (%(reason)s).")
            % {
                "store": rule.get_store_display(),
                "verb": verb,
                "n": rows,
                "date": timezone.localtime(older_than).strftime("%Y-%m-%d %H:%M"),
                "reason": reason,
            },
            user=user,
        )
    logger.info("retention purge", extra={"store": store, "rows": rows})
    return log


def purge_due(now: datetime | None = None) -> dict[str, int]:
    """Purge every enabled rule's store (the daily schedule's task). A failing store does not stop
    the others."""
    from integration_hub.context import acting_as

    ensure_rules()
    done = {}
    with acting_as(None, source="task:retention"):
        for rule in RetentionRule.objects.filter(enabled=True):
            try:
                done[rule.store] = purge_store(rule.store, now).rows
            except Exception:
                logger.exception("retention purge failed", extra={"store": rule.store})
    return done


# A "purge now" of more rows than this is queued for a worker rather than run during the request.
INLINE_LIMIT = 20_000


def purge_store_task(store: str, user_id: int | None, reason: str = "") -> int:
    """django-q2 task: ``purge_store`` on behalf of the user who asked (ids in, safe to run twice)."""
    from django.contrib.auth import get_user_model

    from integration_hub.context import acting_as

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    with acting_as(user, source="task:retention"):
        return purge_store(store, reason=reason, user=user).rows


def request_purge(store: str, user, reason: str = "") -> PurgeLog | None:
    """The "purge now" of the console and the API: at once when the purge is small, else queued for a worker
    (returns None then; the log row appears when it is done)."""
    if count_purgeable(store) <= INLINE_LIMIT:
        return purge_store(store, reason=reason, user=user)
    from django_q.tasks import async_task

    transaction.on_commit(
        lambda: async_task(
            "gdpr.retention.purge_store_task",
            store,
            getattr(user, "pk", None),
            reason,
            task_name=f"purge {store}",
        )
    )
    return None
