from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from flows import urls as flows_urls
from integration_hub.api.views import APIRootView
from integration_hub.decorators import public
from integration_hub.views import audit, auth, status, users
from monitoring.trace_views import TraceAPIView
from monitoring.views import DashboardView

users_patterns = (
    [
        path("", users.UserListView.as_view(), name="user_list"),
        path("invite/", users.InviteView.as_view(), name="user_add"),
        path("<int:pk>/", users.UserView.as_view(), name="user"),
        path("<int:pk>/edit/", users.UserEditView.as_view(), name="user_edit"),
        path("<int:pk>/history/", users.UserHistoryView.as_view(), name="user_history"),
        path(
            "<int:pk>/resend-invitation/", users.ResendInvitationView.as_view(), name="user_resend_invitation"
        ),
        path("roles/", users.RoleListView.as_view(), name="group_list"),
    ],
    "auth",
)

account_patterns = (
    [
        path("tokens/", users.TokenListView.as_view(), name="token_list"),
        path("tokens/<int:pk>/delete/", users.TokenDeleteView.as_view(), name="token_delete"),
    ],
    "users",
)

audit_patterns = (
    [
        path("", audit.AuditEntryListView.as_view(), name="auditentry_list"),
        path("<int:pk>/", audit.AuditEntryView.as_view(), name="auditentry"),
    ],
    "integration_hub",
)

accounts = [
    path("login/", auth.LoginView.as_view(), name="login"),
    path("password_change/", auth.PasswordChangeView.as_view(), name="password_change"),
    path("password_reset/", auth.PasswordResetView.as_view(), name="password_reset"),
    path("reset/<uidb64>/<token>/", auth.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("", include("django.contrib.auth.urls")),
]

api_patterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("", include("flows.api.urls")),
    path("", include("integration_hub.api.urls")),
    path("", include("monitoring.alert_api")),
    path("", include("monitoring.triage_api_urls")),
    path("gdpr/", include("gdpr.api.urls")),
    path("trace/", TraceAPIView.as_view(), name="api-trace"),
]

urlpatterns = [
    path("", DashboardView.as_view(), name="home"),
    path("accounts/", include(accounts)),
    path("i18n/setlang/", public(set_language), name="set_language"),
    path("healthz", status.healthz, name="healthz"),
    path("readyz", status.readyz, name="readyz"),
    path("", include("monitoring.urls")),  # /metrics
    path("status/", status.StatusView.as_view(), name="status"),
    path("status/live-ping/", status.LivePingView.as_view(), name="status_live_ping"),
    path("users/", include(users_patterns)),
    path("account/", include(account_patterns)),
    path("audit/", include(audit_patterns)),
    path("api/", include(api_patterns)),
    path("", include("flows.urls")),
    path("hooks/", include(flows_urls.hook_patterns)),
    path("map/", include("monitoring.flowmap_urls")),
    path("gdpr/", include("gdpr.urls")),
]
