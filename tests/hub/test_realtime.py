"""Live updates: who receives which event, in-process and across real processes."""

import asyncio
import json
import time

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_q.tasks import async_task

from integration_hub import realtime, services
from integration_hub.asgi import application
from integration_hub.roles import SUPPORT, VIEWER
from tests.factories import SystemFactory, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.services]


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def connect(user=None):
    headers = [(b"origin", b"http://localhost")]
    if user is not None:
        cookie = await sync_to_async(session_cookie)(user)
        headers.append((b"cookie", cookie.encode()))
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, code = await communicator.connect(timeout=10)
    return communicator, connected, code


async def receive_types(communicator, timeout=2.0) -> list[dict]:
    """Every event that arrives until ``timeout`` seconds pass with nothing new (receive_nothing does not
    cancel the application, unlike a receive that times out)."""
    events = []
    while not await communicator.receive_nothing(timeout=timeout):
        events.append(await communicator.receive_json_from())
    return events


@pytest.mark.asyncio
async def test_anonymous_connection_is_refused():
    _communicator, connected, code = await connect(None)
    assert not connected
    assert code == 4401


@pytest.mark.asyncio
async def test_support_user_receives_only_events_of_granted_systems():
    support = await sync_to_async(UserFactory)(username="agent", roles=[])
    shop, erp = (
        await sync_to_async(SystemFactory)(name="Shop"),
        await sync_to_async(SystemFactory)(name="ERP"),
    )
    await sync_to_async(services.grant_access)(shop, support, ["view_system"])

    communicator, connected, _ = await connect(support)
    assert connected
    hello = await communicator.receive_json_from(timeout=5)
    assert hello["type"] == "hub.hello"

    await sync_to_async(realtime.send_now)(realtime.object_group(erp), "object.changed", {"pk": erp.pk})
    await sync_to_async(realtime.send_now)(realtime.object_group(shop), "object.changed", {"pk": shop.pk})
    events = await receive_types(communicator)
    # Sets: channels-lite may hand one message twice to a consumer when the sender runs in the same
    # process on another event loop (this test's set-up); events are idempotent refresh signals.
    assert {e["payload"]["pk"] for e in events if e["type"] == "object.changed"} == {shop.pk}
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_a_grant_made_while_connected_takes_effect_at_once():
    support = await sync_to_async(UserFactory)(username="agent2")
    erp = await sync_to_async(SystemFactory)(name="ERP2")
    communicator, connected, _ = await connect(support)
    assert connected
    await communicator.receive_json_from(timeout=5)  # hello

    await sync_to_async(services.grant_access)(erp, support, ["view_system"])
    events = await receive_types(communicator)
    assert any(e["type"] == "access.changed" for e in events)

    await sync_to_async(realtime.send_now)(realtime.object_group(erp), "object.changed", {"pk": erp.pk})
    events = await receive_types(communicator)
    assert {e["payload"]["pk"] for e in events if e["type"] == "object.changed"} == {erp.pk}

    await sync_to_async(services.revoke_access)(erp, support)
    await receive_types(communicator)
    await sync_to_async(realtime.send_now)(realtime.object_group(erp), "object.changed", {"pk": erp.pk})
    assert not [e for e in await receive_types(communicator) if e["type"] == "object.changed"]
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_viewer_role_follows_every_system_including_new_ones():
    viewer = await sync_to_async(UserFactory)(username="watcher", roles=[VIEWER])
    communicator, connected, _ = await connect(viewer)
    assert connected
    await communicator.receive_json_from(timeout=5)
    system = await sync_to_async(SystemFactory)(name="Created later")  # publishes after commit
    events = await receive_types(communicator, timeout=3)
    changed = [e["payload"] for e in events if e["type"] == "object.changed"]
    expected = {"model": "flows.system", "pk": system.pk, "action": "created", "repr": "Created later"}
    # Its creation, and possibly its first health check (a worker checks systems on a schedule).
    assert expected in changed and all(c["pk"] == system.pk for c in changed)
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_deactivated_user_is_disconnected():
    user = await sync_to_async(UserFactory)(username="leaver", roles=[SUPPORT])
    communicator, connected, _ = await connect(user)
    assert connected
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(services.update_user)(user, is_active=False)
    output = await communicator.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await communicator.receive_output(timeout=5)
    assert output["code"] == 4401


def test_unknown_event_types_are_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        realtime.send_now("user-1", "secret.leak", {})


def test_event_from_a_real_worker_process_reaches_a_websocket_client(asgi_url, worker):
    """A django-q2 worker (another process) publishes; a websocket client of the live ASGI server gets it."""
    user = UserFactory(username="live", roles=[VIEWER])
    cookie = session_cookie(user)
    ws_url = asgi_url.replace("http://", "ws://") + "/ws/live/"

    async def scenario():
        async with websockets.connect(
            ws_url, additional_headers={"Cookie": cookie, "Origin": asgi_url}
        ) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hub.hello"
            await sync_to_async(async_task)(
                "integration_hub.tasks.ping_browser", user.pk, "tok-123", time.time(), sync=False
            )
            while True:
                event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if event["type"] == "hub.ping":
                    return event

    event = asyncio.run(scenario())
    assert event["payload"]["token"] == "tok-123"
    assert event["payload"]["worker_at"] >= event["payload"]["enqueued_at"]


@pytest.mark.asyncio
async def test_removing_a_role_stops_events_at_once():
    viewer = await sync_to_async(UserFactory)(username="demoted", roles=[VIEWER])
    system = await sync_to_async(SystemFactory)(name="Watched")
    communicator, connected, _ = await connect(viewer)
    assert connected
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(services.update_user)(viewer, roles=[])
    assert any(e["type"] == "access.changed" for e in await receive_types(communicator))
    await sync_to_async(realtime.send_now)(
        realtime.model_group(type(system)), "object.changed", {"pk": system.pk}
    )
    assert not [e for e in await receive_types(communicator) if e["type"] == "object.changed"]
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_logging_out_closes_that_sessions_connections():
    user = await sync_to_async(UserFactory)(username="leaving-now", roles=[VIEWER])
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    communicator = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie.encode())]
    )
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    await communicator.receive_json_from(timeout=5)
    await sync_to_async(client.post)(reverse("logout"))
    output = await communicator.receive_output(timeout=5)
    while output["type"] != "websocket.close":
        output = await communicator.receive_output(timeout=5)
    assert output["code"] == 4401
