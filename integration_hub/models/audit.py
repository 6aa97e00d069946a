"""Append-only audit log (NetBox's ObjectChange) and the mixin that feeds it."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

REDACTED = "[redacted]"
REDACTED_CHANGED = "[redacted, changed]"


class AuditAction(models.TextChoices):
    CREATE = "create", _("Created")
    UPDATE = "update", _("Updated")
    DELETE = "delete", _("Deleted")
    GRANT = "grant", _("Access granted")
    REVOKE = "revoke", _("Access revoked")
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Login failed")
    LOGOUT = "logout", _("Logged out")
    TOKEN_REJECTED = "token_rejected", _("API token rejected")
    DENIED = "denied", _("Access denied")
    REJECTED = "rejected", _("Request rejected")
    IMPORT = "import", _("Config imported")
    PERSONAL_VIEW = "personal_view", _("Personal data viewed")


class AuditedModel(models.Model):
    """Models whose every create, update and delete writes an audit entry.

    Fields named in ``audit_redacted_fields`` (secrets) never reach the log: they appear as
    ``[redacted]``, or ``[redacted, changed]`` when their stored value changed.
    """

    audit_redacted_fields: tuple[str, ...] = ()
    audit_excluded_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def audit_snapshot(self) -> dict:
        """A JSON-safe picture of the row's own fields, as stored."""
        data = {}
        for f in self._meta.concrete_fields:
            if f.name in self.audit_excluded_fields:
                continue
            value = f.value_from_object(self)
            data[f.name] = _json_safe(value)
        return data

    def display_snapshot(self) -> dict:
        """The snapshot with secret fields masked, for pages that list every field."""
        return {
            k: (REDACTED if k in self.audit_redacted_fields and v else v)
            for k, v in self.audit_snapshot().items()
        }


def _json_safe(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_json_safe(v) for v in value]
    if isinstance(value, bytes | memoryview):
        return f"<{len(bytes(value))} bytes>"
    return str(value)


class AuditEntryQuerySet(models.QuerySet):
    def for_object(self, obj):
        return self.filter(content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk))


class AuditEntry(models.Model):
    """Who did what, when, to which object, with the before/after values. Never edited, never deleted."""

    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    user_name = models.CharField(_("user name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices, db_index=True)
    content_type = models.ForeignKey(
        ContentType, verbose_name=_("object type"), on_delete=models.PROTECT, null=True, blank=True
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    request_id = models.UUIDField(_("request id"), null=True, blank=True, db_index=True)
    remote_addr = models.GenericIPAddressField(_("remote address"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-time", "-pk"]
        indexes = [models.Index(fields=["content_type", "object_id", "-time"])]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.get_action_display()} {self.object_repr}".strip()

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ValidationError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("integration_hub:auditentry", args=[self.pk])

    def delete(self, *args, **kwargs):
        raise ValidationError("Audit entries are append-only.")

    @property
    def changes(self) -> list[tuple[str, object, object]]:
        """Fields whose value differs between before and after, as (field, old, new)."""
        before, after = self.before or {}, self.after or {}
        keys = list(dict.fromkeys([*before.keys(), *after.keys()]))
        return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
