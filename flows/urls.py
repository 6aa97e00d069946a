from django.urls import path

from flows import views

app_name = "flows"

urlpatterns = [
    path("systems/", views.SystemListView.as_view(), name="system_list"),
    path("systems/add/", views.SystemEditView.as_view(), name="system_add"),
    path("systems/<int:pk>/", views.SystemView.as_view(), name="system"),
    path("systems/<int:pk>/edit/", views.SystemEditView.as_view(), name="system_edit"),
    path("systems/<int:pk>/delete/", views.SystemDeleteView.as_view(), name="system_delete"),
    path("systems/<int:pk>/history/", views.SystemHistoryView.as_view(), name="system_history"),
    path("systems/<int:pk>/access/", views.SystemAccessView.as_view(), name="system_access"),
    path("systems/<int:pk>/check/", views.SystemCheckView.as_view(), name="system_check"),
    path("systems/<int:pk>/discover/", views.SystemDiscoverView.as_view(), name="system_discover"),
    path("systems/<int:pk>/health/", views.SystemHealthView.as_view(), name="system_health"),
    path("systems/<int:pk>/health/<int:scan_pk>/", views.HealthScanView.as_view(), name="system_health_scan"),
    path(
        "systems/<int:pk>/health/<int:scan_pk>/csv/",
        views.HealthScanCsvView.as_view(),
        name="system_health_csv",
    ),
    path("systems/<int:pk>/webhook/rotate/", views.WebhookRotateView.as_view(), name="system_webhook_rotate"),
    path("flows/", views.FlowListView.as_view(), name="flow_list"),
    path("flows/add/", views.FlowEditView.as_view(), name="flow_add"),
    path("flows/templates/", views.FlowTemplatesView.as_view(), name="flow_templates"),
    path("flows/preview/", views.FlowDraftPreviewView.as_view(), name="flow_draft_preview"),
    path("flows/try-transform/", views.TryTransformView.as_view(), name="flow_try_transform"),
    path("flows/config/", views.ConfigView.as_view(), name="config"),
    path("flows/config/export/", views.ConfigExportView.as_view(), name="config_export"),
    path("flows/<int:pk>/", views.FlowView.as_view(), name="flow"),
    path("flows/<int:pk>/edit/", views.FlowEditView.as_view(), name="flow_edit"),
    path("flows/<int:pk>/delete/", views.FlowDeleteView.as_view(), name="flow_delete"),
    path("flows/<int:pk>/history/", views.FlowHistoryView.as_view(), name="flow_history"),
    path("flows/<int:pk>/access/", views.FlowAccessView.as_view(), name="flow_access"),
    path("flows/<int:pk>/versions/", views.FlowVersionsView.as_view(), name="flow_versions"),
    path("flows/<int:pk>/tests/", views.FlowTestsView.as_view(), name="flow_tests"),
    path("flows/<int:pk>/run/", views.FlowRunView.as_view(), name="flow_run"),
    path("flows/<int:pk>/runs/", views.FlowRunsPartView.as_view(), name="flow_runs"),
    path("runs/<int:pk>/", views.RunView.as_view(), name="run"),
    path("runs/<int:pk>/cancel/", views.RunCancelView.as_view(), name="run_cancel"),
    path("flows/<int:pk>/preview/", views.FlowPreviewView.as_view(), name="flow_preview"),
    path("flows/<int:pk>/clone/", views.FlowCloneView.as_view(), name="flow_clone"),
    path("flows/<int:pk>/toggle/", views.FlowToggleView.as_view(), name="flow_toggle"),
    path("value-maps/", views.ValueMapListView.as_view(), name="valuemap_list"),
    path("value-maps/add/", views.ValueMapEditView.as_view(), name="valuemap_add"),
    path("value-maps/<int:pk>/", views.ValueMapView.as_view(), name="valuemap"),
    path("value-maps/<int:pk>/edit/", views.ValueMapEditView.as_view(), name="valuemap_edit"),
    path("value-maps/<int:pk>/delete/", views.ValueMapDeleteView.as_view(), name="valuemap_delete"),
    path("value-maps/<int:pk>/history/", views.ValueMapHistoryView.as_view(), name="valuemap_history"),
    path("value-maps/<int:pk>/export/", views.ValueMapExportView.as_view(), name="valuemap_export"),
]

hook_patterns = (
    [path("<slug:slug>/<str:token>/", views.WebhookReceiveView.as_view(), name="receive")],
    "hooks",
)
