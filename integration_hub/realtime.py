"""The one way out to websockets.

``publish(group, type, payload)`` sends an event to a channel-layer group after the current
transaction commits, from any process: a web request, a management command or a django-q2 worker.
Channels' in-memory layer would keep a worker's events inside the worker, so the embedded default
uses channels-lite's SQLite layer and production uses Redis (``settings.CHANNEL_LAYERS``).

Groups are per object (``system-12``), per user (``user-3``) and per model for users who may view
every object of it (``system-all``). A connection joins only the groups its user may see
(``groups_for_user``), so no group carries an event to someone who may not see it.
"""

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

# Event types the browser may receive; the consumer has one handler per type (``run.updated`` → ``run_updated``).
EVENT_TYPES = {
    "object.changed",  # a configuration object was created, updated or deleted
    "access.changed",  # the user's roles or grants changed: the connection re-subscribes
    "hub.ping",  # the status page's worker → browser round trip
    "session.ended",  # logged out or password changed: the connection closes
    "health.progress",  # a data-health scan read more records, finished or failed
    "run.progress",  # a flow run was queued, committed a page or ended
    "flow.alert",  # the failure policy acted on a flow (paused after failed runs, not resumed…)
    "system.breaker",  # a system's circuit breaker opened, went half-open or closed
    "notification.new",  # an in-app notification for this user (the navbar bell), to user-<pk> only
    "errorgroup.changed",  # a triage error group was created, counted, re-opened, resolved, assigned…
}

_live_models: list = []


def register_live_model(model):
    """Publish ``object.changed`` for every saved or deleted row of ``model`` (called from AppConfig.ready)."""
    if model not in _live_models:
        _live_models.append(model)
    return model


def live_models() -> list:
    return list(_live_models)


def object_group(obj_or_model, pk=None) -> str:
    return f"{obj_or_model._meta.model_name}-{obj_or_model.pk if pk is None else pk}"


def model_group(model) -> str:
    return f"{model._meta.model_name}-all"


def user_group(user_or_pk) -> str:
    return f"user-{getattr(user_or_pk, 'pk', user_or_pk)}"


def session_group(session_key: str) -> str:
    """The connections of one browser session (the key itself never leaves the server)."""
    import hashlib

    return f"session-{hashlib.sha256(session_key.encode()).hexdigest()[:32]}"


def send_now(group: str, type: str, payload: dict) -> None:
    """Send immediately; use ``publish`` unless the caller is already past its commit."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}; add it to realtime.EVENT_TYPES")
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": type, "payload": payload, "sent_at": time.time()}
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # A live update is a convenience: never let the channel layer break the change itself.
        logger.exception("could not publish %s to %s", type, group)


def publish(group: str, type: str, payload: dict) -> None:
    """Send ``type`` with ``payload`` to ``group`` once the current transaction has committed."""
    transaction.on_commit(lambda: send_now(group, type, payload), robust=True)


def publish_object_change(obj, action: str) -> None:
    payload = {
        "model": obj._meta.label_lower,
        "pk": obj.pk,
        "action": action,
        "repr": str(obj),
    }
    publish(object_group(obj), "object.changed", payload)
    publish(model_group(type(obj)), "object.changed", payload)


def groups_for_user(user) -> set[str]:
    """Every group a connection of ``user`` joins. Synchronous: call it through database_sync_to_async."""
    from integration_hub.permissions import has_global_permission, restrict

    if not user.is_authenticated or not user.is_active:
        return set()
    groups = {user_group(user)}
    for model in _live_models:
        if has_global_permission(user, model, "view"):
            groups.add(model_group(model))
        else:
            pks = restrict(model._default_manager.all(), user, "view").values_list("pk", flat=True)
            groups.update(object_group(model, pk) for pk in pks)
    return groups
