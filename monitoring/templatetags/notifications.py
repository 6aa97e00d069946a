"""``{% notification_bell %}``: the navbar bell with the user's unread count and latest notifications."""

from django import template
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("monitoring/includes/bell.html", takes_context=True)
def notification_bell(context):
    from monitoring.alerts import unread_count
    from monitoring.models import Notification

    request = context.get("request")
    user = request.user if request is not None else context.get("user")
    return {
        "unread": unread_count(user),
        "latest": list(Notification.objects.filter(user=user)[:5]),
        "notifications_url": reverse("monitoring:notification_list"),
    }
