from django.db.models import Count
from django.shortcuts import render
from django.views import View

from flows import breaker
from flows.choices import SystemRole
from flows.models import System
from integration_hub.permissions import has_global_permission, restrict


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
