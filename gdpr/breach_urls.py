"""URLs of the breach register and the retention rules, included in ``gdpr.urls`` (namespace ``gdpr``)."""

from django.urls import path

from gdpr import breach_views as views

urlpatterns = [
    path("breaches/", views.BreachListView.as_view(), name="breach_list"),
    path("breaches/add/", views.BreachEditView.as_view(), name="breach_add"),
    path("breaches/categories/", views.BreachCategoriesView.as_view(), name="breach_categories"),
    path("breaches/<int:pk>/", views.BreachView.as_view(), name="breach"),
    path("breaches/<int:pk>/edit/", views.BreachEditView.as_view(), name="breach_edit"),
    path("breaches/<int:pk>/history/", views.BreachHistoryView.as_view(), name="breach_history"),
    path("breaches/<int:pk>/print/", views.BreachPrintView.as_view(), name="breach_print"),
    path(
        "breaches/<int:pk>/notify-authority/",
        views.BreachNotifyView.as_view(target="authority"),
        name="breach_notify_authority",
    ),
    path(
        "breaches/<int:pk>/notify-persons/",
        views.BreachNotifyView.as_view(target="persons"),
        name="breach_notify_persons",
    ),
    path("retention/", views.RetentionView.as_view(), name="retention"),
    path("retention/<slug:store>/purge/", views.RetentionPurgeView.as_view(), name="retention_purge"),
]
