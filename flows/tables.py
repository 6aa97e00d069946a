import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from flows.connectors.registry import get_connector_class
from flows.models import Flow, System, ValueMap
from integration_hub.tables import BaseTable, ChoiceBadgeColumn


class HealthColumn(tables.Column):
    def render(self, value, record):
        latency = f" {record.last_latency_ms:.0f} ms" if record.last_latency_ms is not None else ""
        return format_html(
            '<span class="badge badge-health-{}">{}</span><span class="small text-body-secondary">{}</span>',
            record.health_status,
            record.get_health_status_display(),
            latency,
        )

    def value(self, record, value):
        return record.get_health_status_display()


class SystemTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    role = ChoiceBadgeColumn(verbose_name=_("Role"))
    connector = tables.Column(verbose_name=_("Connector"))
    health_status = HealthColumn(verbose_name=_("Health"))
    criticality = ChoiceBadgeColumn(verbose_name=_("Criticality"))
    owner = tables.Column(verbose_name=_("Owner"), default="—")
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    last_check_at = tables.DateTimeColumn(verbose_name=_("Last check"), short=True, default="—")

    class Meta(BaseTable.Meta):
        model = System
        fields = (
            "name",
            "role",
            "connector",
            "health_status",
            "criticality",
            "owner",
            "enabled",
            "last_check_at",
        )

    def render_connector(self, value):
        try:
            return get_connector_class(value).label
        except KeyError:
            return value or "—"

    def value_connector(self, value):
        return str(self.render_connector(value))


class FlowTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    route = tables.Column(accessor="pk", verbose_name=_("From → to"), orderable=False)
    trigger = tables.Column(verbose_name=_("Trigger"))
    criticality = ChoiceBadgeColumn(verbose_name=_("Criticality"))
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    version = tables.Column(accessor="current_version__number", verbose_name=_("Version"), default="—")
    updated = tables.DateTimeColumn(verbose_name=_("Updated"), short=True)

    class Meta(BaseTable.Meta):
        model = Flow
        fields = ("name", "route", "trigger", "criticality", "enabled", "version", "updated")

    def render_route(self, record):
        return format_html(
            "{} <span class='text-body-secondary'>{}</span> → {} <span class='text-body-secondary'>{}</span>",
            record.source_system,
            record.source_entity,
            record.target_system,
            record.target_entity,
        )

    def value_route(self, record):
        return (
            f"{record.source_system} {record.source_entity} → {record.target_system} {record.target_entity}"
        )

    def render_trigger(self, record):
        if record.trigger == "interval" and record.interval_minutes:
            return _("every %(n)s min") % {"n": record.interval_minutes}
        if record.trigger == "cron":
            return format_html("cron <code>{}</code>", record.cron)
        return record.get_trigger_display()

    def value_trigger(self, record):
        return str(self.render_trigger(record))


class ValueMapTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    size = tables.Column(accessor="pk", verbose_name=_("Entries"), orderable=False)
    unmatched = tables.Column(verbose_name=_("When unmatched"))
    updated = tables.DateTimeColumn(verbose_name=_("Updated"), short=True)

    class Meta(BaseTable.Meta):
        model = ValueMap
        fields = ("name", "size", "unmatched", "updated")

    def render_size(self, record):
        return len(record.entries or {})

    def value_size(self, record):
        return len(record.entries or {})
