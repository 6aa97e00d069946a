import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, SystemRole, Trigger
from flows.models import Flow, System, ValueMap
from integration_hub.filtersets import BaseFilterSet
from integration_hub.forms import active_users


class SystemFilterSet(BaseFilterSet):
    search_fields = ("name", "slug", "description")
    role = django_filters.MultipleChoiceFilter(choices=SystemRole.choices, label=_("Role"))
    criticality = django_filters.MultipleChoiceFilter(choices=Criticality.choices, label=_("Criticality"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))
    owner = django_filters.ModelChoiceFilter(queryset=lambda request: active_users(), label=_("Owner"))

    class Meta(BaseFilterSet.Meta):
        model = System
        fields = ("q", "role", "criticality", "enabled", "owner")


class FlowFilterSet(BaseFilterSet):
    search_fields = ("name", "description", "source_entity", "target_entity")
    system = django_filters.ModelChoiceFilter(
        queryset=System.objects.all(), method="filter_system", label=_("System (either side)")
    )
    trigger = django_filters.MultipleChoiceFilter(choices=Trigger.choices, label=_("Trigger"))
    criticality = django_filters.MultipleChoiceFilter(choices=Criticality.choices, label=_("Criticality"))
    enabled = django_filters.BooleanFilter(label=_("Enabled"))

    class Meta(BaseFilterSet.Meta):
        model = Flow
        fields = ("q", "system", "trigger", "criticality", "enabled", "source_system", "target_system")

    def filter_system(self, queryset, name, value: int):
        return queryset.filter(Q(source_system=value) | Q(target_system=value))


class ValueMapFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta(BaseFilterSet.Meta):
        model = ValueMap
        fields = ("q",)
