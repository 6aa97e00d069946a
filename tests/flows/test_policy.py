"""The failure policy: the per-system circuit breaker over real HTTP (shared by connector instances,
fail fast while open, one probe when half-open), flows paused after N failed runs with an alert and an
audit entry, and maintenance that pauses a system's flows and resumes exactly those."""

import threading
import time

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from flows import breaker, designer, policy, services, sync
from flows.choices import PauseKind
from flows.connectors.errors import TransientError
from flows.connectors.http import HubClient
from flows.models import Flow, Run, RunStatus
from integration_hub import realtime
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from tests.factories import REST_ENTITIES, FlowFactory, SystemFactory, UserFactory
from tests.live import free_port, serve_in_thread

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


# --- a system that fails on demand ----------------------------------------------------------------


class Remote:
    def __init__(self):
        self.status = 200
        self.requests = 0
        self.delay = 0.0


def remote_app(remote: Remote) -> Starlette:
    async def items(request: Request):
        import asyncio

        remote.requests += 1
        if remote.delay:
            await asyncio.sleep(remote.delay)
        if remote.status != 200:
            return JSONResponse({"message": f"status {remote.status}"}, status_code=remote.status)
        return JSONResponse([{"id": 1, "sku": "A"}])

    return Starlette(routes=[Route("/items", items)])


@pytest.fixture(autouse=True)
def _close_circuits():
    """Breaker states outlive a test on Redis: close the ones this test opened."""
    yield
    from flows.models import System

    for pk in System.objects.values_list("pk", flat=True):
        breaker.reset(pk)


@pytest.fixture
def remote():
    state = Remote()
    with serve_in_thread(remote_app(state)) as url:
        yield url, state


@pytest.fixture
def events(monkeypatch):
    """Every realtime event published during the test: [(group, type, payload)]."""
    sent = []
    monkeypatch.setattr(
        realtime, "send_now", lambda group, type, payload: sent.append((group, type, payload))
    )
    return sent


@pytest.fixture
def fast(settings, monkeypatch):
    settings.HUB_BREAKER_THRESHOLD = 3
    settings.HUB_BREAKER_COOLDOWN = 1
    monkeypatch.setattr(HubClient, "_sleep_before_retry", lambda self, attempt, floor=None: None)
    return settings


def rest_system(url: str, **kwargs):
    params = {"base_url": url, "auth_type": "none", "entities": REST_ENTITIES}
    return SystemFactory(parameters=params, **kwargs)


def get(system, connector=None):
    connector = connector or system.get_connector()
    return connector.client.request("GET", "/items")


# --- circuit breaker ------------------------------------------------------------------------------


def test_breaker_opens_fails_fast_shared_then_probes_and_closes(remote, fast, events):
    url, state = remote
    system = rest_system(url)
    first, second = system.get_connector(), system.get_connector()
    assert get(system, first).status_code == 200
    state.status = 503
    for _ in range(3):
        with pytest.raises(TransientError) as caught:
            get(system, first)
        assert caught.value.reason == "http"
    sent = state.requests
    assert sent == 1 + 3 * 5  # each failed request was retried 4 times before it counted once
    assert breaker.state_of(system.pk).state == breaker.OPEN

    # Open: both connector instances fail fast, nothing reaches the system.
    for connector in (first, second):
        with pytest.raises(TransientError) as caught:
            get(system, connector)
        assert caught.value.reason == "breaker"
        assert "circuit" in caught.value.message and "until" in caught.value.message
        assert system.name in caught.value.message and "503" in caught.value.message
    assert state.requests == sent
    opened = [p for g, t, p in events if t == "system.breaker" and g == f"system-{system.pk}"]
    assert opened and opened[-1]["state"] == "open" and opened[-1]["open_until"]

    # After the cool-down one probe goes through; its answer closes the circuit for everyone.
    state.status = 200
    time.sleep(1.1)
    assert get(system, second).status_code == 200
    assert state.requests == sent + 1
    assert breaker.state_of(system.pk).is_closed
    assert get(system, first).status_code == 200
    states = [p["state"] for g, t, p in events if t == "system.breaker" and g == f"system-{system.pk}"]
    assert states[-3:] == ["open", "half_open", "closed"]
    first.close()
    second.close()


