import contextlib
import copy
import json

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from flows import designer
from flows.choices import Criticality, FlowWriteMode, MatchStrategy, PersonalData, SyncMode, Trigger
from flows.connectors.discovery import guess_personal
from flows.connectors.registry import connector_choices, get_connector_class
from flows.engine.chain_text import ChainTextError, format_arguments, parse_arguments, parse_chain
from flows.engine.rules import RULE_KIND_CHOICES
from flows.models import Flow, System, ValueMap
from flows.valuemaps import ValueMapImportError, entries_from_csv, entries_to_csv
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


def validate_connector_config(
    key: str, params, secrets_in, existing_secrets: dict
) -> tuple[dict, dict, dict]:
    """A connector's configuration given as data (the API, config import) checked by its own form.

    ``secrets_in`` is {name: value} to set, {name: None} to remove; names left out keep
    ``existing_secrets``. Returns (parameters, secrets, errors) where errors maps "connector",
    "parameters" or "secrets" to a message or to {name: [messages]}, and "non_field_errors" to a list.
    """
    from flows.connectors.registry import get_connector_class

    try:
        connector_class = get_connector_class(key)
    except KeyError:
        return {}, {}, {"connector": _("Choose a connector.")}
    if not isinstance(params, dict):
        return {}, {}, {"parameters": _("Give a JSON object.")}
    secrets_in = secrets_in or {}
    if not isinstance(secrets_in, dict):
        return {}, {}, {"secrets": _("Give a JSON object of names to values.")}
    errors: dict = {}
    unknown = set(secrets_in) - set(connector_class.sensitive_parameters)
    if unknown:
        errors["secrets"] = _("Unknown for this connector: %(names)s") % {"names": ", ".join(sorted(unknown))}
    unknown = set(params) - set(connector_class.parameters)
    if unknown:
        errors["parameters"] = _("Unknown for this connector: %(names)s") % {
            "names": ", ".join(sorted(unknown))
        }
    if errors:
        return {}, {}, errors
    data = {f"{PARAM}{k}": v for k, v in params.items()}
    data.update({f"{SECRET}{k}": v for k, v in secrets_in.items() if v is not None})
    data.update({f"{CLEAR}{k}": True for k, v in secrets_in.items() if v is None and k in existing_secrets})
    form = ConnectorConfigForm(data, connector_class=connector_class, existing_secrets=existing_secrets)
    if form.is_valid():
        return form.params, form.secrets, {}
    for name, messages in form.errors.items():
        if name.startswith(PARAM):
            errors.setdefault("parameters", {})[name[len(PARAM) :]] = list(messages)
        elif name.startswith(SECRET):
            errors.setdefault("secrets", {})[name[len(SECRET) :]] = list(messages)
        else:
            errors.setdefault("non_field_errors", []).extend(messages)
    # What could be read is returned too: a config import keeps it when only secrets are missing.
    return getattr(form, "params", {}), getattr(form, "secrets", {}), errors


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
            "record_url_template",
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
            "webhook_record_id",
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
                    "webhook_record_id",
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
        record_id = (cleaned.get("webhook_record_id") or "").strip()
        if record_id and not (record_id.startswith("body:") and len(record_id) > 5):
            self.add_error(
                "webhook_record_id",
                _("Give the place of the id in the event's body as body:<path>, e.g. body:entity_id."),
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


class ValueMapForm(ConsoleModelForm):
    """A value map with its entries as CSV (source,target per line), typed or uploaded."""

    entries_csv = forms.CharField(
        label=gettext_lazy("Entries"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "class": "font-monospace"}),
        help_text=gettext_lazy("One “source,target” pair per line (CSV; quote values that contain commas)."),
    )
    csv_file = forms.FileField(
        label=gettext_lazy("…or import a CSV file"),
        required=False,
        help_text=gettext_lazy(
            "Replaces the entries above. UTF-8, two columns, an optional source,target header."
        ),
    )

    class Meta:
        model = ValueMap
        fields = ("name", "description", "unmatched", "default")
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.fields["entries_csv"].initial = entries_to_csv(self.instance.entries)

    def clean_name(self):
        name = self.cleaned_data["name"]
        problem = designer.invisible_problem(name)
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("csv_file")
        try:
            if upload:
                if upload.size > 5_000_000:
                    raise ValueMapImportError(_("The file is larger than 5 MB."))
                try:
                    text = upload.read().decode("utf-8-sig")
                except UnicodeDecodeError as exc:
                    raise ValueMapImportError(_("The file is not UTF-8 text.")) from exc
                self.entries = entries_from_csv(text)
            else:
                self.entries = entries_from_csv(cleaned.get("entries_csv") or "")
        except ValueMapImportError as exc:
            self.add_error("csv_file" if upload else "entries_csv", str(exc))
        return cleaned

    def save(self, commit=True):
        value_map = super().save(commit=False)
        value_map.entries = self.entries
        if commit:
            value_map.save()
        return value_map


