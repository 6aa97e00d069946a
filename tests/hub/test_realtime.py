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
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
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


# --- flow events: a user sees the runs and alerts of the flows they may see, nothing else ---------------


def failing_flow(name: str):
    """A flow with a saved version whose run fails at once (its systems point nowhere and its definition
    is empty): a real run through ``flows.sync`` that publishes ``run.progress`` (queued, failed) and,
    with ``HUB_AUTO_PAUSE_AFTER=1``, the failure policy's ``flow.alert`` and the paused flow's
    ``object.changed``."""
    from flows.models import FlowVersion
    from tests.factories import FlowFactory

    flow = FlowFactory(name=name, enabled=True)
    version = FlowVersion.objects.create(flow=flow, number=1, definition={})
    flow.current_version = version
    flow.save(update_fields=["current_version"])
    return flow


def run_and_fail(flow):
    """``sync.request_run`` as the Run button does; test settings run the queued task inline."""
    from flows import sync
    from flows.models import RunStatus

    run, created = sync.request_run(flow)
    assert created
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED, run.status
    return run


def flow_ids(events: list[dict]) -> dict[str, set]:
    """{event type: {flow pk}} of the flow events received."""
    from flows.models import Flow

    seen: dict[str, set] = {}
    for e in events:
        payload = e["payload"]
        if e["type"] in ("run.progress", "flow.alert"):
            seen.setdefault(e["type"], set()).add(payload["flow"])
        elif e["type"] == "object.changed" and payload.get("model") == Flow._meta.label_lower:
            seen.setdefault(e["type"], set()).add(payload["pk"])
    return seen


@pytest.fixture
def two_flows(settings):
    settings.HUB_AUTO_PAUSE_AFTER = 1
    return failing_flow("Hidden X"), failing_flow("Granted Y")


@pytest.mark.asyncio
async def test_a_support_user_receives_no_event_of_a_flow_they_may_not_see(two_flows):
    """Support user granted flow Y only: the real run of X (run.progress, the policy's flow.alert, the
    paused flow's object.changed) reaches them for Y and never for X, not even through ``flow-all``."""
    from flows.models import Flow

    hidden, granted = two_flows
    support = await sync_to_async(UserFactory)(username="support-y")  # access by object grants only
    await sync_to_async(services.grant_access)(granted, support, ["view_flow", "run_flow"])
    groups = await sync_to_async(realtime.groups_for_user)(support)
    assert realtime.object_group(granted) in groups
    assert realtime.object_group(hidden) not in groups and realtime.model_group(Flow) not in groups

    communicator, connected, _ = await connect(support)
    assert connected
    assert (await communicator.receive_json_from(timeout=5))["type"] == "hub.hello"

    await sync_to_async(run_and_fail)(hidden)
    await sync_to_async(run_and_fail)(granted)
    seen = flow_ids(await receive_types(communicator, timeout=3))
    assert seen == {"run.progress": {granted.pk}, "flow.alert": {granted.pk}, "object.changed": {granted.pk}}

    # Published straight to the model-wide group: the user is not in it.
    await sync_to_async(realtime.send_now)(
        realtime.model_group(Flow), "run.progress", {"flow": hidden.pk, "run": 0}
    )
    assert not flow_ids(await receive_types(communicator))
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_an_integration_admin_receives_the_events_of_every_flow(two_flows):
    from flows.models import Flow

    hidden, granted = two_flows
    admin = await sync_to_async(UserFactory)(username="integrator", roles=[INTEGRATION_ADMIN])
    assert realtime.model_group(Flow) in await sync_to_async(realtime.groups_for_user)(admin)
    communicator, connected, _ = await connect(admin)
    assert connected
    await communicator.receive_json_from(timeout=5)

    await sync_to_async(run_and_fail)(hidden)
    await sync_to_async(run_and_fail)(granted)
    seen = flow_ids(await receive_types(communicator, timeout=3))
    both = {hidden.pk, granted.pk}
    assert seen == {"run.progress": both, "flow.alert": both, "object.changed": both}
    await communicator.disconnect()


@pytest.mark.asyncio
async def test_an_anonymous_connection_gets_no_event():
    """Refused before accept (close code 4401, no hello) — and nothing published later reaches it."""
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=[(b"origin", b"http://localhost")])
    connected, code = await communicator.connect(timeout=10)
    assert (connected, code) == (False, 4401)
    await sync_to_async(realtime.send_now)("flow-all", "run.progress", {"flow": 1})
    assert await communicator.receive_nothing(timeout=1)
