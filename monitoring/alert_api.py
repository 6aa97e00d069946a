"""``/api/alert-rules/`` (CRUD, validated by the console's ``AlertRuleForm``) and ``/api/alerts/``
(read-only), filtered by the same filtersets as the pages."""

from django.forms.models import model_to_dict
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from integration_hub.api.serializers import BaseModelSerializer
from integration_hub.api.viewsets import BaseModelViewSet, BaseReadOnlyModelViewSet
from integration_hub.permissions import restrict
from monitoring import alerts
from monitoring.alert_filtersets import AlertFilterSet, AlertRuleFilterSet
from monitoring.alert_forms import AlertRuleForm
from monitoring.models import Alert, AlertDelivery, AlertRule

FORM_FIELDS = tuple(f for f in AlertRuleForm.Meta.fields if f != "clear_webhook")
M2M = ("email_users", "email_roles", "inapp_users", "inapp_roles")


class AlertRuleSerializer(BaseModelSerializer):
    condition = serializers.CharField(help_text="A key of the condition registry (see the console's form).")
    webhook_url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Write-only: never returned. Empty string removes it; left out keeps it.",
    )
    webhook_set = serializers.SerializerMethodField()
    firing = serializers.SerializerMethodField()

    class Meta:
        model = AlertRule
        fields = (
            "id",
            "display",
            "web_url",
            *FORM_FIELDS,
            "webhook_set",
            "snoozed_until",
            "firing",
            "created_by",
            "created",
            "updated",
        )
        read_only_fields = ("snoozed_until", "created_by", "created", "updated")

    def get_webhook_set(self, obj) -> bool:
        return bool(obj.webhook_url_encrypted)

    def get_firing(self, obj) -> int:
        return obj.alerts.filter(state="firing").count()

    def validate(self, attrs):
        """The console form's rules (scope, condition parameters, allowed webhook host) apply here too."""
        instance = self.instance
        data = {}
        if instance is not None:
            current = model_to_dict(instance, fields=[f for f in FORM_FIELDS if f != "webhook_url"])
            for name, value in current.items():
                if name in M2M:
                    value = [getattr(v, "pk", v) for v in value]
                data[name] = value
        else:
            # Fields left out of a create take the model's defaults, as the console form shows them.
            for name in ("enabled", "severity", "scope_kind", "cooldown_minutes", "webhook_format"):
                data[name] = AlertRule._meta.get_field(name).get_default()
        raw = self.initial_data
        for name in FORM_FIELDS:
            if name in raw:
                data[name] = raw[name]
        if "webhook_url" in raw and raw["webhook_url"] in ("", None) and instance is not None:
            data["clear_webhook"] = True
        form = AlertRuleForm(
            data={k: v for k, v in data.items() if v is not None},
            instance=instance,
            user=self.context["request"].user,
        )
        if not form.is_valid():
            raise serializers.ValidationError(
                {k if k != "__all__" else "non_field_errors": v for k, v in form.errors.items()}
            )
        self._form = form
        return attrs

    def create(self, validated_data):
        return self._form.save()

    def update(self, instance, validated_data):
        return self._form.save()


class AlertSerializer(BaseModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)

    class Meta:
        model = Alert
        fields = (
            "id",
            "display",
            "web_url",
            "rule",
            "rule_name",
            "scope_key",
            "scope_label",
            "state",
            "opened_at",
            "resolved_at",
            "last_notified_at",
            "summary",
            "details",
            "notification_count",
        )


class AlertDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertDelivery
        fields = ("id", "alert", "kind", "channel", "target", "ok", "status", "sent_at")


class AlertRuleViewSet(BaseModelViewSet):
    queryset = AlertRule.objects.select_related("system", "flow").prefetch_related(*M2M)
    serializer_class = AlertRuleSerializer
    filterset_class = AlertRuleFilterSet
    ordering_fields = ("name", "severity", "created", "updated")
    permission_action = {"test": "test"}

    @extend_schema(request=None, responses=AlertDeliverySerializer(many=True))
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send a test notification on each channel of the rule; answers each delivery's outcome."""
        rule = self.get_object()
        deliveries = alerts.send_test(rule, user=request.user)
        return Response(AlertDeliverySerializer(deliveries, many=True).data)


class AlertViewSet(BaseReadOnlyModelViewSet):
    queryset = Alert.objects.select_related("rule")
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    ordering_fields = ("opened_at", "resolved_at")

    def get_queryset(self):
        rules = restrict(AlertRule.objects.all(), self.request.user, "view")
        return super().get_queryset().filter(rule__in=rules)


app_name = "alerts-api"
router = SimpleRouter()
router.register("alert-rules", AlertRuleViewSet)
router.register("alerts", AlertViewSet)
urlpatterns = router.urls
