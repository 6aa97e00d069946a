"""The demo's alert rules: so the bell rings in the demo when a run fails or a sandbox goes down."""

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _

from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT
from monitoring.models import AlertRule

DEMO_RULES = (
    # (name, condition, severity, cooldown minutes)
    ("Demo: a run failed", "run_failed", "warning", 30),
    ("Demo: a system is down", "system_down", "critical", 30),
)


def ensure_demo_alert_rules(owner=None) -> list[AlertRule]:
    """Create the demo's rules once (in the console, for integration admins, support and ``owner``)."""
    roles = list(Group.objects.filter(name__in=[INTEGRATION_ADMIN, SUPPORT]))
    created = []
    for name, condition, severity, cooldown in DEMO_RULES:
        rule, made = AlertRule.objects.get_or_create(
            name=name,
            defaults={
                "condition": condition,
                "severity": severity,
                "cooldown_minutes": cooldown,
                "description": _("Created with the demo: edit or delete it freely."),
                "created_by": owner,
            },
        )
        if made:
            rule.inapp_roles.set(roles)
            if owner is not None:
                rule.inapp_users.add(owner)
            created.append(rule)
    return created
