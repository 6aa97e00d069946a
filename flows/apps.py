from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FlowsConfig(AppConfig):
    name = "flows"
    verbose_name = _("Systems and flows")

    def ready(self):
        from flows.models import System
        from integration_hub import realtime

        realtime.register_live_model(System)
