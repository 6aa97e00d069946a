"""The breach register (Art. 33/34) and the retention rules of the hub's own stores."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integration_hub.models import AuditedModel

from .choices import HubStore

NOTIFY_AUTHORITY_WITHIN = timedelta(hours=72)


class Breach(AuditedModel):
    class Risk(models.TextChoices):
        UNLIKELY = "unlikely", _("unlikely to result in a risk")
        RISK = "risk", _("a risk to people's rights and freedoms")
        HIGH = "high", _("a high risk (tell the persons, Art. 34)")

    reference = models.CharField(_("reference"), max_length=30, unique=True)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("what happened"), blank=True)
    occurred_at = models.DateTimeField(_("occurred"), null=True, blank=True)
    aware_at = models.DateTimeField(_("controller aware since"))
    systems = models.ManyToManyField(
        "flows.System", verbose_name=_("systems affected"), blank=True, related_name="+"
    )
    data_categories = models.ManyToManyField(
        "gdpr.DataCategory", verbose_name=_("data categories affected"), blank=True, related_name="breaches"
    )
    subject_categories = models.ManyToManyField(
        "gdpr.SubjectCategory", verbose_name=_("data-subject categories"), blank=True, related_name="breaches"
    )
    persons_affected = models.PositiveIntegerField(_("persons affected (approx.)"), null=True, blank=True)
    records_affected = models.PositiveIntegerField(_("records affected (approx.)"), null=True, blank=True)
    risk = models.CharField(_("risk"), max_length=20, choices=Risk.choices, default=Risk.RISK)
    consequences = models.TextField(_("likely consequences"), blank=True)
    measures = models.TextField(_("measures taken or proposed"), blank=True)
    authority_notified_at = models.DateTimeField(_("authority notified"), null=True, blank=True)
    authority_reference = models.CharField(_("authority's reference"), max_length=100, blank=True)
    late_reason = models.TextField(_("reasons for a late notification"), blank=True)
    persons_notified_at = models.DateTimeField(_("persons notified"), null=True, blank=True)
    not_notified_reason = models.TextField(_("why the authority / persons were not notified"), blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
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

    audit_excluded_fields = ("created", "updated")

    class Meta:
        verbose_name = _("personal-data breach")
        verbose_name_plural = _("breach register")
        ordering = ["-aware_at"]

    def __str__(self):
        return f"{self.reference} {self.title}"

    def get_absolute_url(self):
        return reverse("gdpr:breach", args=[self.pk])

    @property
    def authority_deadline(self):
        """72 hours after the controller became aware (Art. 33(1))."""
        return self.aware_at + NOTIFY_AUTHORITY_WITHIN

    @property
    def authority_overdue(self) -> bool:
        return (
            self.authority_notified_at is None
            and not self.not_notified_reason
            and (timezone.now() > self.authority_deadline)
        )


class RetentionRule(AuditedModel):
    """How long the hub keeps one of its own stores; a schedule purges what is older."""

    store = models.CharField(_("store"), max_length=30, choices=HubStore.choices, unique=True)
    keep_days = models.PositiveIntegerField(_("keep (days)"))
    enabled = models.BooleanField(_("enabled"), default=True)
    last_purge_at = models.DateTimeField(_("last purge"), null=True, blank=True, editable=False)
    last_purged = models.PositiveIntegerField(_("rows purged last time"), default=0, editable=False)

    audit_excluded_fields = ("last_purge_at", "last_purged")

    class Meta:
        verbose_name = _("retention rule")
        verbose_name_plural = _("retention rules")
        ordering = ["store"]

    def __str__(self):
        return f"{self.get_store_display()}: {self.keep_days} d"


class PurgeLog(models.Model):
    """One purge of a hub store (by a retention rule or an erasure): when, what, how many rows."""

    store = models.CharField(_("store"), max_length=30, choices=HubStore.choices)
    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    rows = models.PositiveIntegerField(_("rows"))
    older_than = models.DateTimeField(_("older than"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("purge")
        verbose_name_plural = _("purges")
        ordering = ["-time"]

    def __str__(self):
        return f"{self.store} · {self.rows}"
