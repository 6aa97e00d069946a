"""Filters of the alert pages, serving the list pages and the API alike."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from flows.models import Flow, System
from integration_hub.filtersets import BaseFilterSet, UtcIsoDateTimeFilter
from integration_hub.permissions import restrict
from monitoring.models import Alert, AlertRule
from monitoring.models.alerts import AlertState, ScopeKind, Severity


def _condition_choices():
    from monitoring.alerts import condition_choices

    return condition_choices()


class AlertRuleFilterSet(BaseFilterSet):
    search_fields = ("name", "description")
    enabled = django_filters.BooleanFilter(label=_("Enabled"))
    scope_kind = django_filters.MultipleChoiceFilter(choices=ScopeKind.choices, label=_("Scope"))
    condition = django_filters.MultipleChoiceFilter(choices=_condition_choices, label=_("Condition"))
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, label=_("Severity"))
    system = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(System.objects.all(), getattr(request, "user", None)),
        label=_("System"),
    )
    flow = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(Flow.objects.all(), getattr(request, "user", None)), label=_("Flow")
    )

    class Meta(BaseFilterSet.Meta):
        model = AlertRule
        fields = ("q", "enabled", "scope_kind", "condition", "severity", "system", "flow")


class AlertFilterSet(BaseFilterSet):
    search_fields = ("summary", "scope_label", "rule__name")
    state = django_filters.MultipleChoiceFilter(choices=AlertState.choices, label=_("State"))
    rule = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(AlertRule.objects.all(), getattr(request, "user", None)),
        label=_("Rule"),
    )
    severity = django_filters.MultipleChoiceFilter(
        field_name="rule__severity", choices=Severity.choices, label=_("Severity")
    )
    opened_after = UtcIsoDateTimeFilter(field_name="opened_at", lookup_expr="gte", label=_("From"))
    opened_before = UtcIsoDateTimeFilter(field_name="opened_at", lookup_expr="lte", label=_("Until"))
    scope = django_filters.CharFilter(method="filter_scope", label=_("Scope key (flow:12, system:3)"))

    class Meta(BaseFilterSet.Meta):
        model = Alert
        fields = ("q", "state", "rule", "severity", "scope", "opened_after", "opened_before")

    def filter_scope(self, queryset, name, value: str):
        return queryset.filter(Q(scope_key=value.strip()))
