"""The flow inventory downloads: printable HTML, Markdown and CSV, all from ``flowmap.inventory``.

Anyone who may view flows (globally or at least one by an object grant) may download; each gets
only the flows they may view.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from flows.models import Flow
from integration_hub.permissions import has_any_permission
from integration_hub.views import generic
from monitoring import flowmap


def may_view_map(user) -> bool:
    """The map and the inventory show the flows a user may view: they need view on at least one."""
    return bool(user and user.is_authenticated and user.is_active and has_any_permission(user, Flow, "view"))


class InventoryMixin:
    def dispatch(self, request, *args, **kwargs):
        if not may_view_map(request.user):
            generic.deny(request, _("The flow inventory lists the flows you may view: you may view none."))
        return super().dispatch(request, *args, **kwargs)

    def filename(self, extension: str) -> str:
        return f"flow-inventory-{timezone.localdate().isoformat()}.{extension}"

    def rows(self) -> list[dict]:
        """The user's inventory, with absolute addresses (a download is read away from the console)."""
        return [
            {**row, "url": self.request.build_absolute_uri(row["url"])}
            for row in flowmap.inventory(self.request.user)
        ]

    def download(self, content: str, content_type: str, extension: str) -> HttpResponse:
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{self.filename(extension)}"'
        return response


class InventoryView(InventoryMixin, View):
    """The printable inventory: one section per flow (print CSS keeps a section on one page)."""

    template_name = "monitoring/flow_inventory.html"

    def get(self, request):
        rows = flowmap.inventory(request.user)
        return render(
            request,
            self.template_name,
            {"rows": rows, "generated": timezone.now(), "columns": flowmap.INVENTORY_COLUMNS},
        )


class InventoryMarkdownView(InventoryMixin, View):
    def get(self, request):
        text = flowmap.inventory_markdown(self.rows())
        return self.download(text, "text/markdown; charset=utf-8", "md")


class InventoryCSVView(InventoryMixin, View):
    def get(self, request):
        text = flowmap.inventory_csv(self.rows())
        return self.download(text, "text/csv; charset=utf-8", "csv")
