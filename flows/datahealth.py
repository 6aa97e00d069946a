"""Data health of a system's entity: start a scan, run it in a worker, show and export its result.

A scan reads the whole entity once (``flows.engine.health.analyse``) through the system's connector
and request budget, reporting its progress live to everyone who may see the system. The console view,
the API and the worker all go through these functions.
"""

from __future__ import annotations

import logging
import time

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.connectors.discovery import guess_personal
from flows.connectors.errors import ConnectorError
from flows.engine import health
from flows.engine.paths import PathError, parse_path
from flows.models import HealthScan, System
from flows.services import mask_value
from integration_hub import personal as personal_audit
from integration_hub import realtime
from integration_hub.permissions import can_see_personal_data

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between progress events
EXAMPLES = 10


class ScanError(ValueError):
    """Scan settings that cannot work; ``errors`` maps a field to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# --- what a system's entities look like ---------------------------------------------------------------


def entities_of(system: System) -> list[dict]:
    """Each readable entity: key, label, id field, last-update field, natural keys and fields
    (name, personal kind), from the connector's declarations and the last discovery."""
    found: dict[str, dict] = {}
    try:
        connector = system.get_connector()
    except Exception:
        connector = None
    if connector is not None:
        try:
            for entity in connector.entities():
                found[entity.key] = {
                    "key": entity.key,
                    "label": str(entity.label or entity.key),
                    "id_field": entity.id_field,
                    "cursor_field": entity.cursor_field,
                    "natural_keys": list(entity.natural_keys),
                    "fields": {f.name: f.personal for f in entity.fields},
                }
        finally:
            connector.close()
    for discovered in system.discovered or []:
        info = found.setdefault(
            discovered["key"],
            {
                "key": discovered["key"],
                "label": discovered.get("label") or discovered["key"],
                "id_field": discovered.get("id_field") or "id",
                "cursor_field": discovered.get("cursor_field") or "",
                "natural_keys": list(discovered.get("natural_keys") or []),
                "fields": {},
            },
        )
        for f in discovered.get("fields", []):
            info["fields"].setdefault(f["name"], f.get("personal") or "")
    return sorted(found.values(), key=lambda e: e["key"])


def entity_of(system: System, key: str) -> dict | None:
    return next((e for e in entities_of(system) if e["key"] == key), None)


# --- starting -----------------------------------------------------------------------------------------


def _paths(text_or_list) -> list[str]:
    if isinstance(text_or_list, str):
        items = text_or_list.replace("\n", ",").split(",")
    else:
        items = list(text_or_list or [])
    return [str(p).strip() for p in items if str(p).strip()]


def validate_scan(system: System, entity: str, key_path, required, updated_path: str, stale_months) -> dict:
    """The cleaned settings of a scan, or ``ScanError`` naming each wrong field."""
    errors: dict[str, str] = {}
    info = entity_of(system, entity)
    if info is None:
        known = ", ".join(e["key"] for e in entities_of(system)) or _("none yet: run Discover on the system")
        errors["entity"] = _("%(system)s has no entity “%(entity)s” (known: %(known)s).") % {
            "system": system,
            "entity": entity,
            "known": known,
        }
    keys, wanted = _paths(key_path), _paths(required)
    updated_path = (updated_path or "").strip()
    for name, paths in (
        ("key_path", keys),
        ("required", wanted),
        ("updated_path", [updated_path] if updated_path else []),
    ):
        for path in paths:
            try:
                parse_path(path)
            except PathError as exc:
                errors.setdefault(name, f"{path}: {exc}")
    if not (keys or wanted or updated_path):
        errors["key_path"] = _(
            "Choose at least one check: a duplicate key, required fields or a last-update field."
        )
    try:
        months = int(stale_months)
        if not 1 <= months <= 240:
            raise ValueError
    except (TypeError, ValueError):
        errors["stale_months"] = _("Give a number of months from 1 to 240.")
        months = 12
    if errors:
        raise ScanError(errors)
    return {
        "entity": entity,
        "key_path": ", ".join(keys),
        "required": wanted,
        "updated_path": updated_path,
        "stale_months": months,
    }


def start_scan(system: System, *, user=None, **settings) -> HealthScan:
    """Queue a scan (checked first); a worker runs it and reports progress live."""
    from django_q.tasks import async_task

    cleaned = validate_scan(system, **settings)
    with transaction.atomic():
        scan = HealthScan.objects.create(system=system, created_by=user, **cleaned)
        old = system.health_scans.order_by("-created", "-pk").values_list("pk", flat=True)[HealthScan.KEEP :]
        HealthScan.objects.filter(pk__in=list(old)).delete()
        transaction.on_commit(lambda: async_task("flows.tasks.run_health_scan", scan.pk))
    return scan


# --- running ------------------------------------------------------------------------------------------


def _progress(scan: HealthScan) -> None:
    payload = {"scan": scan.pk, "system": scan.system_id, "status": scan.status, "scanned": scan.scanned}
    for group in (realtime.object_group(System, scan.system_id), realtime.model_group(System)):
        realtime.send_now(group, "health.progress", payload)


