"""The seeded roles and the global permissions each one holds.

A role is a Django group. ``ensure_roles`` creates missing roles and adds the permissions their
policy names; it never removes a permission an admin added by hand, only those the policy excludes. It runs from the data migration
that seeds the roles and again after every ``migrate``, so models added later join the roles too.
"""

from django.utils.translation import gettext_noop

INTEGRATION_ADMIN = gettext_noop("Integration admin")
SUPPORT = gettext_noop("Support")
DPO = gettext_noop("DPO")
VIEWER = gettext_noop("Viewer")

# Each entry: (app label, action) where action "*" means every permission of the app and "view"
# every view_* permission; or "app_label.codename" for one permission.
ROLE_POLICIES: dict[str, dict] = {
    INTEGRATION_ADMIN: {
        "description": gettext_noop(
            "Connects systems, designs and schedules flows, manages users and access."
        ),
        "grants": [
            ("flows", "*"),
            ("monitoring", "*"),
            ("gdpr", "view"),
            "integration_hub.view_auditentry",
            "integration_hub.manage_access",
            "auth.view_user",
            "auth.add_user",
            "auth.change_user",
            "auth.view_group",
            "django_q.view_task",
            "django_q.view_schedule",
        ],
        # The register is theirs to read; data-subject requests (who asked to be erased) are not.
        "exclude": [
            "gdpr.view_datasubjectrequest",
            "gdpr.view_requesttask",
            "gdpr.view_suppressedsubject",
            "gdpr.view_evidencepack",
        ],
    },
    SUPPORT: {
        "description": gettext_noop("Watches dashboards, triages failed records, retries or ignores them."),
        "grants": [
            ("flows", "view"),
            ("monitoring", "*"),
            "flows.run_flow",
            "flows.check_system",
            "integration_hub.view_auditentry",
            "django_q.view_task",
        ],
    },
    DPO: {
        "description": gettext_noop("Keeps the register of processing and handles data-subject requests."),
        "grants": [
            ("flows", "view"),
            ("monitoring", "view"),
            ("gdpr", "*"),
            "integration_hub.view_auditentry",
            "integration_hub.view_personal_data",
        ],
    },
    VIEWER: {
        "description": gettext_noop("Reads dashboards, systems and flows; changes nothing."),
        "grants": [("flows", "view"), ("monitoring", "view")],
    },
}


def policy_permissions(permission_model, grants):
    """The Permission rows a role's grant list names (those that exist yet)."""
    from django.db.models import Q

    query = Q(pk__in=[])
    for grant in grants:
        if isinstance(grant, str):
            app_label, codename = grant.split(".", 1)
            query |= Q(content_type__app_label=app_label, codename=codename)
        else:
            app_label, action = grant
            if action == "*":
                query |= Q(content_type__app_label=app_label)
            else:
                query |= Q(content_type__app_label=app_label, codename__startswith=f"{action}_")
    return permission_model.objects.filter(query)


def ensure_roles(apps=None) -> None:
    """Create the roles that are missing and give each the permissions its policy names."""
    if apps is None:
        from django.apps import apps as global_apps

        apps = global_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, policy in ROLE_POLICIES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = set(policy_permissions(permission_model, policy["grants"]).values_list("pk", flat=True))
        # What a policy excludes is taken away even if an earlier version of the policy granted it.
        excluded = set(
            policy_permissions(permission_model, policy.get("exclude", [])).values_list("pk", flat=True)
        )
        wanted -= excluded
        missing = wanted - set(group.permissions.values_list("pk", flat=True))
        if missing:
            group.permissions.add(*missing)
        if excluded:
            group.permissions.remove(*excluded)
