from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import TestCase
from guardian.shortcuts import assign_perm

from integration_hub.models import AuditEntry
from integration_hub.permissions import permission_name


class ModelTestCase(TestCase):
    """A logged-in user with no permission at all, and helpers to give them some."""

    model = None

    def setUp(self):
        super().setUp()
        self.user = get_user_model().objects.create_user(username="tester", password="test-password-123")
        self.client.force_login(self.user)

    # Subclasses say how to make objects and which data is valid.
    def create_object(self, **overrides):
        raise NotImplementedError

    def add_permissions(self, *actions: str):
        """Global model permissions (as a role would give)."""
        for action in actions:
            app_label, codename = permission_name(self.model, action).split(".")
            self.user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        self._forget_cached_permissions()

    def grant(self, obj, *actions: str):
        """Object permissions on ``obj`` only (a django-guardian grant)."""
        for action in actions:
            assign_perm(permission_name(self.model, action), self.user, obj)
        self._forget_cached_permissions()

    def _forget_cached_permissions(self):
        for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            self.user.__dict__.pop(attr, None)

    def audit_entries(self, obj, action):
        return AuditEntry.objects.for_object(obj).filter(action=action)
