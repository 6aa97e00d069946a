import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gdpr.models import ProcessingActivity
from integration_hub.tables import BaseTable, ChoiceBadgeColumn


def completeness_bar(value: int):
    colour = "success" if value >= 90 else "warning" if value >= 60 else "danger"
    return format_html(
        '<div class="progress" role="progressbar" aria-label="{}" aria-valuenow="{}" aria-valuemin="0" '
        'aria-valuemax="100" style="min-width:6rem"><div class="progress-bar bg-{}" style="width:{}%">{} %</div>'
        "</div>",
        _("Completeness"),
        value,
        colour,
        value,
        value,
    )


class ProcessingActivityTable(BaseTable):
    reference = tables.Column(linkify=True, verbose_name=_("Entry"))  # "RT-001 Order fulfilment"
    state = ChoiceBadgeColumn(verbose_name=_("State"))
    legal_basis = tables.Column(verbose_name=_("Legal basis"), default="—")
    completeness = tables.Column(verbose_name=_("Completeness"))
    drift = tables.Column(verbose_name=_("Drift"), empty_values=(), orderable=False)
    owner = tables.Column(verbose_name=_("Owner"), default="—")
    review_date = tables.DateColumn(verbose_name=_("Next review"), default="—")

    class Meta(BaseTable.Meta):
        model = ProcessingActivity
        fields = (
            "reference",
            "name",
            "state",
            "legal_basis",
            "completeness",
            "drift",
            "owner",
            "review_date",
        )

    def render_reference(self, record):
        return str(record)

    def value_reference(self, record):
        return str(record)

    def render_completeness(self, value):
        return completeness_bar(value)

    def value_completeness(self, value):
        return value

    def render_drift(self, record):
        n = len(record.drift or [])
        if not n:
            return format_html('<span class="text-body-secondary">{}</span>', _("none"))
        return format_html(
            '<span class="badge text-bg-warning">{}</span>',
            ngettext("%(n)s difference", "%(n)s differences", n) % {"n": n},
        )

    def value_drift(self, record):
        return len(record.drift or [])
