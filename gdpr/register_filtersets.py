"""Filters of the register, serving its list page and the API alike."""

import django_filters
from django.utils.translation import gettext_lazy as _

from gdpr.models import DataCategory, ProcessingActivity, Purpose
from gdpr.models.choices import ActivityState, LegalBasis
from integration_hub.filtersets import BaseFilterSet


class ProcessingActivityFilterSet(BaseFilterSet):
    search_fields = ("reference", "name", "description")
    state = django_filters.MultipleChoiceFilter(choices=ActivityState.choices, label=_("State"))
    legal_basis = django_filters.MultipleChoiceFilter(choices=LegalBasis.choices, label=_("Legal basis"))
    purpose = django_filters.ModelChoiceFilter(
        field_name="purposes", queryset=Purpose.objects.all(), label=_("Purpose")
    )
    drift = django_filters.BooleanFilter(method="filter_drift", label=_("With drift"))

    class Meta(BaseFilterSet.Meta):
        model = ProcessingActivity
        fields = ("q", "state", "legal_basis", "purpose", "drift")

    def filter_drift(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(drift=[]) if value else queryset.filter(drift=[])


class DataCategoryFilterSet(BaseFilterSet):
    search_fields = ("key", "name", "description")

    class Meta(BaseFilterSet.Meta):
        model = DataCategory
        fields = ("q", "cnil_group", "special", "criminal", "national_id")


class PurposeFilterSet(BaseFilterSet):
    search_fields = ("key", "name")

    class Meta(BaseFilterSet.Meta):
        model = Purpose
        fields = ("q", "default_legal_basis")
