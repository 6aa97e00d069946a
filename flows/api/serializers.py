from django.urls import reverse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from flows import designer
from flows.connectors.registry import connector_choices
from flows.forms import validate_connector_config
from flows.models import FailedRecord, Flow, FlowVersion, RecordLink, Run, System, SystemCheck
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
    breaker = serializers.SerializerMethodField()

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
            "record_url_template",
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
            "maintenance",
            "maintenance_since",
            "maintenance_reason",
            "breaker",
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
            "maintenance",
            "maintenance_since",
            "maintenance_reason",
        )

    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "state": {"type": "string", "enum": ["closed", "open", "half_open"]},
                "failures": {"type": "integer"},
                "open_until": {"type": "string", "format": "date-time", "nullable": True},
                "last_error": {"type": "string"},
            },
        }
    )
    def get_breaker(self, obj) -> dict:
        """The system's circuit breaker (see flows.breaker): closed, open until a time, or half-open."""
        from flows import breaker

        payload = breaker.state_of(obj.pk).as_payload(obj.pk)
        payload.pop("system")
        return payload

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
    version = serializers.IntegerField(
        source="current_version.number", read_only=True, default=None, allow_null=True
    )
    # Declared: a read-only model field loses ``allow_blank``, and "" (not paused) left the schema.
    pause_kind = serializers.ChoiceField(
        choices=Flow.pause_kind.field.choices, read_only=True, allow_blank=True
    )

    class Meta:
        model = Flow
        fields = (
            "id",
            "display",
            "web_url",
            "name",
            "enabled",
            "pause_kind",
            "pause_reason",
            "paused_at",
            "version",
            "created",
            "updated",
            "definition",
        )
        read_only_fields = fields

    def get_definition(self, obj) -> dict:
        return designer.definition_of(obj)


class RunSerializer(BaseModelSerializer):
    """One run of a flow: what started it, how it went and what it read and wrote."""

    flow_name = serializers.CharField(source="flow.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    counters = serializers.SerializerMethodField()
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = (
            "id",
            "display",
            "web_url",
            "flow",
            "flow_name",
            "version",
            "trigger",
            "status",
            "full",
            "counters",
            "written",
            "message",
            "requested_by",
            "queued_at",
            "started",
            "finished",
            "duration_seconds",
        )
        read_only_fields = fields

    def get_counters(self, obj) -> dict[str, int]:
        return obj.counters()

    def get_duration_seconds(self, obj) -> float | None:
        return obj.duration.total_seconds() if obj.duration is not None else None


class FlowVersionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = FlowVersion
        fields = ("number", "created", "author", "comment", "definition")


class RecordLinkSerializer(BaseModelSerializer):
    """One record known in two systems: the source's id and the id the target gave it."""

    source_system = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    target_system = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = RecordLink
        fields = (
            "id",
            "display",
            "web_url",
            "flow",
            "source_system",
            "source_entity",
            "source_id",
            "target_system",
            "target_entity",
            "target_id",
            "last_hash",
            "last_run",
            "last_synced",
            "created",
        )
        read_only_fields = fields

    def get_web_url(self, obj) -> str | None:
        request = self.context.get("request")
        url = reverse("flows:link", args=[obj.pk])
        return request.build_absolute_uri(url) if request else url


class FailedRecordSerializer(serializers.ModelSerializer):
    """A record a run could not deliver; ``payload`` and ``message`` masked for users without the
    personal-data right."""

    message = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField()

    class Meta:
        model = FailedRecord
        fields = (
            "id",
            "flow",
            "run",
            "source_id",
            "status",
            "stage",
            "error_class",
            "message",
            "http_status",
            "signature",
            "attempts",
            "created",
            "updated",
            "payload",
        )
        read_only_fields = fields

    def _presenter(self):
        from flows.failures import Presenter

        if "presenter" not in self.context:
            request = self.context.get("request")
            self.context["presenter"] = Presenter(getattr(request, "user", None))
        return self.context["presenter"]

    def get_message(self, obj) -> str:
        return self._presenter().message(obj)

    def get_payload(self, obj) -> dict:
        return self._presenter().payload(obj)


class FailureSelectionSerializer(serializers.Serializer):
    """Which failed records of one flow: ``ids``, or every open one with ``signature``, or (neither)
    every open one of the flow."""

    flow = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField(), required=False, allow_empty=False)
    signature = serializers.CharField(required=False, allow_blank=False, max_length=64)


class MaintenanceSerializer(serializers.Serializer):
    on = serializers.BooleanField(help_text=gettext_lazy("true starts the maintenance, false ends it."))
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class FailureSignatureSerializer(serializers.Serializer):
    """One cause of failed records (``failures.signature_groups``), for the API schema."""

    signature = serializers.CharField()
    count = serializers.IntegerField()
    open = serializers.IntegerField()
    error_class = serializers.CharField()
    stage = serializers.CharField()
    example = serializers.CharField()
    last = serializers.DateTimeField()
