from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")

    def ready(self):
        from django.db.models.signals import post_migrate

        from monitoring.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="monitoring.ensure_schedules")
