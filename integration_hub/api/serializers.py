from rest_framework import serializers


class BaseModelSerializer(serializers.ModelSerializer):
    """Adds ``display`` (the object's name) and ``web_url`` (its console page) to every object."""

    display = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_display(self, obj) -> str:
        return str(obj)

    def get_web_url(self, obj) -> str | None:
        request = self.context.get("request")
        url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else None
        return request.build_absolute_uri(url) if request and url else url
