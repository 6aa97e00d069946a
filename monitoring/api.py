"""``/api/dashboard/``: the dashboard's data as JSON, from the same service as the page."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring import dashboard


def dashboard_params(query) -> dict:
    """``window`` (24h, 7d), ``flow`` (a flow id) and ``sections`` (comma-separated) from a query string."""
    window = query.get("window", dashboard.DEFAULT_WINDOW)
    if window not in dashboard.WINDOWS:
        window = dashboard.DEFAULT_WINDOW
    flow = query.get("flow", "")
    flow = int(flow) if flow.isdigit() else None
    wanted = [s for s in query.get("sections", "").split(",") if s in dashboard.SECTIONS]
    return {"window": window, "flow": flow, "sections": tuple(wanted) or dashboard.SECTIONS}


class DashboardAPIView(APIView):
    """Read-only: flows with their freshness against the SLA, running syncs, hourly series, worker and
    queue health and the recent failures — of the flows the caller may view."""

    http_method_names = ["get", "head", "options"]

    @extend_schema(
        parameters=[
            OpenApiParameter("window", str, enum=list(dashboard.WINDOWS)),
            OpenApiParameter("flow", int, description="Series of this flow only."),
            OpenApiParameter(
                "sections", str, description=f"Comma-separated subset of {', '.join(dashboard.SECTIONS)}."
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request, format=None):
        return Response(dashboard.snapshot(request.user, **dashboard_params(request.query_params)))
