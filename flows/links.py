"""Cross-system ID links (``RecordLink``): search by any id, a record's history across systems, resync one
record, unlink, merge a duplicate.

One home for the console, the API and commands; none of them re-implements these. Who may see a link
follows its flow or its systems (``visible_links``, through ``permissions.restrict``); who may change
one needs the flow's run permission (``may_act``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils.translation import gettext as _

from flows import sync
from flows.models import FailedRecord, Flow, RecordLink, Run, RunTrigger, System
from integration_hub import audit
from integration_hub.models.audit import AuditAction
from integration_hub.permissions import can, restrict

HISTORY_LIMIT = 50  # records followed from one record, at most: a record's story, not the whole graph


class LinkError(Exception):
    """The change cannot be made as asked; the message says why, in plain words."""


def visible_links(user) -> QuerySet[RecordLink]:
    """The links ``user`` may see: those of a flow they may view, or touching a system they may view."""
    flows = restrict(Flow.objects.all(), user, "view")
    systems = restrict(System.objects.all(), user, "view")
    return RecordLink.objects.filter(
        Q(flow__in=flows) | Q(source_system__in=systems) | Q(target_system__in=systems)
    ).select_related("flow", "source_system", "target_system", "last_run")


def may_act(user, link: RecordLink) -> bool:
    """Resync, unlink or merge need the run permission on the link's flow (a link left by a deleted flow:
    the right to change its source system)."""
    if link.flow_id is not None:
        return can(user, "run", link.flow)
    return can(user, "change", link.source_system)


def search(queryset: QuerySet[RecordLink], query: str) -> QuerySet[RecordLink]:
    """Links whose source or target id is ``query`` or starts with it; exact matches first."""
    query = (query or "").strip()
    if not query:
        return queryset
    exact = Q(source_id=query) | Q(target_id=query)
    return (
        queryset.filter(exact | Q(source_id__startswith=query) | Q(target_id__startswith=query))
        .annotate(_exact=Case(When(exact, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("_exact", "source_id", "pk")
    )


def for_system(queryset: QuerySet[RecordLink], system) -> QuerySet[RecordLink]:
    """Links where ``system`` is the source or the target."""
    return queryset.filter(Q(source_system=system) | Q(target_system=system))


def duplicates_of(link: RecordLink, queryset: QuerySet[RecordLink] | None = None) -> QuerySet[RecordLink]:
    """Other links pointing at the same target record (two source records written to one target record)."""
    queryset = RecordLink.objects.all() if queryset is None else queryset
    return (
        queryset.filter(
            target_system_id=link.target_system_id,
            target_entity=link.target_entity,
            target_id=link.target_id,
        )
        .exclude(pk=link.pk)
        .select_related("flow", "source_system", "target_system")
    )


# --- a record's history across systems ------------------------------------------------------------------


@dataclass(frozen=True)
class RecordRef:
    system: System
    entity: str
    id: str

    @property
    def key(self) -> tuple:
        return (self.system.pk, self.entity, self.id)

    def __str__(self):
        return f"{self.system} · {self.entity} · {self.id}"


@dataclass
class RecordHistory:
    """Every record reached from one record through ID links (in both directions, transitively), the
    links that join them, and the runs and failed records that touched any of them."""

    start: RecordRef
    records: list[RecordRef] = field(default_factory=list)
    links: list[RecordLink] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    failures: list[FailedRecord] = field(default_factory=list)
    truncated: bool = False


def record_history(
    system: System, entity: str, record_id: str, *, user, limit: int = HISTORY_LIMIT
) -> RecordHistory:
    """Follow the links of one record: e.g. a PIM product → its shop product → the ERP item made from it.

    Only what ``user`` may see is followed and shown.
    """
    links_qs = visible_links(user)
    start = RecordRef(system, entity, str(record_id))
    history = RecordHistory(start=start)
    seen = {start.key}
    queue = [start]
    found: dict[int, RecordLink] = {}
    while queue:
        node = queue.pop(0)
        history.records.append(node)
        touching = links_qs.filter(
            Q(source_system=node.system, source_entity=node.entity, source_id=node.id)
            | Q(target_system=node.system, target_entity=node.entity, target_id=node.id)
        )
        for link in touching:
            found.setdefault(link.pk, link)
            for other in (
                RecordRef(link.source_system, link.source_entity, link.source_id),
                RecordRef(link.target_system, link.target_entity, link.target_id),
            ):
                if other.key in seen:
                    continue
                if len(seen) >= limit:
                    history.truncated = True
                    continue
                seen.add(other.key)
                queue.append(other)
    history.links = sorted(found.values(), key=lambda link: (link.last_synced is None, link.pk))

    # Failed records are kept per flow and source id: a record that never went through has no link.
    flows = restrict(Flow.objects.all(), user, "view")
    by_source = Q(pk__in=[])
    for node in history.records:
        by_source |= Q(flow__source_system=node.system, flow__source_entity=node.entity, source_id=node.id)
    history.failures = list(
        FailedRecord.objects.filter(by_source, flow__in=flows).select_related("flow", "run")[:100]
    )

    run_ids = {link.last_run_id for link in history.links if link.last_run_id}
    run_ids |= {f.run_id for f in history.failures if f.run_id}
    # Runs over chosen records (resync one, replay) name their source ids.
    source_ids = {(n.system.pk, n.entity): set() for n in history.records}
    for node in history.records:
        source_ids[(node.system.pk, node.entity)].add(node.id)
    record_runs = Run.objects.filter(flow__in=flows).exclude(record_ids=[]).select_related("flow")[:500]
    for run in record_runs:
        wanted = source_ids.get((run.flow.source_system_id, run.flow.source_entity))
        if wanted and wanted & {str(i) for i in run.record_ids or []}:
            run_ids.add(run.pk)
    history.runs = list(
        Run.objects.filter(pk__in=run_ids, flow__in=flows).select_related("flow", "requested_by")[:50]
    )
    return history


def link_history(link: RecordLink, *, user) -> RecordHistory:
    return record_history(link.source_system, link.source_entity, link.source_id, user=user)


# --- actions ------------------------------------------------------------------------------------------


def _snapshot(link: RecordLink) -> dict:
    return {
        "link": link.pk,
        "flow": link.flow_id,
        "source": f"{link.source_system.slug}/{link.source_entity}/{link.source_id}",
        "target": f"{link.target_system.slug}/{link.target_entity}/{link.target_id}",
        "last_hash": link.last_hash,
        "last_run": link.last_run_id,
        "last_synced": link.last_synced.isoformat() if link.last_synced else None,
    }


def _audit(link: RecordLink, message: str, *, before=None, after=None, user=None) -> None:
    # Links are not configuration objects of their own: the entry goes on the flow's History tab
    # (or the source system's, for a link whose flow was deleted).
    owner = link.flow if link.flow_id is not None else link.source_system
    audit.record(AuditAction.UPDATE, owner, before=before, after=after, message=message, user=user)


def resync(link: RecordLink, *, user=None) -> tuple[Run, bool]:
    """Queue a run of the link's flow over this one record, fetched fresh and written with the flow's
    current version; ``(run, created)`` as ``sync.request_run``."""
    if link.flow_id is None:
        raise LinkError(_("This link's flow was deleted: there is nothing to resync it with."))
    try:
        return sync.request_run(link.flow, trigger=RunTrigger.RECORDS, user=user, record_ids=[link.source_id])
    except sync.RunRefused as exc:
        raise LinkError(str(exc)) from exc


def unlink(link: RecordLink, *, user=None) -> None:
    """Forget that these two records are the same: the next run treats the source record as new
    (created in the target, or matched again on the flow's natural key). Nothing is deleted in either
    system."""
    before = _snapshot(link)
    with transaction.atomic():
        RecordLink.objects.filter(pk=link.pk).delete()
        _audit(
            link,
            _("ID link removed: %(source)s → %(target)s; the next run treats the record as new.")
            % {"source": before["source"], "target": before["target"]},
            before=before,
            user=user,
        )


def merge(keep: RecordLink, drop: RecordLink, *, user=None) -> RecordLink:
    """Two source records written to the same target record: keep ``keep``, remove ``drop``.

    Only the hub's link is removed: if the duplicate source record still exists, the next run treats it
    as new, so merge or delete it in the source system too.
    """
    if keep.pk == drop.pk:
        raise LinkError(_("Choose two different links."))
    same_target = (keep.target_system_id, keep.target_entity, keep.target_id) == (
        drop.target_system_id,
        drop.target_entity,
        drop.target_id,
    )
    if not same_target:
        raise LinkError(_("These links point at different target records: they are not duplicates."))
    before = {"kept": _snapshot(keep), "removed": _snapshot(drop)}
    with transaction.atomic():
        RecordLink.objects.filter(pk=drop.pk).delete()
        _audit(
            keep,
            _("Duplicate merged: %(target)s stays linked to %(kept)s; the link from %(removed)s was removed.")
            % {
                "target": before["kept"]["target"],
                "kept": before["kept"]["source"],
                "removed": before["removed"]["source"],
            },
            before=before,
            user=user,
        )
    return keep


def keep_target(link: RecordLink, target_id: str, *, user=None) -> RecordLink:
    """The target holds this record twice (e.g. created again after a crash): link the source record to
    ``target_id``, the copy to keep. The next run writes the record there; the other copy stays in the
    target system until someone deletes it there."""
    target_id = (target_id or "").strip()
    if not target_id:
        raise LinkError(_("Type the target id of the copy to keep."))
    if target_id == link.target_id:
        raise LinkError(_("The link already points at this target id."))
    clash = (
        RecordLink.objects.filter(
            target_system_id=link.target_system_id,
            target_entity=link.target_entity,
            target_id=target_id,
            source_system_id=link.source_system_id,
            source_entity=link.source_entity,
        )
        .exclude(pk=link.pk)
        .first()
    )
    if clash is not None:
        raise LinkError(
            _(
                "Target id %(id)s is already linked to source record %(source)s: merge those two links "
                "instead, from its page."
            )
            % {"id": target_id, "source": clash.source_id}
        )
    before = _snapshot(link)
    with transaction.atomic():
        # Forget the hash too: the next run writes the record to the copy it now points at.
        RecordLink.objects.filter(pk=link.pk).update(target_id=target_id[:255], last_hash="")
        link.target_id, link.last_hash = target_id[:255], ""
        _audit(
            link,
            _(
                "Duplicate in the target: %(source)s now linked to target id %(new)s instead of %(old)s "
                "(delete the other copy in %(system)s)."
            )
            % {
                "source": before["source"],
                "new": target_id,
                "old": before["target"],
                "system": link.target_system,
            },
            before=before,
            after=_snapshot(link),
            user=user,
        )
    return link
