"""The demo's alert rules: so the bell rings in the demo when a run fails or a sandbox goes down."""

from django.contrib.auth.models import Group
from django.utils.translation import gettext as _

from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT
from monitoring.models import AlertRule

DEMO_RULES = (
    # (name, condition, severity, cooldown minutes)
    ("Demo: a run failed", "run_failed", "warning", 30),
    ("Demo: a system is down", "system_down", "critical", 30),
    ("Demo: the GDPR register differs from the flows", "register_drift", "warning", 1440),
    ("Demo: a data-subject request is due soon or late", "gdpr_request_deadline", "warning", 1440),
    ("Demo: a personal-data breach is not notified", "gdpr_breach_not_notified", "critical", 240),
)
# Who hears of a rule in the console when not integration admins and support (the register is the DPO's).
DEMO_RULE_ROLES = {
    "register_drift": (DPO,),
    "gdpr_request_deadline": (DPO,),
    "gdpr_breach_not_notified": (DPO,),
}


def ensure_demo_alert_rules(owner=None) -> list[AlertRule]:
    """Create the demo's rules once (in the console, for integration admins, support and ``owner``)."""
    created = []
    for name, condition, severity, cooldown in DEMO_RULES:
        role_names = DEMO_RULE_ROLES.get(condition, (INTEGRATION_ADMIN, SUPPORT))
        roles = list(Group.objects.filter(name__in=role_names))
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
