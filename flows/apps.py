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

        from django.db.models.signals import post_delete, post_save

        post_save.connect(_flow_schedule_follows, sender=Flow, dispatch_uid="flows.flow_schedule")
        post_delete.connect(_flow_schedule_follows, sender=Flow, dispatch_uid="flows.flow_schedule_delete")
        post_delete.connect(_forget_breaker, sender=System, dispatch_uid="flows.system_breaker_delete")


def _flow_schedule_follows(sender, instance, raw=False, **kwargs):
    """A flow's django-q2 schedule follows its trigger and enabled state, however it was saved."""
    if raw:
        return
    from django.db import transaction

    from flows.schedules import schedule_name, sync_flow_schedule

    if "created" not in kwargs:  # post_delete
        from django_q.models import Schedule

        name = schedule_name(instance.pk)
        transaction.on_commit(lambda: Schedule.objects.filter(name=name).delete())
        return
    transaction.on_commit(lambda: sync_flow_schedule(instance))


def _forget_breaker(sender, instance, **kwargs):
    """A deleted system's circuit state goes with it (its id must not hand it to another system)."""
    from django.db import transaction

    from flows import breaker

    system_id = instance.pk
    transaction.on_commit(lambda: breaker.reset(system_id))
