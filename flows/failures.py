"""Failed records of a flow: triage by signature, replay, ignore, and what a user may see of them.

One home for the console and the API. Replaying queues a run through ``sync.replay_failed``; ignoring
is recorded in the audit log. Payloads and messages hold personal data: ``present`` masks them for
users without the personal-data right.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows import designer, sync
from flows.models import FailedRecord, Flow, Run
from flows.services import mask_record
from integration_hub import audit, personal
from integration_hub.models.audit import AuditAction
from integration_hub.permissions import can_see_personal_data, restrict_through
from integration_hub.redact import mask_message

OPEN = (FailedRecord.Status.OPEN, FailedRecord.Status.RETRYING)


class FailureError(Exception):
    """Nothing to do as asked; the message says why."""


def visible_failures(user) -> QuerySet[FailedRecord]:
    """Failed records of the flows ``user`` may view."""
    return restrict_through(FailedRecord.objects.all(), "flow", Flow.objects.all(), user).select_related(
        "flow", "run"
    )


GROUP_LIMIT = 50  # signature groups shown


def signature_groups(queryset: QuerySet[FailedRecord], limit: int = GROUP_LIMIT) -> list[dict]:
    """The failures grouped by signature (one cause, many records), biggest group first."""
    return list(
        queryset.order_by()
        .values("signature")
        .annotate(
            count=Count("pk"),
            open=Count("pk", filter=Q(status__in=OPEN)),
            error_class=Max("error_class"),
            stage=Max("stage"),
            example=Min("message"),
            last=Max("updated"),
        )
        .order_by("-open", "-count", "signature")[:limit]
    )


def open_summary(flow: Flow, limit: int = GROUP_LIMIT) -> tuple[list[dict], int, list[str]]:
    """A flow's open failures by cause, without reading its records: (the biggest ``limit`` groups as
    ``signature_groups`` gives them, the open records in all, the error classes of the flow).

    The triage inbox's error groups (``monitoring.triage``) keep one row per cause with the counts of its
    records, kept by the service whenever records are saved, replayed, ignored or resolved: on a million
    failed records this is a few small queries instead of a pass over every open record. A flow whose
    records were never counted into groups (saved without the engine) is aggregated from its records."""
    from django.db.models import OuterRef, Subquery, Sum

    from monitoring.models import ErrorGroup  # monitoring builds on flows: imported when used

    groups = ErrorGroup.objects.filter(flow=flow)
    if not groups.exists():
        records = flow.failed_records.all()
        open_groups = signature_groups(records.filter(status__in=OPEN), limit)
        total = sum(g["open"] for g in open_groups)
        if len(open_groups) >= limit:
            total = records.filter(status__in=OPEN).count()
        classes = sorted(set(records.order_by().values_list("error_class", flat=True).distinct()))
        return open_groups, total, classes
    latest = FailedRecord.objects.filter(flow_id=flow.pk, signature=OuterRef("signature")).order_by(
        "-updated", "-pk"
    )
    rows = [
        {
            "signature": group.signature,
            "count": group.total_records,
            "open": group.open_records,
            "error_class": group.error_class,
            "stage": group.stage,
            "example": group.example,
            "last": group.last_seen,
        }
        for group in groups.filter(open_records__gt=0)
        .annotate(example=Subquery(latest.values("message")[:1]))
        .order_by("-open_records", "-total_records", "signature")
        .only("signature", "total_records", "open_records", "error_class", "stage", "last_seen")[:limit]
    ]
    total = groups.aggregate(n=Sum("open_records"))["n"] or 0
    classes = sorted(set(groups.order_by().values_list("error_class", flat=True).distinct()))
    return rows, total, classes


def open_count(flow: Flow) -> int:
    """The flow's open failures (open or retrying), from its error groups' counters when it has any."""
    from django.db.models import Sum

    from monitoring.models import ErrorGroup

    groups = ErrorGroup.objects.filter(flow=flow)
    if groups.exists():
        return groups.aggregate(n=Sum("open_records"))["n"] or 0
    return flow.failed_records.filter(status__in=OPEN).count()


def selected(flow: Flow, *, ids=None, signature: str | None = None) -> QuerySet[FailedRecord]:
    """The flow's open failures named by primary keys, or sharing a signature, or all of them."""
    queryset = flow.failed_records.filter(status__in=OPEN)
    if ids is not None:
        queryset = queryset.filter(pk__in=[int(i) for i in ids if str(i).isdigit()])
    if signature:
        queryset = queryset.filter(signature=signature)
    return queryset


