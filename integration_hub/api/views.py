from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

from integration_hub import services
from integration_hub.api.serializers import BaseModelSerializer
from integration_hub.api.viewsets import BaseReadOnlyModelViewSet
from integration_hub.audit import visible_entries
from integration_hub.filtersets import AuditEntryFilterSet
from integration_hub.models import APIToken, AuditEntry
from integration_hub.views.users import UserFilterSet

User = get_user_model()


class APIRootView(APIView):
    """The endpoints of this API, and where its schema and interactive docs are."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, format=None):
        def url(name):
            return reverse(name, request=request, format=format)

        return Response(
            {
                "systems": url("flows-api:system-list"),
                "audit": url("hub-api:auditentry-list"),
                "users": url("hub-api:user-list"),
                "tokens": url("hub-api:apitoken-list"),
                "schema": url("api-schema"),
                "docs": url("api-docs"),
            }
        )


class AuditEntrySerializer(serializers.ModelSerializer):
    object_type = serializers.SerializerMethodField()

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "time",
            "user",
            "user_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "message",
            "request_id",
            "remote_addr",
            "source",
        )

    def get_object_type(self, obj) -> str | None:
        return f"{obj.content_type.app_label}.{obj.content_type.model}" if obj.content_type_id else None


class AuditEntryViewSet(BaseReadOnlyModelViewSet):
    """The append-only audit log (read-only)."""

    queryset = AuditEntry.objects.select_related("content_type")
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    ordering_fields = ("time",)

    def get_queryset(self):
        return visible_entries(super().get_queryset(), self.request.user)


class UserSerializer(BaseModelSerializer):
    roles = serializers.SlugRelatedField(source="groups", many=True, read_only=True, slug_field="name")

    class Meta:
        model = User
        fields = (
            "id",
            "display",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_active",
            "last_login",
            "roles",
        )

    def get_web_url(self, obj) -> str | None:
        request = self.context.get("request")
        return request.build_absolute_uri(reverse("auth:user", args=[obj.pk])) if request else None


class UserViewSet(BaseReadOnlyModelViewSet):
    """Console users and their roles (read-only; invite and edit users in the console)."""

    queryset = User.objects.prefetch_related("groups").order_by("username")
    serializer_class = UserSerializer
    filterset_class = UserFilterSet


class APITokenSerializer(serializers.ModelSerializer):
    key = serializers.SerializerMethodField(
        help_text=gettext_lazy("Shown once, in the response that creates the token.")
    )

    class Meta:
        model = APIToken
        fields = ("id", "name", "write_enabled", "created", "expires", "last_used", "key")
        read_only_fields = ("created", "last_used")

    def get_key(self, obj) -> str | None:
        return getattr(obj, "_new_key", None)

    def validate_expires(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError(_("The expiry date must be in the future."))
        return value


class OwnTokensPermission(BasePermission):
    """Everyone manages their own tokens; a token cannot mint tokens (only a logged-in session can)."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if isinstance(request.auth, APIToken) and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(
                _("Tokens are created and revoked from a logged-in session only.")
            )
        return True


class APITokenViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Your own API tokens. The key is returned once, when the token is created."""

    queryset = APIToken.objects.all()
    serializer_class = APITokenSerializer
    permission_classes = [OwnTokensPermission]

    def get_queryset(self):
        return APIToken.objects.filter(user=self.request.user)

    def perform_create(self, serializer):
        data = serializer.validated_data
        token, key = services.create_api_token(
            self.request.user,
            name=data["name"],
            expires=data.get("expires"),
            write_enabled=data.get("write_enabled", False),
        )
        token._new_key = key
        serializer.instance = token

    def perform_destroy(self, instance):
        services.revoke_api_token(instance)

    @extend_schema(responses=APITokenSerializer)
    def create(self, request, *args, **kwargs):
        return super().create(request, *args, **kwargs)
