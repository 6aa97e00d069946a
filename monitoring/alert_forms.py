"""Forms of the alert pages; the API validates through the same ``AlertRuleForm``."""

from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.models import Group
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flows.models import Flow, System
from integration_hub import outbound
from integration_hub.forms import ConsoleForm, ConsoleModelForm, active_users
from integration_hub.permissions import restrict
from monitoring.models import AlertRule, NotificationPreference
from monitoring.models.alerts import ScopeKind


class WriteOnlyURLInput(forms.URLInput):
    """The webhook URL is a secret: the field never shows a value, not even one just typed and sent back."""

    def format_value(self, value):
        return None


PARAM_LABELS = {
    "threshold": _("threshold (N)"),
    "percent": _("percentage (X %)"),
    "window_minutes": _("window (minutes)"),
}


class AlertRuleForm(ConsoleModelForm):
    condition = forms.ChoiceField(label=_("Condition"), choices=())
    webhook_url = forms.URLField(
        label=_("Webhook URL"),
        required=False,
        assume_scheme="https",
        max_length=2000,
        widget=WriteOnlyURLInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=_("Write-only: leave empty to keep the current URL."),
    )
    clear_webhook = forms.BooleanField(label=_("Remove the webhook URL"), required=False)

    class Meta:
        model = AlertRule
        fields = (
            "name",
            "description",
            "enabled",
            "severity",
            "scope_kind",
            "system",
            "flow",
            "condition",
            "threshold",
            "percent",
            "window_minutes",
            "cooldown_minutes",
            "email_users",
            "email_roles",
            "inapp_users",
            "inapp_roles",
            "webhook_url",
            "webhook_format",
            "clear_webhook",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "scope_kind": forms.RadioSelect,
            "email_users": forms.SelectMultiple(attrs={"size": 5}),
            "inapp_users": forms.SelectMultiple(attrs={"size": 5}),
            "email_roles": forms.CheckboxSelectMultiple,
            "inapp_roles": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        from monitoring.alerts import condition_choices, conditions

        self.user = user
        self.fields["condition"].choices = [("", "—"), *condition_choices()]
        self.fields["condition"].widget.attrs["data-condition-params"] = ",".join(
            f"{key}:{'+'.join(c.params)}" for key, c in conditions().items()
        )
        self.fields["system"].queryset = restrict(System.objects.order_by("name"), user)
        self.fields["flow"].queryset = restrict(Flow.objects.order_by("name"), user)
        for name in ("email_users", "inapp_users"):
            self.fields[name].queryset = active_users()
            self.fields[name].label_from_instance = lambda u: u.get_username()
        for name in ("email_roles", "inapp_roles"):
            self.fields[name].queryset = Group.objects.order_by("name")
            self.fields[name].label_from_instance = lambda g: gettext(g.name)  # seeded roles are translated
        for name, label in PARAM_LABELS.items():
            self.fields[name].label = label
        self.fields["percent"].widget.attrs.update({"min": 0, "max": 100, "step": "any"})
        if self.instance.pk and self.instance.webhook_url_encrypted:
            self.fields["webhook_url"].help_text = _(
                "Currently %(hint)s. Write-only: leave empty to keep it."
            ) % {"hint": self.instance.webhook_hint}
        else:
            del self.fields["clear_webhook"]

    def fieldsets(self):
        return [
            (_("Rule"), ["name", "description", "enabled", "severity"]),
            (_("What it watches"), ["scope_kind", "system", "flow"]),
            (_("When it fires"), ["condition", "threshold", "percent", "window_minutes", "cooldown_minutes"]),
            (_("Email"), ["email_users", "email_roles"]),
            (_("In the console (bell)"), ["inapp_users", "inapp_roles"]),
            (_("Webhook (generic JSON, Slack, Teams)"), ["webhook_url", "webhook_format", "clear_webhook"]),
        ]

    def clean_webhook_url(self):
        url = self.cleaned_data.get("webhook_url") or ""
        if url:
            if urlsplit(url).scheme not in ("http", "https"):
                raise forms.ValidationError(_("Enter an http:// or https:// address."))
            if not outbound.url_allowed(url):
                raise forms.ValidationError(
                    _(
                        "The hub may not connect to this host (HUB_OUTBOUND_ALLOWED_HOSTS): ask an administrator."
                    )
                )
        return url

    def clean(self):
        from monitoring.alerts import GLOBAL, get_condition

        data = super().clean()
        scope = data.get("scope_kind")
        if scope == ScopeKind.SYSTEM:
            if not data.get("system"):
                self.add_error("system", _("Choose the system this rule watches."))
            data["flow"] = None
        elif scope == ScopeKind.FLOW:
            if not data.get("flow"):
                self.add_error("flow", _("Choose the flow this rule watches."))
            data["system"] = None
        else:
            data["system"] = data["flow"] = None
        condition = get_condition(data.get("condition") or "")
        if condition is not None:
            for name in condition.params:
                if data.get(name) in (None, ""):
                    self.add_error(
                        name, _("“%(condition)s” needs this value.") % {"condition": condition.label}
                    )
            for name in set(PARAM_LABELS) - set(condition.params):
                data[name] = None  # a value the condition ignores would only mislead the reader
            if condition.level == GLOBAL and scope and scope != ScopeKind.ALL:
                self.add_error("scope_kind", _("This condition watches the whole hub: choose “all”."))
        percent = data.get("percent")
        if percent is not None and not 0 < percent <= 100:
            self.add_error("percent", _("Enter a percentage above 0 and at most 100."))
        if data.get("threshold") == 0 and condition is not None and condition.key == "consecutive_failures":
            self.add_error("threshold", _("Enter at least 1."))
        if data.get("window_minutes") == 0:
            self.add_error("window_minutes", _("Enter at least 1 minute."))
        return data

    def save(self, commit=True):
        rule = super().save(commit=False)
        rule.system = self.cleaned_data.get("system")
        rule.flow = self.cleaned_data.get("flow")
        for name in PARAM_LABELS:
            setattr(rule, name, self.cleaned_data.get(name))
        if self.cleaned_data.get("webhook_url"):
            rule.webhook_url = self.cleaned_data["webhook_url"]
        elif self.cleaned_data.get("clear_webhook"):
            rule.webhook_url = ""
        if rule.pk is None and self.user is not None and self.user.is_authenticated:
            rule.created_by = self.user
        if commit:
            rule.save()
            self.save_m2m()
        return rule


class SnoozeForm(ConsoleForm):
    PRESETS = (("1h", _("1 hour")), ("24h", _("24 hours")), ("until", _("until…")), ("off", _("Unsnooze")))

    duration = forms.ChoiceField(choices=PRESETS)
    until = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), label=_("Until")
    )

    def clean(self):
        from datetime import timedelta

        from django.utils import timezone

        data = super().clean()
        duration = data.get("duration")
        now = timezone.now()
        if duration == "1h":
            data["snoozed_until"] = now + timedelta(hours=1)
        elif duration == "24h":
            data["snoozed_until"] = now + timedelta(hours=24)
        elif duration == "until":
            until = data.get("until")
            if until is None:
                self.add_error("until", _("Choose when the snooze ends."))
            elif until <= now:
                self.add_error("until", _("Choose a moment in the future."))
            else:
                data["snoozed_until"] = until
        else:
            data["snoozed_until"] = None
        return data


class NotificationPreferenceForm(ConsoleModelForm):
    class Meta:
        model = NotificationPreference
        fields = ("email", "in_app", "min_severity")