def test_a_failed_probe_opens_the_circuit_again_and_only_one_probe_at_a_time(remote, fast):
    url, state = remote
    system = rest_system(url)
    state.status = 502
    for _ in range(3):
        with pytest.raises(TransientError):
            get(system)
    opened = breaker.state_of(system.pk)
    time.sleep(1.1)
    sent = state.requests
    with pytest.raises(TransientError) as caught:
        get(system)  # the probe: sent once, not retried
    assert caught.value.reason == "http" and state.requests == sent + 1
    reopened = breaker.state_of(system.pk)
    assert reopened.state == breaker.OPEN and reopened.open_until > opened.open_until

    # While a slow probe is under way, other requests still fail fast.
    time.sleep(1.1)
    state.status, state.delay = 200, 0.6
    outcome = {}
    probe = threading.Thread(target=lambda: outcome.setdefault("status", get(system).status_code))
    probe.start()
    time.sleep(0.2)
    with pytest.raises(TransientError) as caught:
        get(system)
    assert caught.value.reason == "breaker" and "probe" in caught.value.message
    probe.join(5)
    assert outcome["status"] == 200 and breaker.state_of(system.pk).is_closed


def test_rate_limits_and_record_errors_are_answers_not_breaker_failures(remote, fast):
    url, state = remote
    system = rest_system(url)
    for status in (503, 503, 429, 503, 503, 422, 504, 504, 404):
        state.status = status
        try:
            get(system)
        except TransientError as exc:
            assert exc.reason in ("http", "rate_limited")
    # Never three failures in a row: still closed, and the last answer reset the count.
    current = breaker.state_of(system.pk)
    assert current.is_closed and current.failures == 0


def test_connection_refused_counts_and_the_connection_test_may_always_probe(remote, fast, events):
    url, _state = remote
    system = rest_system(f"http://127.0.0.1:{free_port()}")
    for _ in range(3):
        with pytest.raises(TransientError) as caught:
            get(system)
        assert caught.value.reason == "refused"
    assert breaker.state_of(system.pk).state == breaker.OPEN
    # The admin's Test connection is not failed fast: it reaches the system and reports it plainly.
    result = services.check_system(system)
    assert not result.ok and result.kind == "refused"
    # Fixed (the system answers at its new address): the test's answer closes the circuit at once.
    system.parameters = {**system.parameters, "base_url": url}
    system.save()
    assert services.check_system(system).ok
    assert breaker.state_of(system.pk).is_closed


def test_breaker_state_on_the_system_page_dashboard_list_and_api(remote, fast):
    url, state = remote
    system = rest_system(url)
    state.status = 503
    for _ in range(3):
        with pytest.raises(TransientError):
            get(system)
    client = Client()
    client.force_login(UserFactory(roles=[VIEWER]))
    page = client.get(system.get_absolute_url()).content.decode()
    assert 'id="breaker-banner"' in page and "Circuit open" in page and "HTTP 503" in page
    assert 'data-breaker="open"' in client.get(reverse("home")).content.decode()
    assert 'data-breaker="open"' in client.get(reverse("flows:system_list")).content.decode()
    api = APIClient()
    api.force_login(UserFactory(roles=[VIEWER]))
    body = api.get(reverse("flows-api:system-detail", args=[system.pk])).json()
    assert body["breaker"]["state"] == "open" and body["breaker"]["failures"] == 3


# --- automatic pause after failed runs ------------------------------------------------------------


def definition(source, target, name="Items", **overrides) -> dict:
    data = {
        "name": name,
        "source_system": source.slug,
        "source_entity": "items",
        "target_system": target.slug,
        "target_entity": "items",
        "trigger": "manual",
        "criticality": "normal",
        "sync_mode": "full",
        "match_strategy": "natural_key",
        "source_key": "sku",
        "target_key": "sku",
        "write_mode": "upsert",
        "enabled": True,
        "mappings": [{"target": "sku", "source": "sku", "transforms": [], "personal": ""}],
    }
    return {**data, **overrides}


