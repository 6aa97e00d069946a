import contextlib
import copy

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows.connectors.registry import connector_choices, get_connector_class
from flows.models import System
from integration_hub.forms import ConsoleForm, ConsoleFormMixin, ConsoleModelForm, active_users

PARAM = "param_"
SECRET = "secret_"  # noqa: S105  (a field-name prefix)
CLEAR = "clear_"


# Labels of the secrets connectors commonly declare; a connector may name others in ``secret_labels``.
SECRET_LABELS = {
    "password": gettext_lazy("Password"),
    "token": gettext_lazy("Token"),
    "access_token": gettext_lazy("Access token"),
    "api_key": gettext_lazy("API key"),
    "client_secret": gettext_lazy("Client secret"),
    "private_key": gettext_lazy("Private key"),
}


def secret_label(connector_class, name: str) -> str:
    labels = {**SECRET_LABELS, **getattr(connector_class, "secret_labels", {})}
    return str(labels.get(name, name.replace("_", " ").capitalize()))


class WriteOnlyTextarea(forms.Textarea):
    """A text area that never shows a value, not even the one just typed into a form sent back."""

    def format_value(self, value):
        return ""


def _secret_widget(connector_class, name: str):
    """Secrets are never rendered back: a password input, or an always-empty text area for long values."""
    if getattr(connector_class, "secret_widgets", {}).get(name) == "textarea":
        return WriteOnlyTextarea(attrs={"rows": 3, "class": "font-monospace", "autocomplete": "off"})
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})


def connector_fields(
    connector_class, existing_secrets: list[str] = (), initial_params: dict | None = None
) -> dict:
    """The form fields of a connector's configuration: its parameters, then its secrets.

    Secrets are write-only: the field is always empty; a stored secret is kept when left empty and can
    be cleared with its checkbox.
    """
    fields = {}
    initial_params = initial_params or {}
    for name, field in connector_class.parameters.items():
        field = copy.deepcopy(field)
        if name in initial_params:
            field.initial = initial_params[name]
        fields[f"{PARAM}{name}"] = field
    for name in connector_class.sensitive_parameters:
        stored = name in existing_secrets
        fields[f"{SECRET}{name}"] = forms.CharField(
            label=secret_label(connector_class, name),
            required=False,
            strip=False,
            widget=_secret_widget(connector_class, name),
            help_text=_("A value is stored; leave empty to keep it.")
            if stored
            else _("Stored encrypted; never shown again."),
        )
        if stored:
            fields[f"{CLEAR}{name}"] = forms.BooleanField(
                label=_("Remove the stored value of “%(name)s”")
                % {"name": secret_label(connector_class, name)},
                required=False,
            )
    return fields


def clean_connector_config(connector_class, cleaned: dict, existing_secrets: dict) -> tuple[dict, dict, dict]:
    """(parameters, secrets, errors) from cleaned field values; errors are keyed by field name."""
    params = {name: cleaned.get(f"{PARAM}{name}") for name in connector_class.parameters}
    params = {k: v for k, v in params.items() if v not in (None, "")}
    secrets = dict(existing_secrets)
    for name in connector_class.sensitive_parameters:
        if cleaned.get(f"{CLEAR}{name}"):
            secrets.pop(name, None)
        value = cleaned.get(f"{SECRET}{name}")
        if value:
            secrets[name] = value
    secrets = {k: v for k, v in secrets.items() if k in connector_class.sensitive_parameters}
    errors = {}
    for name, message in connector_class.clean_parameters(params, secrets).items():
        field = f"{SECRET}{name}" if name in connector_class.sensitive_parameters else f"{PARAM}{name}"
        errors[field] = message
    return params, secrets, errors


