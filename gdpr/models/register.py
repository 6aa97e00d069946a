"""The register of processing (GDPR Art. 30): the taxonomy it is written in, the controller, what the hub
knows of each system's hosting, and one ``ProcessingActivity`` per register entry.

The data categories, sources, recipients and transfers of an activity are *derived* from the flows
linked to it (``gdpr.register``); what the DPO declares is kept beside what the flows show, and a
difference between the two is the activity's drift.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from integration_hub.models import AuditedModel

from .choices import ActivityState, CnilGroup, LegalBasis, TransferSafeguard


class DataCategory(AuditedModel):
    """A category of personal data (identity, contact, address…), in a hierarchy.

    ``personal_tags`` lists the flow designer's personal-data tags (``flows.choices.PersonalData``)
    that fall in this category: a mapping tagged ``email`` carries "contact" data."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    cnil_group = models.CharField(_("CNIL group"), max_length=20, choices=CnilGroup.choices)
    description = models.TextField(_("description"), blank=True)
    special = models.BooleanField(_("special category (Art. 9)"), default=False)
    criminal = models.BooleanField(_("offences and convictions (Art. 10)"), default=False)
    national_id = models.BooleanField(_("national identification number"), default=False)
    personal_tags = models.JSONField(_("personal-data tags"), default=list, blank=True)
    retention_default = models.CharField(_("default retention"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("data category")
        verbose_name_plural = _("data categories")
        ordering = ["cnil_group", "name"]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("gdpr:datacategory", args=[self.pk])

    @property
    def sensitive(self) -> bool:
        return self.special or self.criminal or self.national_id


class SubjectCategory(AuditedModel):
    """A category of data subjects: customers, prospects, employees, supplier contacts…"""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("data-subject category")
        verbose_name_plural = _("data-subject categories")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Purpose(AuditedModel):
    """A purpose of processing, with the legal basis it usually rests on."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    default_legal_basis = models.CharField(
        _("default legal basis"), max_length=30, choices=LegalBasis.choices
    )

    class Meta:
        verbose_name = _("purpose")
        verbose_name_plural = _("purposes")
        ordering = ["name"]

    def __str__(self):
        return self.name


class ControllerProfile(AuditedModel):
    """The controller (the merchant): one row, the register's header."""

    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    address = models.TextField(_("address"), blank=True)
    registration_number = models.CharField(_("registration number"), max_length=100, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    eu_representative = models.TextField(
        _("EU representative"), blank=True, help_text=_("Only for a controller established outside the EU.")
    )
    dpo_name = models.CharField(_("DPO name"), max_length=200, blank=True)
    dpo_email = models.EmailField(_("DPO e-mail"), blank=True)
    dpo_phone = models.CharField(_("DPO phone"), max_length=50, blank=True)
    dpo_address = models.TextField(_("DPO address"), blank=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("updated",)

    class Meta:
        verbose_name = _("controller profile")
        verbose_name_plural = _("controller profile")

    def __str__(self):
        return self.legal_name or str(_("Controller"))

    def get_absolute_url(self):
        return reverse("gdpr:controller")

    @classmethod
    def load(cls) -> ControllerProfile:
        profile = cls.objects.order_by("pk").first()
        return profile or cls.objects.create()


class SystemPrivacy(AuditedModel):
    """Where a system keeps the data it gets, and under which contract: the register's transfers."""

    system = models.OneToOneField(
        "flows.System", verbose_name=_("system"), on_delete=models.CASCADE, related_name="privacy"
    )
    hosting_country = models.CharField(
        _("hosting country"), max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. FR, DE, US.")
    )
    vendor = models.CharField(_("vendor / processor"), max_length=200, blank=True)
    is_processor = models.BooleanField(
        _("run by a processor"), default=True, help_text=_("A vendor hosts it for the merchant (Art. 28).")
    )
    transfer_safeguard = models.CharField(
        _("transfer safeguard"), max_length=20, choices=TransferSafeguard.choices, blank=True
    )
    safeguard_document = models.URLField(_("safeguard document"), blank=True)
    processor_agreement = models.URLField(_("processor agreement (DPA)"), blank=True)
    security_measures = models.TextField(_("security measures"), blank=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("updated",)

    class Meta:
        verbose_name = _("system privacy profile")
        verbose_name_plural = _("system privacy profiles")

    def __str__(self):
        return str(self.system)

    @property
    def in_eea(self) -> bool | None:
        from gdpr.countries import in_eea

        return in_eea(self.hosting_country) if self.hosting_country else None


class ProcessingActivity(AuditedModel):
    """One entry of the register of processing activities, with every Art. 30(1) field."""

    reference = models.CharField(_("reference"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    state = models.CharField(
        _("state"), max_length=20, choices=ActivityState.choices, default=ActivityState.DRAFT
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_activities",
    )
    # Art. 30(1)(a): controller, joint controller, representative, DPO (the latter from the profile).
    joint_controller = models.TextField(_("joint controller"), blank=True)
    # Art. 30(1)(b): purposes and legal basis.
    purposes = models.ManyToManyField(
        Purpose, verbose_name=_("purposes"), blank=True, related_name="activities"
    )
    legal_basis = models.CharField(_("legal basis"), max_length=30, choices=LegalBasis.choices, blank=True)
    legitimate_interest_assessment = models.URLField(_("legitimate-interest assessment"), blank=True)
    # Art. 30(1)(c): data subjects and personal data.
    subject_categories = models.ManyToManyField(
        SubjectCategory, verbose_name=_("data-subject categories"), blank=True, related_name="activities"
    )
    data_categories = models.ManyToManyField(
        DataCategory, verbose_name=_("data categories"), blank=True, related_name="activities"
    )
    # Art. 30(1)(d): recipients — [{"name", "kind": RecipientKind}]; the flows' systems are added.
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    # Art. 30(1)(e): transfers outside the EEA — [{"country", "safeguard", "document"}]; derived too.
    transfers = models.JSONField(_("transfers outside the EEA"), default=list, blank=True)
    # Art. 30(1)(f): retention per data category — {category key: "3 years after the last order"}.
    retention = models.JSONField(_("retention periods"), default=dict, blank=True)
    retention_note = models.TextField(_("retention (general)"), blank=True)
    # Art. 30(1)(g): security measures, the CNIL's seven boxes — {box key: text}.
    security_measures = models.JSONField(_("security measures"), default=dict, blank=True)
    source_of_data = models.TextField(_("source of the data"), blank=True)
    dpia_required = models.BooleanField(_("DPIA required"), default=False)
    dpia_link = models.URLField(_("DPIA"), blank=True)
    review_date = models.DateField(_("next review"), null=True, blank=True)
    flows = models.ManyToManyField(
        "flows.Flow", verbose_name=_("flows"), blank=True, related_name="processing_activities"
    )
    # Consent-gated: a flow of this activity only sends records whose consent field is granted.
    consent_field = models.CharField(
        _("consent field"),
        max_length=200,
        blank=True,
        help_text=_(
            "Source path of the consent flag (e.g. properties.marketing_consent); consent basis only."
        ),
    )
    # Derived state, refreshed by ``gdpr.register.refresh_activity``.
    drift = models.JSONField(_("drift"), default=list, blank=True, editable=False)
    completeness = models.PositiveSmallIntegerField(_("completeness"), default=0, editable=False)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)

    audit_excluded_fields = ("created", "updated", "completeness")

    class Meta:
        verbose_name = _("processing activity")
        verbose_name_plural = _("processing activities")
        ordering = ["reference"]
        permissions = [("approve_processingactivity", _("Can approve a register entry"))]

    def __str__(self):
        return f"{self.reference} {self.name}"

    def get_absolute_url(self):
        return reverse("gdpr:activity", args=[self.pk])


class ActivitySnapshot(models.Model):
    """The register entry as it was approved (every approval freezes one)."""

    activity = models.ForeignKey(ProcessingActivity, on_delete=models.CASCADE, related_name="snapshots")
    number = models.PositiveIntegerField(_("number"))
    data = models.JSONField(_("entry"))
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved"))

    class Meta:
        verbose_name = _("approved version")
        verbose_name_plural = _("approved versions")
        ordering = ["activity", "-number"]
        constraints = [models.UniqueConstraint(fields=["activity", "number"], name="gdpr_snapshot_number")]

    def __str__(self):
        return f"{self.activity.reference} v{self.number}"
