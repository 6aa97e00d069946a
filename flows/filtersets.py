import django_filters
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, SystemRole
from flows.models import System
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
