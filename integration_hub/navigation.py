"""The console's main navigation; each entry shows only to users who may open it."""

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str
    section: str
    model: str | None = None  # "app_label.ModelName": shown when the user may view some of them
    permission: str | None = None  # or shown when the user holds this permission


MENU = (
    NavItem(_("Dashboard"), "home", "speedometer2", "dashboard"),
    NavItem(_("Systems"), "flows:system_list", "hdd-network", "systems", model="flows.System"),
    NavItem(_("Flows"), "flows:flow_list", "diagram-3", "flows", model="flows.Flow"),
    NavItem(_("Runs"), "flows:run_list", "play-circle", "runs", model="flows.Flow"),  # runs follow their flow
    NavItem(
        _("Triage"), "monitoring:triage", "inbox", "triage", model="flows.Flow"
    ),  # groups follow their flow
    NavItem(_("Alerts"), "monitoring:alertrule_list", "bell", "alerts", model="monitoring.AlertRule"),
    NavItem(_("Flow map"), "flowmap:map", "map", "map", model="flows.Flow"),  # the flows the user may view
    NavItem(
        _("GDPR"), "gdpr:index", "shield-lock", "gdpr", permission="gdpr.view_processingactivity"
    ),  # a role's permission (DPO, integration admins): no query per page, unlike an object-grant check
    NavItem(
        _("Audit"),
        "integration_hub:auditentry_list",
        "journal-text",
        "audit",
        permission="integration_hub.view_auditentry",
    ),
)


def menu_for(request) -> list[dict]:
    from django.apps import apps

    from integration_hub.permissions import has_any_permission

    user = request.user
    items = []
    may_view: dict[str, bool] = {}  # one permission check per model, however many entries share it
    for item in MENU:
        if item.permission and not user.has_perm(item.permission):
            continue
        if item.model and item.model not in may_view:
            may_view[item.model] = has_any_permission(user, apps.get_model(item.model), "view")
        if item.model and not may_view[item.model]:
            continue
        url = reverse(item.url_name)
        active = request.path == url if url == "/" else request.path.startswith(url)
        items.append(
            {"label": item.label, "url": url, "icon": item.icon, "active": active, "section": item.section}
        )
    return items
