"""Tables of the data-subject request pages: requests (with the deadline's urgency) and the suppression
list (keyed hashes and hit counts only)."""

from __future__ import annotations

import django_tables2 as tables
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from gdpr import deadlines
from gdpr.models import DataSubjectRequest, SuppressedSubject
from integration_hub.tables import BaseTable

_WIDE_ONLY = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}

URGENCY = {
    "overdue": ("danger", _("overdue")),
    "due_soon": ("warning", _("due soon")),
    "on_time": ("success", _("on time")),
}


# Bootstrap colours of request states and task statuses (text-bg-…).
STATE_CSS = {
    "received": "secondary",
    "verified": "info",
    "planned": "primary",
    "executing": "primary",
    "completed": "success",
    "partial": "warning",
    "refused": "danger",
    "on_hold": "secondary",
    "cancelled": "dark",
}
TASK_CSS = {
    "pending": "secondary",
    "running": "primary",
    "succeeded": "success",
    "failed": "danger",
    "retrying": "warning",
    "not_found": "light border",
    "exempt": "info",
    "manual": "warning",
}


def state_badge(request: DataSubjectRequest) -> str:
    return format_html(
        '<span class="badge text-bg-{}">{}</span>',
        STATE_CSS.get(request.state, "secondary"),
        request.get_state_display(),
    )


def urgency_of(request: DataSubjectRequest, today=None) -> str:
    return deadlines.urgency(request.due_on, today or timezone.localdate(), open_=request.is_open)


def due_badge(request: DataSubjectRequest, today=None) -> str:
    """The due date with its urgency: red overdue, amber due within a week, green on time."""
    level = urgency_of(request, today)
    if not level:
        return format_html("{}", request.due_on.isoformat())
    css, label = URGENCY[level]
    return format_html(
        '{} <span class="badge text-bg-{} urgency-{}">{}</span>',
        request.due_on.isoformat(),
        css,
        level,
        label,
    )


class RequestTable(BaseTable):
    reference = tables.Column(linkify=True, verbose_name=_("Reference"))
    kind = tables.Column(verbose_name=_("Type"))
    state = tables.Column(verbose_name=_("State"))
    received_on = tables.DateColumn(verbose_name=_("Received"), format="Y-m-d", attrs=_WIDE_ONLY)
    due_on = tables.Column(verbose_name=_("Due"))
    assignee = tables.Column(verbose_name=_("Assignee"), default="—", attrs=_WIDE_ONLY)
    pseudonym = tables.Column(verbose_name=_("Subject"), attrs=_WIDE_ONLY, orderable=False)

    class Meta(BaseTable.Meta):
        model = DataSubjectRequest
        fields = ("reference", "kind", "state", "received_on", "due_on", "assignee", "pseudonym")
        order_by = ("due_on",)

    def render_state(self, record):
        return state_badge(record)

    def value_state(self, record):
        return record.get_state_display()

    def render_due_on(self, record):
        return due_badge(record)

    def value_due_on(self, record):
        return record.due_on.isoformat()


class SuppressionTable(BaseTable):
    key = tables.Column(verbose_name=_("Keyed hash"), attrs={"td": {"class": "font-monospace small"}})
    kind = tables.Column(verbose_name=_("Identifier type"))
    request = tables.Column(verbose_name=_("Request"), linkify=True, default="—")
    created = tables.DateTimeColumn(verbose_name=_("Listed"), format="Y-m-d H:i")
    hits = tables.Column(verbose_name=_("Records suppressed"))
    last_hit = tables.DateTimeColumn(verbose_name=_("Last suppressed"), format="Y-m-d H:i", default="—")

    class Meta(BaseTable.Meta):
        model = SuppressedSubject
        fields = ("key", "kind", "request", "created", "hits", "last_hit")
