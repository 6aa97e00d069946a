"""State changes of systems: connection checks and discovery. Views, the API, commands and scheduled
tasks call these; each records what happened and publishes its event after commit."""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.utils import timezone

from flows.choices import HealthStatus
from flows.connectors.base import CheckResult, Entity
from flows.connectors.discovery import guess_personal
from flows.connectors.http import explain
from flows.models import System, SystemCheck
from integration_hub import realtime

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


def mask_value(value):
    """A personal value shown only enough to recognise its shape: 'j***@example.com', '+33 6** ** ** 12'."""
    if value is None or value == "":
        return value
    text = str(value)
    if "@" in text:
        name, _, domain = text.partition("@")
        return f"{name[:1]}***@{domain}"
    if len(text) <= 4:
        return "***"
    return f"{text[:2]}{'*' * (len(text) - 4)}{text[-2:]}"


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
