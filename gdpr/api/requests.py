"""``/api/gdpr/requests/`` (data-subject requests: list, detail, create; actions verify, send-code, plan,
execute, extend, refuse, cancel, sign-off) and ``/api/gdpr/suppression/`` (keyed hashes and hit counts).

Every action calls the service the console calls (``gdpr.requests``). Identifiers are returned masked,
unless the caller holds ``integration_hub.view_personal_data`` and asks ``?reveal=1`` (audited).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from gdpr import requests
from gdpr.models import DataSubjectRequest, RequestTask, SuppressedSubject
from gdpr.models.choices import RequestChannel, RequestKind
from gdpr.request_forms import RequestFilterSet
from integration_hub.api.serializers import BaseModelSerializer
from integration_hub.api.viewsets import BaseReadOnlyModelViewSet, BaseViewSetMixin
from integration_hub.audit import record
from integration_hub.models import AuditAction
from integration_hub.permissions import can_see_personal_data


def _drf_error(exc: requests.RequestError) -> serializers.ValidationError:
    return serializers.ValidationError({"detail": exc.messages})


class RequestTaskSerializer(serializers.ModelSerializer):
    system_name = serializers.CharField(source="system.name", read_only=True, default="Integration Hub")

    class Meta:
        model = RequestTask
        fields = (
            "id",
            "system",
            "system_name",
            "entity",
            "action",
            "strategy",
            "status",
            "exemption",
            "attempts",
            "records_found",
            "records_affected",
            "post_check",
            "post_check_detail",
            "error",
            "started_at",
            "finished_at",
        )


class RequestSerializer(BaseModelSerializer):
    identifiers = serializers.SerializerMethodField(
        help_text="Masked unless you hold view_personal_data and pass ?reveal=1 (audited)."
    )
    urgency = serializers.SerializerMethodField()
    plan_summary = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    tasks = RequestTaskSerializer(many=True, read_only=True)

    class Meta:
        model = DataSubjectRequest
        fields = (
            "id",
            "display",
            "web_url",
            "reference",
            "kind",
            "channel",
            "state",
            "received_on",
            "due_on",
            "urgency",
            "extended_months",
            "extension_reason",
            "extension_notified_on",
            "pseudonym",
            "identifiers",
            "identity_verified_at",
            "verification_method",
            "assignee",
            "signed_off_at",
            "refusal_reason",
            "planned_at",
            "plan_summary",
            "progress",
            "completed_at",
            "tasks",
            "created",
        )
        read_only_fields = fields

    def get_identifiers(self, obj) -> dict:
        request = self.context.get("request")
        if request is not None and self.context.get("reveal") and can_see_personal_data(request.user):
            record(
                AuditAction.PERSONAL_VIEW, obj, message="data-subject request identifiers shown via the API"
            )
            return obj.identifiers
        return requests.masked_identifiers(obj)

    def get_urgency(self, obj) -> str:
        from gdpr.request_tables import urgency_of

        return urgency_of(obj)

    def get_plan_summary(self, obj) -> dict | None:
        return requests.plan_summary(obj) if obj.planned_at else None

    def get_progress(self, obj) -> dict:
        return requests.progress(obj)


class RequestCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RequestKind.choices, default=RequestKind.ERASURE)
    channel = serializers.ChoiceField(choices=RequestChannel.choices, default=RequestChannel.EMAIL)
    received_on = serializers.DateField()
    identifiers = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text='{"email": ["a@example.org"], "phone": [...], "customer_id": [...]}',
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    send_code = serializers.BooleanField(required=False, default=False)


class VerifySerializer(serializers.Serializer):
    method = serializers.CharField(required=False, allow_blank=True, default="")
    code = serializers.CharField(required=False, allow_blank=True, default="")


class ExtendSerializer(serializers.Serializer):
    months = serializers.IntegerField()
    reason = serializers.CharField(allow_blank=True)
    notified_on = serializers.DateField(required=False, allow_null=True, default=None)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)


class RequestViewSet(
    BaseViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = DataSubjectRequest.objects.prefetch_related("tasks__system")
    serializer_class = RequestSerializer
    filterset_class = RequestFilterSet
    ordering_fields = ("due_on", "received_on", "reference")
    permission_action = {
        "verify": "change",
        "send_code": "change",
        "extend": "change",
        "refuse": "change",
        "cancel": "change",
        "plan": "execute",
        "execute": "execute",
        "sign_off": "signoff",
    }

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "reveal": self.request.query_params.get("reveal") == "1"}

    def _answer(self, obj, code=status.HTTP_200_OK):
        obj.refresh_from_db()
        return Response(RequestSerializer(obj, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=RequestCreateSerializer, responses=RequestSerializer)
    def create(self, request, *args, **kwargs):
        data = RequestCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            obj = requests.create_request(
                values["kind"],
                values["channel"],
                values["received_on"],
                values["identifiers"],
                user=request.user,
                notes=values["notes"],
                send_code=values["send_code"],
            )
        except requests.RequestError as exc:
            raise _drf_error(exc) from exc
        return self._answer(obj, status.HTTP_201_CREATED)

    def _run(self, service, *args, **kwargs):
        obj = self.get_object()
        try:
            service(obj, *args, **kwargs)
        except requests.RequestError as exc:
            raise _drf_error(exc) from exc
        return self._answer(obj)

    @extend_schema(request=VerifySerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def verify(self, request, pk=None):
        """Verify the identity: ``code`` (the one e-mailed to the person) or ``method`` (how you checked)."""
        body = VerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        if body.validated_data["code"]:
            return self._run(requests.check_verification_code, body.validated_data["code"])
        return self._run(requests.verify_identity, body.validated_data["method"], user=request.user)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"], url_path="send-code")
    def send_code(self, request, pk=None):
        """E-mail a verification code to the address on file."""
        return self._run(requests.send_verification_code)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def plan(self, request, pk=None):
        """Find the person in every system and in the hub; nothing changes yet."""
        return self._run(requests.plan_request, user=request.user)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def execute(self, request, pk=None):
        """Queue the execution of the plan (or the retry of a partial request's failed tasks)."""
        return self._run(requests.execute_request, user=request.user)

    @extend_schema(request=ExtendSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request, pk=None):
        """Extend the deadline by 1 or 2 months, with the reason and the date the person was told."""
        body = ExtendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        return self._run(
            requests.extend_request, v["months"], v["reason"], v["notified_on"], user=request.user
        )

    @extend_schema(request=ReasonSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._run(requests.refuse_request, body.validated_data["reason"], user=request.user)

    @extend_schema(request=ReasonSerializer, responses=RequestSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        body = ReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._run(requests.cancel_request, body.validated_data["reason"], user=request.user)

    @extend_schema(request=None, responses=RequestSerializer)
    @action(detail=True, methods=["post"], url_path="sign-off")
    def sign_off(self, request, pk=None):
        return self._run(requests.sign_off, user=request.user)


class SuppressedSubjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = SuppressedSubject
        fields = ("id", "key", "kind", "request", "created", "hits", "last_hit")


class SuppressedSubjectViewSet(BaseReadOnlyModelViewSet):
    queryset = SuppressedSubject.objects.all()
    serializer_class = SuppressedSubjectSerializer
