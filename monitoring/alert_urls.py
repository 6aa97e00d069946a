"""URLs of the alert pages, included in ``monitoring.urls`` (namespace ``monitoring``)."""

from django.urls import path

from monitoring import alert_views as views

urlpatterns = [
    path("alerts/", views.AlertRuleListView.as_view(), name="alertrule_list"),
    path("alerts/add/", views.AlertRuleEditView.as_view(), name="alertrule_add"),
    path("alerts/history/", views.AlertListView.as_view(), name="alert_list"),
    path("alerts/<int:pk>/", views.AlertRuleView.as_view(), name="alertrule"),
    path("alerts/<int:pk>/edit/", views.AlertRuleEditView.as_view(), name="alertrule_edit"),
    path("alerts/<int:pk>/delete/", views.AlertRuleDeleteView.as_view(), name="alertrule_delete"),
    path("alerts/<int:pk>/history/", views.AlertRuleHistoryView.as_view(), name="alertrule_history"),
    path("alerts/<int:pk>/test/", views.AlertRuleTestView.as_view(), name="alertrule_test"),
    path("alerts/<int:pk>/snooze/", views.AlertRuleSnoozeView.as_view(), name="alertrule_snooze"),
    path("notifications/", views.NotificationListView.as_view(), name="notification_list"),
    path("notifications/read/", views.NotificationReadView.as_view(), name="notification_read"),
    path(
        "notifications/preferences/",
        views.NotificationPreferencesView.as_view(),
        name="notification_preferences",
    ),
]
