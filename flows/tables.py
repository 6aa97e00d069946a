import django_tables2 as tables
from django.utils.translation import gettext_lazy as _

from flows.models import System
from integration_hub.tables import BaseTable, ChoiceBadgeColumn


class SystemTable(BaseTable):
    name = tables.Column(linkify=True, verbose_name=_("Name"))
    role = ChoiceBadgeColumn(verbose_name=_("Role"))
    criticality = ChoiceBadgeColumn(verbose_name=_("Criticality"))
    owner = tables.Column(verbose_name=_("Owner"), default="—")
    enabled = tables.BooleanColumn(verbose_name=_("Enabled"))
    updated = tables.DateTimeColumn(verbose_name=_("Updated"), short=True)

    class Meta(BaseTable.Meta):
        model = System
        fields = ("name", "role", "criticality", "owner", "enabled", "updated")