def run_now(flow) -> Run:
    run, created = sync.request_run(flow)
    assert created
    run.refresh_from_db()  # test settings run django-q2 tasks inline
    policy.after_run(run)  # what sync calls when a run ends (a second call changes nothing)
    return run


def test_a_flow_is_paused_after_three_failed_runs_with_an_alert_and_an_audit_entry(fast, events, monkeypatch):
    # Runs fail: the source system's port is closed (connection refused). No breaker here: the
    # failed runs themselves must pause the flow.
    fast.HUB_BREAKER_THRESHOLD = 0
    source = rest_system(f"http://127.0.0.1:{free_port()}")
    target = rest_system(f"http://127.0.0.1:{free_port()}")
    flow = designer.save_flow(definition(source, target))
    assert flow.enabled
    for n in range(2):
        run = run_now(flow)
        assert run.status == RunStatus.FAILED and "refused" in run.message
        flow.refresh_from_db()
        assert flow.enabled, n
    third = run_now(flow)
    assert third.status == RunStatus.FAILED
    assert policy.after_run(third) is False  # twice for one run: nothing more
    flow.refresh_from_db()
    assert not flow.enabled and flow.pause_kind == PauseKind.AUTO
    assert flow.pause_reason.startswith("Paused automatically after 3 failed runs in a row:")
    assert "refused" in flow.pause_reason and flow.auto_paused_run_id == third.pk
    assert flow.current_version.comment == flow.pause_reason

    alerts = [(g, p) for g, t, p in events if t == "flow.alert"]
    assert {g for g, _p in alerts} == {f"flow-{flow.pk}", "flow-all"}
    payload = alerts[0][1]
    assert payload["flow"] == flow.pk and payload["kind"] == "auto_paused" and payload["run"] == third.pk
    assert payload["message"] == flow.pause_reason and payload["failures"] == 3
    assert AuditEntry.objects.filter(object_id=str(flow.pk), message=flow.pause_reason).exists()

    page = admin_client().get(flow.get_absolute_url()).content.decode()
    assert 'id="pause-banner"' in page and "Paused automatically after 3 failed runs" in page

    # Enabled again, it gets three fresh tries: the failures before the pause do not count again.
    data = designer.definition_of(flow)
    data["enabled"] = True
    flow = designer.save_flow(data, flow=flow)
    assert flow.pause_kind == "" and flow.pause_reason == ""
    run_now(flow)
    flow.refresh_from_db()
    assert flow.enabled


def make_runs(flow, statuses):
    version = flow.current_version or designer.freeze(flow)
    return [
        Run.objects.create(flow=flow, version=version, trigger="manual", status=status, message=status)
        for status in statuses
    ]


def test_cancelled_and_interrupted_runs_neither_count_nor_reset_and_successes_reset(events):
    flow = FlowFactory(enabled=True)
    runs = make_runs(flow, ["failed", "cancelled", "failed", "interrupted"])
    assert policy.after_run(runs[2]) is False
    (last, waiting) = make_runs(flow, ["failed", "queued"])
    assert policy.after_run(last) is True
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.CANCELLED
    flow.refresh_from_db()
    assert not flow.enabled and flow.pause_kind == PauseKind.AUTO and flow.auto_paused_run_id == last.pk

    other = FlowFactory(enabled=True)
    for status in ("failed", "failed", "succeeded", "failed", "partial", "failed", "failed"):
        (run,) = make_runs(other, [status])
        policy.after_run(run)
    other.refresh_from_db()
    assert other.enabled  # never three failures in a row
    (run,) = make_runs(other, ["succeeded"])
    assert policy.after_run(run) is False


