"""The one helper that writes "personal data viewed" to the audit log.

Every place that shows personal data *unmasked* (failed-record payloads, link values, dry-run samples,
data-health examples…) calls ``shown_unmasked`` right where it decides not to mask: who saw which
record, when, and on which screen. Masked displays are not logged (nothing personal was shown).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType

from integration_hub.context import current
from integration_hub.models.audit import AuditAction, AuditEntry


def shown_unmasked(user, objects: Iterable, *, what: str) -> int:
    """Write one ``PERSONAL_VIEW`` audit entry per object in ``objects`` that ``user`` was just shown
    with its personal data in clear; ``what`` names the display ("failed record payload", "trace"…).
    Returns the number of entries written (none for an anonymous user or no objects)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    objects = [o for o in dict.fromkeys(objects) if o is not None and getattr(o, "pk", None) is not None]
    if not objects:
        return 0
    ctx = current()
    entries = []
    for obj in objects:
        entries.append(
            AuditEntry(
                user=user,
                user_name=user.get_username(),
                action=AuditAction.PERSONAL_VIEW,
                content_type=ContentType.objects.get_for_model(obj),
                object_id=str(obj.pk),
                object_repr=str(obj)[:200],
                message=str(what)[:4000],
                request_id=ctx.request_id if ctx.source != "system" else None,
                remote_addr=ctx.remote_addr,
                source=ctx.source,
            )
        )
    AuditEntry.objects.bulk_create(entries)
    return len(entries)