# --- the flow designer --------------------------------------------------------------------------------


class FlowForm(ConsoleForm):
    """A flow's settings. Saving goes through ``flows.designer.save_flow`` (the API's validation too)."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=120)
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    tags = forms.CharField(
        label=gettext_lazy("Tags"),
        required=False,
        help_text=gettext_lazy("Comma-separated, e.g. catalog, daily."),
    )
    owner = forms.ModelChoiceField(
        queryset=None, required=False, label=gettext_lazy("Owner"), to_field_name="username"
    )
    source_system = forms.ModelChoiceField(
        queryset=None, label=gettext_lazy("Source system"), to_field_name="slug"
    )
    source_entity = forms.CharField(label=gettext_lazy("Source entity"), max_length=100)
    target_system = forms.ModelChoiceField(
        queryset=None, label=gettext_lazy("Target system"), to_field_name="slug"
    )
    target_entity = forms.CharField(label=gettext_lazy("Target entity"), max_length=100)
    trigger = forms.ChoiceField(label=gettext_lazy("Trigger"), choices=Trigger.choices)
    interval_minutes = forms.IntegerField(
        label=gettext_lazy("Every (minutes)"),
        required=False,
        min_value=1,
        max_value=10080,
        help_text=gettext_lazy(
            "With a webhook trigger: a catch-up run at this interval too, for missed events."
        ),
    )
    cron = forms.CharField(
        label=gettext_lazy("Cron expression"),
        required=False,
        help_text=gettext_lazy("e.g. “*/5 8-20 * * 1-5” (minute hour day month weekday)."),
    )
    webhook_topic = forms.CharField(
        label=gettext_lazy("Webhook topic"),
        required=False,
        help_text=gettext_lazy("Only events of this topic; empty: any."),
    )
    after_flow = forms.ModelChoiceField(
        queryset=None, required=False, label=gettext_lazy("After flow"), to_field_name="name"
    )
    criticality = forms.ChoiceField(
        label=gettext_lazy("Criticality"), choices=Criticality.choices, initial=Criticality.NORMAL
    )
    freshness_sla_minutes = forms.IntegerField(
        label=gettext_lazy("Freshness SLA (minutes)"),
        required=False,
        min_value=1,
        help_text=gettext_lazy(
            "Empty: proposed from the criticality (critical: every minute, SLA 5 minutes)."
        ),
    )
    sync_mode = forms.ChoiceField(label=gettext_lazy("Sync mode"), choices=SyncMode.choices)
    cursor_field = forms.CharField(label=gettext_lazy("Cursor field"), required=False)
    match_strategy = forms.ChoiceField(label=gettext_lazy("Match records by"), choices=MatchStrategy.choices)
    source_key = forms.CharField(label=gettext_lazy("Source key"), required=False)
    target_key = forms.CharField(label=gettext_lazy("Target key"), required=False)
    write_mode = forms.ChoiceField(label=gettext_lazy("Write mode"), choices=FlowWriteMode.choices)
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False)
    purpose = forms.CharField(
        label=gettext_lazy("Purpose"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("Why this data moves (it goes to the GDPR register of processing)."),
    )
    comment = forms.CharField(
        label=gettext_lazy("What changed (for the version history)"), required=False, max_length=500
    )
    override = forms.CharField(
        label=gettext_lazy("Reason to enable despite failing flow tests"),
        required=False,
        max_length=400,
        help_text=gettext_lazy("Only needed when a flow test fails and the flow is enabled; it is audited."),
    )

    def __init__(self, *args, user, flow=None, **kwargs):
        super().__init__(*args, **kwargs)
        from integration_hub.permissions import restrict

        if flow is None or not flow.tests:
            del self.fields["override"]  # a flow without tests has nothing to override
        systems = restrict(System.objects.all(), user, "view")
        self.fields["source_system"].queryset = systems
        self.fields["target_system"].queryset = systems
        self.fields["owner"].queryset = active_users()
        others = Flow.objects.all()
        if flow is not None and flow.pk:
            others = others.exclude(pk=flow.pk)
        self.fields["after_flow"].queryset = others
        for name in ("source_system", "target_system"):
            # Changing a system redraws the form so that the entity and field pickers follow (htmx).
            self.fields[name].widget.attrs.update(REDRAW)
        for name in ("source_entity", "target_entity"):
            self.fields[name].widget.attrs.update(
                {**REDRAW, "hx-trigger": "change delay:300ms", "list": f"{name}-choices"}
            )
        for name in ("cursor_field", "source_key"):
            self.fields[name].widget.attrs["list"] = "source-fields"
        self.fields["target_key"].widget.attrs["list"] = "target-fields"

    def fieldsets(self):
        return [
            (_("Flow"), ["name", "description", "tags", "owner", "purpose"]),
            (pgettext("flow side", "From"), ["source_system", "source_entity"]),
            (pgettext("flow side", "To"), ["target_system", "target_entity"]),
            (
                _("When"),
                [
                    "trigger",
                    "interval_minutes",
                    "cron",
                    "webhook_topic",
                    "after_flow",
                    "criticality",
                    "freshness_sla_minutes",
                ],
            ),
            (
                _("How"),
                [
                    "sync_mode",
                    "cursor_field",
                    "match_strategy",
                    "source_key",
                    "target_key",
                    "write_mode",
                    "enabled",
                    *(["override"] if "override" in self.fields else []),
                ],
            ),
            (_("This change"), ["comment"]),
        ]

    @staticmethod
    def initial_from(data: dict) -> dict:
        initial = {
            k: v for k, v in data.items() if k not in ("mappings", "filters", "quality_rules", "value_maps")
        }
        initial["tags"] = ", ".join(data.get("tags") or [])
        return initial

    def definition(self) -> dict:
        data = dict(self.cleaned_data)
        data["tags"] = [t.strip() for t in (data.get("tags") or "").split(",") if t.strip()]
        for name, attr in (
            ("source_system", "slug"),
            ("target_system", "slug"),
            ("owner", "username"),
            ("after_flow", "name"),
        ):
            value = data.get(name)
            data[name] = getattr(value, attr) if value is not None else None
        if data["trigger"] != Trigger.INTERVAL:
            data["interval_minutes"] = data.get("interval_minutes")
        proposal = designer.defaults_for(data.get("criticality") or "normal")
        if data.get("trigger") == Trigger.INTERVAL and not data.get("interval_minutes"):
            data["interval_minutes"] = proposal["interval_minutes"]
        if not data.get("freshness_sla_minutes"):
            data["freshness_sla_minutes"] = proposal["freshness_sla_minutes"]
        data.pop("comment", None)
        data.pop("override", None)
        for name in (
            "source_entity",
            "target_entity",
            "cron",
            "cursor_field",
            "source_key",
            "target_key",
            "name",
        ):
            data[name] = (data.get(name) or "").strip()
        return data


REDRAW = {
    "hx-post": "",
    "hx-trigger": "change",
    "hx-vals": '{"_refresh": "1"}',
    "hx-target": "#flow-form",
    "hx-select": "#flow-form",
    "hx-swap": "outerHTML",
}


class MappingForm(ConsoleForm):
    target = forms.CharField(label=gettext_lazy("Target field"), max_length=300, required=False)
    source = forms.CharField(label=gettext_lazy("Source path"), max_length=300, required=False)
    transforms = forms.CharField(
        label=gettext_lazy("Transforms"),
        max_length=2000,
        required=False,
        help_text=gettext_lazy("e.g. trim | lower | value_map(colours)"),
    )
    personal = forms.ChoiceField(
        label=gettext_lazy("Personal data"), choices=PersonalData.choices, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].widget.attrs.update(
            {"list": "target-fields", "class": "form-control form-control-sm font-monospace"}
        )
        self.fields["source"].widget.attrs.update(
            {"list": "source-fields", "class": "form-control form-control-sm font-monospace"}
        )
        self.fields["transforms"].widget.attrs.update(
            {"class": "form-control form-control-sm font-monospace", "list": "transform-names"}
        )
        self.fields["personal"].widget.attrs["class"] = "form-select form-select-sm"

    def clean_transforms(self):
        try:
            return parse_chain(self.cleaned_data.get("transforms") or "")
        except ChainTextError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("personal") in ("", None) and cleaned.get("target") and not self.errors:
            # A guess from the field names; the admin can always set it back to "not personal".
            guess = guess_personal(cleaned["target"], []) or guess_personal(cleaned.get("source") or "", [])
            cleaned["personal"] = PERSONAL_GUESSES.get(guess, "")
        return cleaned

    def mapping(self) -> dict | None:
        data = self.cleaned_data
        if (
            not data
            or data.get("DELETE")
            or not (data.get("target") or data.get("source") or data.get("transforms"))
        ):
            return None
        return {
            "target": (data.get("target") or "").strip(),
            "source": (data.get("source") or "").strip(),
            "transforms": data.get("transforms") or [],
            "personal": data.get("personal") or "",
        }


# Discovery's guesses → the designer's personal-data kinds.
PERSONAL_GUESSES = {
    "email": "email",
    "phone": "phone",
    "name": "name",
    "address": "address",
    "birthdate": "birthdate",
    "national_id": "national_id",
    "iban": "payment",
    "ip_address": "ip_address",
}

MappingFormSet = forms.formset_factory(MappingForm, extra=3, can_delete=True, max_num=500)


class FilterForm(ConsoleForm):
    path = forms.CharField(label=gettext_lazy("Source field"), max_length=300, required=False)
    op = forms.ChoiceField(label=gettext_lazy("Condition"), required=False, choices=[("", "—")])
    value = forms.CharField(
        label=gettext_lazy("Value"),
        max_length=1000,
        required=False,
        help_text=gettext_lazy('Text, a number, or a JSON list for “in”: ["a", "b"].'),
    )

    OPS = [
        ("equals", gettext_lazy("equals")),
        ("not_equals", gettext_lazy("differs from")),
        ("in", gettext_lazy("is one of")),
        ("contains", gettext_lazy("contains")),
        ("exists", gettext_lazy("has a value")),
        ("missing", gettext_lazy("is empty")),
        ("lt", gettext_lazy("is less than")),
        ("gt", gettext_lazy("is greater than")),
        ("changed_since", gettext_lazy("changed since")),
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["op"].choices = [("", "—"), *self.OPS]
        self.fields["path"].widget.attrs.update(
            {"list": "source-fields", "class": "form-control form-control-sm font-monospace"}
        )
        self.fields["op"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["value"].widget.attrs["class"] = "form-control form-control-sm"

    def rule(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not data.get("path"):
            return None
        rule = {"path": data["path"].strip(), "op": data.get("op") or "equals"}
        if rule["op"] not in ("exists", "missing"):
            raw = data.get("value") or ""
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            rule["value"] = value if not isinstance(value, dict) else raw
        return rule

    @staticmethod
    def initial_from(rule: dict) -> dict:
        value = rule.get("value", "")
        return {
            "path": rule.get("path"),
            "op": rule.get("op"),
            "value": json.dumps(value) if isinstance(value, list) else value,
        }


FilterFormSet = forms.formset_factory(FilterForm, extra=1, can_delete=True, max_num=50)


class RuleForm(ConsoleForm):
    kind = forms.ChoiceField(label=gettext_lazy("Rule"), required=False, choices=())
    field = forms.CharField(label=gettext_lazy("Field"), max_length=300, required=False)
    params = forms.CharField(
        label=gettext_lazy("Parameters"),
        max_length=2000,
        required=False,
        help_text=gettext_lazy('e.g. min=0, max=10000 — or pattern="^[A-Z]{3}-\\d+$"'),
    )
    message = forms.CharField(label=gettext_lazy("Message (optional)"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "—"), *RULE_KIND_CHOICES]
        self.fields["kind"].widget.attrs["class"] = "form-select form-select-sm"
        self.fields["field"].widget.attrs.update(
            {"list": "target-fields", "class": "form-control form-control-sm font-monospace"}
        )
        for name in ("params", "message"):
            self.fields[name].widget.attrs["class"] = "form-control form-control-sm"

    def clean_params(self):
        try:
            return parse_arguments(self.cleaned_data.get("params") or "")
        except ChainTextError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def rule(self) -> dict | None:
        data = self.cleaned_data
        if not data or data.get("DELETE") or not data.get("kind"):
            return None
        rule = {
            "kind": data["kind"],
            "field": (data.get("field") or "").strip(),
            "params": data.get("params") or {},
        }
        if data.get("message"):
            rule["message"] = data["message"]
        return rule

    @staticmethod
    def initial_from(rule: dict) -> dict:
        return {
            "kind": rule.get("kind"),
            "field": rule.get("field", ""),
            "params": format_arguments(rule.get("params") or {}),
            "message": rule.get("message", ""),
        }


RuleFormSet = forms.formset_factory(RuleForm, extra=1, can_delete=True, max_num=100)


class FlowTestForm(ConsoleForm):
    """A flow test typed by hand: a source record and what the flow must make of it."""

    CURRENT = "current"
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    source = forms.CharField(
        label=gettext_lazy("Source record (JSON)"),
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "spellcheck": "false"}),
        help_text=gettext_lazy('A record as the source system sends it, e.g. {"sku": "A-1", "qty": 3}.'),
    )
    expect = forms.ChoiceField(
        label=gettext_lazy("Expected outcome"),
        choices=[
            (CURRENT, gettext_lazy("What the flow does with it now")),
            ("send", gettext_lazy("Sent as the record below")),
            ("reject", gettext_lazy("Rejected (mapping error or data-quality rule)")),
            ("skip", gettext_lazy("Left out by a filter")),
        ],
        initial=CURRENT,
    )
    record = forms.CharField(
        label=gettext_lazy("Expected target record (JSON)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "class": "font-monospace", "spellcheck": "false"}),
        help_text=gettext_lazy("Only for “Sent as the record below”."),
    )

    def __init__(self, *args, names=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.names = set(names)

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        if name in self.names:
            raise forms.ValidationError(_("Another test of this flow has this name."))
        return name

    def _object(self, field: str):
        from flows.flowtests import parse_object

        value = parse_object(self.cleaned_data.get(field) or "")
        if value is None:
            self.add_error(field, _('Give a JSON object, e.g. {"sku": "A-1"}.'))
        return value

    def clean(self):
        data = super().clean()
        if data.get("source"):
            data["source_record"] = self._object("source")
        if data.get("expect") == "send":
            if not data.get("record"):
                self.add_error("record", _("Give the record the flow must send."))
            else:
                data["expected_record"] = self._object("record")
        return data

    def test(self, definition: dict) -> dict | None:
        """The test to store (personal values replaced by same-shape fakes), or None with a form error."""
        from flows import flowtests

        data = self.cleaned_data
        source = data["source_record"]
        try:
            if data["expect"] == self.CURRENT:
                return flowtests.pin(definition, source, name=data["name"])
            test = {
                "name": data["name"],
                "source": flowtests.anonymise(definition, source),
                "expect": data["expect"],
            }
            if data["expect"] == "send":
                test["record"] = flowtests.anonymise_expected(definition, source, data["expected_record"])
        except flowtests.MaskingChangesOutcome as exc:
            self.add_error("source", str(exc))
            return None
        return test


class ConfigImportForm(ConsoleForm):
    """A config document pasted or uploaded; ``text`` and ``fmt`` hold what to import."""

    content = forms.CharField(
        label=gettext_lazy("Config document"),
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "class": "font-monospace", "spellcheck": "false"}),
        help_text=gettext_lazy("Paste YAML or JSON as exported by this hub."),
    )
    file = forms.FileField(
        label=gettext_lazy("…or upload a file"),
        required=False,
        help_text=gettext_lazy("A .yaml, .yml or .json file of at most 5 MB; it replaces the text above."),
    )

    def clean(self):
        from flows import configio

        cleaned = super().clean()
        upload = cleaned.get("file")
        self.fmt = None
        if upload:
            if upload.size > configio.MAX_BYTES:
                self.add_error("file", _("The file is larger than 5 MB."))
                return cleaned
            try:
                self.text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", _("The file is not UTF-8 text."))
                return cleaned
            self.fmt = configio.sniff_format(self.text, upload.name)
        else:
            self.text = cleaned.get("content") or ""
            if not self.text.strip():
                self.add_error("content", _("Paste a config document or upload a file."))
        return cleaned


class HealthScanForm(ConsoleForm):
    """What a data-health scan checks; the fields proposed follow the chosen entity."""

    entity = forms.ChoiceField(label=gettext_lazy("Entity"))
    key_path = forms.CharField(
        label=gettext_lazy("Duplicates on"),
        required=False,
        help_text=gettext_lazy(
            "A field that should be unique, e.g. email or sku; several separated by commas."
        ),
    )
    required = forms.CharField(
        label=gettext_lazy("Required fields"),
        required=False,
        help_text=gettext_lazy(
            "Fields every record should have, separated by commas (e.g. the attributes a channel needs)."
        ),
    )
    updated_path = forms.CharField(
        label=gettext_lazy("Last-update field"),
        required=False,
        help_text=gettext_lazy("Records not updated for the months below count as stale."),
    )
    stale_months = forms.IntegerField(
        label=gettext_lazy("Stale after (months)"), min_value=1, max_value=240, initial=12
    )

    def __init__(self, *args, entities: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.entities = entities
        self.fields["entity"].choices = [(e["key"], f"{e['label']} ({e['key']})") for e in entities]
        self.fields["entity"].widget.attrs.update(
            {
                "hx-post": "",
                "hx-trigger": "change",
                "hx-vals": '{"_refresh": "1"}',
                "hx-target": "#scan-form",
                "hx-select": "#scan-form",
                "hx-swap": "outerHTML",
            }
        )
        for name in ("key_path", "required", "updated_path"):
            self.fields[name].widget.attrs.update({"list": "entity-fields", "autocomplete": "off"})

    def chosen_entity(self) -> dict | None:
        key = self.data.get("entity") if self.is_bound else self.initial.get("entity")
        return next(
            (e for e in self.entities if e["key"] == key), self.entities[0] if self.entities else None
        )

    def proposals(self, entity: dict) -> dict:
        """Sensible first settings for an entity: its natural key and its last-update field."""
        return {
            "entity": entity["key"],
            "key_path": ", ".join(entity["natural_keys"][:1]),
            "required": "",
            "updated_path": entity["cursor_field"],
            "stale_months": 12,
        }
