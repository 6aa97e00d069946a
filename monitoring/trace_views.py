"""Trace: the console page ``/trace/?q=`` and the API ``/api/trace/?q=``, both on ``monitoring.trace``."""

from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from flows.models import Flow
from integration_hub.permissions import has_any_permission
from integration_hub.views import generic
from monitoring import trace


def may_trace(user) -> bool:
    """Trace searches the flows a user may view: it needs view on at least one."""
    return bool(user and user.is_authenticated and user.is_active and has_any_permission(user, Flow, "view"))


class TraceView(View):
    """One search box: a record by any id, SKU, order number or e-mail, across every system."""

    template_name = "monitoring/trace.html"

    def get(self, request):
        if not may_trace(request.user):
            generic.deny(request, _("Trace searches the flows you may view: you may view none."))
        query = request.GET.get("q", "")
        result = trace.trace(query, request.user)
        return render(
            request,
            self.template_name,
            {"query": result.query, "result": result, "examples": trace.EXAMPLES},
        )


class TracePermission(BasePermission):
    def has_permission(self, request, view):
        return may_trace(request.user)


class TraceAPIView(APIView):
    """A record by any id, SKU, order number or e-mail (``?q=``): its links across systems, last runs,
    failures (masked without the personal-data right) and why flows left it out or skipped it."""

    permission_classes = [TracePermission]

    @extend_schema(
        parameters=[OpenApiParameter("q", OpenApiTypes.STR, required=True)],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request):
        return Response(trace.as_data(trace.trace(request.query_params.get("q", ""), request.user)))
