import django_filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from flows.models import Flow, System
from integration_hub.filtersets import BaseFilterSet
from integration_hub.permissions import restrict
from monitoring.models import ErrorGroup

ASSIGNEE_CHOICES = (("me", _("Me")), ("none", _("Unassigned")))


class ErrorGroupFilterSet(BaseFilterSet):
    """The triage inbox's filters, for the page and the API alike. Without a status: open + acknowledged."""

    search_fields = ("title", "message", "error_class", "flow__name")
    status = django_filters.MultipleChoiceFilter(
        choices=ErrorGroup.Status.choices, label=_("Status"), widget=forms.CheckboxSelectMultiple
    )
    flow = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(Flow.objects.all(), getattr(request, "user", None)), label=_("Flow")
    )
    system = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(System.objects.all(), getattr(request, "user", None)),
        method="filter_system",
        label=_("System"),
    )
    assignee = django_filters.ChoiceFilter(
        choices=ASSIGNEE_CHOICES, method="filter_assignee", label=_("Assignee"), empty_label=_("Anyone")
    )

    class Meta(BaseFilterSet.Meta):
        model = ErrorGroup
        fields = ("q", "status", "flow", "system", "assignee")

    @property
    def qs(self):
        queryset = super().qs
        if not self.data.get("status") and not (
            hasattr(self.data, "getlist") and self.data.getlist("status")
        ):
            queryset = queryset.filter(status__in=ErrorGroup.ACTIVE)
        return queryset

    def filter_system(self, queryset, name, value: int):
        return queryset.filter(Q(flow__source_system=value) | Q(flow__target_system=value))

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            user = getattr(self.request, "user", None)
            return (
                queryset.filter(assignee=user)
                if getattr(user, "is_authenticated", False)
                else queryset.none()
            )
        if value == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset
