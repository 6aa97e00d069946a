"""URLs of the data-subject request pages, included in ``gdpr.urls`` under ``requests/`` (namespace
``gdpr``). The intake pages are public (no login): a person files a request and confirms it by code."""

from django.urls import path

from gdpr import request_views as views

urlpatterns = [
    path("", views.RequestListView.as_view(), name="datasubjectrequest_list"),
    path("add/", views.RequestCreateView.as_view(), name="datasubjectrequest_add"),
    path("suppression/", views.SuppressionListView.as_view(), name="suppressedsubject_list"),
    path("intake/", views.IntakeView.as_view(), name="request_intake"),
    path("intake/<str:token>/", views.IntakeVerifyView.as_view(), name="request_intake_verify"),
    path("<int:pk>/", views.RequestView.as_view(), name="request"),
    path("<int:pk>/history/", views.RequestHistoryView.as_view(), name="datasubjectrequest_history"),
    path("<int:pk>/evidence/", views.EvidenceView.as_view(), name="request_evidence"),
    path("<int:pk>/access/", views.AccessExportView.as_view(), name="request_access"),
    path("<int:pk>/task-done/", views.TaskDoneView.as_view(), name="request_task_done"),
    # One address per step (verify, plan, execute, extend…): POST, the same view.
    *(
        path(
            f"<int:pk>/{step}/",
            views.RequestStepView.as_view(step=step),
            name=f"request_{step.replace('-', '_')}",
        )
        for step in views.STEPS
    ),
]
