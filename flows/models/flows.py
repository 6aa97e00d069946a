"""Flows: what data goes from which system to which, how it is mapped, checked and scheduled.

The rows here are the live definition an admin edits. Every save freezes the whole definition into a
``FlowVersion``; the sync engine runs versions, never these rows, so an edit never changes a run in
progress.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flows.choices import (
    Criticality,
    FlowWriteMode,
    MatchStrategy,
    PauseKind,
    PersonalData,
    SyncMode,
    Trigger,
    UnmatchedPolicy,
)
from flows.models.systems import System
from integration_hub.models import AuditedModel


class ValueMap(AuditedModel):
    """A named lookup table used by the ``value_map`` transform (e.g. ERP colour codes → shop labels)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    entries = models.JSONField(
        _("entries"), default=dict, blank=True, help_text=_("Source value → target value.")
    )
    default = models.CharField(_("default"), max_length=500, blank=True)
    unmatched = models.CharField(
        _("when a value is not in the table"),
        max_length=20,
        choices=UnmatchedPolicy.choices,
        default=UnmatchedPolicy.ERROR,
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("created", "updated")

    class Meta:
        verbose_name = _("value map")
        verbose_name_plural = _("value maps")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("flows:valuemap", args=[self.pk])

    def clean(self):
        if self.unmatched == UnmatchedPolicy.DEFAULT and not self.default:
            raise ValidationError({"default": _("Give the default value used for unmatched values.")})

    def as_definition(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "entries": dict(sorted(self.entries.items())),
            "default": self.default,
            "unmatched": self.unmatched,
        }


class Flow(AuditedModel):
    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_flows",
    )
    tags = models.JSONField(_("tags"), default=list, blank=True)

    source_system = models.ForeignKey(
        System, verbose_name=_("source system"), on_delete=models.PROTECT, related_name="outgoing_flows"
    )
    source_entity = models.CharField(_("source entity"), max_length=100)
    target_system = models.ForeignKey(
        System, verbose_name=_("target system"), on_delete=models.PROTECT, related_name="incoming_flows"
    )
    target_entity = models.CharField(_("target entity"), max_length=100)

    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices, default=Trigger.MANUAL)
    interval_minutes = models.PositiveIntegerField(
        _("every (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10080)],
    )
    cron = models.CharField(
        _("cron expression"),
        max_length=100,
        blank=True,
        help_text=_("e.g. “*/5 8-20 * * 1-5”, in the hub's time zone."),
    )
    webhook_topic = models.CharField(
        _("webhook topic"),
        max_length=200,
        blank=True,
        help_text=_("Only events of this topic start a run; empty: any."),
    )
    after_flow = models.ForeignKey(
        "self",
        verbose_name=_("after flow"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="followers",
    )
    criticality = models.CharField(
        _("criticality"), max_length=10, choices=Criticality.choices, default=Criticality.NORMAL
    )
    freshness_sla_minutes = models.PositiveIntegerField(
        _("freshness SLA (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Data older than this in the target counts as stale on the dashboard."),
    )
    sync_mode = models.CharField(
        _("sync mode"), max_length=20, choices=SyncMode.choices, default=SyncMode.FULL
    )
    cursor_field = models.CharField(
        _("cursor field"),
        max_length=200,
        blank=True,
        help_text=_("The source field incremental runs filter on."),
    )
    match_strategy = models.CharField(
        _("match records by"), max_length=20, choices=MatchStrategy.choices, default=MatchStrategy.LINKS
    )
    source_key = models.CharField(_("source key"), max_length=200, blank=True, help_text=_("e.g. sku, email"))
    target_key = models.CharField(_("target key"), max_length=200, blank=True)
    write_mode = models.CharField(
        _("write mode"), max_length=20, choices=FlowWriteMode.choices, default=FlowWriteMode.UPSERT
    )
    filters = models.JSONField(_("filters"), default=list, blank=True)
    quality_rules = models.JSONField(_("data-quality rules"), default=list, blank=True)
    tests = models.JSONField(
        _("flow tests"),
        default=list,
        blank=True,
        help_text=_("Pinned sample records with what the flow must make of them."),
    )
    enabled = models.BooleanField(
        _("enabled"), default=False, help_text=_("A paused flow never runs on its own.")
    )
    purpose = models.TextField(
        _("purpose"), blank=True, help_text=_("Why this data moves (for the GDPR register).")
    )

    # Why a paused flow is paused (state, not definition: never part of a version).
    pause_kind = models.CharField(
        _("paused"), max_length=20, choices=PauseKind.choices, blank=True, default="", editable=False
    )
    pause_reason = models.CharField(_("pause reason"), max_length=500, blank=True, editable=False)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True, editable=False)
    # The last run counted by the last automatic pause: failed runs before it never count again.
    auto_paused_run = models.ForeignKey(
        "Run", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )

    sync_cursor = models.CharField(
        _("incremental cursor"),
        max_length=200,
        blank=True,
        editable=False,
        help_text=_("The highest cursor value the last complete run committed; the next run reads from it."),
    )
    current_version = models.ForeignKey(
        "FlowVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("created", "updated", "current_version", "auto_paused_run")

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ["name"]
        permissions = [("run_flow", _("Can run a flow now, resync or retry it"))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("flows:flow", args=[self.pk])


class FieldMapping(models.Model):
    """One target field of a flow: where its value comes from and the transforms on the way."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="mappings")
    position = models.PositiveIntegerField(_("position"), default=0)
    target = models.CharField(_("target field"), max_length=300)
    source = models.CharField(_("source path"), max_length=300, blank=True)
    transforms = models.JSONField(_("transforms"), default=list, blank=True)
    personal = models.CharField(
        _("personal data"), max_length=20, choices=PersonalData.choices, default=PersonalData.NONE, blank=True
    )

    class Meta:
        verbose_name = _("field mapping")
        verbose_name_plural = _("field mappings")
        ordering = ["flow", "position", "pk"]

    def __str__(self):
        return f"{self.source or '…'} → {self.target}"

    def as_definition(self) -> dict:
        return {
            "target": self.target,
            "source": self.source,
            "transforms": self.transforms,
            "personal": self.personal,
        }


class FlowVersion(models.Model):
    """A frozen copy of a flow's whole definition (value maps it uses embedded). Runs execute these."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    definition = models.JSONField(_("definition"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    comment = models.CharField(_("comment"), max_length=500, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("flow version")
        verbose_name_plural = _("flow versions")
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flow_version_number_once")]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.flow} v{self.number}"

    def get_absolute_url(self):
        return reverse("flows:flow_versions", args=[self.flow_id]) + f"#v{self.number}"
