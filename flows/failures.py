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
from flows.services import mask_record, mask_value
from integration_hub import audit
from integration_hub.models.audit import AuditAction
from integration_hub.permissions import can_see_personal_data, restrict

OPEN = (FailedRecord.Status.OPEN, FailedRecord.Status.RETRYING)


class FailureError(Exception):
    """Nothing to do as asked; the message says why."""


def visible_failures(user) -> QuerySet[FailedRecord]:
    """Failed records of the flows ``user`` may view."""
    return FailedRecord.objects.filter(flow__in=restrict(Flow.objects.all(), user, "view")).select_related(
        "flow", "run"
    )


def signature_groups(queryset: QuerySet[FailedRecord], limit: int = 50) -> list[dict]:
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
    queryset = selected(flow, ids=ids, signature=signature)
    with transaction.atomic():
        source_ids = list(queryset.values_list("source_id", flat=True)[:50])
        count = queryset.update(status=FailedRecord.Status.IGNORED)
        if not count:
            raise FailureError(_("No open failed record matches: nothing was ignored."))
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

_QUOTED = re.compile(r"(“)([^”]*)(”)|(\")([^\"]*)(\")|(')([^']*)(')")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d .()-]{7,}\d")


def mask_message(message: str) -> str:
    """A failure message with the values it quotes, e-mail addresses and phone numbers masked."""

    def quoted(match):
        groups = [g for g in match.groups() if g is not None]
        opening, inner, closing = groups[0], groups[1], groups[2]
        return f"{opening}{mask_value(inner)}{closing}"

    text = _QUOTED.sub(quoted, message or "")
    text = _EMAIL.sub(lambda m: mask_value(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_value(m.group(0)), text)


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
        self.allowed = user is not None and can_see_personal_data(user)
        self._paths: dict[int, tuple[set[str], set[str]]] = {}

    def paths(self, flow: Flow):
        if flow.pk not in self._paths:
            self._paths[flow.pk] = personal_paths(flow)
        return self._paths[flow.pk]

    def message(self, record: FailedRecord) -> str:
        return record.message if self.allowed else mask_message(record.message)

    def text(self, message: str) -> str:
        return message if self.allowed else mask_message(message)

    def payload(self, record: FailedRecord) -> dict:
        try:
            payload = record.payload
        except Exception:  # a key rotated away: say so rather than break the page
            return {"error": _("The payload cannot be decrypted with the current keys.")}
        if self.allowed:
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
