"""Alert rules, the alerts they open, and how people hear about them.

An ``AlertRule`` names a scope (everything, one system, one flow), a condition (a key of the
condition registry in ``monitoring.alerts``) with its parameters, and channels. ``monitoring.alerts
.evaluate`` opens one ``Alert`` per rule and scope key while the condition holds — the database keeps
it to one firing alert per (rule, scope key) — and resolves it when the condition clears. Every
delivery attempt is kept as an ``AlertDelivery``; in-app messages are ``Notification`` rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integration_hub import crypto
from integration_hub.models import AuditedModel


class ScopeKind(models.TextChoices):
    ALL = "all", _("all systems and flows")
    SYSTEM = "system", _("one system (and its flows)")
    FLOW = "flow", _("one flow")


class Severity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class WebhookFormat(models.TextChoices):
    GENERIC = "generic", _("generic JSON")
    SLACK = "slack", _("Slack")
    TEAMS = "teams", _("Microsoft Teams")


class AlertState(models.TextChoices):
    FIRING = "firing", _("firing")
    RESOLVED = "resolved", _("resolved")


class NotificationKind(models.TextChoices):
    FIRED = "fired", _("fired")
    RESOLVED = "resolved", _("resolved")
    TEST = "test", _("test")


class Channel(models.TextChoices):
    EMAIL = "email", _("email")
    WEBHOOK = "webhook", _("webhook")
    IN_APP = "in_app", _("in-app")


class AlertRule(AuditedModel):
    audit_redacted_fields = ("webhook_url_encrypted",)

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    scope_kind = models.CharField(_("scope"), max_length=10, choices=ScopeKind.choices, default=ScopeKind.ALL)
    system = models.ForeignKey(
        "flows.System",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        verbose_name=_("system"),
    )
    flow = models.ForeignKey(
        "flows.Flow",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        verbose_name=_("flow"),
    )
    # A key of the condition registry (monitoring.alerts.conditions()); validated by the form.
    condition = models.CharField(_("condition"), max_length=50)
    threshold = models.PositiveIntegerField(_("threshold (N)"), null=True, blank=True)
    percent = models.FloatField(_("percentage (X %)"), null=True, blank=True)
    window_minutes = models.PositiveIntegerField(_("window (minutes)"), null=True, blank=True)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    email_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("email: users")
    )
    email_roles = models.ManyToManyField(
        "auth.Group", blank=True, related_name="+", verbose_name=_("email: roles")
    )
    webhook_url_encrypted = models.TextField(_("webhook URL"), blank=True, editable=False)
    webhook_format = models.CharField(
        _("webhook format"), max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.GENERIC
    )
    inapp_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("in-app: users")
    )
    inapp_roles = models.ManyToManyField(
        "auth.Group", blank=True, related_name="+", verbose_name=_("in-app: roles")
    )
    cooldown_minutes = models.PositiveIntegerField(
        _("cooldown (minutes)"),
        default=60,
        help_text=_("A still-firing alert is notified again only after this long."),
    )
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name"]
        permissions = [("test_alertrule", _("Can send a test notification and snooze a rule"))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("monitoring:alertrule", args=[self.pk])

    # The webhook URL carries its own secret (Slack and Teams URLs are bearer tokens): encrypted at
    # rest, never rendered back; pages say only that it is set and how it ends.
    @property
    def webhook_url(self) -> str:
        if not self.webhook_url_encrypted:
            return ""
        try:
            return crypto.decrypt(self.webhook_url_encrypted)
        except crypto.DecryptionError:
            return ""

    @webhook_url.setter
    def webhook_url(self, value: str) -> None:
        self.webhook_url_encrypted = crypto.encrypt(value) if value else ""

    @property
    def webhook_hint(self) -> str:
        url = self.webhook_url
        if not url:
            return ""
        return _("set, ends with …%(tail)s") % {"tail": url[-4:]}

    def is_snoozed(self, now=None) -> bool:
        return bool(self.snoozed_until and self.snoozed_until > (now or timezone.now()))

    @property
    def scope_label(self) -> str:
        if self.scope_kind == ScopeKind.SYSTEM and self.system_id:
            return str(self.system)
        if self.scope_kind == ScopeKind.FLOW and self.flow_id:
            return str(self.flow)
        return str(ScopeKind.ALL.label)


class Alert(models.Model):
    rule = models.ForeignKey(
        AlertRule, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("rule")
    )
    scope_key = models.CharField(_("scope key"), max_length=100, help_text=_("e.g. flow:12, system:3"))
    scope_label = models.CharField(_("scope"), max_length=200, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=AlertState.choices, default=AlertState.FIRING)
    opened_at = models.DateTimeField(_("opened"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    last_notified_at = models.DateTimeField(_("last notified"), null=True, blank=True)
    summary = models.CharField(_("summary"), max_length=500)
    details = models.JSONField(_("details"), default=dict, blank=True)
    notification_count = models.PositiveIntegerField(_("notifications"), default=0)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-opened_at", "-pk"]
        default_permissions = ("view",)
        constraints = [
            # Deduplication is the database's job: two evaluations racing open one alert, not two.
            models.UniqueConstraint(
                fields=["rule", "scope_key"],
                condition=Q(state="firing"),
                name="monitoring_alert_one_firing_per_scope",
            )
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="monitoring_alert_state")]

    def __str__(self):
        return f"{self.rule}: {self.summary}"

    def get_absolute_url(self):
        return reverse("monitoring:alertrule", args=[self.rule_id]) + f"#alert-{self.pk}"


class AlertDelivery(models.Model):
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="deliveries")
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=NotificationKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # Who it went to, without the secret (never the webhook URL itself).
    target = models.CharField(_("to"), max_length=300, blank=True)
    ok = models.BooleanField(_("delivered"), default=False)
    status = models.CharField(_("status or error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("alert delivery")
        verbose_name_plural = _("alert deliveries")
        ordering = ["-sent_at", "-pk"]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.get_channel_display()} {self.get_kind_display()} ({'ok' if self.ok else 'failed'})"


class Notification(models.Model):
    """One in-app message for one user (the navbar bell); only that user ever sees it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    rule = models.ForeignKey(AlertRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    alert = models.ForeignKey(
        Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=NotificationKind.choices)
    severity = models.CharField(
        _("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING
    )
    title = models.CharField(_("title"), max_length=300)
    body = models.TextField(_("message"), blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created", "-pk"]
        default_permissions = ()
        indexes = [models.Index(fields=["user", "read_at", "-created"], name="monitoring_notif_inbox")]

    def __str__(self):
        return self.title


class NotificationPreference(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(_("by email"), default=True)
    in_app = models.BooleanField(_("in the console (bell)"), default=True)
    min_severity = models.CharField(
        _("minimum severity"),
        max_length=10,
        choices=Severity.choices,
        default=Severity.INFO,
        help_text=_("Alerts below this severity are not sent to you."),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        default_permissions = ()

    def __str__(self):
        return str(self.user)
