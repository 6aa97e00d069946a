"""Receivers that turn authentication events and live-model changes into audit entries and events."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from integration_hub import realtime
from integration_hub.audit import record
from integration_hub.models.audit import AuditAction


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record(AuditAction.LOGIN, user, user=user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(AuditAction.LOGOUT, user, user=user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # The attempted user name is kept (it is what an admin investigates); the password never is.
    username = str(credentials.get("username", ""))[:150]
    record(AuditAction.LOGIN_FAILED, object_repr=username, message=f"Failed login for user name {username!r}")


@receiver(post_save)
def _publish_save(sender, instance, created, raw=False, **kwargs):
    if not raw and sender in realtime.live_models():
        realtime.publish_object_change(instance, "created" if created else "updated")


@receiver(post_delete)
def _publish_delete(sender, instance, **kwargs):
    if sender in realtime.live_models():
        realtime.publish_object_change(instance, "deleted")
