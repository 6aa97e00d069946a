"""``/api/gdpr/activities/`` (list, detail, create, update, delete; validated by the console's
``ActivityForm``, states changed by ``gdpr.register``), read-only ``/api/gdpr/data-categories/`` and
``/api/gdpr/purposes/``."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from gdpr import register
from gdpr.models import DataCategory, ProcessingActivity, Purpose, SubjectCategory
from gdpr.models.choices import SECURITY_MEASURES
from gdpr.register_filtersets import DataCategoryFilterSet, ProcessingActivityFilterSet, PurposeFilterSet
from gdpr.register_forms import ActivityForm
from integration_hub.api.serializers import BaseModelSerializer
from integration_hub.api.viewsets import BaseModelViewSet, BaseReadOnlyModelViewSet

SCALARS = (
    "reference",
    "name",
    "description",
    "joint_controller",
    "legal_basis",
    "legitimate_interest_assessment",
    "retention_note",
    "source_of_data",
    "dpia_link",
    "consent_field",
)


class DataCategorySerializer(BaseModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)

    class Meta:
        model = DataCategory
        fields = (
            "id",
            "display",
            "web_url",
            "key",
            "name",
            "parent",
            "cnil_group",
            "description",
            "special",
            "criminal",
            "national_id",
            "personal_tags",
            "retention_default",
        )


class PurposeSerializer(BaseModelSerializer):
    class Meta:
        model = Purpose
        fields = ("id", "display", "key", "name", "description", "default_legal_basis")


class ProcessingActivitySerializer(BaseModelSerializer):
    purposes = serializers.SlugRelatedField(slug_field="key", many=True, queryset=Purpose.objects.all())
    subject_categories = serializers.SlugRelatedField(
        slug_field="key", many=True, queryset=SubjectCategory.objects.all()
    )
    data_categories = serializers.SlugRelatedField(
        slug_field="key", many=True, queryset=DataCategory.objects.all()
    )
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    derived = serializers.SerializerMethodField()
    changed_since_approval = serializers.SerializerMethodField()

    class Meta:
        model = ProcessingActivity
        fields = (
            "id",
            "display",
            "web_url",
            *SCALARS,
            "state",
            "owner",
            "purposes",
            "subject_categories",
            "data_categories",
            "flows",
            "recipients",
            "transfers",
            "retention",
            "security_measures",
            "dpia_required",
            "review_date",
            "drift",
            "completeness",
            "approved_at",
            "changed_since_approval",
            "derived",
        )
        read_only_fields = ("state", "drift", "completeness", "approved_at")

    def get_derived(self, obj) -> dict:
        return register.derived(obj)

    def get_changed_since_approval(self, obj) -> bool:
        return register.changed_since_approval(obj)


def form_data(payload: dict, instance: ProcessingActivity | None) -> dict:
    """The API body as the console form's fields (a PATCH keeps what it leaves out)."""
    current = {}
    if instance is not None and instance.pk:
        current = {
            **{name: getattr(instance, name) for name in SCALARS},
            "owner": instance.owner_id or "",
            "purposes": [p.pk for p in instance.purposes.all()],
            "subject_categories": [s.pk for s in instance.subject_categories.all()],
            "data_categories": [c.pk for c in instance.data_categories.all()],
            "flows": [f.pk for f in instance.flows.all()],
            "recipients": instance.recipients,
            "transfers": instance.transfers,
            "retention": instance.retention,
            "security_measures": instance.security_measures,
            "dpia_required": instance.dpia_required,
            "review_date": instance.review_date.isoformat() if instance.review_date else "",
        }
    merged = {**current, **payload}
    data: dict = {name: merged.get(name) or "" for name in SCALARS}
    data["owner"] = merged.get("owner") or ""
    for name in ("purposes", "subject_categories", "data_categories", "flows"):
        data[name] = [getattr(v, "pk", v) for v in merged.get(name) or []]
    if merged.get("dpia_required"):
        data["dpia_required"] = "on"
    data["review_date"] = str(merged.get("review_date") or "")
    for i, row in enumerate(merged.get("recipients") or []):
        data[f"recipients-{i}-name"] = row.get("name", "") if isinstance(row, dict) else ""
        data[f"recipients-{i}-kind"] = row.get("kind", "") if isinstance(row, dict) else ""
    for i, row in enumerate(merged.get("transfers") or []):
        for key in ("country", "safeguard", "document"):
            data[f"transfers-{i}-{key}"] = row.get(key, "") if isinstance(row, dict) else ""
    retention = merged.get("retention") or {}
    for i, (key, period) in enumerate(retention.items() if isinstance(retention, dict) else []):
        data[f"retention-{i}-category"] = key
        data[f"retention-{i}-period"] = period
    measures = merged.get("security_measures") or {}
    if isinstance(measures, dict):
        unknown = set(measures) - set(SECURITY_MEASURES)
        if unknown:
            raise ValidationError({"security_measures": f"Unknown boxes: {', '.join(sorted(unknown))}"})
        for key, text in measures.items():
            data[f"security-{key}"] = text
    return data


class ProcessingActivityViewSet(BaseModelViewSet):
    """Register entries; the console's form validates writes; ``submit``, ``approve``, ``archive`` change
    the state (POST)."""

    queryset = ProcessingActivity.objects.select_related("owner").prefetch_related(
        "purposes", "subject_categories", "data_categories", "flows"
    )
    serializer_class = ProcessingActivitySerializer
    filterset_class = ProcessingActivityFilterSet
    ordering_fields = ("reference", "name", "completeness")
    permission_action = {"approve": "approve", "submit": "change", "archive": "change", "reopen": "change"}

    def _save(self, request, instance, status_code):
        payload = request.data if isinstance(request.data, dict) else {}
        # The body's keys for M2M are keys/slugs: resolve them like the serializer does.
        serializer = self.get_serializer(instance, data=payload, partial=True)
        serializer.is_valid(raise_exception=True)
        resolved = {
            **payload,
            **{
                k: v
                for k, v in serializer.validated_data.items()
                if k in ("purposes", "subject_categories", "data_categories", "flows")
            },
        }
        form = ActivityForm(
            form_data(resolved, instance), instance=instance or ProcessingActivity(), user=request.user
        )
        if not form.is_valid():
            raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
        with transaction.atomic():
            obj = form.save()
        obj.refresh_from_db()
        return Response(self.get_serializer(obj).data, status=status_code)

    def create(self, request, *args, **kwargs):
        return self._save(request, None, 201)

    def update(self, request, *args, **kwargs):
        return self._save(request, self.get_object(), 200)

    def _transition(self, request, service):
        activity = self.get_object()
        try:
            activity = service(activity, request.user)
        except register.WorkflowError as exc:
            raise ValidationError({"state": [str(exc)]}) from exc
        return Response(self.get_serializer(activity).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._transition(request, register.submit_activity)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._transition(request, register.approve_activity)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        return self._transition(request, register.archive_activity)


class DataCategoryViewSet(BaseReadOnlyModelViewSet):
    queryset = DataCategory.objects.select_related("parent")
    serializer_class = DataCategorySerializer
    filterset_class = DataCategoryFilterSet


class PurposeViewSet(BaseReadOnlyModelViewSet):
    queryset = Purpose.objects.all()
    serializer_class = PurposeSerializer
    filterset_class = PurposeFilterSet
