"""Error groups: the triage inbox's unit, one per failure signature (as Sentry groups events).

A group is the triage state (status, assignee, comments) over the engine's ``FailedRecord`` rows that
share its ``signature``; the records themselves stay in ``flows``. How many of them wait and how many
there are is kept on the group (``open_records``, ``total_records``) by ``monitoring.triage`` whenever
records are saved, replayed, ignored or resolved: the inbox lists groups without counting a million rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flows.models import FailedRecord, Flow


class ErrorGroup(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("open")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="error_groups")
    signature = models.CharField(_("signature"), max_length=64, unique=True)
    stage = models.CharField(_("stage"), max_length=20)
    error_class = models.CharField(_("error class"), max_length=40)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # Built from the *masked* message: never holds personal data in clear.
    title = models.CharField(_("title"), max_length=255)
    message = models.TextField(_("example message"), blank=True)
    count = models.PositiveIntegerField(_("events"), default=0)
    # The group's failed records (open or retrying / all), kept by ``triage.refresh_counts``.
    open_records = models.PositiveIntegerField(_("records waiting"), default=0, editable=False)
    total_records = models.PositiveIntegerField(_("records"), default=0, editable=False)
    first_seen = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen = models.DateTimeField(_("last seen"), default=timezone.now)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_error_groups",
        verbose_name=_("assignee"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    status_changed_at = models.DateTimeField(_("status changed"), default=timezone.now)
    regressed = models.BooleanField(_("regressed"), default=False)

    class Meta:
        verbose_name = _("error group")
        verbose_name_plural = _("error groups")
        ordering = ["-last_seen", "-pk"]
        indexes = [
            models.Index(fields=["status", "-last_seen"], name="monitoring_eg_inbox"),
            models.Index(fields=["flow", "status", "-last_seen"], name="monitoring_eg_flow_inbox"),
        ]

    def __str__(self):
        return self.title

    COUNTERS = ("open_records", "total_records")

    def save(self, *args, **kwargs):
        """The record counters are written only by ``triage.refresh_counts``: saving a group loaded
        before a recount (a status change, an assignment) must not put its old counts back."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in self.COUNTERS
            ]
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("monitoring:errorgroup", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    def failed_records(self):
        return FailedRecord.objects.filter(flow_id=self.flow_id, signature=self.signature)


class ErrorGroupComment(models.Model):
    group = models.ForeignKey(ErrorGroup, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("author"),
    )
    text = models.TextField(_("comment"), max_length=5000)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("comment")
        verbose_name_plural = _("comments")
        ordering = ["created", "pk"]

    def __str__(self):
        return self.text[:60]
