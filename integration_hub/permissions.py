"""The one permission choke point (NetBox's ``RestrictedQuerySet.restrict``).

A user may act on an object when they hold the model permission globally (through a role) or on
that object (a django-guardian grant, to them or to one of their groups). The generic UI views, the
API base viewset and the websocket consumer all ask here; nothing else decides.
"""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_noop
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import get_objects_for_user

# Marked for the catalogue: messages translate the action verb (``_(action)`` in views.generic).
ACTIONS = (gettext_noop("view"), gettext_noop("add"), gettext_noop("change"), gettext_noop("delete"))


def permission_name(model, action: str) -> str:
    """``flows.view_system`` for (System, "view"); custom actions give ``flows.run_flow`` for (Flow, "run")."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def has_global_permission(user, model, action: str) -> bool:
    return bool(user.is_active and user.is_authenticated and user.has_perm(permission_name(model, action)))


def restrict(queryset: QuerySet, user, action: str = "view") -> QuerySet:
    """``queryset`` narrowed to the rows ``user`` may ``action``."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return queryset.none()
    if has_global_permission(user, queryset.model, action):
        return queryset
    perm = permission_name(queryset.model, action)
    return get_objects_for_user(user, perm, klass=queryset, accept_global_perms=False, with_superuser=False)


def restrict_through(
    queryset: QuerySet, field: str, parent: QuerySet, user, action: str = "view"
) -> QuerySet:
    """``queryset`` narrowed to the rows whose ``field`` (a foreign key) points at a ``parent`` row
    ``user`` may ``action`` — the runs of the flows they may view. Unchanged for a global grant. With
    object grants the parents' ids are read first (one small query) and the rows filtered on that
    literal list: PostgreSQL then checks ``flow_id IN (3, 7)`` inside the index it walks instead of
    joining every row it walks to the grant tables, and a deep page can walk one flow at a time
    (``DeepPageLazyPaginator.split``)."""
    if has_global_permission(user, parent.model, action):
        return queryset
    ids = list(restrict(parent, user, action).values_list("pk", flat=True))
    return queryset.filter(**{f"{field}__in": ids}) if ids else queryset.none()


def can(user, action: str, obj: Model) -> bool:
    """May ``user`` ``action`` this one object?"""
    return restrict(type(obj)._default_manager.filter(pk=obj.pk), user, action).exists()


def has_any_permission(user, model, action: str = "view") -> bool:
    """Does ``user`` hold ``action`` on ``model`` globally or on at least one object of it?

    Decides whether a list page opens at all: a user with no grant of any kind is refused
    rather than shown an empty list they cannot explain.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if has_global_permission(user, model, action):
        return True
    ct = ContentType.objects.get_for_model(model)
    codename = f"{action}_{model._meta.model_name}"
    if UserObjectPermission.objects.filter(
        user=user, content_type=ct, permission__codename=codename
    ).exists():
        return True
    return GroupObjectPermission.objects.filter(
        group__in=user.groups.all(), content_type=ct, permission__codename=codename
    ).exists()


def can_manage_access(user) -> bool:
    """May ``user`` grant and revoke object access (the Access tab)?"""
    return bool(user.is_active and user.has_perm("integration_hub.manage_access"))


def can_see_personal_data(user) -> bool:
    """Personal values are masked for everyone else (previews, triage, logs). A display in clear is
    written to the audit log through ``integration_hub.personal.shown_unmasked``."""
    return bool(user.is_active and user.has_perm("integration_hub.view_personal_data"))
