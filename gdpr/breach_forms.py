"""Forms of the breach register and of the retention rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from flows.models import System
from gdpr import breaches
from gdpr.models import Breach, DataCategory, RetentionRule, SubjectCategory
from integration_hub.forms import ConsoleForm, ConsoleModelForm
from integration_hub.views.generic import reverse_or_none

DATETIME_WIDGET = {"type": "datetime-local"}


def _datetime_field(label, required=False, help_text=""):
    return forms.DateTimeField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.DateTimeInput(attrs=DATETIME_WIDGET, format="%Y-%m-%dT%H:%M"),
    )


class BreachForm(ConsoleModelForm):
    """Record or edit a breach. Choosing the systems pre-fills the data categories the register says
    they hold (the approved activities of the flows touching them)."""

    occurred_at = _datetime_field(_("Occurred"), help_text=_("When the breach happened, if known."))
    aware_at = _datetime_field(
        _("Controller aware since"),
        required=True,
        help_text=_("The 72-hour clock to notify the authority starts here (Art. 33(1))."),
    )
    authority_notified_at = _datetime_field(_("Authority notified"))
    persons_notified_at = _datetime_field(_("Persons notified"))
    closed_at = _datetime_field(_("Closed"))

    class Meta:
        model = Breach
        fields = (
            "title",
            "description",
            "occurred_at",
            "aware_at",
            "systems",
            "data_categories",
            "subject_categories",
            "persons_affected",
            "records_affected",
            "risk",
            "consequences",
            "measures",
            "authority_notified_at",
            "authority_reference",
            "late_reason",
            "persons_notified_at",
            "not_notified_reason",
            "closed_at",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "consequences": forms.Textarea(attrs={"rows": 2}),
            "measures": forms.Textarea(attrs={"rows": 3}),
            "late_reason": forms.Textarea(attrs={"rows": 2}),
            "not_notified_reason": forms.Textarea(attrs={"rows": 2}),
            "systems": forms.SelectMultiple(attrs={"size": 6}),
            "data_categories": forms.SelectMultiple(attrs={"size": 8}),
            "subject_categories": forms.SelectMultiple(attrs={"size": 4}),
        }
        help_texts = {
            "systems": _("The data categories below are pre-filled from the register when you choose them."),
            "late_reason": _("Required when the authority was notified more than 72 hours after awareness."),
            "not_notified_reason": _(
                "E.g. unlikely to result in a risk (Art. 33(1)), or data encrypted (Art. 34(3))."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["systems"].queryset = System.objects.order_by("name")
        self.fields["data_categories"].queryset = DataCategory.objects.order_by("cnil_group", "name")
        self.fields["subject_categories"].queryset = SubjectCategory.objects.order_by("name")
        url = reverse_or_none("gdpr:breach_categories")
        if url:  # static/hub/breach.js asks it for the categories of the chosen systems
            self.fields["systems"].widget.attrs["data-categories-url"] = url
        if not self.is_bound and self.instance.pk is None:
            self.prefill_categories()

    def prefill_categories(self):
        """On a new breach, the categories of the systems given as initial values (``?systems=``)."""
        systems = self.initial.get("systems") or []
        if not isinstance(systems, list | tuple):
            systems = [systems]
        if systems and not self.initial.get("data_categories"):
            self.initial["data_categories"] = list(
                breaches.categories_for_systems(systems).values_list("pk", flat=True)
            )

    def fieldsets(self):
        return [
            (_("What happened"), ["title", "description", "occurred_at", "aware_at"]),
            (
                _("Who and what is affected"),
                [
                    "systems",
                    "data_categories",
                    "subject_categories",
                    "persons_affected",
                    "records_affected",
                ],
            ),
            (_("Risk and measures"), ["risk", "consequences", "measures"]),
            (
                _("Notifications"),
                [
                    "authority_notified_at",
                    "authority_reference",
                    "late_reason",
                    "persons_notified_at",
                    "not_notified_reason",
                    "closed_at",
                ],
            ),
        ]

    def clean(self):
        data = super().clean()
        errors = breaches.notification_errors(
            aware_at=data.get("aware_at"),
            occurred_at=data.get("occurred_at"),
            authority_notified_at=data.get("authority_notified_at"),
            late_reason=data.get("late_reason", ""),
            persons_notified_at=data.get("persons_notified_at"),
        )
        for name, message in errors.items():
            self.add_error(name, message)
        return data


class NotifyAuthorityForm(ConsoleForm):
    """The "authority notified" action: when, the authority's reference, and why late if it was."""

    at = _datetime_field(_("Notified at"), required=True)
    reference = forms.CharField(label=_("Authority's reference"), max_length=100, required=False)
    late_reason = forms.CharField(
        label=_("Reasons for the delay"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required after 72 hours (Art. 33(1))."),
    )

    def __init__(self, *args, breach: Breach, **kwargs):
        self.breach = breach
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        errors = breaches.notification_errors(
            aware_at=self.breach.aware_at,
            authority_notified_at=data.get("at"),
            late_reason=data.get("late_reason") or self.breach.late_reason,
        )
        for name, message in errors.items():
            self.add_error("at" if name == "authority_notified_at" else name, message)
        return data


class NotifyPersonsForm(ConsoleForm):
    """The "persons notified" action (Art. 34)."""

    at = _datetime_field(_("Persons notified at"), required=True)

    def __init__(self, *args, breach: Breach, **kwargs):
        self.breach = breach
        super().__init__(*args, **kwargs)

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at < self.breach.aware_at:
            raise forms.ValidationError(_("The persons cannot be notified before you became aware."))
        return at


class RetentionRuleForm(ConsoleModelForm):
    class Meta:
        model = RetentionRule
        fields = ("keep_days", "enabled")
        widgets = {"keep_days": forms.NumberInput(attrs={"min": 1, "class": "form-control-sm"})}

    def clean_keep_days(self):
        days = self.cleaned_data["keep_days"]
        if days < 1:
            raise forms.ValidationError(_("Keep at least one day."))
        return days
