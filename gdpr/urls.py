"""The GDPR pages (namespace ``gdpr``). Each part of the app adds its own list of patterns below."""

from django.urls import include, path

from gdpr import breach_urls, request_urls
from gdpr import register_views as register

app_name = "gdpr"

register_patterns = [
    path("", register.GdprIndexView.as_view(), name="index"),
    path("register/", register.ActivityListView.as_view(), name="processingactivity_list"),
    path("register/add/", register.ActivityEditView.as_view(), name="processingactivity_add"),
    path("register/export.csv", register.RegisterCSVView.as_view(), name="register_csv"),
    path("register/print/", register.RegisterPrintView.as_view(), name="register_print"),
    path("register/<int:pk>/", register.ActivityView.as_view(), name="activity"),
    path("register/<int:pk>/edit/", register.ActivityEditView.as_view(), name="processingactivity_edit"),
    path(
        "register/<int:pk>/delete/", register.ActivityDeleteView.as_view(), name="processingactivity_delete"
    ),
    path(
        "register/<int:pk>/history/",
        register.ActivityHistoryView.as_view(),
        name="processingactivity_history",
    ),
    path(
        "register/<int:pk>/submit/",
        register.ActivityTransitionView.as_view(transition="submit"),
        name="activity_submit",
    ),
    path(
        "register/<int:pk>/approve/",
        register.ActivityTransitionView.as_view(transition="approve"),
        name="activity_approve",
    ),
    path(
        "register/<int:pk>/archive/",
        register.ActivityTransitionView.as_view(transition="archive"),
        name="activity_archive",
    ),
    path(
        "register/<int:pk>/reopen/",
        register.ActivityTransitionView.as_view(transition="reopen"),
        name="activity_reopen",
    ),
    path("register/versions/<int:pk>/", register.SnapshotView.as_view(), name="activitysnapshot"),
    path("controller/", register.ControllerView.as_view(), name="controller"),
    path("controller/edit/", register.ControllerEditView.as_view(), name="controller_edit"),
    path("systems/", register.SystemPrivacyListView.as_view(), name="systems"),
    path(
        "systems/<int:pk>/privacy/",
        register.SystemPrivacyEditView.as_view(),
        name="systemprivacy_edit",
    ),
    path("taxonomy/", register.TaxonomyView.as_view(), name="taxonomy"),
    path("taxonomy/<int:pk>/", register.DataCategoryView.as_view(), name="datacategory"),
]

urlpatterns = [*register_patterns, *breach_urls.urlpatterns]
urlpatterns.append(path("requests/", include(request_urls.urlpatterns)))  # data-subject requests
