from flows.models import System
from integration_hub.api.serializers import BaseModelSerializer


class SystemSerializer(BaseModelSerializer):
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
            "created",
            "updated",
        )
        read_only_fields = ("created", "updated")
