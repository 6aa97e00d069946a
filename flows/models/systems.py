import json
import string
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, HealthStatus, SystemRole
from integration_hub import crypto
from integration_hub.models import AuditedModel

RECORD_URL_FIELDS = {"id", "entity"}


def validate_record_url_template(value: str) -> None:
    """An http(s) address naming ``{id}`` (and optionally ``{entity}``), nothing else between braces."""
    if not value:
        return
    if not value.lower().startswith(("https://", "http://")):
        raise ValidationError(_("Start the address with https:// or http://."))
    try:
        names = {name for _text, name, _spec, _conv in string.Formatter().parse(value) if name is not None}
    except ValueError as exc:
        raise ValidationError(_("Unbalanced braces: write {id} and {entity} only.")) from exc
    unknown = names - RECORD_URL_FIELDS
    if unknown:
        raise ValidationError(
            _("Unknown placeholder %(names)s: only {id} and {entity} can be used.")
            % {"names": ", ".join("{" + n + "}" for n in sorted(unknown))}
        )
    if "id" not in names:
        raise ValidationError(_("Put {id} where the record's id goes, e.g. …/products/{id}/edit."))


class System(AuditedModel):
    """An information system the hub talks to: an ERP, a PIM, a CRM, a shop…

    It names its connector (a key of the connector registry), the connector's parameters, and its
    secrets, encrypted at rest with ``HUB_ENCRYPTION_KEYS`` and never rendered back. Its request budget
    (rate and concurrency) is shared by every flow and every worker process that calls it.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    role = models.CharField(_("role"), max_length=20, choices=SystemRole.choices, default=SystemRole.OTHER)
    criticality = models.CharField(
        _("criticality"), max_length=10, choices=Criticality.choices, default=Criticality.NORMAL
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_systems",
        help_text=_("Who answers for this system when something breaks."),
    )
    description = models.TextField(_("description"), blank=True)
    enabled = models.BooleanField(
        _("enabled"), default=True, help_text=_("A disabled system is never called by any flow.")
    )
    record_url_template = models.CharField(
        _("record address"),
        max_length=500,
        blank=True,
        validators=[validate_record_url_template],
        help_text=_(
            "Where a person opens one record in this system's own screens, e.g. "
            "https://shop.example.com/admin/{entity}/{id}/edit — {id} is the record's id, {entity} its "
            "entity. Triage and Trace then link to the record."
        ),
    )

    connector = models.CharField(_("connector"), max_length=50, default="", blank=True)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    secrets_encrypted = models.TextField(_("secrets"), blank=True, editable=False)
    timeout = models.FloatField(
        _("timeout (s)"),
        default=30.0,
        validators=[MinValueValidator(1), MaxValueValidator(600)],
        help_text=_("How long to wait for one answer before counting it as failed."),
    )
    rate_limit = models.FloatField(
        _("requests per second"),
        null=True,
        blank=True,
        validators=[MinValueValidator(0.01), MaxValueValidator(10000)],
        help_text=_("For all flows and all workers together. Empty: no limit."),
    )
    max_concurrency = models.PositiveIntegerField(
        _("requests in flight"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text=_(
            "At most this many requests at the same time, all flows and workers together. Empty: no limit."
        ),
    )
    verify_tls = models.BooleanField(
        _("verify TLS certificates"),
        default=True,
        help_text=_("Turn off only for a test system with a self-signed certificate."),
    )

    webhook_enabled = models.BooleanField(
        _("receive webhooks"),
        default=False,
        help_text=_("Accept event notifications from this system at its webhook address."),
    )
    webhook_token = models.CharField(max_length=64, blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    webhook_signature_header = models.CharField(
        _("signature header"),
        max_length=100,
        blank=True,
        default="X-Hub-Signature-256",
        help_text=_(
            "The header carrying the HMAC-SHA256 of the body, e.g. X-Shopify-Hmac-Sha256. Empty: no signature check."
        ),
    )
    webhook_signature_encoding = models.CharField(
        _("signature encoding"),
        max_length=10,
        choices=[("hex", _("hexadecimal")), ("base64", _("base64"))],
        default="hex",
        blank=True,
    )
    webhook_event_id = models.CharField(
        _("event id"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "Where the provider's unique event id is, to ignore redeliveries: body:<path> (covered by the "
            "signature), or header:<name> (not covered: a replayed body could claim a new id). Empty: a hash "
            "of the body."
        ),
    )
    webhook_record_id = models.CharField(
        _("record id"),
        max_length=100,
        blank=True,
        default="",
        help_text=_(
            "Where the changed record's id is in an event's body, as body:<path>, e.g. body:entity_id: "
            "a webhook run then fetches just those records. Empty: each event starts an incremental run."
        ),
    )
    webhook_topic = models.CharField(
        _("event topic"),
        max_length=100,
        blank=True,
        default="header:X-Event-Topic",
        help_text=_("Where the event's kind is (header:<name> or body:<path>), e.g. body:subscriptionType."),
    )

    # Maintenance (services.set_maintenance): the system's flows are paused meanwhile, and resumed after.
    maintenance = models.BooleanField(_("in maintenance"), default=False, editable=False)
    maintenance_since = models.DateTimeField(_("maintenance since"), null=True, blank=True, editable=False)
    maintenance_reason = models.CharField(_("maintenance reason"), max_length=500, blank=True, editable=False)
    maintenance_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("maintenance started by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    health_status = models.CharField(
        _("health"), max_length=10, choices=HealthStatus.choices, default=HealthStatus.UNKNOWN, editable=False
    )
    last_check_at = models.DateTimeField(_("last check"), null=True, blank=True, editable=False)
    last_latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True, editable=False)
    health_message = models.CharField(_("health message"), max_length=500, blank=True, editable=False)
    discovered = models.JSONField(_("discovered entities"), default=list, blank=True, editable=False)
    discovered_at = models.DateTimeField(_("discovered"), null=True, blank=True, editable=False)

    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_redacted_fields = ("secrets_encrypted", "webhook_secret_encrypted", "webhook_token")
    # Health and discovery are observations, not configuration: they change without an audit entry.
    audit_excluded_fields = (
        "created",
        "updated",
        "health_status",
        "last_check_at",
        "last_latency_ms",
        "health_message",
        "discovered",
        "discovered_at",
    )

    class Meta:
        verbose_name = _("system")
        verbose_name_plural = _("systems")
        ordering = ["name"]
        permissions = [("check_system", _("Can test a system's connection and discover its data"))]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("flows:system", args=[self.pk])

    def record_url(self, entity: str, record_id) -> str:
        """The record's address in the system's own screens ("" without a template or an id)."""
        if not self.record_url_template or record_id in (None, ""):
            return ""
        try:
            return self.record_url_template.format(
                id=quote(str(record_id), safe=""), entity=quote(str(entity or ""), safe="")
            )
        except (KeyError, IndexError, ValueError):  # a template saved before validation existed
            return ""

    # --- secrets ---------------------------------------------------------------------------------

    @property
    def secrets(self) -> dict:
        """The decrypted secrets. Never render, log or serialise this."""
        if not self.secrets_encrypted:
            return {}
        return json.loads(crypto.decrypt(self.secrets_encrypted))

    @secrets.setter
    def secrets(self, value: dict) -> None:
        clean = {k: v for k, v in (value or {}).items() if v not in (None, "")}
        self.secrets_encrypted = crypto.encrypt(json.dumps(clean, sort_keys=True)) if clean else ""

    @property
    def webhook_secret(self) -> str:
        return crypto.decrypt(self.webhook_secret_encrypted) if self.webhook_secret_encrypted else ""

    @webhook_secret.setter
    def webhook_secret(self, value: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt(value) if value else ""

    def get_webhook_url(self) -> str:
        """The path providers post to (the token makes it unguessable)."""
        return reverse("hooks:receive", args=[self.slug, self.webhook_token]) if self.webhook_token else ""

    @property
    def secret_names(self) -> list[str]:
        """Which secrets have a value (safe to show: names only)."""
        return sorted(self.secrets)

    # --- connector -------------------------------------------------------------------------------

    @property
    def connector_class(self):
        from flows.connectors.registry import get_connector_class

        return get_connector_class(self.connector)

    def connection_settings(self):
        from flows.connectors.base import ConnectionSettings

        return ConnectionSettings(
            system_id=self.pk,
            name=self.name,
            params=dict(self.parameters or {}),
            secrets=self.secrets,
            timeout=self.timeout,
            rate_limit=self.rate_limit,
            max_concurrency=self.max_concurrency,
            verify_tls=self.verify_tls,
        )

    def get_connector(self):
        """A connector instance for this system (close it when done)."""
        return self.connector_class(self.connection_settings())


class WebhookEvent(models.Model):
    """An event a system pushed to the hub. Stored and answered at once; the sync engine turns events
    into runs. Redeliveries of one provider event id are kept once."""

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="webhook_events")
    event_id = models.CharField(_("event id"), max_length=200)
    topic = models.CharField(_("topic"), max_length=200, blank=True)
    payload_encrypted = models.TextField(editable=False)
    received = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)
    deliveries = models.PositiveIntegerField(_("deliveries"), default=1)
    processed = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received"]
        constraints = [
            models.UniqueConstraint(fields=["system", "event_id"], name="webhook_event_once_per_system")
        ]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.system} {self.topic or '-'} {self.event_id}"

    @property
    def payload(self):
        """The event body (may hold personal data: encrypted at rest, shown masked)."""
        return json.loads(crypto.decrypt(self.payload_encrypted))


class SystemCheck(models.Model):
    """One connection test of a system: the health history behind its chart."""

    system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="checks")
    time = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    status = models.CharField(_("health"), max_length=10, choices=HealthStatus.choices)
    latency_ms = models.FloatField(_("latency (ms)"), null=True, blank=True)
    kind = models.CharField(_("failure"), max_length=20, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    trigger = models.CharField(_("trigger"), max_length=20, default="manual")

    class Meta:
        verbose_name = _("connection check")
        verbose_name_plural = _("connection checks")
        ordering = ["-time"]
        indexes = [models.Index(fields=["system", "-time"])]
        default_permissions = ("view",)

    def __str__(self):
        return f"{self.system} {self.get_status_display()} {self.time:%Y-%m-%d %H:%M}"
