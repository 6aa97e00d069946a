from flows.api.serializers import SystemSerializer
from flows.filtersets import SystemFilterSet
from flows.models import System
from integration_hub.api.viewsets import BaseModelViewSet


class SystemViewSet(BaseModelViewSet):
    queryset = System.objects.select_related("owner")
    serializer_class = SystemSerializer
    filterset_class = SystemFilterSet
    ordering_fields = ("name", "role", "criticality", "updated")
