from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from integration_hub.forms import ConsoleForm
from integration_hub.models import AuditAction, AuditEntry


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO-8601 date and time turned into UTC: a database keeps offsets within ±15:59 only
    (PostgreSQL refuses ``…-20:31``), and a bound beyond the calendar once in UTC is refused."""

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError(_("This date and time is out of range."), code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class BaseFilterSet(django_filters.FilterSet):
    """One filterset per model serves its list page and its API endpoint. ``q`` searches ``search_fields``."""

    search_fields: tuple[str, ...] = ()
    q = django_filters.CharFilter(method="search", label=_("Search"))

    class Meta:
        form = ConsoleForm

    def search(self, queryset, name, value):
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return queryset.filter(query)


class AuditEntryFilterSet(BaseFilterSet):
    search_fields = ("object_repr", "user_name", "message")
    action = django_filters.MultipleChoiceFilter(choices=AuditAction.choices, label=_("Action"))
    user_name = django_filters.CharFilter(lookup_expr="iexact", label=_("User"))
    time_after = UtcIsoDateTimeFilter(field_name="time", lookup_expr="gte", label=_("From"))
    time_before = UtcIsoDateTimeFilter(field_name="time", lookup_expr="lte", label=_("Until"))
    request_id = django_filters.UUIDFilter(label=_("Request id"))
    object_type = django_filters.CharFilter(method="filter_object_type", label=_("Object type"))
    object_id = django_filters.CharFilter(label=_("Object id"))

    class Meta(BaseFilterSet.Meta):
        model = AuditEntry
        fields = (
            "q",
            "action",
            "user_name",
            "object_type",
            "object_id",
            "time_after",
            "time_before",
            "request_id",
        )

    def filter_object_type(self, queryset, name, value):
        # "flows.system"
        app_label, _sep, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)
