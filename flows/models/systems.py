from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, SystemRole
from integration_hub.models import AuditedModel


class System(AuditedModel):
    """An information system the hub talks to: an ERP, a PIM, a CRM, a shop…

    The connector, its parameters and secrets, the request budget and health arrive with the
    connectors; this is the object every other part (flows, grants, dashboards) hangs from.
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
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("created", "updated")

    class Meta:
        verbose_name = _("system")
        verbose_name_plural = _("systems")
        ordering = ["name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("flows:system", args=[self.pk])
