"""Data-health scans: one read of a system's entity, counting duplicates, incomplete and stale records."""

import json

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flows.models.systems import System
from integration_hub import crypto


class HealthScan(models.Model):
    """A data-health report of ``entity`` of ``system``, run by a worker.

    The result holds example values (a duplicated e-mail address…), so it is stored encrypted and shown
    masked to users who may not see personal data. Only the newest scans of each system are kept.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Reading")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="health_scans")
    entity = models.CharField(_("entity"), max_length=100)
    key_path = models.CharField(
        _("duplicate key"),
        max_length=300,
        blank=True,
        help_text=_("The field that should be unique, e.g. email or sku; several separated by commas."),
    )
    required = models.JSONField(_("required fields"), default=list, blank=True)
    updated_path = models.CharField(_("last-update field"), max_length=300, blank=True)
    stale_months = models.PositiveSmallIntegerField(
        _("stale after (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    scanned = models.PositiveIntegerField(_("records read"), default=0)
    message = models.CharField(_("message"), max_length=500, blank=True)
    result_encrypted = models.TextField(blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    created = models.DateTimeField(_("started"), auto_now_add=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    KEEP = 20  # scans kept per system

    class Meta:
        verbose_name = _("data-health scan")
        verbose_name_plural = _("data-health scans")
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.system} · {self.entity} · {self.created:%Y-%m-%d %H:%M}"

    def get_absolute_url(self):
        return reverse("flows:system_health_scan", args=[self.system_id, self.pk])

    @property
    def result(self) -> dict | None:
        if not self.result_encrypted:
            return None
        return json.loads(crypto.decrypt(self.result_encrypted))

    @result.setter
    def result(self, value: dict | None) -> None:
        self.result_encrypted = crypto.encrypt(json.dumps(value)) if value is not None else ""

    @property
    def key_paths(self) -> list[str]:
        return [p.strip() for p in self.key_path.split(",") if p.strip()]

    @property
    def finished_ok(self) -> bool:
        return self.status == self.Status.DONE

    @property
    def in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