def test_auto_pause_is_a_setting(settings):
    settings.HUB_AUTO_PAUSE_AFTER = 1
    flow = FlowFactory(enabled=True)
    (run,) = make_runs(flow, ["failed"])
    assert policy.after_run(run) is True
    settings.HUB_AUTO_PAUSE_AFTER = 0
    flow = FlowFactory(enabled=True)
    runs = make_runs(flow, ["failed"] * 5)
    assert policy.after_run(runs[-1]) is False


# --- maintenance ----------------------------------------------------------------------------------


def admin_client(user=None) -> Client:
    client = Client()
    client.force_login(user or UserFactory(roles=[INTEGRATION_ADMIN]))
    return client


@pytest.fixture
def estate():
    """A shop used by four flows in different states, plus an unrelated flow."""
    shop, erp, pim = (rest_system("http://127.0.0.1:9", slug=s) for s in ("shop", "erp", "pim"))
    flows = {
        "to_shop": designer.save_flow(definition(erp, shop, "ERP → shop")),
        "from_shop": designer.save_flow(definition(shop, erp, "Shop → ERP")),
        "paused_by_person": designer.save_flow(definition(pim, shop, "PIM → shop")),
        "auto_paused": designer.save_flow(definition(shop, pim, "Shop → PIM")),
        "unrelated": designer.save_flow(definition(erp, pim, "ERP → PIM")),
    }
    designer.pause_flow(flows["paused_by_person"])
    designer.pause_flow(flows["auto_paused"], kind=PauseKind.AUTO, reason="Paused automatically")
    return {"shop": shop, "erp": erp, "pim": pim, **flows}


def states(estate) -> dict:
    out = {}
    for key, value in estate.items():
        if isinstance(value, Flow):
            value.refresh_from_db()
            out[key] = (value.enabled, value.pause_kind)
    return out


def test_maintenance_pauses_the_systems_flows_and_resumes_exactly_those(estate):
    shop = estate["shop"]
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    waiting = Run.objects.create(
        flow=estate["to_shop"], version=estate["to_shop"].current_version, trigger="schedule"
    )
    outcome = services.set_maintenance(shop, True, user=admin, reason="Magento upgrade")
    waiting.refresh_from_db()
    assert waiting.status == RunStatus.CANCELLED  # a run queued before the maintenance never starts
    assert {f.name for f in outcome.paused} == {"ERP → shop", "Shop → ERP"}
    assert states(estate) == {
        "to_shop": (False, "maintenance"),
        "from_shop": (False, "maintenance"),
        "paused_by_person": (False, "person"),
        "auto_paused": (False, "auto"),
        "unrelated": (True, ""),
    }
    shop.refresh_from_db()
    assert shop.maintenance and shop.maintenance_by == admin and shop.maintenance_reason == "Magento upgrade"
    assert estate["to_shop"].pause_reason == f"Paused for the maintenance of {shop.name}: Magento upgrade"
    # A flow of a system in maintenance does not run, whatever triggers it.
    blocked = policy.run_blocked_reason(estate["paused_by_person"])
    assert blocked and shop.name in blocked and "maintenance" in blocked and "Magento upgrade" in blocked
    assert policy.run_blocked_reason(estate["unrelated"]) is None
    assert AuditEntry.objects.filter(
        object_id=str(shop.pk), message__startswith="Maintenance started"
    ).exists()

    outcome = services.set_maintenance(shop, False, user=admin)
    assert {f.name for f in outcome.resumed} == {"ERP → shop", "Shop → ERP"} and not outcome.kept
    assert states(estate) == {
        "to_shop": (True, ""),
        "from_shop": (True, ""),
        "paused_by_person": (False, "person"),
        "auto_paused": (False, "auto"),
        "unrelated": (True, ""),
    }
    shop.refresh_from_db()
    assert not shop.maintenance and shop.maintenance_since is None
    assert policy.run_blocked_reason(estate["to_shop"]) is None


