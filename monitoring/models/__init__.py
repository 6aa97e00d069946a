from monitoring.models.alerts import Alert, AlertDelivery, AlertRule, Notification, NotificationPreference  # noqa: F401
from monitoring.models.errorgroups import ErrorGroup, ErrorGroupComment

__all__ = ["ErrorGroup", "ErrorGroupComment"]
