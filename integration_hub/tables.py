"""Table base classes (django-tables2) shared by every list page."""

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from integration_hub.models import AuditEntry


class BaseTable(tables.Table):
    """Responsive Bootstrap table; knows the viewing user (for per-row links)."""

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    class Meta:
        template_name = "tables/table.html"
        attrs = {"class": "table table-hover align-middle mb-0"}


class ChoiceBadgeColumn(tables.Column):
    """A choice field shown as a small badge (its value is the CSS modifier)."""

    def render(self, value, record, bound_column):
        raw = getattr(record, bound_column.accessor.split(".")[-1], "")
        return format_html('<span class="badge badge-{}">{}</span>', raw, value)

    def value(self, value):
        return value  # the label, not the badge's HTML (CSV export)


class AuditEntryTable(BaseTable):
    time = tables.DateTimeColumn(verbose_name=_("Time"), linkify=True, format="Y-m-d H:i:s")
    user_name = tables.Column(verbose_name=_("User"), default="—")
    action = ChoiceBadgeColumn(verbose_name=_("Action"))
    content_type = tables.Column(verbose_name=_("Type"), default="—")
    object_repr = tables.Column(verbose_name=_("Object"), default="—")
    summary = tables.Column(
        verbose_name=pgettext_lazy("audit column", "Change"), empty_values=(), orderable=False
    )
    source = tables.Column(verbose_name=_("Source"))

    class Meta(BaseTable.Meta):
        model = AuditEntry
        fields = ("time", "user_name", "action", "content_type", "object_repr", "summary", "source")

    def render_content_type(self, value):
        return value.model_class()._meta.verbose_name.capitalize() if value.model_class() else value

    def render_summary(self, record):
        if record.message:
            return record.message
        changed = [name for name, _old, _new in record.changes]
        if record.action == "update" and changed:
            return ", ".join(changed[:6]) + ("…" if len(changed) > 6 else "")
        return "—"

    def value_summary(self, record):
        return self.render_summary(record)
