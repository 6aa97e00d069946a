"""The triage inbox: error groups over the engine's failed records. One home for the UI, the API and the engine.

The engine calls ``record_failures`` in the page commit that saved the failures and ``resolve_delivered``
after each run. People call the actions (acknowledge, resolve, ignore, reopen, assign, comment, replay),
each on one group or several, each audited; every change publishes ``errorgroup.changed`` (ids and status
only, never a message) to ``flow-<pk>`` and ``flow-all`` after commit.

Titles are plain language for support staff ("Shop rejected 12 products: price must be positive"). The
stored title and example message are built from the *masked* message; users with the personal-data right
see the latest record's message in clear, built at render time (``Presenter``).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows import failures
from flows.models import FailedRecord, Flow, Run
from integration_hub import audit, realtime
from integration_hub.models.audit import AuditAction
from integration_hub.permissions import has_global_permission, restrict, restrict_through
from monitoring.models import ErrorGroup, ErrorGroupComment

Status = ErrorGroup.Status
OPEN_RECORDS = failures.OPEN


class TriageError(Exception):
    """Nothing to do as asked; the message says why."""


# --- what a user may see and do ---------------------------------------------------------------------------


def visible_groups(user) -> QuerySet[ErrorGroup]:
    """The error groups of the flows ``user`` may view, with records affected (open / total: the counters
    kept on the group by ``refresh_counts``) and the latest record's message (``latest_message``: unmasked —
    show it through ``Presenter``; one index probe per group, ``flows_failed_sig_recent``)."""
    records = FailedRecord.objects.filter(flow_id=OuterRef("flow_id"), signature=OuterRef("signature"))
    return (
        restrict_through(ErrorGroup.objects.all(), "flow", Flow.objects.all(), user)
        .select_related("flow", "flow__source_system", "flow__target_system", "assignee")
        .annotate(
            records_open=F("open_records"),
            records_total=F("total_records"),
            latest_message=Subquery(records.order_by("-updated", "-pk").values("message")[:1]),
        )
    )


def refresh_counts(flow_id: int, signatures: Iterable[str] | None = None) -> int:
    """Set the groups' record counters (``open_records``, ``total_records``) of ``flow_id`` — of the named
    signatures, or of all its groups — from the failed records: one grouped query on the
    (flow, signature, status) index. Called wherever records change: saved (``record_failures``), ignored
    (``flows.failures.ignore``), after each run (``resolve_delivered``: delivered, gone from the source,
    failed again with another cause). Returns the number of groups changed."""
    records = FailedRecord.objects.filter(flow_id=flow_id)
    groups = ErrorGroup.objects.filter(flow_id=flow_id)
    if signatures is not None:
        signatures = sorted(set(signatures))
        if not signatures:
            return 0
        records = records.filter(signature__in=signatures)
        groups = groups.filter(signature__in=signatures)
    counts = {
        row["signature"]: (row["open"], row["total"])
        for row in records.order_by()
        .values("signature")
        .annotate(total=Count("pk"), open=Count("pk", filter=Q(status__in=OPEN_RECORDS)))
    }
    changed = []
    for group in groups.only("pk", "signature", "open_records", "total_records"):
        open_records, total_records = counts.get(group.signature, (0, 0))
        if (group.open_records, group.total_records) != (open_records, total_records):
            group.open_records, group.total_records = open_records, total_records
            changed.append(group)
    ErrorGroup.objects.bulk_update(changed, ["open_records", "total_records"], batch_size=500)
    return len(changed)


def can_act(user) -> bool:
    """May ``user`` change error groups at all (acknowledge, resolve, ignore, assign, comment)?"""
    return has_global_permission(user, ErrorGroup, "change")


def can_replay(user, group: ErrorGroup) -> bool:
    return can_act(user) and restrict(Flow.objects.filter(pk=group.flow_id), user, "run").exists()


def actionable(user, pks: Iterable, *, replay: bool = False) -> list[ErrorGroup]:
    """The groups named by ``pks`` that ``user`` may act on; raises PermissionDenied when they may act on
    none of them (no right at all, or not one visible group)."""
    if not can_act(user):
        raise PermissionDenied(_("You may not change error groups."))
    ids = [int(pk) for pk in pks if str(pk).isdigit()]
    groups = list(visible_groups(user).filter(pk__in=ids))
    if replay:
        runnable = set(restrict(Flow.objects.all(), user, "run").values_list("pk", flat=True))
        if any(g.flow_id not in runnable for g in groups):
            raise PermissionDenied(_("You may not run every flow of these error groups."))
    if not groups:
        raise TriageError(_("Select at least one error group first (tick its box)."))
    return groups


# --- plain language ---------------------------------------------------------------------------------------


def _first_line(message: str, limit: int = 140) -> str:
    line = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def build_title(flow: Flow, stage: str, count: int, message: str) -> str:
    """'Shop rejected 12 products: price must be positive'. ``message`` must already be masked as needed."""
    target = flow.target_system.name if flow.target_system_id else _("The target")
    source = flow.source_system.name if flow.source_system_id else _("The source")
    entity = flow.target_entity or _("records")
    text = _first_line(message)
    values = {"target": target, "source": source, "n": count, "entity": entity, "message": text}
    if stage == "read":
        values["entity"] = flow.source_entity or entity
    # The entity is the system's own name for its records ("products"): the singular says "one of the …".
    if stage == "write":
        title = ngettext(
            "%(target)s rejected one of the %(entity)s: %(message)s",
            "%(target)s rejected %(n)s %(entity)s: %(message)s",
            count,
        )
    elif stage == "delete":
        title = ngettext(
            "%(target)s refused to delete one of the %(entity)s: %(message)s",
            "%(target)s refused to delete %(n)s %(entity)s: %(message)s",
            count,
        )
    elif stage == "read":
        title = ngettext(
            "%(source)s could not give one of the %(entity)s: %(message)s",
            "%(source)s could not give %(n)s %(entity)s: %(message)s",
            count,
        )
    elif stage == "rule":
        title = ngettext(
            "One of the %(entity)s failed a data-quality rule: %(message)s",
            "%(n)s %(entity)s failed a data-quality rule: %(message)s",
            count,
        )
    elif stage == "mapping":
        title = ngettext(
            "One of the %(entity)s could not be mapped: %(message)s",
            "%(n)s %(entity)s could not be mapped: %(message)s",
            count,
        )
    else:
        title = ngettext(
            "One of the %(entity)s failed: %(message)s", "%(n)s %(entity)s failed: %(message)s", count
        )
    title = title % values
    return title[:255]


def present(group: ErrorGroup, presenter: failures.Presenter) -> dict:
    """What the inbox shows of one group to one user: the title with the current open count, and the
    remote message underneath (masked unless the user holds the personal-data right)."""
    message = presenter.text(getattr(group, "latest_message", None) or group.message, about=group)
    count = getattr(group, "records_open", None) or getattr(group, "records_total", None) or group.count
    return {"title": build_title(group.flow, group.stage, count, message), "message": message}


# --- events -----------------------------------------------------------------------------------------------


def _publish(group: ErrorGroup, action: str) -> None:
    payload = {"group": group.pk, "flow": group.flow_id, "status": group.status, "action": action}
    for name in (realtime.object_group(Flow, group.flow_id), realtime.model_group(Flow)):
        realtime.publish(name, "errorgroup.changed", payload)


def _set_status(group: ErrorGroup, status: str, *, user=None, now=None) -> None:
    now = now or timezone.now()
    group.status = status
    group.status_changed_at = now
    if status == Status.RESOLVED:
        group.resolved_at, group.resolved_by = now, user
    else:
        group.resolved_at, group.resolved_by = None, None
    if status != Status.OPEN:
        group.regressed = False


# --- from the engine --------------------------------------------------------------------------------------


def record_failures(flow: Flow, failed_records: Iterable[FailedRecord]) -> list[ErrorGroup]:
    """Count saved failures into their groups (created on first sight). A resolved group whose error comes
    back re-opens ("regressed"); an ignored one stays ignored but counts. Called inside the page commit."""
    by_signature: dict[str, list[FailedRecord]] = defaultdict(list)
    for record in failed_records:
        if record is not None and record.signature:
            by_signature[record.signature].append(record)
    now = timezone.now()
    touched = []
    for signature, records in by_signature.items():
        example = records[-1]
        masked = failures.mask_message(example.message)
        with transaction.atomic():
            group = ErrorGroup.objects.select_for_update().filter(signature=signature).first()
            action = "counted"
            if group is None:
                try:
                    with transaction.atomic():
                        group = ErrorGroup.objects.create(
                            flow=flow,
                            signature=signature,
                            stage=example.stage,
                            error_class=example.error_class,
                            http_status=example.http_status,
                            title=build_title(flow, example.stage, len(records), masked),
                            message=masked[:4000],
                            count=len(records),
                            first_seen=now,
                            last_seen=now,
                            status_changed_at=now,
                        )
                        refresh_counts(flow.pk, [signature])
                        group.refresh_from_db(fields=["open_records", "total_records"])
                    touched.append(group)
                    _publish(group, "created")
                    continue
                except IntegrityError:  # created meanwhile by a concurrent run
                    group = ErrorGroup.objects.select_for_update().get(signature=signature)
            group.count += len(records)
            group.last_seen = now
            group.message = masked[:4000]
            group.http_status = example.http_status
            if group.status == Status.RESOLVED:
                _set_status(group, Status.OPEN, now=now)
                group.regressed = True
                action = "regressed"
                audit.record(
                    AuditAction.UPDATE,
                    group,
                    after={"status": Status.OPEN, "regressed": True},
                    message=_("Error group re-opened: the error came back after it was resolved."),
                )
            # The records are saved already: recount first, so the title names the records open now
            # and the group is written once.
            refresh_counts(flow.pk, [signature])
            group.refresh_from_db(fields=["open_records", "total_records"])
            group.title = build_title(flow, group.stage, group.open_records or len(records), masked)
            group.save()
            touched.append(group)
            _publish(group, action)
    return touched


def resolve_delivered(flow: Flow) -> list[ErrorGroup]:
    """After a run: an open or acknowledged group of ``flow`` with no open or retrying record left is
    resolved ("every record went through"; nobody resolved it)."""
    waiting = FailedRecord.objects.filter(
        flow_id=OuterRef("flow_id"), signature=OuterRef("signature"), status__in=OPEN_RECORDS
    )
    candidates = ErrorGroup.objects.filter(flow=flow, status__in=ErrorGroup.ACTIVE).exclude(Exists(waiting))
    resolved = []
    with transaction.atomic():
        # The run delivered, ignored (gone from the source) or re-failed records: recount every group.
        refresh_counts(flow.pk)
        for group in candidates.select_for_update():
            before = group.status
            _set_status(group, Status.RESOLVED)
            group.save()
            audit.record(
                AuditAction.UPDATE,
                group,
                before={"status": before},
                after={"status": Status.RESOLVED},
                message=_("Error group resolved: every record went through."),
            )
            _publish(group, "resolved")
            resolved.append(group)
    return resolved


# --- people's actions (bulk-capable: one group or several) -----------------------------------------------


def _change_status(groups, status: str, *, user, message: str, allowed_from=None) -> int:
    changed = 0
    with transaction.atomic():
        for group in groups:
            if group.status == status or (allowed_from and group.status not in allowed_from):
                continue
            before = group.status
            _set_status(group, status, user=user)
            group.save()
            audit.record(
                AuditAction.UPDATE, group, before={"status": before}, after={"status": status}, message=message,
                user=user,
            )  # fmt: skip
            _publish(group, status)
            changed += 1
    return changed


def acknowledge(groups: Iterable[ErrorGroup], *, user) -> int:
    """Someone is on it: open → acknowledged."""
    return _change_status(
        groups,
        Status.ACKNOWLEDGED,
        user=user,
        message=_("Error group acknowledged."),
        allowed_from=[Status.OPEN],
    )


def resolve(groups: Iterable[ErrorGroup], *, user) -> int:
    """Marked resolved by hand; it re-opens if the error comes back."""
    return _change_status(groups, Status.RESOLVED, user=user, message=_("Error group resolved."))


def reopen(groups: Iterable[ErrorGroup], *, user) -> int:
    return _change_status(groups, Status.OPEN, user=user, message=_("Error group re-opened."))


def ignore(groups: Iterable[ErrorGroup], *, user) -> int:
    """Ignore the groups and set aside their open records (``flows.failures.ignore``, audited there too)."""
    groups = list(groups)
    with transaction.atomic():
        for group in groups:
            if group.status == Status.IGNORED:
                continue
            with contextlib.suppress(failures.FailureError):  # none open left: the group alone is ignored
                failures.ignore(group.flow, user=user, signature=group.signature)
        return _change_status(groups, Status.IGNORED, user=user, message=_("Error group ignored."))


def ignore_records(group: ErrorGroup, ids, *, user) -> int:
    """Set aside chosen open records of one group (the group's status is left as it is)."""
    try:
        return failures.ignore(group.flow, user=user, ids=ids, signature=group.signature)
    except failures.FailureError as exc:
        raise TriageError(str(exc)) from exc


def assign(groups: Iterable[ErrorGroup], assignee, *, user) -> int:
    """Give the groups to ``assignee`` (None: unassign). The assignee must be able to see each flow."""
    changed = 0
    with transaction.atomic():
        for group in groups:
            if (
                assignee is not None
                and not restrict(Flow.objects.filter(pk=group.flow_id), assignee).exists()
            ):
                raise TriageError(
                    _("%(user)s cannot see the flow “%(flow)s”: grant access first.")
                    % {"user": assignee.get_username(), "flow": group.flow}
                )
            if group.assignee_id == getattr(assignee, "pk", None):
                continue
            before = group.assignee.get_username() if group.assignee else None
            group.assignee = assignee
            group.save(update_fields=["assignee"])
            audit.record(
                AuditAction.UPDATE,
                group,
                before={"assignee": before},
                after={"assignee": assignee.get_username() if assignee else None},
                message=_("Error group assigned to %(user)s.") % {"user": assignee.get_username()}
                if assignee
                else _("Error group unassigned."),
                user=user,
            )
            _publish(group, "assigned")
            changed += 1
    return changed


def comment(group: ErrorGroup, text: str, *, user) -> ErrorGroupComment:
    text = (text or "").strip()
    if not text:
        raise TriageError(_("Write a comment first."))
    with transaction.atomic():
        note = ErrorGroupComment.objects.create(group=group, author=user, text=text[:5000])
        audit.record(
            AuditAction.UPDATE, group, after={"comment": note.pk}, message=_("Comment added."), user=user
        )
        _publish(group, "commented")
    return note


def replay(groups: Iterable[ErrorGroup], *, user, ids=None) -> list[Run]:
    """Replay the open records of the groups (after the mapping was fixed): one run per flow. ``ids``
    narrows to chosen failed records (of those groups only). Raises TriageError when nothing is open."""
    per_flow: dict[int, list[ErrorGroup]] = defaultdict(list)
    for group in groups:
        per_flow[group.flow_id].append(group)
    runs = []
    for flow_groups in per_flow.values():
        flow = flow_groups[0].flow
        signatures = [g.signature for g in flow_groups]
        records = flow.failed_records.filter(signature__in=signatures, status__in=OPEN_RECORDS)
        if ids is not None:
            records = records.filter(pk__in=[int(i) for i in ids if str(i).isdigit()])
        chosen = list(records.values_list("pk", flat=True))
        if not chosen:
            continue
        try:
            if ids is None and len(signatures) == 1:
                run = failures.replay(flow, user=user, signature=signatures[0])
            else:
                run = failures.replay(flow, user=user, ids=chosen)
        except failures.FailureError as exc:
            raise TriageError(str(exc)) from exc
        for group in flow_groups:
            audit.record(
                AuditAction.UPDATE,
                group,
                after={"replayed": len(chosen), "run": run.pk},
                message=ngettext(
                    "%(n)s record replayed in run #%(run)s.",
                    "%(n)s records replayed in run #%(run)s.",
                    len(chosen),
                )
                % {"n": len(chosen), "run": run.pk},
                user=user,
            )
            _publish(group, "replayed")
        runs.append(run)
    if not runs:
        raise TriageError(_("There is no open failed record to replay in these error groups."))
    return runs


def assignable_users(flow: Flow | None = None):
    """Active users, for the assign menu (the service checks each assignee can see the flow)."""
    return get_user_model()._default_manager.filter(is_active=True).order_by("username")
