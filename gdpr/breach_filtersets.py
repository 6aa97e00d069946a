"""Filters of the breach register, serving the list page and the API alike."""

import django_filters
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gdpr.models import Breach
from integration_hub.filtersets import BaseFilterSet

NOTIFICATION_CHOICES = (
    ("pending", _("not notified to the authority yet")),
    ("notified", _("authority notified")),
    ("not_notifying", _("not notified, with a reason")),
)


class BreachFilterSet(BaseFilterSet):
    search_fields = ("reference", "title", "description")
    risk = django_filters.MultipleChoiceFilter(choices=Breach.Risk.choices, label=_("Risk"))
    open = django_filters.BooleanFilter(field_name="closed_at", lookup_expr="isnull", label=_("Open"))
    notification = django_filters.ChoiceFilter(
        choices=NOTIFICATION_CHOICES, method="filter_notification", label=_("Authority")
    )

    class Meta(BaseFilterSet.Meta):
        model = Breach
        fields = ("q", "risk", "open", "notification")

    def filter_notification(self, queryset, name, value):
        if value == "notified":
            return queryset.filter(authority_notified_at__isnull=False)
        if value == "not_notifying":
            return queryset.filter(authority_notified_at__isnull=True).exclude(not_notified_reason="")
        if value == "pending":
            return queryset.filter(Q(authority_notified_at__isnull=True) & Q(not_notified_reason=""))
        return queryset
