"""The breach register's list: reference, what, awareness, the 72-hour clock, notifications."""

from __future__ import annotations

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gdpr import breaches
from gdpr.models import Breach
from integration_hub.tables import BaseTable

_WIDE_ONLY = {"th": {"class": "d-none d-md-table-cell"}, "td": {"class": "d-none d-md-table-cell"}}
RISK_CSS = {"high": "danger", "risk": "warning", "unlikely": "secondary"}


def clock_attrs(state: breaches.Clock) -> str:
    """The attributes ``static/hub/breach.js`` needs to keep a ticking clock up to date without a
    reload: the deadline and the two labels, translated here ("{d}" stands for the duration)."""
    if not state.ticking:
        return ""
    return format_html(
        ' data-clock data-deadline="{}" data-left="{}" data-overdue="{}"',
        state.deadline.isoformat(),
        _("%(d)s left") % {"d": "{d}"},
        _("Overdue by %(d)s") % {"d": "{d}"},
    )


def clock_badge(breach: Breach, now=None) -> str:
    """The clock as a coloured badge (green notified, blue running, amber under 24 h, red overdue)."""
    state = breaches.clock(breach, now)
    return format_html(
        '<span class="badge text-bg-{}"{}><i class="bi bi-stopwatch" aria-hidden="true"></i> '
        '<span class="clock-label">{}</span></span>',
        state.css,
        clock_attrs(state),
        state.label,
    )


class BreachTable(BaseTable):
    reference = tables.Column(linkify=True, verbose_name=gettext_lazy("Reference"))
    title = tables.Column(verbose_name=gettext_lazy("Title"))
    aware_at = tables.DateTimeColumn(verbose_name=gettext_lazy("Aware since"), short=True)
    clock = tables.Column(verbose_name=gettext_lazy("Authority (72 h)"), empty_values=(), orderable=False)
    risk = tables.Column(verbose_name=gettext_lazy("Risk"))
    persons_affected = tables.Column(verbose_name=gettext_lazy("Persons"), default="—", attrs=_WIDE_ONLY)
    persons_notified_at = tables.DateTimeColumn(
        verbose_name=gettext_lazy("Persons notified"), short=True, default="—", attrs=_WIDE_ONLY
    )

    class Meta(BaseTable.Meta):
        model = Breach
        fields = (
            "reference",
            "title",
            "aware_at",
            "clock",
            "risk",
            "persons_affected",
            "persons_notified_at",
        )

    def render_clock(self, record):
        return clock_badge(record)

    def value_clock(self, record):
        return str(breaches.clock(record).label)

    def render_risk(self, record, value):
        return format_html(
            '<span class="badge text-bg-{}">{}</span>', RISK_CSS.get(record.risk, "secondary"), value
        )

    def value_risk(self, record, value):
        return value