def replay(flow: Flow, *, user=None, ids=None, signature: str | None = None) -> Run:
    """Re-read the named failures fresh from the source and apply the flow's current version (one run).

    ``ids`` outside this flow are ignored. Raises ``FailureError`` when there is nothing to replay.
    """
    if ids is not None:
        ids = list(
            flow.failed_records.filter(pk__in=[int(i) for i in ids if str(i).isdigit()]).values_list(
                "pk", flat=True
            )
        )
        if not ids:
            raise FailureError(_("Select at least one failed record of this flow."))
    try:
        # One transaction: the run is queued on commit, after the records are marked "retrying" —
        # otherwise a quick worker (or the in-process one of the tests) could run it first and the
        # late mark would hide the run's outcome.
        with transaction.atomic():
            return sync.replay_failed(flow, user=user, ids=ids, signature=signature or None)
    except sync.RunRefused as exc:
        raise FailureError(str(exc)) from exc


def ignore(flow: Flow, *, user=None, ids=None, signature: str | None = None) -> int:
    """Set aside the named open failures (they stay listed as ignored); the count ignored. Audited."""
    from monitoring import triage  # the error groups count these records (monitoring builds on flows)

    queryset = selected(flow, ids=ids, signature=signature)
    with transaction.atomic():
        source_ids = list(queryset.values_list("source_id", flat=True)[:50])
        if signature:
            signatures = [signature]
        elif ids is not None:
            signatures = list(queryset.order_by().values_list("signature", flat=True).distinct())
        else:
            signatures = None  # every open record of the flow: recount all its groups
        count = queryset.update(status=FailedRecord.Status.IGNORED)
        if not count:
            raise FailureError(_("No open failed record matches: nothing was ignored."))
        triage.refresh_counts(flow.pk, signatures)
        message = ngettext("%(n)s failed record ignored", "%(n)s failed records ignored", count) % {
            "n": count
        }
        if signature:
            message += " " + _("(signature %(s)s)") % {"s": signature}
        audit.record(
            AuditAction.UPDATE,
            flow,
            after={"ignored": count, "source_ids": source_ids, "signature": signature or None},
            message=message,
            user=user,
        )
    return count


# --- what a user may see ------------------------------------------------------------------------------


def personal_paths(flow: Flow) -> tuple[set[str], set[str]]:
    """Paths the flow tags as personal: (source paths, target paths)."""
    source, target = set(), set()
    for mapping in designer.definition_of(flow).get("mappings", []):
        if mapping.get("personal"):
            target.add(mapping["target"])
            if mapping.get("source") and re.fullmatch(r"[\w.]+", mapping["source"]):
                source.add(mapping["source"])
    return source, target


class Presenter:
    """Shows failed records to one user: masked unless they hold the personal-data right."""

    def __init__(self, user):
        self.user = user
        self.allowed = user is not None and can_see_personal_data(user)
        self._paths: dict[int, tuple[set[str], set[str]]] = {}
        self._audited: set[tuple] = set()

    def paths(self, flow: Flow):
        if flow.pk not in self._paths:
            self._paths[flow.pk] = personal_paths(flow)
        return self._paths[flow.pk]

    def _shown(self, obj, what) -> None:
        """Audit a display in clear (``integration_hub.personal``), once per object and kind."""
        key = (type(obj).__name__, obj.pk, str(what))
        if key not in self._audited:
            self._audited.add(key)
            personal.shown_unmasked(self.user, [obj], what=what)

    def message(self, record: FailedRecord) -> str:
        if not self.allowed:
            return mask_message(record.message)
        if record.message and mask_message(record.message) != record.message:  # it holds personal data
            self._shown(record, _("failed record message"))
        return record.message

    def text(self, message: str, about=None) -> str:
        """A message not tied to one record (a group's latest); ``about`` is what the audit log names
        when it is shown in clear with personal data in it."""
        if not self.allowed:
            return mask_message(message)
        if about is not None and message and mask_message(message) != message:
            self._shown(about, _("error message"))
        return message

    def payload(self, record: FailedRecord) -> dict:
        try:
            payload = record.payload
        except Exception:  # a key rotated away: say so rather than break the page
            return {"error": _("The payload cannot be decrypted with the current keys.")}
        if self.allowed:
            if payload:
                self._shown(record, _("failed record payload"))
            return payload
        source_paths, target_paths = self.paths(record.flow)
        return {
            "source": mask_record(payload.get("source"), source_paths)
            if payload.get("source") is not None
            else None,
            "mapped": mask_record(payload.get("mapped"), target_paths)
            if payload.get("mapped") is not None
            else None,
        }
