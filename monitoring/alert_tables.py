import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from integration_hub.tables import BaseTable, ChoiceBadgeColumn
from monitoring.models import Alert, AlertRule


class AlertRuleTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    condition = tables.Column(verbose_name=_("Condition"), empty_values=())
    scope = tables.Column(verbose_name=_("Scope"), empty_values=(), orderable=False)
    severity = ChoiceBadgeColumn(verbose_name=_("Severity"))
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    firing = tables.Column(verbose_name=_("Firing"), empty_values=(), orderable=False)
    snoozed_until = tables.DateTimeColumn(verbose_name=_("Snoozed until"), short=True, default="—")

    class Meta(BaseTable.Meta):
        model = AlertRule
        fields = ("name", "condition", "scope", "severity", "enabled", "firing", "snoozed_until")

    def render_condition(self, record):
        from monitoring.alerts import get_condition

        condition = get_condition(record.condition)
        return condition.label if condition else record.condition

    def value_condition(self, record):
        return self.render_condition(record)

    def render_scope(self, record):
        return record.scope_label

    def value_scope(self, record):
        return record.scope_label

    def render_firing(self, record):
        n = getattr(record, "firing_count", 0)
        if not n:
            return "0"
        return format_html('<span class="badge text-bg-danger">{}</span>', n)

    def value_firing(self, record):
        return getattr(record, "firing_count", 0)


class AlertTable(BaseTable):
    opened_at = tables.DateTimeColumn(verbose_name=_("Opened"), format="Y-m-d H:i", linkify=True)
    state = ChoiceBadgeColumn(verbose_name=_("State"))
    rule = tables.Column(verbose_name=_("Rule"), linkify=True)
    scope_label = tables.Column(verbose_name=_("Scope"), default="—")
    summary = tables.Column(verbose_name=_("Summary"))
    resolved_at = tables.DateTimeColumn(verbose_name=_("Resolved"), format="Y-m-d H:i", default="—")
    notification_count = tables.Column(verbose_name=_("Notifications"))

    class Meta(BaseTable.Meta):
        model = Alert
        fields = ("opened_at", "state", "rule", "scope_label", "summary", "resolved_at", "notification_count")
