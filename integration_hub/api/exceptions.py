from django.contrib.auth import get_user
from django.db import DataError
from django.db.models import ProtectedError
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler

from integration_hub.audit import record
from integration_hub.models import AuditAction

_ATTEMPTS = {
    exceptions.PermissionDenied: AuditAction.DENIED,
    exceptions.NotAuthenticated: AuditAction.DENIED,
    exceptions.ParseError: AuditAction.REJECTED,
    exceptions.ValidationError: AuditAction.REJECTED,
    exceptions.UnsupportedMediaType: AuditAction.REJECTED,
}


def _summary(detail) -> str:
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_summary(v)}" for k, v in detail.items())
    if isinstance(detail, list):
        return " ".join(_summary(v) for v in detail)
    return str(detail)


class InUse(exceptions.APIException):
    status_code = 409
    default_code = "in_use"


def exception_handler(exc, context):
    """DRF's handler, plus an audit entry for every refused attempt to change something."""
    if isinstance(exc, ProtectedError):
        # Deleting an object others still use (a system with flows): say which, as the console does.
        dependents = ", ".join(sorted({str(o) for o in exc.protected_objects})[:10])
        exc = InUse(_("Still used by: %(deps)s. Remove those first.") % {"deps": dependents})
    elif isinstance(exc, DataError):
        # A value the database cannot hold (an id past its integer range, a NUL in a text) that no
        # serializer check stopped first: the client's mistake, said as such — never a 500.
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        exc = exceptions.ValidationError(
            {"non_field_errors": [_("The database refused a value: %(reason)s") % {"reason": reason}]}
        )
    response = drf_exception_handler(exc, context)
    request = context.get("request")
    if response is None or request is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return response
    action = next((a for cls, a in _ATTEMPTS.items() if isinstance(exc, cls)), None)
    if action is not None:
        # request._user: reading request.user here would run authentication (and its error) again.
        user = getattr(request, "_user", None)
        if user is None or not user.is_authenticated:
            # A refused session write (CSRF) still names whose session was used.
            user = get_user(request._request)
        user = user if user.is_authenticated else None
        record(
            action,
            user=user,
            message=f"{request.method} {request.path} → {response.status_code}: {_summary(exc.detail)}"[
                :2000
            ],
        )
    return response
