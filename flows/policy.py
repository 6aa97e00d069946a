"""The run-level failure policy: what happens to a flow after its runs, and when a flow may not run.

- ``after_run(run)``: after ``HUB_AUTO_PAUSE_AFTER`` failed runs in a row the flow is paused, with the
  reason on its page, an audit entry and a ``flow.alert`` event; its waiting run is cancelled. Succeeded and partial runs break the
  streak; cancelled and interrupted runs neither count nor break it; failed runs before the last
  automatic pause never count again (a flow enabled again gets N fresh tries).
- ``run_blocked_reason(flow)``: a flow whose source or target system is disabled or in maintenance
  does not run.

The per-request side of the policy (retries, ``Retry-After``, the circuit breaker) lives in
``flows.connectors.http`` and ``flows.breaker``.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows.choices import PauseKind
from flows.models import Flow, System
from flows.models.runs import FINISHED, Run, RunStatus
from integration_hub import realtime

logger = logging.getLogger(__name__)

ALERT_EVENT = "flow.alert"
NEUTRAL = (RunStatus.CANCELLED, RunStatus.INTERRUPTED)


def auto_pause_after() -> int:
    """Failed runs in a row that pause a flow; 0 never pauses."""
    return int(getattr(settings, "HUB_AUTO_PAUSE_AFTER", 3))


def publish_alert(flow: Flow, kind: str, message: str, *, run_id: int | None = None, **extra) -> dict:
    """Publish a ``flow.alert`` event to the flow's groups (after commit) and return its payload.

    ``kind`` names what happened (``auto_paused``, ``not_resumed``); the supervision pages build
    their alerts on these events.
    """
    payload = {
        "flow": flow.pk,
        "flow_name": flow.name,
        "kind": kind,
        "message": message,
        "run": run_id,
        "url": flow.get_absolute_url(),
        "time": timezone.now().isoformat(),
        **extra,
    }
    for group in (realtime.object_group(Flow, flow.pk), realtime.model_group(Flow)):
        realtime.publish(group, ALERT_EVENT, payload)
    return payload


def failed_streak(flow: Flow, limit: int) -> list[tuple[int, str]]:
    """The flow's latest counted runs, newest first, while they failed (at most ``limit``):
    ``[(run id, message)]``."""
    runs = flow.runs.filter(status__in=FINISHED).exclude(status__in=NEUTRAL)
    if flow.auto_paused_run_id:
        runs = runs.filter(pk__gt=flow.auto_paused_run_id)
    streak = []
    for pk, status, message in runs.order_by("-pk").values_list("pk", "status", "message")[:limit]:
        if status != RunStatus.FAILED:
            break
        streak.append((pk, message))
    return streak


def after_run(run: Run) -> bool:
    """Apply the failure policy once ``run`` has ended; True when it paused the flow.

    Safe to call twice for one run (the second call finds the flow paused, or the streak already
    counted by the pause).
    """
    limit = auto_pause_after()
    if limit <= 0 or run.status != RunStatus.FAILED:
        return False
    flow = Flow.objects.filter(pk=run.flow_id, enabled=True).first()
    if flow is None:
        return False  # paused already (a manual run of a paused flow changes nothing)
    streak = failed_streak(flow, limit)
    if len(streak) < limit:
        return False
    last_id, last_message = streak[0]
    reason = ngettext(
        "Paused automatically after %(n)s failed run: %(message)s",
        "Paused automatically after %(n)s failed runs in a row: %(message)s",
        limit,
    ) % {"n": limit, "message": last_message or _("no message")}
    reason = reason[:500]
    from flows import designer
    from integration_hub import audit
    from integration_hub.models import AuditAction

    with transaction.atomic():
        flow = Flow.objects.select_for_update().filter(pk=flow.pk, enabled=True).first()
        if flow is None:
            return False
        Flow.objects.filter(pk=flow.pk).update(auto_paused_run_id=last_id)
        flow.auto_paused_run_id = last_id
        designer.pause_flow(flow, kind=PauseKind.AUTO, reason=reason)
        audit.record(AuditAction.UPDATE, flow, message=reason)
        from flows import sync

        for waiting in flow.runs.filter(status=RunStatus.QUEUED):
            sync.cancel_run(waiting)  # a trigger that came meanwhile would only fail once more
        publish_alert(
            flow,
            "auto_paused",
            reason,
            run_id=last_id,
            failures=limit,
            runs=[pk for pk, _message in streak],
        )
    logger.warning("Flow %s paused after %s failed runs (last: run %s)", flow.pk, limit, last_id)
    return True


def run_blocked_reason(flow: Flow) -> str | None:
    """Why ``flow`` may not run now (its source or target system disabled or in maintenance), or None."""
    systems = {
        s.pk: s
        for s in System.objects.filter(pk__in={flow.source_system_id, flow.target_system_id}).only(
            "pk", "name", "enabled", "maintenance", "maintenance_since", "maintenance_reason"
        )
    }
    for system_id, is_source in ((flow.source_system_id, True), (flow.target_system_id, False)):
        system = systems.get(system_id)
        if system is None:
            continue
        if not system.enabled:
            if is_source:
                return _("The source system %(system)s is disabled: the flow cannot run.") % {
                    "system": system
                }
            return _("The target system %(system)s is disabled: the flow cannot run.") % {"system": system}
        if system.maintenance:
            return maintenance_message(system)
    return None


def maintenance_message(system: System) -> str:
    since = (
        timezone.localtime(system.maintenance_since).strftime("%Y-%m-%d %H:%M")
        if system.maintenance_since
        else "?"
    )
    message = _("%(system)s is in maintenance since %(since)s: its flows do not run until it ends.") % {
        "system": system,
        "since": since,
    }
    if system.maintenance_reason:
        message += " " + _("Reason: %(reason)s") % {"reason": system.maintenance_reason}
    return message
