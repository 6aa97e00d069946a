from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from flows import services
from flows.api.serializers import CheckResultSerializer, SystemCheckSerializer, SystemSerializer
from flows.connectors.errors import ConnectorError
from flows.filtersets import SystemFilterSet
from flows.models import System
from integration_hub.api.viewsets import BaseModelViewSet


class SystemViewSet(BaseModelViewSet):
    queryset = System.objects.select_related("owner")
    serializer_class = SystemSerializer
    filterset_class = SystemFilterSet
    ordering_fields = ("name", "role", "criticality", "updated", "health_status")
    permission_action = {"check": "check", "discover": "check", "checks": "view"}

    @extend_schema(request=None, responses=CheckResultSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Test the connection now (recorded in the system's health history)."""
        system = self.get_object()
        result = services.check_system(system)
        return Response(
            {
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "message": result.message,
                "kind": result.kind,
                "health_status": system.health_status,
            }
        )

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 502: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        """Read the system's entities, fields and sample records now (personal values masked)."""
        system = self.get_object()
        try:
            entities = services.discover_system(system)
        except ConnectorError as exc:
            return Response({"detail": exc.message, "kind": exc.reason or exc.kind}, status=502)
        return Response({"discovered_at": system.discovered_at, "entities": entities})

    @extend_schema(responses=SystemCheckSerializer(many=True))
    @action(detail=True, methods=["get"])
    def checks(self, request, pk=None):
        """The latest connection checks (health history)."""
        system = self.get_object()
        return Response(SystemCheckSerializer(system.checks.all()[:100], many=True).data)
