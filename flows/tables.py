import json

import django_tables2 as tables
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.translation import gettext_lazy as _

from flows.connectors.registry import get_connector_class
from flows.models import FailedRecord, Flow, RecordLink, Run, System, ValueMap
from integration_hub.fast_rows import FastRowsMixin, cell_datetime, cell_text
from integration_hub.tables import BaseTable, ChoiceBadgeColumn


class HealthColumn(tables.Column):
    def render(self, value, record, table):
        latency = f" {record.last_latency_ms:.0f} ms" if record.last_latency_ms is not None else ""
        html = format_html(
            '<span class="badge badge-health-{}">{}</span><span class="small text-body-secondary">{}</span>',
            record.health_status,
            record.get_health_status_display(),
            latency,
        )
        if record.maintenance:
            html += format_html(' <span class="badge text-bg-warning">{}</span>', _("in maintenance"))
        state = self._breakers(table).get(record.pk)
        if state is not None:
            html += format_html(
                ' <span class="badge text-bg-danger" data-breaker="{}">{}</span>',
                state.state,
                _("circuit %(state)s") % {"state": state.label},
            )
        return html

    @staticmethod
    def _breakers(table) -> dict:
        """The open circuits of the rows shown, read once per table."""
        if not hasattr(table, "_breakers"):
            from flows import breaker

            page = getattr(table, "page", None)
            rows = page.object_list if page is not None else table.data
            table._breakers = breaker.states(
                row.record.pk if hasattr(row, "record") else row.pk for row in rows
            )
        return table._breakers

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


def _record_cell(system, entity, record_id, url=None):
    ident = format_html("<code>{}</code>", record_id)
    if url:
        ident = format_html('<a href="{}">{}</a>', url, ident)
    return format_html(
        '{} <span class="small text-body-secondary d-block">{} · {}</span>', ident, system, entity
    )


class RecordLinkTable(BaseTable):
    """ID links: the source record → the target record it became, with the flow and the last sync."""

    source_id = tables.Column(verbose_name=_("Source record"))
    target_id = tables.Column(verbose_name=_("Target record"))
    flow = tables.Column(linkify=True, verbose_name=_("Flow"), default="—")
    last_synced = tables.DateTimeColumn(verbose_name=_("Last synced"), short=True, default="—")
    last_run = tables.Column(verbose_name=_("Last run"), default="—")

    class Meta(BaseTable.Meta):
        model = RecordLink
        fields = ("source_id", "target_id", "flow", "last_synced", "last_run")

    def render_source_id(self, record):
        url = reverse("flows:link", args=[record.pk])
        return _record_cell(record.source_system, record.source_entity, record.source_id, url)

    def value_source_id(self, record):
        return f"{record.source_system.slug}/{record.source_entity}/{record.source_id}"

    def render_target_id(self, record):
        return _record_cell(record.target_system, record.target_entity, record.target_id)

    def value_target_id(self, record):
        return f"{record.target_system.slug}/{record.target_entity}/{record.target_id}"

    def render_last_run(self, value):
        return format_html('<a href="{}">#{}</a>', value.get_absolute_url(), value.pk)

    def value_last_run(self, value):
        return value.pk


class SelectColumn(tables.Column):
    """A checkbox per row, named ``selection``, labelled for screen readers."""

    def __init__(self, **kwargs):
        kwargs.setdefault("accessor", "pk")
        kwargs.setdefault("orderable", False)
        kwargs.setdefault("exclude_from_export", True)
        kwargs.setdefault("verbose_name", "")
        super().__init__(**kwargs)

    @property
    def header(self):
        return format_html(
            '<input type="checkbox" class="form-check-input" data-select-all="selection" aria-label="{}">',
            _("Select all on this page"),
        )

    def render(self, value, record):
        return format_html(
            '<input type="checkbox" class="form-check-input" name="selection" value="{}" form="failures-form" aria-label="{}">',
            value,
            _("Select failed record %(id)s") % {"id": record.source_id or record.pk},
        )


# Columns a phone can do without (the reason and the actions matter more there).
_WIDE_ONLY = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}


