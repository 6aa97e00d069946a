from django.utils.translation import gettext_lazy
from rest_framework import serializers

from flows import designer
from flows.connectors.registry import connector_choices
from flows.forms import validate_connector_config
from flows.models import Flow, FlowVersion, System, SystemCheck
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
        same_connector = instance is not None and instance.connector == key
        params, secrets, errors = validate_connector_config(
            key,
            attrs.get("parameters", instance.parameters if same_connector else {}),
            attrs.pop("secrets", None),
            instance.secrets if same_connector else {},
        )
        if errors:
            raise serializers.ValidationError(errors)
        attrs["parameters"] = params
        attrs["_secrets"] = secrets
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


class FlowSerializer(BaseModelSerializer):
    """A flow as its designer definition (the same JSON as config-as-code), plus where it stands."""

    definition = serializers.SerializerMethodField()
    version = serializers.IntegerField(source="current_version.number", read_only=True, default=None)

    class Meta:
        model = Flow
        fields = (
            "id",
            "display",
            "web_url",
            "name",
            "enabled",
            "version",
            "created",
            "updated",
            "definition",
        )
        read_only_fields = fields

    def get_definition(self, obj) -> dict:
        return designer.definition_of(obj)


class FlowVersionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = FlowVersion
        fields = ("number", "created", "author", "comment", "definition")
