import hmac

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from flows import breaker
from flows.choices import SystemRole
from flows.models import System
from integration_hub.audit import record
from integration_hub.decorators import public
from integration_hub.models import AuditAction
from integration_hub.permissions import has_global_permission, restrict
from monitoring import metrics as hub_metrics


class DashboardView(View):
    """Home: a tile per system the user may see, live (tiles re-render when a system changes)."""

    template_name = "monitoring/dashboard.html"

    def get(self, request):
        systems = restrict(System.objects.select_related("owner"), request.user, "view")
        context = {
            "systems": systems,
            "breakers": breaker.states(systems.values_list("pk", flat=True)),
            "role_counts": {
                SystemRole(row["role"]).label: row["n"]
                for row in systems.order_by().values("role").annotate(n=Count("pk"))
            },
            "can_add_system": has_global_permission(request.user, System, "add"),
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "system-tiles":
            template = f"{template}#tiles"
        return render(request, template, context)


def _plain(text: str, status: int) -> HttpResponse:
    return HttpResponse(text + "\n", status=status, content_type="text/plain; charset=utf-8")


@public
@never_cache
@require_GET
def metrics(request):
    """Prometheus metrics, for a scraper holding ``HUB_METRICS_TOKEN`` (``Authorization: Bearer …``).

    No token configured: 404 (metrics are off). No credentials: 401. A wrong token: 403, audited.
    """
    expected = settings.HUB_METRICS_TOKEN
    if not expected:
        return _plain(_("Metrics are off: set HUB_METRICS_TOKEN to enable /metrics."), 404)
    scheme, _sep, given = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        response = _plain(
            _("Authentication required: send 'Authorization: Bearer <HUB_METRICS_TOKEN>'."), 401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        record(AuditAction.TOKEN_REJECTED, message=f"Wrong metrics token on {request.method} {request.path}")
        return _plain(_("Invalid metrics token."), 403)
    return HttpResponse(hub_metrics.render(), content_type=hub_metrics.CONTENT_TYPE)