class FailedRecordTable(FastRowsMixin, BaseTable):
    """A flow's failed records; messages and payloads masked for users without the personal-data right.
    Rows rendered in Python (``fast_*``, the same HTML as the columns' own rendering)."""

    select = SelectColumn()
    source_id = tables.Column(verbose_name=_("Source id"), attrs={"td": {"class": "text-nowrap"}})
    status = ChoiceBadgeColumn(verbose_name=_("Status"))
    stage = tables.Column(verbose_name=_("Stage"), attrs=_WIDE_ONLY)
    error_class = tables.Column(verbose_name=_("Error class"))
    message = tables.Column(verbose_name=_("Reason"), orderable=False, attrs={"td": {"class": "cell-reason"}})
    attempts = tables.Column(
        verbose_name=_("Attempts"),
        attrs={"th": _WIDE_ONLY["th"], "td": {"class": "text-end d-none d-md-table-cell"}},
    )
    updated = tables.DateTimeColumn(verbose_name=_("Last failed"), short=True, attrs=_WIDE_ONLY)
    actions = tables.Column(
        accessor="pk", verbose_name=_("Actions"), orderable=False, exclude_from_export=True
    )

    class Meta(BaseTable.Meta):
        model = FailedRecord
        fields = ("select", "source_id", "status", "stage", "error_class", "message", "attempts", "updated")
        sequence = ("select", "source_id", "status", "stage", "error_class", "message", "attempts", "updated")
        template_name = "tables/fast_table.html"

    def __init__(self, *args, presenter=None, can_act=False, **kwargs):
        from flows.failures import Presenter

        super().__init__(*args, **kwargs)
        self.presenter = presenter or Presenter(self.user)
        self.can_act = can_act
        if not can_act:
            self.columns.hide("select")
            self.columns.hide("actions")

    def render_source_id(self, record):
        return format_html("<code>{}</code>", record.source_id or "?")

    def fast_select(self, record):
        return self.columns["select"].column.render(record.pk, record)

    def fast_source_id(self, record):
        return self.render_source_id(record) if record.source_id else "—"

    def fast_status(self, record):
        return format_html(
            '<span class="badge badge-{}">{}</span>', record.status, self.choice_label(record, "status")
        )

    def fast_stage(self, record):
        return cell_text(record.stage)

    def fast_error_class(self, record):
        return self.render_error_class(record) if record.error_class else "—"

    def fast_message(self, record):
        return self.render_message(record) if record.message else "—"

    def fast_attempts(self, record):
        return cell_text(record.attempts)

    def fast_updated(self, record):
        return cell_datetime(record.updated, "SHORT_DATETIME_FORMAT")

    def fast_actions(self, record):
        return self.render_actions(record)

    def render_error_class(self, record):
        status = format_html(" · HTTP {}", record.http_status) if record.http_status else ""
        return format_html("<code>{}</code>{}", record.error_class, status)

    def value_error_class(self, record):
        return record.error_class

    def render_message(self, record):
        payload = self.presenter.payload(record)
        run = (
            format_html(
                '<a href="{}" class="small">{}</a>',
                record.run.get_absolute_url(),
                _("Run #%(n)s") % {"n": record.run_id},
            )
            if record.run_id
            else ""
        )
        return format_html(
            '<div class="text-danger text-break">{}</div>'
            '<details class="small"><summary>{}</summary><pre class="small mb-0 text-break">{}</pre></details>{}',
            self.presenter.message(record),
            _("Payload") if self.presenter.allowed else _("Payload (personal data masked)"),
            json.dumps(payload, indent=2, ensure_ascii=False, default=str),
            run,
        )

    def value_message(self, record):
        return self.presenter.message(record)

    def render_actions(self, record):
        if record.status not in ("open", "retrying"):
            return "—"
        return format_html(
            '<button type="submit" form="failures-form" name="replay_record" value="{}" class="btn btn-sm btn-outline-primary text-nowrap" aria-label="{}">'
            '<i class="bi bi-arrow-clockwise" aria-hidden="true"></i> {}</button>',
            record.pk,
            _("Replay failed record %(id)s") % {"id": record.source_id or record.pk},
            _("Replay"),
        )


def _wide_only(align: str = "") -> dict:
    """Attributes of a column a phone can do without (optionally aligned, e.g. numbers to the end)."""
    css = f"d-none d-md-table-cell {align}".strip()
    return {"th": {"class": css}, "td": {"class": css}}