def run_scan(scan_id: int) -> None:
    """Read the entity once and store the report. A scan already finished is left as it is."""
    scan = HealthScan.objects.select_related("system").filter(pk=scan_id).first()
    if scan is None or not scan.in_progress:
        return
    HealthScan.objects.filter(pk=scan.pk).update(status=HealthScan.Status.RUNNING, scanned=0)
    scan.status, scan.scanned = HealthScan.Status.RUNNING, 0
    _progress(scan)
    info = entity_of(scan.system, scan.entity) or {}
    connector = scan.system.get_connector()
    last = time.monotonic()

    def counted(pages):
        nonlocal last
        for page in pages:
            scan.scanned += len(page.records)
            if time.monotonic() - last >= PROGRESS_EVERY:
                HealthScan.objects.filter(pk=scan.pk).update(scanned=scan.scanned)
                _progress(scan)
                last = time.monotonic()
            yield page

    try:
        keys = scan.key_paths
        report = health.analyse(
            health.records_from_pages(counted(connector.read(scan.entity))),
            id_path=info.get("id_field") or "id",
            key_path=(keys[0] if len(keys) == 1 else tuple(keys)) if keys else None,
            required=scan.required,
            updated_path=scan.updated_path or None,
            stale_months=scan.stale_months,
            examples=EXAMPLES,
        )
    except ConnectorError as exc:
        _finish(scan, HealthScan.Status.FAILED, message=str(exc))
        return
    except Exception:
        logger.exception("data-health scan %s failed", scan.pk)
        _finish(
            scan,
            HealthScan.Status.FAILED,
            message=_("The scan failed unexpectedly; the worker log has details."),
        )
        return
    finally:
        connector.close()
    _finish(
        scan,
        HealthScan.Status.DONE,
        result={"report": report.as_dict(), "rows": list(health.report_csv_rows(report))[1:]},
    )


def _finish(scan: HealthScan, status: str, *, message: str = "", result: dict | None = None) -> None:
    scan.status, scan.message, scan.finished = status, message[:500], timezone.now()
    scan.result = result
    scan.save(update_fields=["status", "scanned", "message", "finished", "result_encrypted"])
    _progress(scan)


# --- showing ------------------------------------------------------------------------------------------


def personal_paths(system: System, entity: str) -> set[str]:
    info = entity_of(system, entity) or {}
    return {name for name, kind in info.get("fields", {}).items() if kind}


def _masker(scan: HealthScan, user):
    if can_see_personal_data(user):
        personal_audit.shown_unmasked(user, [scan], what=_("data-health scan: example values"))
        return lambda path, value: value
    personal = personal_paths(scan.system, scan.entity)

    def mask(path, value):
        names = [p.strip() for p in str(path or "").split(",")]
        if any(n in personal or guess_personal(n.rsplit(".", 1)[-1], [value]) for n in names if n):
            return mask_value(value)
        if isinstance(value, str) and guess_personal("", [value]):
            return mask_value(value)
        return value

    return mask


def view_of(scan: HealthScan, user) -> dict | None:
    """The scan's report as ``user`` may see it (personal values masked), with percentages for charts."""
    result = scan.result
    if not result:
        return None
    report, mask = result["report"], _masker(scan, user)
    key = report["key_path"]
    key_label = ", ".join(key) if isinstance(key, list) else key or ""
    for group in report["duplicates"]["examples"]:
        group["key"] = mask(key_label, group["key"])
    report["key_label"] = key_label
    scanned = report["scanned"] or 1

    def share(count: int) -> float:
        return round(100 * count / scanned, 1)

    report["bars"] = []
    if key_label:
        count = report["duplicates"]["records"]
        report["bars"].append(
            {
                "name": "duplicates",
                "label": _("Duplicated on %(k)s") % {"k": key_label},
                "count": count,
                "percent": share(count),
            }
        )
    if report["required"]:
        count = report["missing"]["records"]
        report["bars"].append(
            {
                "name": "incomplete",
                "label": _("Missing a required field"),
                "count": count,
                "percent": share(count),
            }
        )
    if report["updated_path"]:
        count = report["stale"]["records"]
        label = _("Not updated for %(n)s months") % {"n": report["stale_months"]}
        report["bars"].append({"name": "stale", "label": label, "count": count, "percent": share(count)})
    report["missing_fields"] = [
        {
            "field": name,
            "count": count,
            "percent": share(count),
            "examples": report["missing"]["examples"].get(name, []),
        }
        for name, count in sorted(report["missing"]["by_field"].items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return report


def csv_rows(scan: HealthScan, user) -> list[list[str]]:
    """The CSV download (header first), masked like the page."""
    result = scan.result or {"rows": []}
    mask = _masker(scan, user)
    header = [_("problem"), _("id"), _("field"), _("value"), _("detail")]
    return [header] + [
        [problem, rid, path, mask(path, value), detail]
        for problem, rid, path, value, detail in result["rows"]
    ]
