"""The browser's live connection: one websocket per page, subscribed only to what its user may see."""

import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth import get_user_model

from integration_hub import realtime

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Joins the groups ``realtime.groups_for_user`` allows and forwards their events as JSON.

    One handler per event type (``object.changed`` → ``object_changed``); an event whose type has no
    handler is never forwarded. ``access.changed`` recomputes the groups (a grant made or revoked
    while the page is open takes effect at once; a deactivated user is disconnected).
    """

    groups_joined: set[str]

    async def connect(self):
        self.groups_joined = set()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        await self.refresh_groups()
        await self.send_json({"type": "hub.hello", "payload": {"groups": len(self.groups_joined)}})

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", ()):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "hub.ping":
            await self.send_json({"type": "hub.pong", "payload": {}})

    async def refresh_groups(self):
        # A fresh user object: refresh_from_db() would keep Django's cached permissions, so a removed
        # role would still let this connection into every object's group.
        user = await database_sync_to_async(get_user_model()._default_manager.get)(pk=self.scope["user"].pk)
        self.scope["user"] = user
        wanted = await database_sync_to_async(realtime.groups_for_user)(user)
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key and user.is_active:
            wanted.add(realtime.session_group(session_key))
        for group in self.groups_joined - wanted:
            await self.channel_layer.group_discard(group, self.channel_name)
        for group in wanted - self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined = wanted
        if not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def forward(self, event):
        await self.send_json(
            {"type": event["type"], "payload": event.get("payload", {}), "sent_at": event.get("sent_at")}
        )

    async def object_changed(self, event):
        await self.forward(event)

    async def hub_ping(self, event):
        await self.forward(event)

    async def health_progress(self, event):
        await self.forward(event)

    async def run_progress(self, event):
        await self.forward(event)

    async def flow_alert(self, event):
        await self.forward(event)

    async def system_breaker(self, event):
        await self.forward(event)

    async def notification_new(self, event):
        await self.forward(event)

    async def errorgroup_changed(self, event):
        await self.forward(event)

    async def access_changed(self, event):
        await self.refresh_groups()
        await self.forward(event)

    async def session_ended(self, event):
        """Logged out, or the password changed: this page's session is over."""
        await self.forward(event)
        await self.close(code=CLOSE_UNAUTHENTICATED)
