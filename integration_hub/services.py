"""Every state change of users, roles, object access and API tokens.

Views, API endpoints and management commands call these functions; each one writes its audit entry
and publishes its event after commit.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, get_groups_with_perms, get_users_with_perms, remove_perm

from integration_hub import realtime
from integration_hub.audit import record
from integration_hub.models import APIToken, AuditAction

User = get_user_model()


# --- object access ---------------------------------------------------------------------------------


def grantable_actions(model) -> list[tuple[str, str]]:
    """(codename, label) of the permissions that make sense on one object of ``model``."""
    name = model._meta.model_name
    actions = [
        (f"view_{name}", _("View")),
        (f"change_{name}", _("Change")),
        (f"delete_{name}", _("Delete")),
    ]
    actions += [(codename, str(label)) for codename, label in model._meta.permissions]
    return actions


def object_grants(obj) -> dict:
    """Direct grants on ``obj``: {"users": {user: [codenames]}, "groups": {group: [codenames]}}."""
    return {
        "users": get_users_with_perms(obj, attach_perms=True, with_superusers=False, with_group_users=False),
        "groups": get_groups_with_perms(obj, attach_perms=True),
    }


def _notify_access_changed(principal) -> None:
    users = [principal] if isinstance(principal, User) else list(principal.user_set.all())
    for user in users:
        realtime.publish(realtime.user_group(user), "access.changed", {})


def _principal_label(principal) -> str:
    return (
        _("user %(name)s") % {"name": principal.get_username()}
        if isinstance(principal, User)
        else _("group %(name)s") % {"name": principal.name}
    )


@transaction.atomic
def grant_access(obj, principal, codenames: list[str]) -> None:
    """Give a user or a group the named permissions on one object."""
    allowed = {c for c, _label in grantable_actions(type(obj))}
    unknown = set(codenames) - allowed
    if unknown:
        raise ValueError(f"not a permission of {type(obj)._meta.verbose_name}: {', '.join(sorted(unknown))}")
    for codename in codenames:
        assign_perm(codename, principal, obj)
    record(
        AuditAction.GRANT,
        obj,
        after={"principal": _principal_label(principal), "permissions": sorted(codenames)},
        message=_("Granted %(perms)s to %(who)s")
        % {"perms": ", ".join(sorted(codenames)), "who": _principal_label(principal)},
    )
    _notify_access_changed(principal)


@transaction.atomic
def revoke_access(obj, principal, codenames: list[str] | None = None) -> None:
    """Take permissions on one object away from a user or a group (all of them when ``codenames`` is None)."""
    codenames = codenames or [c for c, _label in grantable_actions(type(obj))]
    for codename in codenames:
        remove_perm(codename, principal, obj)
    record(
        AuditAction.REVOKE,
        obj,
        before={"principal": _principal_label(principal), "permissions": sorted(codenames)},
        message=_("Revoked %(perms)s from %(who)s")
        % {"perms": ", ".join(sorted(codenames)), "who": _principal_label(principal)},
    )
    _notify_access_changed(principal)


# --- users -----------------------------------------------------------------------------------------


def _user_snapshot(user) -> dict:
    return {
        "username": user.get_username(),
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": user.is_active,
        "roles": sorted(user.groups.values_list("name", flat=True)),
    }


def set_password_url(user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return base_url.rstrip("/") + reverse("password_reset_confirm", args=[uid, token])


@transaction.atomic
def invite_user(
    *, username: str, email: str, first_name: str = "", last_name: str = "", roles=(), base_url: str
) -> tuple:
    """Create an account with no usable password and e-mail a link to set one.

    Returns (user, link); the link is also shown once to the inviting admin, for when mail is slow.
    """
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.save()
    user.groups.set(roles)
    record(AuditAction.CREATE, user, after=_user_snapshot(user), message=_("Invited by e-mail"))
    return user, send_invitation(user, base_url)


def send_invitation(user, base_url: str) -> str:
    """E-mail ``user`` a fresh set-password link (after commit) and return it.

    Invited users have no usable password, so Django's "forgot password" form ignores them; an admin
    resends the invitation instead.
    """
    link = set_password_url(user, base_url)
    body = render_to_string("users/invite_email.txt", {"user": user, "link": link})
    transaction.on_commit(
        lambda: send_mail(_("Your Integration Hub account"), body, None, [user.email], fail_silently=False)
    )
    return link


@transaction.atomic
def update_user(user, *, roles=None, **fields) -> None:
    """Change a user's names, e-mail, roles or active flag; deactivation ends their sessions."""
    before = _user_snapshot(user)
    for name, value in fields.items():
        setattr(user, name, value)
    user.save()
    if roles is not None:
        user.groups.set(roles)
    after = _user_snapshot(user)
    if before == after:
        return
    record(AuditAction.UPDATE, user, before=before, after=after)
    if before["is_active"] and not user.is_active:
        end_sessions(user)
    if before["roles"] != after["roles"] or before["is_active"] != after["is_active"]:
        _notify_access_changed(user)


def end_sessions(user) -> int:
    """Delete every stored session of ``user`` (they are logged out everywhere)."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def role_queryset():
    from integration_hub.roles import ROLE_POLICIES

    return Group.objects.filter(name__in=list(ROLE_POLICIES)).order_by("name")


# --- API tokens ------------------------------------------------------------------------------------


@transaction.atomic
def create_api_token(user, *, name: str, expires: datetime | None = None, write_enabled: bool = False):
    """Create a token for ``user``; returns (token, key). The key is never stored nor shown again."""
    token = APIToken(user=user, name=name, expires=expires, write_enabled=write_enabled)
    key = token.generate_key()
    token.save()
    return token, key


@transaction.atomic
def revoke_api_token(token: APIToken) -> None:
    token.delete()
