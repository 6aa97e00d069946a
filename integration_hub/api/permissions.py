from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from integration_hub.models import APIToken
from integration_hub.permissions import can, has_any_permission, has_global_permission

METHOD_ACTIONS = {
    "GET": "view",
    "HEAD": "view",
    "OPTIONS": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


class ObjectPermission(BasePermission):
    """API side of ``permissions.restrict``: model permission to reach a list, object permission per row.

    Views declare ``queryset``; extra actions name theirs in ``permission_action`` (e.g. "run").
    Read-only tokens may only read.
    """

    def action(self, request, view) -> str:
        custom = getattr(view, "permission_action", None)
        if isinstance(custom, dict):
            custom = custom.get(getattr(view, "action", None))
        return custom or METHOD_ACTIONS.get(request.method, "change")

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if (
            isinstance(request.auth, APIToken)
            and not request.auth.write_enabled
            and request.method not in SAFE_METHODS
        ):
            raise exceptions.PermissionDenied(
                _("This API token is read-only; create one with writes enabled.")
            )
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            return True
        action = self.action(request, view)
        if action == "add" and getattr(view, "action", None) == "create":
            return has_global_permission(user, queryset.model, "add")
        # Row-level checks follow in has_object_permission; here: any chance at all?
        return has_any_permission(user, queryset.model, "view")

    def has_object_permission(self, request, view, obj):
        action = self.action(request, view)
        return action == "view" or can(request.user, action, obj)
