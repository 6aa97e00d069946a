"""``/api/gdpr/breaches/`` (the breach register, with its 72-hour clock and the two "notified" actions)
and ``/api/gdpr/retention-rules/`` (the hub's own retention rules, a dry-run count and "purge now").

Both call the services the console calls (``gdpr.breaches``, ``gdpr.retention``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from flows.models import System
from gdpr import breaches, retention
from gdpr.breach_filtersets import BreachFilterSet
from gdpr.models import Breach, DataCategory, PurgeLog, RetentionRule, SubjectCategory
from integration_hub.api.serializers import BaseModelSerializer
from integration_hub.api.viewsets import BaseModelViewSet

M2M = ("systems", "data_categories", "subject_categories")


def _as_drf_error(exc: DjangoValidationError) -> serializers.ValidationError:
    if hasattr(exc, "message_dict"):
        return serializers.ValidationError(exc.message_dict)
    return serializers.ValidationError(exc.messages)


class ClockSerializer(serializers.Serializer):
    state = serializers.CharField()
    deadline = serializers.DateTimeField()
    seconds_left = serializers.IntegerField()
    hours_left = serializers.FloatField()
    label = serializers.CharField()


class BreachSerializer(BaseModelSerializer):
    systems = serializers.PrimaryKeyRelatedField(many=True, queryset=System.objects.all(), required=False)
    data_categories = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=DataCategory.objects.all(),
        required=False,
        help_text="Left out on a create: the categories the register says the systems hold.",
    )
    subject_categories = serializers.PrimaryKeyRelatedField(
        many=True, queryset=SubjectCategory.objects.all(), required=False
    )
    authority_deadline = serializers.DateTimeField(read_only=True)
    clock = serializers.SerializerMethodField()
    persons_reminder = serializers.SerializerMethodField(
        help_text="True when the risk is high and the persons are not told yet (Art. 34)."
    )

    class Meta:
        model = Breach
        fields = (
            "id",
            "display",
            "web_url",
            "reference",
            "title",
            "description",
            "occurred_at",
            "aware_at",
            "authority_deadline",
            "clock",
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
            "persons_reminder",
            "not_notified_reason",
            "closed_at",
            "created_by",
            "created",
            "updated",
        )
        read_only_fields = ("reference", "created_by", "created", "updated")

    def get_clock(self, obj) -> dict:
        state = breaches.clock(obj)
        return ClockSerializer(
            {
                "state": state.state,
                "deadline": state.deadline,
                "seconds_left": state.seconds_left,
                "hours_left": state.hours_left,
                "label": str(state.label),
            }
        ).data

    def get_persons_reminder(self, obj) -> bool:
        return breaches.persons_reminder(obj)

    def validate(self, attrs):
        def value(name):
            if name in attrs:
                return attrs[name]
            return getattr(self.instance, name, None) if self.instance is not None else None

        errors = breaches.notification_errors(
            aware_at=value("aware_at"),
            occurred_at=value("occurred_at"),
            authority_notified_at=value("authority_notified_at"),
            late_reason=value("late_reason") or "",
            persons_notified_at=value("persons_notified_at"),
        )
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def _save(self, instance, validated_data):
        m2m = {name: validated_data.pop(name) for name in M2M if name in validated_data}
        if instance.pk is None and "data_categories" not in m2m and m2m.get("systems"):
            m2m["data_categories"] = list(breaches.categories_for_systems(m2m["systems"]))
        for name, value in validated_data.items():
            setattr(instance, name, value)
        try:
            return breaches.save_breach(instance, user=self.context["request"].user, m2m=m2m)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from exc

    def create(self, validated_data):
        return self._save(Breach(), validated_data)

    def update(self, instance, validated_data):
        return self._save(instance, validated_data)


class NotifyAuthoritySerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="Defaults to now.")
    reference = serializers.CharField(required=False, allow_blank=True, max_length=100)
    late_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="Required when notified more than 72 hours after awareness.",
    )


class NotifyPersonsSerializer(serializers.Serializer):
    at = serializers.DateTimeField(required=False, help_text="Defaults to now.")


class BreachViewSet(BaseModelViewSet):
    """The breach register (Art. 33/34). Deleting is not offered: the register documents every breach
    (Art. 33(5))."""

    queryset = Breach.objects.select_related("created_by").prefetch_related(*M2M)
    serializer_class = BreachSerializer
    filterset_class = BreachFilterSet
    ordering_fields = ("aware_at", "reference", "created")
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    permission_action = {"notify_authority": "change", "notify_persons": "change"}

    @extend_schema(request=NotifyAuthoritySerializer, responses=BreachSerializer)
    @action(detail=True, methods=["post"], url_path="notify-authority")
    def notify_authority(self, request, pk=None):
        """Record that the supervisory authority was notified (Art. 33)."""
        breach = self.get_object()
        data = NotifyAuthoritySerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            breaches.notify_authority(breach, **_renamed(data.validated_data), user=request.user)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from exc
        return Response(self.get_serializer(breach).data)

    @extend_schema(request=NotifyPersonsSerializer, responses=BreachSerializer)
    @action(detail=True, methods=["post"], url_path="notify-persons")
    def notify_persons(self, request, pk=None):
        """Record that the persons affected were told (Art. 34)."""
        breach = self.get_object()
        data = NotifyPersonsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            breaches.notify_persons(breach, at=data.validated_data.get("at"), user=request.user)
        except DjangoValidationError as exc:
            raise _as_drf_error(exc) from exc
        return Response(self.get_serializer(breach).data)


def _renamed(data: dict) -> dict:
    return {
        "at": data.get("at"),
        "reference": data.get("reference", ""),
        "late_reason": data.get("late_reason", ""),
    }


# --- retention ------------------------------------------------------------------------------------------


class RetentionRuleSerializer(serializers.ModelSerializer):
    store_label = serializers.CharField(source="get_store_display", read_only=True)

    class Meta:
        model = RetentionRule
        fields = ("id", "store", "store_label", "keep_days", "enabled", "last_purge_at", "last_purged")
        read_only_fields = ("store", "last_purge_at", "last_purged")

    def validate_keep_days(self, value):
        if value < 1:
            raise serializers.ValidationError("Keep at least one day.")
        return value


class PurgeLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = PurgeLog
        fields = ("id", "store", "time", "rows", "older_than", "reason")


class PurgeCountSerializer(serializers.Serializer):
    store = serializers.CharField()
    would_purge = serializers.IntegerField()
    older_than = serializers.DateTimeField()


class RetentionRuleViewSet(BaseModelViewSet):
    """One rule per hub store (created with defaults): change ``keep_days`` / ``enabled``; ``GET
    …/purge/`` counts what a purge would remove now, ``POST …/purge/`` purges."""

    queryset = RetentionRule.objects.all()
    serializer_class = RetentionRuleSerializer
    http_method_names = ["get", "put", "patch", "post", "head", "options"]
    permission_action = {"purge": "change"}

    def get_queryset(self):
        retention.ensure_rules()
        return super().get_queryset()

    def create(self, request, *args, **kwargs):
        from rest_framework.exceptions import MethodNotAllowed

        raise MethodNotAllowed("POST", detail="One rule exists per store; change it instead.")

    @extend_schema(methods=["GET"], request=None, responses=PurgeCountSerializer)
    @extend_schema(methods=["POST"], request=None, responses=PurgeLogSerializer)
    @action(detail=True, methods=["get", "post"])
    def purge(self, request, pk=None):
        rule = self.get_object()
        if request.method == "GET":
            return Response(
                PurgeCountSerializer(
                    {
                        "store": rule.store,
                        "would_purge": retention.count_purgeable(rule.store),
                        "older_than": retention.cutoff(rule),
                    }
                ).data
            )
        log = retention.request_purge(
            rule.store, request.user, reason=f"purged through the API (keep {rule.keep_days} days)"
        )
        if log is None:  # a big purge: queued for a worker
            return Response({"queued": True, "store": rule.store}, status=202)
        return Response(PurgeLogSerializer(log).data)
