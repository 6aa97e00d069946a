"""Forms of the register pages: the entry (structured rows for recipients, transfers and retention; the
CNIL's seven security boxes as seven text areas), the controller profile and a system's privacy profile.
The API validates entries with ``ActivityForm`` too."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.models import Flow
from gdpr.models import ControllerProfile, DataCategory, ProcessingActivity, SystemPrivacy
from gdpr.models.choices import SECURITY_MEASURES, CnilGroup, RecipientKind, TransferSafeguard
from integration_hub.forms import ConsoleModelForm, active_users
from integration_hub.permissions import restrict

EXTRA_ROWS = 2


class ActivityForm(ConsoleModelForm):
    """One register entry. Rows: ``recipients-N-name/kind``, ``transfers-N-country/safeguard/document``,
    ``retention-N-category/period``; boxes: ``security-<box>``."""

    class Meta:
        model = ProcessingActivity
        fields = (
            "reference",
            "name",
            "description",
            "owner",
            "joint_controller",
            "purposes",
            "legal_basis",
            "legitimate_interest_assessment",
            "subject_categories",
            "data_categories",
            "flows",
            "retention_note",
            "source_of_data",
            "dpia_required",
            "dpia_link",
            "review_date",
            "consent_field",
        )
        widgets = {
            "purposes": forms.CheckboxSelectMultiple,
            "subject_categories": forms.CheckboxSelectMultiple,
            "data_categories": forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
            "flows": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 2}),
            "joint_controller": forms.Textarea(attrs={"rows": 2}),
            "retention_note": forms.Textarea(attrs={"rows": 2}),
            "source_of_data": forms.Textarea(attrs={"rows": 2}),
            "review_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }
        help_texts = {
            "reference": gettext_lazy("Left empty, the next free reference (RT-001…) is given."),
            "flows": gettext_lazy(
                "The flows this processing uses: their personal fields, systems and hosting fill the "
                "derived side of the entry, and drift shows where they go beyond what is declared."
            ),
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["reference"].required = False
        self.fields["owner"].queryset = active_users()
        if user is not None:
            self.fields["flows"].queryset = restrict(Flow.objects.order_by("name"), user)
        else:
            self.fields["flows"].queryset = Flow.objects.order_by("name")
        self.fields["data_categories"].queryset = DataCategory.objects.select_related("parent")
        instance = self.instance
        data = self.data if self.is_bound else None
        # Structured rows: what is stored, plus a few empty rows to add more.
        recipients = list(instance.recipients or []) if instance.pk else []
        transfers = list(instance.transfers or []) if instance.pk else []
        retention = list((instance.retention or {}).items()) if instance.pk else []
        self.recipient_count = self._count(data, "recipients", len(recipients))
        self.transfer_count = self._count(data, "transfers", len(transfers))
        self.retention_count = self._count(data, "retention", len(retention))
        for i in range(self.recipient_count):
            row = recipients[i] if i < len(recipients) else {}
            self.fields[f"recipients-{i}-name"] = forms.CharField(
                label=_("Recipient"), required=False, max_length=200, initial=row.get("name", "")
            )
            self.fields[f"recipients-{i}-kind"] = forms.ChoiceField(
                label=_("Kind"),
                required=False,
                choices=[("", "—"), *RecipientKind.choices],
                initial=row.get("kind", ""),
            )
        for i in range(self.transfer_count):
            row = transfers[i] if i < len(transfers) else {}
            self.fields[f"transfers-{i}-country"] = forms.CharField(
                label=_("Country"), required=False, max_length=2, initial=row.get("country", "")
            )
            self.fields[f"transfers-{i}-safeguard"] = forms.ChoiceField(
                label=_("Safeguard"),
                required=False,
                choices=TransferSafeguard.choices,
                initial=row.get("safeguard", ""),
            )
            self.fields[f"transfers-{i}-document"] = forms.URLField(
                label=_("Document"), required=False, initial=row.get("document", "")
            )
        category_choices = [("", "—")] + [(c.key, c.name) for c in DataCategory.objects.order_by("name")]
        for i in range(self.retention_count):
            key, period = retention[i] if i < len(retention) else ("", "")
            self.fields[f"retention-{i}-category"] = forms.ChoiceField(
                label=_("Data category"), required=False, choices=category_choices, initial=key
            )
            self.fields[f"retention-{i}-period"] = forms.CharField(
                label=_("Retention period"), required=False, max_length=300, initial=period
            )
        measures = instance.security_measures or {}
        for key, label in SECURITY_MEASURES.items():
            self.fields[f"security-{key}"] = forms.CharField(
                label=label,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                initial=measures.get(key, ""),
            )
        for name, field in self.fields.items():
            if "-" in name:
                self.style_field(field)

    @staticmethod
    def _count(data, prefix: str, stored: int) -> int:
        if data is not None:
            found = {k.split("-")[1] for k in data if k.startswith(f"{prefix}-") and k.count("-") == 2}
            return max([int(n) + 1 for n in found if n.isdigit()] + [0])
        return stored + EXTRA_ROWS

    # --- rendering helpers (templates/gdpr/activity_edit.html) ---

    def category_groups(self):
        """[(CNIL group label, [(checkbox subwidget, category, depth)])] for the grouped checkboxes."""
        from gdpr.taxonomy import tree

        widgets = {str(w.data["value"]): w for w in self["data_categories"]}
        groups: dict[str, list] = {}
        for depth, category in tree():  # parents before their children
            widget = widgets.get(str(category.pk))
            if widget is not None:
                groups.setdefault(category.cnil_group, []).append((widget, category, min(depth, 1)))
        labels = dict(CnilGroup.choices)
        return [(labels.get(group, group), groups[group]) for group in CnilGroup.values if group in groups]

    def recipient_rows(self):
        return [
            (self[f"recipients-{i}-name"], self[f"recipients-{i}-kind"]) for i in range(self.recipient_count)
        ]

    def transfer_rows(self):
        return [
            (
                self[f"transfers-{i}-country"],
                self[f"transfers-{i}-safeguard"],
                self[f"transfers-{i}-document"],
            )
            for i in range(self.transfer_count)
        ]

    def retention_rows(self):
        return [
            (self[f"retention-{i}-category"], self[f"retention-{i}-period"])
            for i in range(self.retention_count)
        ]

    def security_fields(self):
        return [self[f"security-{key}"] for key in SECURITY_MEASURES]

    # --- cleaning ---

    def clean_reference(self):
        reference = (self.cleaned_data.get("reference") or "").strip()
        if not reference:
            from gdpr.register import next_reference

            return self.instance.reference or next_reference()
        return reference

    def clean(self):
        data = super().clean()
        recipients, transfers, retention = [], [], {}
        for i in range(self.recipient_count):
            name = (data.get(f"recipients-{i}-name") or "").strip()
            kind = data.get(f"recipients-{i}-kind") or ""
            if name:
                if not kind:
                    self.add_error(f"recipients-{i}-kind", _("Say what kind of recipient this is."))
                recipients.append({"name": name, "kind": kind})
        for i in range(self.transfer_count):
            country = (data.get(f"transfers-{i}-country") or "").strip().upper()
            safeguard = data.get(f"transfers-{i}-safeguard") or ""
            document = data.get(f"transfers-{i}-document") or ""
            if not country:
                if safeguard or document:
                    self.add_error(f"transfers-{i}-country", _("Give the country (ISO code, e.g. US)."))
                continue
            if len(country) != 2 or not country.isalpha():
                self.add_error(f"transfers-{i}-country", _("Give a two-letter ISO country code, e.g. US."))
            transfers.append({"country": country, "safeguard": safeguard, "document": document})
        for i in range(self.retention_count):
            key = data.get(f"retention-{i}-category") or ""
            period = (data.get(f"retention-{i}-period") or "").strip()
            if key and period:
                retention[key] = period
            elif period and not key:
                self.add_error(f"retention-{i}-category", _("Choose the data category this period is for."))
        self.structured = {
            "recipients": recipients,
            "transfers": transfers,
            "retention": retention,
            "security_measures": {
                key: (data.get(f"security-{key}") or "").strip()
                for key in SECURITY_MEASURES
                if (data.get(f"security-{key}") or "").strip()
            },
        }
        return data

    def save(self, commit=True):
        for name, value in self.structured.items():
            setattr(self.instance, name, value)
        return super().save(commit=commit)


class ControllerProfileForm(ConsoleModelForm):
    class Meta:
        model = ControllerProfile
        fields = (
            "legal_name",
            "address",
            "registration_number",
            "contact_email",
            "eu_representative",
            "dpo_name",
            "dpo_email",
            "dpo_phone",
            "dpo_address",
        )
        widgets = {
            "address": forms.Textarea(attrs={"rows": 3}),
            "eu_representative": forms.Textarea(attrs={"rows": 2}),
            "dpo_address": forms.Textarea(attrs={"rows": 2}),
        }

    def fieldsets(self):
        return [
            (
                _("Controller"),
                ["legal_name", "address", "registration_number", "contact_email", "eu_representative"],
            ),
            (_("Data protection officer"), ["dpo_name", "dpo_email", "dpo_phone", "dpo_address"]),
        ]


class SystemPrivacyForm(ConsoleModelForm):
    class Meta:
        model = SystemPrivacy
        fields = (
            "hosting_country",
            "vendor",
            "is_processor",
            "transfer_safeguard",
            "safeguard_document",
            "processor_agreement",
            "security_measures",
        )
        widgets = {"security_measures": forms.Textarea(attrs={"rows": 3})}

    def clean_hosting_country(self):
        country = (self.cleaned_data.get("hosting_country") or "").strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            raise forms.ValidationError(_("Give a two-letter ISO country code, e.g. FR or US."))
        return country
