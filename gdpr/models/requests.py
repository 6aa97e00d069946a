"""Data-subject requests (erasure, access…), their per-system tasks, the suppression list and evidence.

A request's identifiers (e-mail, phone, customer numbers…) are encrypted at rest; beside them the
request keeps their keyed hashes (``flows.lookup.lookup_key``), which is all that remains of them
after an erasure: the suppression list and the evidence pack hold hashes only.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from integration_hub import crypto
from integration_hub.models import AuditedModel

from .choices import (
    OPEN_REQUEST_STATES,
    RequestChannel,
    RequestKind,
    RequestState,
    Strategy,
    TaskAction,
    TaskStatus,
)


class DataSubjectRequest(AuditedModel):
    reference = models.CharField(_("reference"), max_length=30, unique=True)
    kind = models.CharField(
        _("type"), max_length=20, choices=RequestKind.choices, default=RequestKind.ERASURE
    )
    channel = models.CharField(
        _("channel"), max_length=20, choices=RequestChannel.choices, default=RequestChannel.EMAIL
    )
    state = models.CharField(
        _("state"), max_length=20, choices=RequestState.choices, default=RequestState.RECEIVED
    )
    received_on = models.DateField(_("received on"))
    due_on = models.DateField(_("due on"), help_text=_("One calendar month after receipt (Art. 12(3))."))
    extended_months = models.PositiveSmallIntegerField(_("extended by (months)"), default=0)
    extension_reason = models.TextField(_("extension reason"), blank=True)
    extension_notified_on = models.DateField(_("person told of the extension on"), null=True, blank=True)
    # {"email": ["a@b"], "phone": [...], "customer_id": [...]}: encrypted (personal data).
    identifiers_encrypted = models.TextField(blank=True, editable=False)
    # The identifiers' keyed hashes, space-separated: what finds the person's rows in the hub.
    subject_keys = models.TextField(_("subject keys"), blank=True, editable=False)
    # A pseudonym for pages and evidence (never the e-mail): e.g. "subject 3f2a…".
    pseudonym = models.CharField(_("pseudonym"), max_length=40, blank=True, editable=False)
    identity_verified_at = models.DateTimeField(_("identity verified"), null=True, blank=True, editable=False)
    verification_method = models.CharField(_("verified how"), max_length=200, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    # The verification code sent to the address on file: a keyed hash, its expiry and the tries left.
    verification_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    verification_expires = models.DateTimeField(null=True, blank=True, editable=False)
    verification_attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_subject_requests",
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    signed_off_at = models.DateTimeField(_("DPO sign-off"), null=True, blank=True, editable=False)
    refusal_reason = models.TextField(_("refusal reason"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # The plan: what was found where, before anything changes ({"systems": [...], "hub": {...}}),
    # encrypted (it names record ids and may quote personal values).
    plan_encrypted = models.TextField(blank=True, editable=False)
    planned_at = models.DateTimeField(_("planned"), null=True, blank=True, editable=False)
    # Access requests: the assembled data (encrypted), until the request is closed.
    export_encrypted = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True, editable=False)

    audit_excluded_fields = (
        "created",
        "updated",
        "identifiers_encrypted",
        "plan_encrypted",
        "export_encrypted",
        "verification_code_hash",
    )

    class Meta:
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        ordering = ["-received_on", "-pk"]
        permissions = [
            ("execute_datasubjectrequest", _("Can plan and execute a data-subject request")),
            ("signoff_datasubjectrequest", _("Can sign off a data-subject request (DPO)")),
        ]
        indexes = [models.Index(fields=["state", "due_on"], name="gdpr_request_due")]

    def __str__(self):
        return self.reference

    def get_absolute_url(self):
        return reverse("gdpr:request", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REQUEST_STATES

    @property
    def identifiers(self) -> dict[str, list[str]]:
        if not self.identifiers_encrypted:
            return {}
        return json.loads(crypto.decrypt(self.identifiers_encrypted))

    @identifiers.setter
    def identifiers(self, value: dict[str, list[str]]) -> None:
        self.identifiers_encrypted = crypto.encrypt(json.dumps(value)) if value else ""

    @property
    def plan(self) -> dict:
        return json.loads(crypto.decrypt(self.plan_encrypted)) if self.plan_encrypted else {}

    @plan.setter
    def plan(self, value: dict) -> None:
        self.plan_encrypted = crypto.encrypt(json.dumps(value, default=str)) if value else ""

    @property
    def export(self) -> dict:
        return json.loads(crypto.decrypt(self.export_encrypted)) if self.export_encrypted else {}

    @export.setter
    def export(self, value: dict) -> None:
        self.export_encrypted = crypto.encrypt(json.dumps(value, default=str)) if value else ""


class RequestTask(models.Model):
    """What one system (or the hub itself: ``system`` empty) must do for a request."""

    request = models.ForeignKey(DataSubjectRequest, on_delete=models.CASCADE, related_name="tasks")
    system = models.ForeignKey(
        "flows.System",
        verbose_name=_("system"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    entity = models.CharField(_("entity"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=TaskAction.choices)
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=TaskStatus.choices, default=TaskStatus.PENDING
    )
    exemption = models.TextField(
        _("legal exemption"), blank=True, help_text=_("e.g. Art. 17(3)(b): invoices kept.")
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    records_found = models.PositiveIntegerField(_("records found"), default=0)
    records_affected = models.PositiveIntegerField(_("records affected"), default=0)
    # Record ids found by the plan (encrypted: an id may be an e-mail address).
    targets_encrypted = models.TextField(blank=True, editable=False)
    post_check = models.CharField(_("post-check"), max_length=20, blank=True)  # passed / failed / ""
    post_check_detail = models.TextField(_("post-check detail"), blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("request task")
        verbose_name_plural = _("request tasks")
        ordering = ["request", "pk"]

    def __str__(self):
        where = self.system or _("Integration Hub")
        return f"{self.request.reference} · {where} · {self.get_action_display()}"

    @property
    def targets(self) -> list[str]:
        return json.loads(crypto.decrypt(self.targets_encrypted)) if self.targets_encrypted else []

    @targets.setter
    def targets(self, value: list[str]) -> None:
        self.targets_encrypted = crypto.encrypt(json.dumps(value)) if value else ""


class ErasureStrategy(AuditedModel):
    """How one system's entity is erased: delete, mask fields, the vendor's endpoint or by hand; a legal
    exemption (Art. 17(3)) is recorded with its justification (e.g. invoices kept for tax law)."""

    system = models.ForeignKey(
        "flows.System", verbose_name=_("system"), on_delete=models.CASCADE, related_name="+"
    )
    entity = models.CharField(_("entity"), max_length=100)
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices)
    mask_fields = models.JSONField(
        _("fields to mask"), default=dict, blank=True, help_text=_("{field: replacement value}")
    )
    exemption = models.TextField(_("legal exemption"), blank=True)

    class Meta:
        verbose_name = _("erasure strategy")
        verbose_name_plural = _("erasure strategies")
        ordering = ["system", "entity"]
        constraints = [
            models.UniqueConstraint(fields=["system", "entity"], name="gdpr_strategy_one_per_entity")
        ]

    def __str__(self):
        return f"{self.system} · {self.entity}: {self.get_strategy_display()}"


class SuppressedSubject(models.Model):
    """An erased person's identifier, kept only as a keyed hash: every flow skips a record that carries it."""

    key = models.CharField(_("keyed hash"), max_length=64, unique=True)
    kind = models.CharField(_("identifier type"), max_length=30)
    request = models.ForeignKey(
        DataSubjectRequest, on_delete=models.SET_NULL, null=True, blank=True, related_name="suppressions"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    hits = models.PositiveIntegerField(_("records suppressed"), default=0)
    last_hit = models.DateTimeField(_("last suppressed"), null=True, blank=True)

    class Meta:
        verbose_name = _("suppressed subject")
        verbose_name_plural = _("suppression list")
        ordering = ["-created"]

    def __str__(self):
        return f"{self.kind}:{self.key[:8]}…"


class EvidencePack(models.Model):
    """What was done where for a request, pseudonymised, hash-chained to the pack before it."""

    request = models.OneToOneField(DataSubjectRequest, on_delete=models.PROTECT, related_name="evidence")
    sequence = models.PositiveIntegerField(_("sequence"), unique=True)
    data = models.JSONField(_("evidence"))
    previous_hash = models.CharField(_("previous hash"), max_length=64, blank=True)
    hash = models.CharField(_("hash"), max_length=64, unique=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("evidence pack")
        verbose_name_plural = _("evidence packs")
        ordering = ["sequence"]

    def __str__(self):
        return f"{self.request.reference} #{self.sequence}"


__all__ = [
    "DataSubjectRequest",
    "ErasureStrategy",
    "EvidencePack",
    "RequestTask",
    "SuppressedSubject",
]
