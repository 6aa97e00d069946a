from rest_framework import viewsets

from integration_hub.permissions import restrict


class BaseViewSetMixin:
    """Narrows ``queryset`` to what the user may view; row actions are checked per object."""

    def get_queryset(self):
        return restrict(super().get_queryset(), self.request.user, "view")


class BaseModelViewSet(BaseViewSetMixin, viewsets.ModelViewSet):
    pass


class BaseReadOnlyModelViewSet(BaseViewSetMixin, viewsets.ReadOnlyModelViewSet):
    pass
