"""The flow map's URLs, mounted at ``map/`` (namespace ``flowmap``)."""

from django.urls import path

from monitoring import flowmap_page, flowmap_views

app_name = "flowmap"

urlpatterns = [
    path("", flowmap_page.FlowMapView.as_view(), name="map"),
    path("map.svg", flowmap_page.FlowMapSVGView.as_view(), name="map_svg"),
    path("state.json", flowmap_page.FlowMapStateView.as_view(), name="state"),
    path("inventory/", flowmap_views.InventoryView.as_view(), name="inventory"),
    path("inventory.md", flowmap_views.InventoryMarkdownView.as_view(), name="inventory_md"),
    path("inventory.csv", flowmap_views.InventoryCSVView.as_view(), name="inventory_csv"),
]
