from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers

from flows.connectors.registry import connector_choices, get_connector_class
from flows.forms import PARAM, SECRET, ConnectorConfigForm
from flows.models import System, SystemCheck
from integration_hub.api.serializers import BaseModelSerializer


class SystemSerializer(BaseModelSerializer):
    connector = serializers.ChoiceField(choices=[])
    parameters = serializers.JSONField(
        required=False, help_text=gettext_lazy("The connector's settings (see its form).")
    )
    secrets = serializers.JSONField(
        required=False,
        write_only=True,
        help_text=gettext_lazy(
            "Credentials, write-only: {name: value} sets, {name: null} removes; names left out are kept."
        ),
    )
    secret_names = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = System
        fields = (
            "id",
            "display",
            "web_url",
            "name",
            "slug",
            "role",
            "criticality",
            "owner",
            "description",
            "enabled",
            "connector",
            "parameters",
            "secrets",
            "secret_names",
            "timeout",
            "rate_limit",
            "max_concurrency",
            "verify_tls",
            "health_status",
            "last_check_at",
            "last_latency_ms",
            "health_message",
            "created",
            "updated",
        )
        read_only_fields = (
            "created",
            "updated",
            "health_status",
            "last_check_at",
            "last_latency_ms",
            "health_message",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["connector"].choices = connector_choices()

    def validate(self, attrs):
        """The connector's own form validates ``parameters`` and ``secrets`` — the same rules as the console."""
        instance = self.instance
        key = attrs.get("connector", instance.connector if instance else "")
        try:
            connector_class = get_connector_class(key)
        except KeyError:
            raise serializers.ValidationError({"connector": _("Choose a connector.")}) from None
        same_connector = instance is not None and instance.connector == key
        params = attrs.get("parameters", instance.parameters if same_connector else {})
        if not isinstance(params, dict):
            raise serializers.ValidationError({"parameters": _("Give a JSON object.")})
        secrets_in = attrs.pop("secrets", None) or {}
        if not isinstance(secrets_in, dict):
            raise serializers.ValidationError({"secrets": _("Give a JSON object of names to values.")})
        unknown = set(secrets_in) - set(connector_class.sensitive_parameters)
        unknown_params = set(params) - set(connector_class.parameters)
        if unknown or unknown_params:
            raise serializers.ValidationError(
                {
                    **(
                        {
                            "secrets": _("Unknown for this connector: %(names)s")
                            % {"names": ", ".join(sorted(unknown))}
                        }
                        if unknown
                        else {}
                    ),
                    **(
                        {
                            "parameters": _("Unknown for this connector: %(names)s")
                            % {"names": ", ".join(sorted(unknown_params))}
                        }
                        if unknown_params
                        else {}
                    ),
                }
            )
        existing = instance.secrets if same_connector else {}
        data = {f"{PARAM}{k}": v for k, v in params.items()}
        data.update({f"{SECRET}{k}": v for k, v in secrets_in.items() if v is not None})
        data.update({f"clear_{k}": True for k, v in secrets_in.items() if v is None and k in existing})
        form = ConnectorConfigForm(data, connector_class=connector_class, existing_secrets=existing)
        if not form.is_valid():
            errors = {}
            for field, messages in form.errors.items():
                if field.startswith(PARAM):
                    errors.setdefault("parameters", {})[field[len(PARAM) :]] = messages
                elif field.startswith(SECRET):
                    errors.setdefault("secrets", {})[field[len(SECRET) :]] = messages
                else:
                    errors.setdefault("non_field_errors", []).extend(messages)
            raise serializers.ValidationError(errors)
        attrs["parameters"] = form.params
        attrs["_secrets"] = form.secrets
        return attrs

    def _save_with_secrets(self, instance, attrs):
        secrets = attrs.pop("_secrets", None)
        for key, value in attrs.items():
            setattr(instance, key, value)
        if secrets is not None:
            instance.secrets = secrets
        instance.save()
        return instance

    def create(self, validated_data):
        return self._save_with_secrets(System(), validated_data)

    def update(self, instance, validated_data):
        return self._save_with_secrets(instance, validated_data)


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    latency_ms = serializers.FloatField(allow_null=True)
    message = serializers.CharField()
    kind = serializers.CharField()
    health_status = serializers.CharField()


class SystemCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemCheck
        fields = ("time", "status", "latency_ms", "kind", "message", "trigger")
