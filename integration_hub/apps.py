from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_roles(sender, **kwargs):
    from integration_hub.roles import ensure_roles

    ensure_roles()


class IntegrationHubConfig(AppConfig):
    name = "integration_hub"
    verbose_name = _("Integration Hub")

    def ready(self):
        from integration_hub import audit, signals  # noqa: F401  (registers the signal receivers)
        from integration_hub.api import schema  # noqa: F401  (OpenAPI extensions)

        # Roles gain the permissions of models added by later migrations; runs after every app's
        # permissions exist (and after a test flush, which empties the groups table).
        post_migrate.connect(_ensure_roles, dispatch_uid="integration_hub.ensure_roles")
