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
    path("systems/<int:pk>/webhook/rotate/", views.WebhookRotateView.as_view(), name="system_webhook_rotate"),
]

hook_patterns = (
    [path("<slug:slug>/<str:token>/", views.WebhookReceiveView.as_view(), name="receive")],
    "hooks",
)
