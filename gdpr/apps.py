from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GdprConfig(AppConfig):
    name = "gdpr"
    verbose_name = _("GDPR")

    def ready(self):
        from flows import suppression as flow_suppression
        from gdpr import consent, suppression

        flow_suppression.install(suppression.active_keys, suppression.record_hits, consent.consent_field_for)