class RunTable(FastRowsMixin, BaseTable):
    """The run history across flows. Only the queue time sorts: the (queued_at, id) index serves it
    both ways, where sorting a million runs by another column would read them all. The rows are
    rendered in Python (``fast_*``: same HTML as the ``render_*`` methods, without django-tables2's
    per-cell cost); ``render_*``/``value_*`` still serve the CSV export."""

    id = tables.Column(linkify=True, verbose_name=_("Run"), orderable=False)
    flow = tables.Column(linkify=True, verbose_name=_("Flow"), orderable=False)
    status = tables.Column(verbose_name=_("Status"), orderable=False)
    trigger = tables.Column(verbose_name=_("Trigger"), orderable=False, attrs=_wide_only())
    read = tables.Column(verbose_name=_("Read"), orderable=False, attrs=_wide_only("text-end"))
    written = tables.Column(verbose_name=_("Written"), orderable=False, attrs=_wide_only("text-end"))
    failed = tables.Column(
        verbose_name=_("Failed"),
        orderable=False,
        attrs={"th": {"class": "text-end"}, "td": {"class": "text-end"}},
    )
    queued_at = tables.DateTimeColumn(
        verbose_name=_("Queued"),
        format="Y-m-d H:i:s",
        order_by=("queued_at", "id"),
        attrs={"td": {"class": "text-nowrap"}},
    )
    duration = tables.Column(
        verbose_name=_("Duration"), empty_values=(), orderable=False, attrs=_wide_only("text-nowrap")
    )

    class Meta(BaseTable.Meta):
        model = Run
        fields = ("id", "flow", "status", "trigger", "read", "written", "failed", "queued_at", "duration")
        sequence = fields
        template_name = "tables/fast_table.html"

    _STATUS_CLASSES = {
        "succeeded": "text-bg-success",
        "partial": "text-bg-warning",
        "failed": "text-bg-danger",
        "interrupted": "text-bg-danger",
        "running": "text-bg-primary",
    }

    def fast_id(self, record):
        # One reverse() per table, not per row: the run's URL with its number put in.
        if "_run_url" not in self.__dict__:
            self._run_url = reverse("flows:run", args=[987654321]).split("987654321")
        before, after = self._run_url
        return format_html('<a href="{}{}{}">#{}</a>', before, record.pk, after, record.pk)

    def fast_flow(self, record):
        links = self.__dict__.setdefault("_flow_links", {})
        if record.flow_id not in links:
            flow = record.flow
            links[record.flow_id] = format_html('<a href="{}">{}</a>', flow.get_absolute_url(), flow)
        return links[record.flow_id]

    def fast_status(self, record):
        """flows/includes/run_status.html, without a template per row."""
        return format_html(
            '<span class="badge run-status {}" data-status="{}">{}</span>',
            self._STATUS_CLASSES.get(record.status, "text-bg-secondary"),
            record.status,
            self.choice_label(record, "status"),
        )

    def fast_trigger(self, record):
        return cell_text(self.choice_label(record, "trigger"))

    def fast_read(self, record):
        return cell_text(record.read)

    def fast_written(self, record):
        return cell_text(record.written)

    def fast_failed(self, record):
        return self.render_failed(record.failed) if record.failed else "0"

    def fast_queued_at(self, record):
        if record.queued_at is None:
            return "—"
        return timezone.localtime(record.queued_at).strftime("%Y-%m-%d %H:%M:%S")  # = "Y-m-d H:i:s"

    def fast_duration(self, record):
        return conditional_escape(self.render_duration(record))

    def render_id(self, value):
        return f"#{value}"

    def value_id(self, value):
        return value

    def render_status(self, record):
        return get_template("flows/includes/run_status.html").render({"run": record})

    def value_status(self, record):
        return record.get_status_display()

    def render_failed(self, value):
        return format_html('<span class="text-danger fw-semibold">{}</span>', value) if value else "0"

    def render_duration(self, record):
        from integration_hub.templatetags.hub import duration_short

        duration = record.duration
        return duration_short(duration.total_seconds()) if duration is not None else "—"

    def value_duration(self, record):
        duration = record.duration
        return round(duration.total_seconds()) if duration is not None else ""
