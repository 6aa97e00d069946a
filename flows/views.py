from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from flows import services, webhooks
from flows.connectors.errors import ConnectorError
from flows.connectors.registry import connector_classes
from flows.filtersets import SystemFilterSet
from flows.forms import SystemForm
from flows.models import System
from flows.tables import SystemTable
from integration_hub.decorators import public
from integration_hub.permissions import can
from integration_hub.views import generic
from integration_hub.views.access import ObjectAccessView


class SystemListView(generic.ObjectListView):
    queryset = System.objects.select_related("owner")
    filterset = SystemFilterSet
    table = SystemTable
    empty_message = gettext_lazy(
        "No system is connected yet. Add your ERP, PIM, CRM or shop to start building flows."
    )


class SystemView(generic.ObjectView):
    queryset = System.objects.select_related("owner")
    template_name = "flows/system.html"

    def get_extra_context(self, obj):
        checks = list(obj.checks.all()[:48])
        return {
            "checks": checks,
            "latency_chart": latency_chart(list(reversed(checks))),
            "can_check": can(self.request.user, "check", obj),
            "webhook_events": obj.webhook_events.all()[:20] if obj.webhook_enabled else [],
            "connector_label": _connector_label(obj),
        }


class SystemEditView(generic.ObjectEditView):
    queryset = System.objects.all()
    form = SystemForm
    template_name = "flows/system_edit.html"

    def get_extra_context(self):
        return {"connectors": connector_classes()}


class SystemDeleteView(generic.ObjectDeleteView):
    queryset = System.objects.all()


class SystemHistoryView(generic.ObjectHistoryView):
    queryset = System.objects.all()


class SystemAccessView(ObjectAccessView):
    queryset = System.objects.all()


class SystemCheckView(generic.ObjectMixin, View):
    """Test connection (POST): runs the check now and answers the result fragment."""

    queryset = System.objects.all()
    action = "check"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        result = services.check_system(system)
        return render(request, "flows/includes/check_result.html", {"result": result, "object": system})


class SystemDiscoverView(generic.ObjectMixin, View):
    """Discover (POST): reads entities, fields and samples now and answers the entities fragment."""

    queryset = System.objects.all()
    action = "check"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        error = None
        try:
            services.discover_system(system)
        except ConnectorError as exc:
            error = exc.message
        except Exception as exc:
            error = _("Discovery failed: %(error)s") % {"error": exc}
        return render(
            request, "flows/includes/entities.html", {"object": system, "discover_error": error}, status=200
        )


def _connector_label(system):
    try:
        return system.connector_class.label
    except KeyError:
        return system.connector or "—"


def latency_chart(checks, width=480, height=80) -> dict | None:
    """An SVG polyline of check latencies (ms), oldest first; failed checks are marked red."""
    points = [c for c in checks if c.latency_ms is not None]
    if len(points) < 2:
        return None
    top = max(c.latency_ms for c in points) or 1
    step = width / (len(points) - 1)
    coords = [
        (round(i * step, 1), round(height - 4 - (c.latency_ms / top) * (height - 8), 1))
        for i, c in enumerate(points)
    ]
    return {
        "width": width,
        "height": height,
        "max_ms": round(top),
        "polyline": " ".join(f"{x},{y}" for x, y in coords),
        "failures": [
            {"x": x, "y": y} for (x, y), c in zip(coords, points, strict=True) if c.status == "down"
        ],
    }


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(public, name="dispatch")
class WebhookReceiveView(View):
    """Where systems push events. Public by design: the token in the address and the HMAC signature
    authenticate the sender. Answers at once, never runs a sync inline."""

    def post(self, request, slug, token):
        outcome = webhooks.receive(slug, token, request.body, request.headers)
        return JsonResponse(outcome.body, status=outcome.status)


class WebhookRotateView(generic.ObjectMixin, View):
    """Give a system a new webhook address (the old one stops working)."""

    queryset = System.objects.all()
    action = "change"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        webhooks.rotate_token(system)
        messages.success(request, _("New webhook address created; update it in %(name)s.") % {"name": system})
        return HttpResponseRedirect(system.get_absolute_url())
