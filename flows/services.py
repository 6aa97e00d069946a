"""State changes of systems: connection checks, discovery and maintenance. Views, the API, commands and
scheduled tasks call these; each records what happened and publishes its event after commit."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from flows import breaker
from flows.choices import HealthStatus, PauseKind
from flows.connectors.base import CheckResult, Entity
from flows.connectors.discovery import guess_personal
from flows.connectors.http import explain
from flows.models import Flow, System, SystemCheck
from integration_hub import realtime
from integration_hub.redact import mask_value

logger = logging.getLogger(__name__)

# A connection slower than this is "degraded" even when it works.
SLOW_MS = 2000.0
CHECK_HISTORY = 500  # checks kept per system


def health_from(result: CheckResult) -> str:
    if not result.ok:
        return HealthStatus.DEGRADED if result.kind == "rate_limited" else HealthStatus.DOWN
    if result.latency_ms is not None and result.latency_ms > SLOW_MS:
        return HealthStatus.DEGRADED
    return HealthStatus.UP


def check_system(system: System, *, trigger: str = "manual") -> CheckResult:
    """Test the connection of ``system`` now, record it in its health history and update its health."""
    try:
        connector = system.get_connector()
    except Exception as exc:  # unknown connector, undecryptable secrets: a failed check, said plainly
        result = explain(exc)
    else:
        try:
            with breaker.bypass():  # an admin may always probe, even while the circuit is open
                result = connector.check()
        finally:
            connector.close()
    status = health_from(result)
    now = timezone.now()
    with transaction.atomic():
        SystemCheck.objects.create(
            system=system,
            status=status,
            latency_ms=result.latency_ms,
            kind=result.kind,
            message=result.message[:500],
            trigger=trigger,
        )
        # Health is an observation, not configuration: a plain update, no audit entry.
        System.objects.filter(pk=system.pk).update(
            health_status=status,
            last_check_at=now,
            last_latency_ms=result.latency_ms,
            health_message=result.message[:500],
        )
        old = (
            SystemCheck.objects.filter(system=system)
            .order_by("-time")
            .values_list("pk", flat=True)[CHECK_HISTORY:]
        )
        SystemCheck.objects.filter(pk__in=list(old)).delete()
        realtime.publish_object_change(system, "health")
    system.health_status, system.last_check_at, system.last_latency_ms = status, now, result.latency_ms
    system.health_message = result.message[:500]
    return result


_SECRETISH = re.compile(r"password|passwd|secret|token|api.?key|authori[sz]ation|private.?key", re.I)


def mask_record(value, personal_paths: set[str] = frozenset(), path: str = ""):
    """``value`` with personal and secret-looking data masked, at any depth, inside lists too.

    A value is masked when its dotted path was flagged personal, when its own key looks personal
    (e-mail, phone, name, address…) or secret (password, token…), or when it looks like an e-mail
    address or a phone number whatever its key.
    """
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _SECRETISH.search(str(key)):
                out[key] = "***"
            elif child in personal_paths or guess_personal(
                str(key), [item] if not isinstance(item, dict | list) else []
            ):
                out[key] = (
                    mask_value(item)
                    if not isinstance(item, dict | list)
                    else mask_record(item, {child}, child)
                )
            else:
                out[key] = mask_record(item, personal_paths, child)
        return out
    if isinstance(value, list):
        return [mask_record(item, personal_paths, path) for item in value]
    if path in personal_paths:
        return mask_value(value)
    if isinstance(value, str) and guess_personal("", [value]):
        return mask_value(value)  # an e-mail address or a phone number under an innocent key
    return value


def discover_system(system: System, sample_size: int = 5) -> list[dict]:
    """Read the system's entities, fields and a few samples, and keep them on the system.

    Values of fields that look like personal data are masked before they are stored: discovery is for
    designing mappings, and needs the shape of an e-mail address, not the address.
    """
    connector = system.get_connector()
    try:
        entities: list[Entity] = connector.discover(sample_size=sample_size)
    finally:
        connector.close()
    found = []
    for entity in entities:
        data = entity.as_dict()
        personal = {f["name"] for f in data["fields"] if f["personal"]}
        for f in data["fields"]:
            if f["personal"]:
                f["example"] = mask_value(f["example"])
        data["samples"] = [mask_record(s, personal) for s in data["samples"]]
        found.append(data)
    now = timezone.now()
    with transaction.atomic():
        System.objects.filter(pk=system.pk).update(discovered=found, discovered_at=now)
        realtime.publish_object_change(system, "discovered")
    system.discovered, system.discovered_at = found, now
    return found


def check_all_systems() -> dict:
    """The scheduled health check: every enabled system, one after the other."""
    counts: dict[str, int] = {}
    for system in System.objects.filter(enabled=True).exclude(connector=""):
        status = health_from(check_system(system, trigger="schedule"))
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- maintenance --------------------------------------------------------------------------------------


@dataclass
class MaintenanceOutcome:
    system: System
    paused: list = field(default_factory=list)  # flows paused now
    resumed: list = field(default_factory=list)  # flows enabled again
    kept: list = field(default_factory=list)  # (flow, why it stays paused)


def maintenance_pause_reason(system: System, reason: str = "") -> str:
    text = _("Paused for the maintenance of %(system)s") % {"system": system}
    return f"{text}: {reason}"[:500] if reason else text


def set_maintenance(system: System, on: bool, *, user=None, reason: str = "") -> MaintenanceOutcome:
    """Start or end the maintenance of ``system``.

    On: every enabled flow reading from or writing to it is paused (reason "maintenance of <system>")
    and its queued or running run is cancelled; its flows refuse to run meanwhile. Off: exactly the
    flows the maintenance paused are enabled again — not those a person or the failure policy paused,
    nor one whose other system is still in maintenance. A flow that cannot be enabled as it now is (a
    flow test fails since it was edited) stays paused with the reason and a ``flow.alert`` event.
    """
    from flows import designer, policy, sync
    from integration_hub import audit
    from integration_hub.models import AuditAction

    reason = (reason or "").strip()[:500]
    uses_system = Q(source_system=system) | Q(target_system=system)
    with transaction.atomic():
        system = System.objects.select_for_update().get(pk=system.pk)
        outcome = MaintenanceOutcome(system=system)
        if on:
            if not system.maintenance:
                system.maintenance_since = timezone.now()
                system.maintenance_by = user if getattr(user, "pk", None) else None
            system.maintenance = True
            if reason or not system.maintenance_reason:
                system.maintenance_reason = reason
            system.save()  # audited and published like any change
            pause_reason = maintenance_pause_reason(system, system.maintenance_reason)
            for flow in Flow.objects.filter(uses_system, enabled=True).select_for_update():
                designer.pause_flow(flow, author=user, kind=PauseKind.MAINTENANCE, reason=pause_reason)
                for run in flow.runs.filter(status__in=["queued", "running"]):
                    sync.cancel_run(run)
                outcome.paused.append(flow)
            audit.record(
                AuditAction.UPDATE,
                system,
                user=user,
                message=_("Maintenance started; flows paused: %(flows)s")
                % {"flows": ", ".join(f.name for f in outcome.paused) or "—"},
            )
        else:
            was_on = system.maintenance
            system.maintenance = False
            system.maintenance_since = None
            system.maintenance_by = None
            system.maintenance_reason = ""
            system.save()
            flows = Flow.objects.filter(uses_system, enabled=False, pause_kind=PauseKind.MAINTENANCE)
            for flow in flows.select_related("source_system", "target_system"):
                other = flow.target_system if flow.source_system_id == system.pk else flow.source_system
                if other.pk != system.pk and other.maintenance:
                    flow.pause_reason = maintenance_pause_reason(other, other.maintenance_reason)
                    flow.save(update_fields=["pause_reason", "updated"])
                    outcome.kept.append((flow, flow.pause_reason))
                    continue
                data = designer.definition_of(flow)
                data["enabled"] = True
                try:
                    with transaction.atomic():
                        designer.save_flow(
                            data,
                            flow=flow,
                            author=user,
                            comment=_("Resumed after the maintenance of %(system)s") % {"system": system},
                        )
                except designer.DefinitionError as exc:
                    why = _("Not resumed after the maintenance of %(system)s: %(errors)s") % {
                        "system": system,
                        "errors": "; ".join(exc.errors.values()),
                    }
                    flow.refresh_from_db()
                    flow.pause_reason = why[:500]
                    flow.save(update_fields=["pause_reason", "updated"])
                    policy.publish_alert(flow, "not_resumed", flow.pause_reason, system=system.pk)
                    outcome.kept.append((flow, flow.pause_reason))
                else:
                    outcome.resumed.append(flow)
            if was_on or outcome.resumed:
                audit.record(
                    AuditAction.UPDATE,
                    system,
                    user=user,
                    message=_("Maintenance ended; flows resumed: %(flows)s")
                    % {"flows": ", ".join(f.name for f in outcome.resumed) or "—"},
                )
    return outcome
