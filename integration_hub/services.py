"""Every state change of users, roles, object access and API tokens.

Views, API endpoints and management commands call these functions; each one writes its audit entry
and publishes its event after commit.
"""

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, remove_perm

from integration_hub import realtime
from integration_hub.audit import record
from integration_hub.models import APIToken, AuditAction

User = get_user_model()
logger = logging.getLogger(__name__)


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
    """Direct grants on ``obj``: {"users": {user: [codenames]}, "groups": {group: [codenames]}} (two queries)."""
    ct = ContentType.objects.get_for_model(obj)
    grants: dict = {"users": {}, "groups": {}}
    for key, model, principal in (
        ("users", UserObjectPermission, "user"),
        ("groups", GroupObjectPermission, "group"),
    ):
        rows = model.objects.filter(content_type=ct, object_pk=str(obj.pk)).select_related(
            principal, "permission"
        )
        for row in rows.order_by(f"{principal}_id", "permission__codename"):
            grants[key].setdefault(getattr(row, principal), []).append(row.permission.codename)
    return grants


def _held_codenames(obj, principal) -> set[str]:
    if isinstance(principal, User):
        return set(object_grants(obj)["users"].get(principal, []))
    return set(object_grants(obj)["groups"].get(principal, []))


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
    held = _held_codenames(obj, principal)
    codenames = sorted(held & set(codenames) if codenames else held)
    if not codenames:
        return
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


def send_invitation(user, base_url: str, *, resend: bool = False) -> str:
    """E-mail ``user`` a fresh set-password link (after commit) and return it.

    Invited users have no usable password, so Django's "forgot password" form ignores them; an admin
    resends the invitation instead.
    """
    link = set_password_url(user, base_url)
    if resend:
        record(AuditAction.UPDATE, user, message=_("Invitation sent again"))
    body = render_to_string("users/invite_email.txt", {"user": user, "link": link})
    transaction.on_commit(lambda: send_mail(_("Your Integration Hub account"), body, None, [user.email]))
    return link


@transaction.atomic
def update_user(user, *, roles=None, **fields) -> None:
    """Change a user's names, e-mail, roles or active flag.

    A deactivated user's sessions and tokens stop working at once (Django's backend refuses inactive
    users) and their live connections close. A changed e-mail address is told to the old one.
    """
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
    if before["email"] and before["email"] != after["email"]:
        body = render_to_string(
            "users/email_changed.txt", {"user": user, "old": before["email"], "new": after["email"]}
        )
        old = before["email"]
        subject = _("Your Integration Hub e-mail address was changed")
        transaction.on_commit(lambda: _send_notice(subject, body, old))
    if before["roles"] != after["roles"] or before["is_active"] != after["is_active"]:
        _notify_access_changed(user)


def _send_notice(subject: str, body: str, to: str) -> None:
    """A courtesy e-mail: its failure is logged, never raised (the change itself is already saved)."""
    try:
        send_mail(subject, body, None, [to])
    except Exception:
        logger.warning("could not e-mail %s", subject, exc_info=True)


def role_queryset():
    from integration_hub.roles import ROLE_POLICIES

    return Group.objects.filter(name__in=list(ROLE_POLICIES)).order_by("name")


def _permissions_of(user_or_group) -> set[str]:
    if isinstance(user_or_group, Group):
        return {
            f"{p.content_type.app_label}.{p.codename}"
            for p in user_or_group.permissions.select_related("content_type")
        }
    return user_or_group.get_all_permissions()


def assignable_roles(actor):
    """Roles ``actor`` may give: those whose permissions they hold themselves (no escalation)."""
    roles = role_queryset()
    if actor.is_superuser:
        return roles
    mine = actor.get_all_permissions()
    return roles.filter(
        pk__in=[r.pk for r in roles.prefetch_related("permissions") if _permissions_of(r) <= mine]
    )


def can_manage_user(actor, target) -> bool:
    """May ``actor`` edit ``target``? Only superusers manage superusers, and nobody manages an account
    that can do more than they can (it would hand them that account: e-mail, then password reset)."""
    if actor.is_superuser:
        return True
    if target.is_superuser:
        return False
    return target.pk == actor.pk or target.get_all_permissions() <= actor.get_all_permissions()


# --- API tokens ------------------------------------------------------------------------------------


@transaction.atomic
def create_api_token(user, *, name: str, expires: datetime | None = None, write_enabled: bool = False):
    """Create a token for ``user``; returns (token, key). The key is never stored nor shown again."""
    if expires is not None and expires <= timezone.now():
        raise ValidationError({"expires": _("The expiry date must be in the future.")})
    token = APIToken(user=user, name=name, expires=expires, write_enabled=write_enabled)
    key = token.generate_key()
    token.save()
    return token, key


@transaction.atomic
def revoke_api_token(token: APIToken) -> None:
    token.delete()