def test_a_flow_stays_paused_while_its_other_system_is_in_maintenance(estate):
    shop, erp = estate["shop"], estate["erp"]
    services.set_maintenance(shop, True)
    services.set_maintenance(erp, True)
    outcome = services.set_maintenance(shop, False)
    assert {f.name for f in outcome.resumed} == set()  # both shop flows also use the ERP
    assert {f.name for f, _why in outcome.kept} == {"ERP → shop", "Shop → ERP"}
    estate["to_shop"].refresh_from_db()
    assert erp.name in estate["to_shop"].pause_reason
    outcome = services.set_maintenance(erp, False)
    assert {f.name for f in outcome.resumed} == {"ERP → shop", "Shop → ERP", "ERP → PIM"}


def test_disabled_systems_block_runs():
    flow = FlowFactory(enabled=True)
    assert policy.run_blocked_reason(flow) is None
    flow.target_system.enabled = False
    flow.target_system.save()
    assert "target system" in policy.run_blocked_reason(flow) and "disabled" in policy.run_blocked_reason(
        flow
    )


def test_maintenance_from_the_console_the_api_and_manage_py(estate, capsys):
    shop = estate["shop"]
    admin, viewer = admin_client(), admin_client(UserFactory(roles=[VIEWER]))
    url = reverse("flows:system_maintenance", args=[shop.pk])
    assert 'id="maintenance-button"' in admin.get(shop.get_absolute_url()).content.decode()
    assert 'id="maintenance-button"' not in viewer.get(shop.get_absolute_url()).content.decode()
    assert viewer.post(url, {"maintenance": "on"}).status_code == 403
    shop.refresh_from_db()
    assert not shop.maintenance
    assert admin.get(url).status_code == 405

    response = admin.post(url, {"maintenance": "on", "reason": "upgrade"})
    assert response.status_code == 302 and response["Location"] == shop.get_absolute_url()
    page = admin.get(shop.get_absolute_url()).content.decode()
    assert 'id="maintenance-banner"' in page and "upgrade" in page and "ERP → shop" in page
    flow_page = admin.get(estate["to_shop"].get_absolute_url()).content.decode()
    assert 'id="pause-banner"' in flow_page and "Paused for the maintenance of" in flow_page
    assert 'id="maintenance-banner"' in flow_page
    refused = admin.post(reverse("flows:flow_run", args=[estate["to_shop"].pk]), follow=True)
    assert "is in maintenance" in refused.content.decode()
    assert not Run.objects.filter(flow=estate["to_shop"]).exists()
    admin.post(url, {"maintenance": "off"})
    assert states(estate)["to_shop"] == (True, "")

    api_admin, api_viewer = APIClient(), APIClient()
    api_admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    api_viewer.force_login(UserFactory(roles=[VIEWER]))
    api_url = reverse("flows-api:system-maintenance", args=[shop.pk])
    assert api_viewer.post(api_url, {"on": True}, format="json").status_code == 403
    assert api_admin.post(api_url, {}, format="json").status_code == 400
    body = api_admin.post(api_url, {"on": True, "reason": "api"}, format="json").json()
    assert body["maintenance"] is True and body["maintenance_reason"] == "api"
    assert set(body["paused"]) == {estate["to_shop"].pk, estate["from_shop"].pk}
    detail = api_admin.get(reverse("flows-api:system-detail", args=[shop.pk])).json()
    assert detail["maintenance"] is True and detail["breaker"]["state"] == "closed"
    body = api_admin.post(api_url, {"on": False}, format="json").json()
    assert body["maintenance"] is False and set(body["resumed"]) == set(body["paused"] or body["resumed"])
    assert set(body["resumed"]) == {estate["to_shop"].pk, estate["from_shop"].pk}

    call_command("hub", "maintenance", shop.slug, "on", "--reason", "cli")
    assert "2 flow(s) paused" in capsys.readouterr().out
    shop.refresh_from_db()
    assert shop.maintenance and shop.maintenance_reason == "cli"
    call_command("hub", "maintenance", shop.slug, "off")
    assert "2 flow(s) resumed" in capsys.readouterr().out
    assert states(estate)["from_shop"] == (True, "")
