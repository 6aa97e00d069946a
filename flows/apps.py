from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = _("Systems and flows")

    def ready(self):
        from importlib import import_module

        from flows.connectors import CONNECTOR_MODULES
        from flows.models import Flow, System
        from integration_hub import realtime

        for module in CONNECTOR_MODULES:
            import_module(module)  # each registers its connector classes
        realtime.register_live_model(System)
        realtime.register_live_model(Flow)

        from django.db.models.signals import post_migrate

        from flows.schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="flows.ensure_schedules")
