import hmac

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from flows import breaker, coordination
from flows.models import Flow, System
from integration_hub.audit import record
from integration_hub.decorators import public
from integration_hub.models import AuditAction
from integration_hub.permissions import has_global_permission, restrict
from monitoring import dashboard
from monitoring import metrics as hub_metrics


class DashboardView(View):
    """Home: a tile per system, the flows with their freshness against the SLA, running syncs, charts,
    worker and queue health and the recent failures — only what the user's grants allow.

    The first state is rendered here; dashboard.js then applies ``run.progress`` events in place and
    re-fetches a section (``hx-target`` names it: one of ``FRAGMENTS``) when it changes.
    """

    template_name = "monitoring/dashboard.html"
    FRAGMENTS = {
        "system-tiles": "tiles",
        "flow-table": "flows",
        "running-syncs": "running",
        "worker-health": "workers",
        "recent-failures": "failures",
    }

    def get(self, request):
        fragment = self.FRAGMENTS.get(request.htmx.target) if request.htmx else None
        context = {}
        if fragment in (None, "tiles"):
            context.update(self.system_context(request))
        if fragment in (None, "flows"):
            context["flow_rows"] = dashboard.flow_rows(request.user)
            context["can_add_flow"] = has_global_permission(request.user, Flow, "add")
        if fragment in (None, "running"):
            context["running"] = dashboard.running_runs(request.user)
        if fragment in (None, "workers"):
            context["workers"] = dashboard.worker_health()
        if fragment in (None, "failures"):
            context["failures"] = dashboard.recent_failures(request.user)
        if fragment is None:
            context["series"] = dashboard.series(request.user, dashboard.DEFAULT_WINDOW)
            context["windows"] = list(dashboard.WINDOWS)
        template = self.template_name
        if fragment:
            template = f"{template}#{fragment}"
        return render(request, template, context)

    @staticmethod
    def system_context(request) -> dict:
        systems = list(restrict(System.objects.select_related("owner"), request.user, "view"))
        pks = [system.pk for system in systems]
        return {
            "systems": systems,
            "breakers": breaker.states(pks),
            "in_flight": coordination.in_flight([system.pk for system in systems if system.max_concurrency]),
            "can_add_system": has_global_permission(request.user, System, "add"),
        }


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
