from django.urls import path

from monitoring import alert_urls, trace_views, triage_views, views
from monitoring.api import DashboardAPIView

app_name = "monitoring"

urlpatterns = [
    path("metrics", views.metrics, name="metrics"),
    path("trace/", trace_views.TraceView.as_view(), name="trace"),
    path("api/dashboard/", DashboardAPIView.as_view(), name="dashboard_api"),
    *alert_urls.urlpatterns,
    path("triage/", triage_views.TriageView.as_view(), name="triage"),
    path("triage/<int:pk>/", triage_views.ErrorGroupView.as_view(), name="errorgroup"),
]
