from django.db import models
from django.utils.translation import gettext_lazy as _


class SystemRole(models.TextChoices):
    ERP = "erp", _("ERP")
    PIM = "pim", _("PIM")
    CRM = "crm", _("CRM")
    ECOMMERCE = "ecommerce", _("E-commerce")
    MARKETPLACE = "marketplace", _("Marketplace")
    OTHER = "other", _("Other")


class Criticality(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class HealthStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    UP = "up", _("Up")
    DEGRADED = "degraded", _("Degraded")
    DOWN = "down", _("Down")


class Trigger(models.TextChoices):
    MANUAL = "manual", _("Manual only")
    INTERVAL = "interval", _("Every N minutes")
    CRON = "cron", _("Cron schedule")
    WEBHOOK = "webhook", _("Webhook event of the source")
    AFTER_FLOW = "after_flow", _("After another flow succeeds")


class SyncMode(models.TextChoices):
    FULL = "full", _("Full (every record, every run)")
    INCREMENTAL = "incremental", _("Incremental (records changed since the last run)")


class MatchStrategy(models.TextChoices):
    LINKS = "links", _("The hub's ID links")
    NATURAL_KEY = "natural_key", _("A natural key (e.g. SKU, e-mail)")


class FlowWriteMode(models.TextChoices):
    UPSERT = "upsert", _("Create and update")
    CREATE = "create", _("Create only")
    UPDATE = "update", _("Update only")
    MIRROR = "mirror", _("Mirror (also propagate deletes)")


class UnmatchedPolicy(models.TextChoices):
    ERROR = "error", _("Fail the record")
    DEFAULT = "default", _("Use the default value")
    PASSTHROUGH = "passthrough", _("Keep the value as it is")


class PersonalData(models.TextChoices):
    """What kind of personal data a mapped field carries (the GDPR register maps each to its categories)."""

    NONE = "", _("Not personal")
    NAME = "name", _("Name")
    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    ADDRESS = "address", _("Postal address")
    BIRTHDATE = "birthdate", _("Birth date")
    PAYMENT = "payment", _("Payment data")
    NATIONAL_ID = "national_id", _("National identifier")
    IP_ADDRESS = "ip_address", _("IP address / online identifier")
    FREE_TEXT = "free_text", _("Free text (may hold anything)")
    OTHER_ID = "other_id", _("Other identifier (customer number…)")


# A proposal of run frequency and freshness SLA per criticality (minutes); the admin may change both.
CRITICALITY_DEFAULTS = {
    "critical": {"interval": 1, "sla": 5},
    "high": {"interval": 15, "sla": 60},
    "normal": {"interval": 60, "sla": 240},
    "low": {"interval": 1440, "sla": 2880},
}


class PauseKind(models.TextChoices):
    """Who or what paused a flow: only what maintenance paused is resumed when it ends."""

    PERSON = "person", _("by a person")
    AUTO = "auto", _("automatically, after failed runs")
    MAINTENANCE = "maintenance", _("for a system's maintenance")
