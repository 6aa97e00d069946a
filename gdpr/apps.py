from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GdprConfig(AppConfig):
    name = "gdpr"
    verbose_name = _("GDPR")

    def ready(self):
        from flows import suppression as flow_suppression
        from gdpr import consent, suppression

        flow_suppression.install(suppression.active_keys, suppression.record_hits, consent.consent_field_for)
        from gdpr import register

        register.install()  # the privacy-by-design gate, the drift alert, the register's refresh receivers

        # Breach register and retention: the "breach not notified" alert, the daily purge, default rules.
        from django.db.models.signals import post_migrate

        from gdpr import breaches, retention, schedules

        breaches.register_alert_condition()
        post_migrate.connect(schedules.ensure_schedules, sender=self, dispatch_uid="gdpr.ensure_schedules")
        post_migrate.connect(retention.ensure_rules, sender=self, dispatch_uid="gdpr.ensure_retention_rules")

        # Data-subject requests: the "request deadline" alert (due within N days, or overdue).
        from gdpr import requests

        requests.register_alert_condition()