class ConnectorConfigForm(ConsoleForm):
    """A connector's configuration on its own: what the API validates ``parameters`` and ``secrets`` with."""

    def __init__(self, data, *, connector_class, existing_secrets: dict):
        super().__init__(data)
        self.connector_class = connector_class
        self.existing_secrets = existing_secrets
        self.fields.update(connector_fields(connector_class, list(existing_secrets)))

    def clean(self):
        cleaned = super().clean()
        self.params, self.secrets, errors = clean_connector_config(
            self.connector_class, cleaned, self.existing_secrets
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


class SystemForm(ConsoleModelForm):
    """A system with its connector's own configuration fields (they change with the connector)."""

    connector = forms.ChoiceField(
        label=gettext_lazy("Connector"),
        help_text=gettext_lazy("How the hub talks to this system. Its settings appear below."),
    )
    webhook_secret = forms.CharField(
        label=gettext_lazy("Signature secret"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("The shared secret the system signs its webhooks with. Stored encrypted."),
    )

    class Meta:
        model = System
        fields = (
            "name",
            "slug",
            "role",
            "criticality",
            "owner",
            "enabled",
            "description",
            "connector",
            "timeout",
            "rate_limit",
            "max_concurrency",
            "verify_tls",
            "webhook_enabled",
            "webhook_signature_header",
            "webhook_signature_encoding",
            "webhook_event_id",
            "webhook_topic",
        )
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {
            "slug": gettext_lazy("Short identifier used in URLs and configuration files, e.g. 'main-shop'.")
        }

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.fields["owner"].queryset = active_users()
        if self.instance.webhook_secret_encrypted:
            self.fields["webhook_secret"].help_text = _("A secret is stored; leave empty to keep it.")
        self.fields["connector"].choices = [("", "—"), *connector_choices()]
        # Changing the connector redraws the form with that connector's own settings (htmx).
        self.fields["connector"].widget.attrs.update(
            {
                "hx-post": "",
                "hx-trigger": "change",
                "hx-vals": '{"_refresh": "1"}',
                "hx-target": "#object-form",
                "hx-select": "#object-form",
                "hx-swap": "outerHTML",
            }
        )
        key = (
            (data.get("connector") if data is not None else None)
            or self.initial.get("connector")
            or self.instance.connector
        )
        self.connector_class = None
        with contextlib.suppress(KeyError):  # an unknown key is reported by the choice field
            self.connector_class = get_connector_class(key) if key else None
        self.existing_secrets = (
            self.instance.secrets if self.instance.pk and key == self.instance.connector else {}
        )
        if self.connector_class is not None:
            initial = self.instance.parameters if key == self.instance.connector else {}
            extra = connector_fields(self.connector_class, list(self.existing_secrets), initial)
            for field in extra.values():
                ConsoleFormMixin.style_field(field)
            self.fields.update(extra)
            if not self.instance.pk and self.connector_class.roles and len(self.connector_class.roles) == 1:
                self.fields["role"].initial = self.connector_class.roles[0]

    def fieldsets(self):
        names = list(self.fields)
        connection = [n for n in names if n.startswith(PARAM)]
        secrets = [n for n in names if n.startswith((SECRET, CLEAR))]
        return [
            (_("System"), ["name", "slug", "role", "criticality", "owner", "enabled", "description"]),
            (_("Connection"), ["connector", *connection]),
            (_("Credentials"), secrets),
            (_("Limits"), ["timeout", "rate_limit", "max_concurrency", "verify_tls"]),
            (
                _("Webhooks"),
                [
                    "webhook_enabled",
                    "webhook_secret",
                    "webhook_signature_header",
                    "webhook_signature_encoding",
                    "webhook_event_id",
                    "webhook_topic",
                ],
            ),
        ]

    def clean(self):
        cleaned = super().clean()
        header = cleaned.get("webhook_signature_header")
        if (
            cleaned.get("webhook_enabled")
            and header
            and not (cleaned.get("webhook_secret") or self.instance.webhook_secret_encrypted)
        ):
            self.add_error(
                "webhook_secret",
                _("Needed to check the signature header; or empty the header to accept unsigned events."),
            )
        if self.connector_class is None:
            return cleaned
        self.params, self.secrets, errors = clean_connector_config(
            self.connector_class, cleaned, self.existing_secrets
        )
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned

    def save(self, commit=True):
        system = super().save(commit=False)
        system.parameters = self.params
        system.secrets = self.secrets
        if self.cleaned_data.get("webhook_secret"):
            system.webhook_secret = self.cleaned_data["webhook_secret"]
        if system.webhook_enabled and not system.webhook_token:
            from flows.webhooks import new_token

            system.webhook_token = new_token()
        if commit:
            system.save()
        return system
