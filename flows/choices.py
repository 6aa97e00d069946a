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
