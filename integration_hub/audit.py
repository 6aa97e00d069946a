"""Writing audit entries: from model signals for every ``AuditedModel``, and ``record()`` for the rest
(logins, refused attempts, access grants)."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from integration_hub.context import current
from integration_hub.models.audit import REDACTED, REDACTED_CHANGED, AuditAction, AuditedModel, AuditEntry


def record(
    action: str, obj=None, *, before=None, after=None, message: str = "", user=None, object_repr: str = ""
) -> AuditEntry:
    """Append one audit entry in the acting context (the current request, command or task)."""
    ctx = current()
    actor = user if user is not None else ctx.actor
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    entry = AuditEntry(
        user=actor,
        user_name=actor.get_username() if actor is not None else "",
        action=action,
        before=before,
        after=after,
        message=message[:4000],
        request_id=ctx.request_id if ctx.source != "system" else None,
        remote_addr=ctx.remote_addr,
        source=ctx.source,
        object_repr=object_repr[:200],
    )
    if obj is not None:
        entry.content_type = ContentType.objects.get_for_model(obj)
        entry.object_id = str(obj.pk)
        entry.object_repr = str(obj)[:200]
    entry.save()
    return entry


def visible_entries(queryset, user):
    """The audit entries ``user`` may read in the audit log: sign-in and refusal events (about no
    object), and changes to the kinds of objects they may view everywhere. Changes to one object are
    also shown on that object's History tab to anyone who may view it."""
    from integration_hub.permissions import has_global_permission

    if not user.has_perm("integration_hub.view_auditentry"):
        return queryset.none()
    if user.is_superuser:
        return queryset
    visible_types = [
        ct.pk
        for ct in ContentType.objects.all()
        if ct.model_class() is not None and has_global_permission(user, ct.model_class(), "view")
    ]
    return queryset.filter(Q(content_type__isnull=True) | Q(content_type__in=visible_types))


def _redact(instance: AuditedModel, before: dict | None, after: dict | None):
    for name in instance.audit_redacted_fields:
        old = before.get(name) if before else None
        new = after.get(name) if after else None
        if before is not None and name in before:
            before[name] = REDACTED if old else ""
        if after is not None and name in after:
            after[name] = (REDACTED_CHANGED if before is not None and old != new else REDACTED) if new else ""
    return before, after


@receiver(pre_save)
def _snapshot_before_save(sender, instance, raw=False, **kwargs):
    if raw or not isinstance(instance, AuditedModel) or instance._state.adding or instance.pk is None:
        return
    previous = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = previous.audit_snapshot() if previous is not None else None


@receiver(post_save)
def _audit_save(sender, instance, created, raw=False, **kwargs):
    if raw or not isinstance(instance, AuditedModel):
        return
    before = None if created else getattr(instance, "_audit_before", None)
    after = instance.audit_snapshot()
    instance._audit_before = after
    if before == after:
        return  # a save that changed nothing is not an event
    before, after = _redact(instance, before, after)
    record(AuditAction.CREATE if created else AuditAction.UPDATE, instance, before=before, after=after)


@receiver(post_delete)
def _audit_delete(sender, instance, **kwargs):
    if not isinstance(instance, AuditedModel):
        return
    before, _ = _redact(instance, instance.audit_snapshot(), None)
    record(AuditAction.DELETE, instance, before=before)
