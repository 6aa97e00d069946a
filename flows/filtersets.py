import datetime

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from flows.choices import Criticality, SystemRole, Trigger
from flows.models import FailedRecord, Flow, RecordLink, Run, RunStatus, RunTrigger, System, ValueMap
from integration_hub.filtersets import BaseFilterSet
from integration_hub.forms import active_users
from integration_hub.permissions import restrict


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


class RecordLinkFilterSet(BaseFilterSet):
    """ID links: ``q`` finds a record by its source or its target id (exact first, then by prefix)."""

    flow = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(Flow.objects.all(), getattr(request, "user", None)), label=_("Flow")
    )
    system = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(System.objects.all(), getattr(request, "user", None)),
        method="filter_system",
        label=_("System (either side)"),
    )
    entity = django_filters.CharFilter(method="filter_entity", label=_("Entity (either side)"))
    duplicated = django_filters.BooleanFilter(
        method="filter_duplicated", label=_("Target record linked more than once")
    )

    class Meta(BaseFilterSet.Meta):
        model = RecordLink
        fields = ("q", "flow", "system", "entity", "duplicated", "source_system", "target_system")

    def search(self, queryset, name, value):
        from flows import links

        return links.search(queryset, value)

    def filter_system(self, queryset, name, value: int):  # the hint gives the API schema its type (an id)
        return queryset.filter(Q(source_system=value) | Q(target_system=value))

    def filter_entity(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(source_entity=value) | Q(target_entity=value)) if value else queryset

    def filter_duplicated(self, queryset, name, value):
        if value is None:
            return queryset
        shared = (
            RecordLink.objects.filter(
                target_system=OuterRef("target_system"),
                target_entity=OuterRef("target_entity"),
                target_id=OuterRef("target_id"),
            )
            .exclude(pk=OuterRef("pk"))
            .values("pk")[:1]
        )
        return queryset.filter(Exists(shared)) if value else queryset.exclude(Exists(shared))


FAILURE_STAGES = (
    ("read", _("read")),
    ("mapping", _("mapping")),
    ("rule", _("data-quality rule")),
    ("write", _("write")),
)


class FailedRecordFilterSet(BaseFilterSet):
    search_fields = ("source_id",)
    flow = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(Flow.objects.all(), getattr(request, "user", None)), label=_("Flow")
    )
    status = django_filters.MultipleChoiceFilter(
        choices=FailedRecord.Status.choices,
        label=_("Status"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # no join to repeat a record: DISTINCT would sort every record of the flow
    )
    stage = django_filters.MultipleChoiceFilter(
        choices=FAILURE_STAGES,
        label=_("Stage"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # no join to repeat a record: DISTINCT would sort every record of the flow
    )
    error_class = django_filters.CharFilter(label=_("Error class"))
    signature = django_filters.CharFilter(label=_("Signature"))
    run = django_filters.NumberFilter(field_name="run", label=_("Run number"))

    class Meta(BaseFilterSet.Meta):
        model = FailedRecord
        fields = ("q", "flow", "status", "stage", "error_class", "signature", "run")


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class RunFilterSet(BaseFilterSet):
    """The run history across flows, for its list page and ``/api/runs/``. ``q`` is a run number.

    Every filter keeps to an index: status and trigger to (status|trigger, queued_at, id), the flow to
    (flow, queued_at), the days to queued_at as a half-open range (no ``__date``, which would not).
    """

    q = django_filters.CharFilter(method="search", label=_("Run number"))
    flow = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(Flow.objects.all(), getattr(request, "user", None)), label=_("Flow")
    )
    system = django_filters.ModelChoiceFilter(
        queryset=lambda request: restrict(System.objects.all(), getattr(request, "user", None)),
        method="filter_system",
        label=_("System (source or target)"),
    )
    status = django_filters.MultipleChoiceFilter(
        choices=RunStatus.choices,
        label=_("Status"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # no join to repeat a run: DISTINCT would sort every matching run
    )
    trigger = django_filters.MultipleChoiceFilter(
        choices=RunTrigger.choices,
        label=_("Trigger"),
        widget=forms.CheckboxSelectMultiple,
        distinct=False,  # no join to repeat a run: DISTINCT would sort every matching run
    )
    queued_after = django_filters.DateFilter(
        method="filter_queued_after",
        label=_("Queued from (day)"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    queued_before = django_filters.DateFilter(
        method="filter_queued_before",
        label=_("Queued until (day, included)"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta(BaseFilterSet.Meta):
        model = Run
        fields = ("q", "flow", "system", "status", "trigger", "queued_after", "queued_before")

    def search(self, queryset, name, value):
        value = value.strip().lstrip("#")
        if not value:
            return queryset
        is_number = value.isascii() and value.isdigit() and len(value) <= 18
        return queryset.filter(pk=int(value)) if is_number else queryset.none()

    def filter_system(self, queryset, name, value: int):  # the hint gives the API schema its type (an id)
        flows = Flow.objects.filter(Q(source_system=value) | Q(target_system=value)).values("pk")
        return queryset.filter(flow__in=flows)

    def filter_queued_after(self, queryset, name, value: datetime.date):
        return queryset.filter(queued_at__gte=_start_of_day(value))

    def filter_queued_before(self, queryset, name, value: datetime.date):
        return queryset.filter(queued_at__lt=_start_of_day(value + datetime.timedelta(days=1)))
