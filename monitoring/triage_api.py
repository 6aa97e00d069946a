"""Error groups over the API (``/api/error-groups/``): read-only list and detail, actions through
``monitoring.triage`` — the same service and filterset as the inbox page."""

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from flows import failures
from flows.models import Flow
from integration_hub.models import APIToken
from integration_hub.permissions import has_any_permission
from monitoring import triage
from monitoring.filtersets import ErrorGroupFilterSet
from monitoring.models import ErrorGroup, ErrorGroupComment


class ErrorGroupCommentSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.get_username", default=None, read_only=True)

    class Meta:
        model = ErrorGroupComment
        fields = ("id", "author", "text", "created")
        read_only_fields = fields


class ErrorGroupSerializer(serializers.ModelSerializer):
    """An error group; ``title`` and ``message`` masked for users without the personal-data right."""

    title = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()
    records_open = serializers.IntegerField(read_only=True, default=0)
    records_total = serializers.IntegerField(read_only=True, default=0)
    assignee = serializers.CharField(source="assignee.get_username", default=None, read_only=True)
    resolved_by = serializers.CharField(source="resolved_by.get_username", default=None, read_only=True)
    url = serializers.URLField(source="get_absolute_url", read_only=True)

    class Meta:
        model = ErrorGroup
        fields = (
            "id",
            "url",
            "flow",
            "signature",
            "stage",
            "error_class",
            "http_status",
            "title",
            "message",
            "count",
            "records_open",
            "records_total",
            "first_seen",
            "last_seen",
            "status",
            "regressed",
            "assignee",
            "resolved_at",
            "resolved_by",
            "status_changed_at",
        )
        read_only_fields = fields

    def _shown(self, obj) -> dict:
        if "presenter" not in self.context:
            self.context["presenter"] = failures.Presenter(getattr(self.context.get("request"), "user", None))
        cache = self.context.setdefault("shown", {})
        if obj.pk not in cache:
            cache[obj.pk] = triage.present(obj, self.context["presenter"])
        return cache[obj.pk]

    def get_title(self, obj) -> str:
        return self._shown(obj)["title"]

    def get_message(self, obj) -> str:
        return self._shown(obj)["message"]


class ErrorGroupActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=["acknowledge", "resolve", "reopen", "ignore", "assign", "replay"]
    )
    # Bounded to what a database key holds: a larger number is a 400, not an overflow in the query.
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), allow_empty=False
    )
    assignee = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, help_text="user id; null unassigns"
    )


class CommentSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=5000)


class ErrorGroupPermission(BasePermission):
    """Seeing groups needs view on some flow (each group follows its flow); acting needs
    ``monitoring.change_errorgroup`` — checked with the flow, per group, in ``triage.actionable``."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method in SAFE_METHODS:
            return has_any_permission(user, Flow, "view")
        if isinstance(request.auth, APIToken) and not request.auth.write_enabled:
            raise PermissionDenied(_("This API token is read-only; create one with writes enabled."))
        return triage.can_act(user)


def _run(groups, data, user):
    kind = data["action"]
    if kind == "assign":
        pk = data.get("assignee")
        assignee = None
        if pk is not None:
            assignee = get_user_model()._default_manager.filter(pk=pk, is_active=True).first()
            if assignee is None:
                raise ValidationError({"assignee": _("No active user with this id.")})
        return {"changed": triage.assign(groups, assignee, user=user)}
    if kind == "replay":
        runs = triage.replay(groups, user=user)
        return {"runs": [run.pk for run in runs]}
    handler = {
        "acknowledge": triage.acknowledge,
        "resolve": triage.resolve,
        "reopen": triage.reopen,
        "ignore": triage.ignore,
    }[kind]
    return {"changed": handler(groups, user=user)}


class ErrorGroupViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Error groups of the flows you may see (``?status=`` defaults to open + acknowledged, ``?flow=``,
    ``?system=``, ``?assignee=me|none``, ``?q=``), newest first."""

    queryset = ErrorGroup.objects.all()
    serializer_class = ErrorGroupSerializer
    filterset_class = ErrorGroupFilterSet
    permission_classes = [ErrorGroupPermission]
    ordering_fields = ("last_seen", "first_seen", "count")

    def get_queryset(self):
        return triage.visible_groups(self.request.user).order_by("-last_seen", "-pk")

    def filter_queryset(self, queryset):
        if self.detail:  # one group by id, whatever its status (the inbox filters are for lists)
            return queryset
        return super().filter_queryset(queryset)

    def _act(self, request, data):
        try:
            groups = triage.actionable(request.user, data["ids"], replay=data["action"] == "replay")
            return _run(groups, data, request.user)
        except triage.TriageError as exc:
            raise ValidationError({"detail": str(exc)}) from exc

    @extend_schema(request=ErrorGroupActionSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """One action on several groups: ``{"action": "ignore", "ids": [1, 2]}`` (``assignee`` for assign)."""
        body = ErrorGroupActionSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        return Response(self._act(request, body.validated_data))

    @extend_schema(request=ErrorGroupActionSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"], url_path="act")
    def act(self, request, pk=None):
        """One action on this group: ``{"action": "resolve"}``."""
        group = self.get_object()
        data = dict(request.data) if isinstance(request.data, dict) else {}
        data["ids"] = [group.pk]
        body = ErrorGroupActionSerializer(data=data)
        body.is_valid(raise_exception=True)
        return Response(self._act(request, body.validated_data))

    @extend_schema(request=CommentSerializer, responses={200: ErrorGroupCommentSerializer(many=True)})
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        """The group's comments; POST ``{"text": …}`` adds one."""
        group = self.get_object()
        if request.method == "POST":
            body = CommentSerializer(data=request.data if isinstance(request.data, dict) else {})
            body.is_valid(raise_exception=True)
            try:
                (group,) = triage.actionable(request.user, [group.pk])
                note = triage.comment(group, body.validated_data["text"], user=request.user)
            except triage.TriageError as exc:
                raise ValidationError({"detail": str(exc)}) from exc
            return Response(ErrorGroupCommentSerializer(note).data, status=201)
        return Response(ErrorGroupCommentSerializer(group.comments.select_related("author"), many=True).data)


router = SimpleRouter()
router.register("error-groups", ErrorGroupViewSet)
