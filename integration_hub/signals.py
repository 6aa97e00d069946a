"""Receivers that turn authentication events and live-model changes into audit entries and events."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from integration_hub import realtime
from integration_hub.audit import record
from integration_hub.models.audit import AuditAction, AuditedModel


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    # Sign-in events name the user but are not about the user object: every audit reader sees them.
    record(AuditAction.LOGIN, user=user, object_repr=user.get_username())


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        record(AuditAction.LOGOUT, user=user, object_repr=user.get_username())
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        realtime.publish(realtime.session_group(session_key), "session.ended", {})


def password_changed(user, how: str) -> None:
    """Audit a password change and close the user's live connections; other sessions are already
    invalid (Django's session hash) and the current one reconnects."""
    record(AuditAction.UPDATE, user, message=how)
    realtime.publish(realtime.user_group(user), "session.ended", {})


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
def _drop_object_grants(sender, instance, **kwargs):
    """django-guardian's object permissions point at objects by (type, id) without a foreign key;
    remove them with the object, or a deleted system would still count as "granted"."""
    if isinstance(instance, AuditedModel):
        from django.contrib.contenttypes.models import ContentType
        from guardian.models import GroupObjectPermission, UserObjectPermission

        ct = ContentType.objects.get_for_model(instance)
        for model in (UserObjectPermission, GroupObjectPermission):
            model.objects.filter(content_type=ct, object_pk=str(instance.pk)).delete()


@receiver(post_delete)
def _publish_delete(sender, instance, **kwargs):
    if sender in realtime.live_models():
        realtime.publish_object_change(instance, "deleted")
