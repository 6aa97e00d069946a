"""Alert rules: evaluation (dedup, cooldown, resolve, snooze, maintenance), conditions computed from
runs, delivery (email with preferences, webhooks to a real local server, in-app bell over a websocket),
and the pages and API that never give the webhook URL back."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from asgiref.sync import sync_to_async
from django.core import mail
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from flows import sync
from flows.models import FlowVersion, Run, RunStatus
from integration_hub.roles import INTEGRATION_ADMIN, SUPPORT, VIEWER
from monitoring import alerts
from monitoring.models import Alert, AlertDelivery, AlertRule, Notification, NotificationPreference
from monitoring.schedules import ALERTS, ensure_schedules
from tests.factories import FlowFactory, SystemFactory, UserFactory

SECRET_URL_PATH = "/hook/T000-SECRET-xyz9"


@pytest.fixture
def admin(db):
    return UserFactory(username="ops", email="ops@example.test", roles=[INTEGRATION_ADMIN])


@pytest.fixture
def flow(db):
    return FlowFactory(name="Orders to ERP")


def make_run(flow, status, minutes_ago=0.0, message="HTTP 503 from the ERP", now=None, **counters):
    version = flow.versions.first() or FlowVersion.objects.create(flow=flow, number=1, definition={})
    finished = (now or timezone.now()) - timedelta(minutes=minutes_ago)
    return Run.objects.create(
        flow=flow,
        version=version,
        trigger="manual",
        status=status,
        started=finished - timedelta(seconds=5),
        finished=finished,
        message=message,
        **counters,
    )


def make_rule(recipient=None, **fields):
    fields.setdefault("name", "Failed runs")
    fields.setdefault("condition", "run_failed")
    rule = AlertRule.objects.create(**fields)
    if recipient is not None:
        rule.email_users.add(recipient)
        rule.inapp_users.add(recipient)
    return rule


def firing(rule):
    return Alert.objects.filter(rule=rule, state="firing")


# --- evaluation ----------------------------------------------------------------------------------


def test_two_evaluations_open_one_alert_and_notify_once(admin, flow):
    rule = make_rule(admin)
    make_run(flow, RunStatus.FAILED)
    first = alerts.evaluate()
    second = alerts.evaluate()
    assert len(first.opened) == 1 and not second.opened and not second.renotified
    alert = firing(rule).get()
    assert alert.scope_key == f"flow:{flow.pk}"
    assert "Orders to ERP" in alert.summary and "HTTP 503" in alert.summary
    assert Notification.objects.filter(user=admin).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.test"]
    assert alert.notification_count == 1


def test_the_database_refuses_a_second_firing_alert_for_one_scope(admin, flow):
    rule = make_rule()
    Alert.objects.create(rule=rule, scope_key="flow:1", summary="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(rule=rule, scope_key="flow:1", summary="b")
    Alert.objects.create(rule=rule, scope_key="flow:1", summary="c", state="resolved")  # history is fine


def test_a_firing_alert_is_notified_again_only_after_the_cooldown(admin, flow):
    rule = make_rule(admin, cooldown_minutes=60)
    t0 = timezone.now()
    make_run(flow, RunStatus.FAILED, now=t0)
    alerts.evaluate(now=t0)
    alerts.evaluate(now=t0 + timedelta(minutes=59))
    assert Notification.objects.filter(user=admin).count() == 1
    result = alerts.evaluate(now=t0 + timedelta(minutes=61))
    assert len(result.renotified) == 1
    assert Notification.objects.filter(user=admin).count() == 2
    assert len(mail.outbox) == 2
    alert = firing(rule).get()
    assert alert.notification_count == 2
    alerts.evaluate(now=t0 + timedelta(minutes=62))
    assert Notification.objects.filter(user=admin).count() == 2


def test_alert_resolves_with_a_resolved_notification_when_the_condition_clears(admin, flow):
    rule = make_rule(admin)
    make_run(flow, RunStatus.FAILED, minutes_ago=5)
    alerts.evaluate()
    make_run(flow, RunStatus.SUCCEEDED, minutes_ago=1)
    result = alerts.evaluate()
    assert len(result.resolved) == 1
    alert = Alert.objects.get(rule=rule)
    assert alert.state == "resolved" and alert.resolved_at is not None
    kinds = list(Notification.objects.filter(user=admin).order_by("pk").values_list("kind", flat=True))
    assert kinds == ["fired", "resolved"]
    assert mail.outbox[-1].subject.startswith("[Resolved]")
    # A new failure opens a new alert; the resolved one stays in the history.
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert Alert.objects.filter(rule=rule).count() == 2 and firing(rule).count() == 1


def test_a_snoozed_rule_sends_nothing_until_the_snooze_ends(admin, flow):
    rule = make_rule(admin)
    alerts.snooze_rule(rule, timezone.now() + timedelta(hours=1), user=admin)
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert not Alert.objects.exists() and not Notification.objects.exists() and not mail.outbox
    assert alerts.evaluate(now=timezone.now() + timedelta(hours=2)).opened  # the snooze ended
    alerts.snooze_rule(rule, None, user=admin)
    rule.refresh_from_db()
    assert rule.snoozed_until is None


def test_no_alert_for_a_flow_whose_system_is_in_maintenance(admin, flow):
    rule = make_rule(admin)
    make_run(flow, RunStatus.FAILED)
    type(flow.target_system).objects.filter(pk=flow.target_system_id).update(maintenance=True)
    alerts.evaluate()
    assert not Alert.objects.exists() and not Notification.objects.exists()
    # A firing alert is neither resolved nor notified while the system is in maintenance.
    type(flow.target_system).objects.filter(pk=flow.target_system_id).update(maintenance=False)
    alerts.evaluate()
    type(flow.target_system).objects.filter(pk=flow.target_system_id).update(maintenance=True)
    make_run(flow, RunStatus.SUCCEEDED)
    alerts.evaluate()
    assert firing(rule).count() == 1
    assert Notification.objects.count() == 1


def test_system_down_is_suppressed_by_maintenance(admin):
    system = SystemFactory(name="ERP", health_status="down", health_message="timeout")
    rule = make_rule(admin, name="ERP down", condition="system_down", scope_kind="system", system=system)
    alerts.evaluate()
    assert firing(rule).get().scope_key == f"system:{system.pk}"
    type(system).objects.filter(pk=system.pk).update(health_status="up")
    alerts.evaluate()
    assert not firing(rule).exists()
    type(system).objects.filter(pk=system.pk).update(health_status="down", maintenance=True)
    alerts.evaluate()
    assert not firing(rule).exists()


def test_consecutive_failures_counts_the_latest_runs(admin, flow):
    rule = make_rule(admin, name="3 in a row", condition="consecutive_failures", threshold=3)
    make_run(flow, RunStatus.FAILED, minutes_ago=40)
    make_run(flow, RunStatus.SUCCEEDED, minutes_ago=30)
    make_run(flow, RunStatus.FAILED, minutes_ago=20)
    make_run(flow, RunStatus.CANCELLED, minutes_ago=15)  # neither counts nor breaks the streak
    make_run(flow, RunStatus.FAILED, minutes_ago=10)
    alerts.evaluate()
    assert not firing(rule).exists()  # two in a row, the success before breaks the streak
    make_run(flow, RunStatus.FAILED, minutes_ago=5)
    alerts.evaluate()
    alert = firing(rule).get()
    assert "3 runs in a row" in alert.summary and len(alert.details["runs"]) == 3
    make_run(flow, RunStatus.PARTIAL, minutes_ago=1)
    alerts.evaluate()
    assert not firing(rule).exists()


def test_error_rate_counts_failed_records_over_the_window(admin, flow):
    rule = make_rule(admin, name="Error rate", condition="error_rate", percent=10, window_minutes=60)
    make_run(flow, RunStatus.PARTIAL, minutes_ago=120, read=100, created=10, failed=90)  # outside the window
    make_run(flow, RunStatus.PARTIAL, minutes_ago=30, read=100, created=95, failed=5)
    make_run(flow, RunStatus.SUCCEEDED, minutes_ago=20, read=100, updated=100)
    alerts.evaluate()
    assert not firing(rule).exists()  # 5 of 200 records = 2.5 %
    make_run(flow, RunStatus.PARTIAL, minutes_ago=5, read=100, created=70, failed=30)
    alerts.evaluate()
    alert = firing(rule).get()  # 35 of 300 = 11.7 %, the dashboard's figure for the same runs
    assert alert.details == {"flow": flow.pk, "failed": 35, "total": 300, "rate": 11.7, "runs": 3}
    assert "of records failed" in alert.summary


def test_freshness_beyond_the_sla(admin):
    flow = FlowFactory(freshness_sla_minutes=60, enabled=True)
    rule = make_rule(admin, name="Stale", condition="freshness")
    make_run(flow, RunStatus.SUCCEEDED, minutes_ago=30)
    alerts.evaluate()
    assert not firing(rule).exists()
    assert alerts.evaluate(now=timezone.now() + timedelta(minutes=45)).opened


def test_queue_backlog(admin, monkeypatch):
    rule = make_rule(admin, name="Backlog", condition="queue_backlog", threshold=10)
    monkeypatch.setattr(alerts, "queue_depth", lambda: 11)
    alerts.evaluate()
    assert firing(rule).get().scope_key == "queue"
    monkeypatch.setattr(alerts, "queue_depth", lambda: 3)
    alerts.evaluate()
    assert not firing(rule).exists()


def test_the_end_of_a_run_evaluates_the_rules_covering_its_flow(admin, flow):
    other = FlowFactory(name="Customers")
    mine = make_rule(admin, name="This flow", scope_kind="flow", flow=flow)
    elsewhere = make_rule(admin, name="Other flow", scope_kind="flow", flow=other)
    make_run(other, RunStatus.FAILED)
    run = make_run(flow, RunStatus.FAILED)
    sync._after_run(run)
    assert firing(mine).count() == 1
    assert not firing(elsewhere).exists()  # only the rules that cover the flow that ran


def test_a_registered_condition_is_evaluated(admin):
    def overdue(ctx):
        return [("dsr:7", "Request 7 is overdue", {"request": 7})]

    alerts.register_condition("test_overdue", "Overdue", overdue, level=alerts.GLOBAL)
    try:
        rule = make_rule(admin, name="Overdue", condition="test_overdue")
        alerts.evaluate()
        assert firing(rule).get().summary == "Request 7 is overdue"
    finally:
        alerts._conditions.pop("test_overdue")


def test_disabling_a_rule_closes_its_alerts_quietly(admin, flow):
    rule = make_rule(admin)
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)
    alerts.evaluate()
    assert Alert.objects.get(rule=rule).state == "resolved"
    assert Notification.objects.filter(kind="resolved").count() == 0


def test_the_evaluation_schedule_is_created_once(db):
    from django_q.models import Schedule

    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=ALERTS)
    assert schedule.func == "monitoring.tasks.evaluate_alerts" and schedule.minutes == 1


# --- preferences -------------------------------------------------------------------------------------


def test_email_off_sends_no_mail_but_the_bell_still_rings(admin, flow):
    NotificationPreference.objects.create(user=admin, email=False)
    make_rule(admin)
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert not mail.outbox
    assert Notification.objects.filter(user=admin).count() == 1


def test_minimum_severity_filters_both_channels(admin, flow):
    NotificationPreference.objects.create(user=admin, min_severity="critical")
    make_rule(admin, severity="warning")
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert not mail.outbox and not Notification.objects.exists()


def test_recipients_only_hear_about_flows_they_may_view(flow):
    stranger = UserFactory(username="stranger", email="s@example.test")  # no role, no grant
    make_rule(stranger)
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert not mail.outbox and not Notification.objects.exists()


def test_role_recipients_receive_email(flow):
    from django.contrib.auth.models import Group

    support = UserFactory(username="agent", email="agent@example.test", roles=[SUPPORT])
    rule = make_rule()
    rule.email_roles.add(Group.objects.get(name=SUPPORT))
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    assert mail.outbox[0].to == [support.email]


# --- webhooks ------------------------------------------------------------------------------------------


@pytest.fixture
def webhook_server():
    """A real HTTP server on loopback that records the JSON bodies it receives."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(
                {"path": self.path, "json": json.loads(body), "type": self.headers["Content-Type"]}
            )
            self.send_response(204 if "fail" not in self.path else 500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _fire_with_webhook(flow, url, fmt):
    rule = make_rule(name=f"Webhook {fmt}", webhook_format=fmt)
    rule.webhook_url = url
    rule.save()
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    return rule


def test_generic_webhook_payload(flow, webhook_server):
    base, received = webhook_server
    rule = _fire_with_webhook(flow, base + SECRET_URL_PATH, "generic")
    body = received[0]["json"]
    assert received[0]["path"] == SECRET_URL_PATH and received[0]["type"] == "application/json"
    assert body["event"] == "alert.fired" and body["state"] == "firing"
    assert body["rule"]["name"] == rule.name and body["scope"]["key"] == f"flow:{flow.pk}"
    assert "HTTP 503" in body["summary"] and body["details"]["flow"] == flow.pk
    assert body["url"] == flow.get_absolute_url() and body["at"]
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert delivery.ok and delivery.status == "HTTP 204"
    assert "SECRET" not in delivery.target and delivery.target.endswith("xyz9")


def test_slack_webhook_payload(flow, webhook_server):
    base, received = webhook_server
    _fire_with_webhook(flow, base + "/slack", "slack")
    body = received[0]["json"]
    assert set(body) == {"text", "blocks"}
    assert "Orders to ERP" in body["text"]
    assert body["blocks"][0]["type"] == "header" and body["blocks"][1]["text"]["type"] == "mrkdwn"


def test_teams_webhook_payload(flow, webhook_server):
    base, received = webhook_server
    _fire_with_webhook(flow, base + "/teams", "teams")
    body = received[0]["json"]
    assert body["type"] == "message"
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert "Orders to ERP" in json.dumps(attachment["content"]["body"])


def test_a_failing_webhook_is_recorded_and_the_alert_still_opens(admin, flow, webhook_server):
    base, _received = webhook_server
    rule = _fire_with_webhook(flow, base + "/fail", "generic")
    assert firing(rule).count() == 1
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert not delivery.ok and delivery.status == "HTTP 500"


def test_a_host_outside_the_allow_list_is_refused_and_recorded(flow):
    rule = _fire_with_webhook(flow, "https://hooks.slack.com/services/T0/B0/secret", "slack")
    assert firing(rule).count() == 1
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert not delivery.ok and "refused" in delivery.status


def test_an_unreachable_webhook_does_not_break_the_run(flow):
    from tests.live import free_port

    _fire_with_webhook(flow, f"http://127.0.0.1:{free_port()}/nobody", "generic")
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert not delivery.ok and "ConnectError" in delivery.status


# --- pages and API ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(admin):
    client = Client()
    client.force_login(admin)
    return client


def test_the_webhook_url_is_never_rendered_back(admin, admin_client, flow):
    rule = make_rule(admin, webhook_format="slack")
    rule.webhook_url = "http://127.0.0.1:9" + SECRET_URL_PATH
    rule.save()
    api = APIClient()
    api.force_login(admin)
    pages = [
        admin_client.get(reverse("monitoring:alertrule", args=[rule.pk])),
        admin_client.get(reverse("monitoring:alertrule_edit", args=[rule.pk])),
        admin_client.get(reverse("monitoring:alertrule_list")),
        admin_client.get(reverse("monitoring:alertrule_list") + "?export=csv"),
        admin_client.get(reverse("monitoring:alertrule_history", args=[rule.pk])),
        api.get(reverse("alerts-api:alertrule-list")),
        api.get(reverse("alerts-api:alertrule-detail", args=[rule.pk])),
    ]
    for response in pages:
        assert response.status_code == 200
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"SECRET" not in content, response.request["PATH_INFO"]
    assert "ends with …xyz9" in pages[0].content.decode()
    assert api.get(reverse("alerts-api:alertrule-detail", args=[rule.pk])).json()["webhook_set"] is True


def test_edit_form_keeps_the_webhook_when_left_empty_and_refuses_foreign_hosts(admin, admin_client, flow):
    data = {
        "name": "Critical flow",
        "enabled": "on",
        "severity": "critical",
        "scope_kind": "flow",
        "flow": flow.pk,
        "condition": "consecutive_failures",
        "threshold": "2",
        "cooldown_minutes": "30",
        "webhook_url": "https://hooks.example.com/x",
        "webhook_format": "generic",
    }
    refused = admin_client.post(reverse("monitoring:alertrule_add"), data)
    assert refused.status_code == 400 and "HUB_OUTBOUND_ALLOWED_HOSTS" in refused.content.decode()
    assert b"hooks.example.com" not in refused.content  # not even the value just typed
    data["webhook_url"] = "http://127.0.0.1:9/hook/abcd"
    assert admin_client.post(reverse("monitoring:alertrule_add"), data).status_code == 302
    rule = AlertRule.objects.get(name="Critical flow")
    assert rule.webhook_url == "http://127.0.0.1:9/hook/abcd" and rule.created_by == admin
    assert rule.webhook_url_encrypted and "abcd" not in rule.webhook_url_encrypted
    data["webhook_url"] = ""
    data["name"] = "Critical flow (renamed)"
    assert admin_client.post(reverse("monitoring:alertrule_edit", args=[rule.pk]), data).status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Critical flow (renamed)" and rule.webhook_url.endswith("/abcd")


def test_form_errors_name_the_missing_fields(admin_client):
    response = admin_client.post(
        reverse("monitoring:alertrule_add"),
        {
            "name": "x",
            "severity": "warning",
            "scope_kind": "flow",
            "condition": "error_rate",
            "cooldown_minutes": "60",
            "webhook_format": "generic",
        },
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) >= {"flow", "percent", "window_minutes"}


def test_api_creates_rules_with_the_form_rules(admin, flow):
    api = APIClient()
    api.force_login(admin)
    url = reverse("alerts-api:alertrule-list")
    bad = api.post(
        url, {"name": "r", "condition": "consecutive_failures", "scope_kind": "all"}, format="json"
    )
    assert bad.status_code == 400 and "threshold" in bad.json()
    created = api.post(
        url,
        {
            "name": "r",
            "condition": "consecutive_failures",
            "threshold": 3,
            "scope_kind": "flow",
            "flow": flow.pk,
            "email_users": [admin.pk],
            "webhook_url": "http://127.0.0.1:9/hook/SECRET",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert "webhook_url" not in body and body["webhook_set"] is True and body["email_users"] == [admin.pk]
    rule = AlertRule.objects.get(pk=body["id"])
    assert rule.threshold == 3 and rule.flow == flow and rule.created_by == admin
    patched = api.patch(
        reverse("alerts-api:alertrule-detail", args=[rule.pk]), {"enabled": False}, format="json"
    )
    assert patched.status_code == 200, patched.json()
    rule.refresh_from_db()
    assert not rule.enabled and rule.webhook_url.endswith("SECRET") and rule.threshold == 3
    assert api.get(reverse("alerts-api:alert-list")).status_code == 200


def test_a_viewer_reads_rules_but_cannot_change_test_or_snooze_them(admin, flow):
    rule = make_rule(admin)
    viewer = UserFactory(username="watcher", roles=[VIEWER])
    client = Client()
    client.force_login(viewer)
    assert client.get(reverse("monitoring:alertrule", args=[rule.pk])).status_code == 200
    assert client.get(reverse("monitoring:alert_list")).status_code == 200
    assert client.post(reverse("monitoring:alertrule_test", args=[rule.pk])).status_code == 403
    assert (
        client.post(reverse("monitoring:alertrule_snooze", args=[rule.pk]), {"duration": "1h"}).status_code
        == 403
    )
    assert client.get(reverse("monitoring:alertrule_add")).status_code == 403
    api = APIClient()
    api.force_login(viewer)
    assert api.post(reverse("alerts-api:alertrule-test", args=[rule.pk])).status_code == 403


def test_send_test_and_snooze_buttons(admin, admin_client):
    rule = make_rule(admin)
    response = admin_client.post(reverse("monitoring:alertrule_test", args=[rule.pk]), follow=True)
    assert response.status_code == 200
    assert set(AlertDelivery.objects.filter(kind="test").values_list("channel", flat=True)) == {
        "email",
        "in_app",
    }
    assert Notification.objects.get(user=admin).kind == "test"
    assert mail.outbox[0].subject.startswith("[Test]")
    admin_client.post(reverse("monitoring:alertrule_snooze", args=[rule.pk]), {"duration": "24h"})
    rule.refresh_from_db()
    assert rule.snoozed_until > timezone.now() + timedelta(hours=23)
    page = admin_client.get(reverse("monitoring:alertrule", args=[rule.pk])).content.decode()
    assert "Snoozed until" in page
    past = admin_client.post(
        reverse("monitoring:alertrule_snooze", args=[rule.pk]),
        {"duration": "until", "until": "2000-01-01T10:00"},
    )
    assert past.status_code == 302
    rule.refresh_from_db()
    assert rule.snoozed_until > timezone.now()  # a moment in the past is refused
    until = timezone.localtime() + timedelta(days=3)
    admin_client.post(
        reverse("monitoring:alertrule_snooze", args=[rule.pk]),
        {"duration": "until", "until": until.strftime("%Y-%m-%dT%H:%M")},
    )
    rule.refresh_from_db()
    assert abs(rule.snoozed_until - until) < timedelta(minutes=1)
    admin_client.post(reverse("monitoring:alertrule_snooze", args=[rule.pk]), {"duration": "off"})
    rule.refresh_from_db()
    assert rule.snoozed_until is None


def test_notifications_are_private_to_their_user(admin, admin_client, flow):
    other = UserFactory(username="other", roles=[SUPPORT])
    mine = Notification.objects.create(user=admin, kind="fired", title="Mine")
    theirs = Notification.objects.create(user=other, kind="fired", title="Theirs")
    page = admin_client.get(reverse("monitoring:notification_list")).content.decode()
    assert "Mine" in page and "Theirs" not in page
    home = admin_client.get("/").content.decode()
    assert 'data-unread="1"' in home  # the bell's count
    admin_client.post(reverse("monitoring:notification_read"), {"id": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None and theirs.read_at is None
    Notification.objects.create(user=admin, kind="fired", title="Again")
    admin_client.post(reverse("monitoring:notification_read"), {"all": "1"})
    assert alerts.unread_count(admin) == 0 and alerts.unread_count(other) == 1


def test_preferences_form(admin, admin_client):
    url = reverse("monitoring:notification_preferences")
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"in_app": "on", "min_severity": "warning"}).status_code == 302
    pref = NotificationPreference.objects.get(user=admin)
    assert not pref.email and pref.in_app and pref.min_severity == "warning"


# --- live: the bell over a websocket ---------------------------------------------------------------


@pytest.mark.services
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True, databases="__all__")
async def test_a_notification_reaches_only_its_user_over_the_websocket():
    from tests.hub.test_realtime import connect, receive_types

    alice = await sync_to_async(UserFactory)(username="alice", roles=[SUPPORT])
    bob = await sync_to_async(UserFactory)(username="bob", roles=[SUPPORT])
    flow = await sync_to_async(FlowFactory)(name="Live flow")
    rule = await sync_to_async(make_rule)(name="Live")
    await sync_to_async(rule.inapp_users.add)(alice)
    await sync_to_async(make_run)(flow, RunStatus.FAILED)

    alice_ws, connected_a, _ = await connect(alice)
    bob_ws, connected_b, _ = await connect(bob)
    assert connected_a and connected_b
    assert (await alice_ws.receive_json_from(timeout=5))["type"] == "hub.hello"
    assert (await bob_ws.receive_json_from(timeout=5))["type"] == "hub.hello"

    await sync_to_async(alerts.evaluate)()

    alice_events = [e for e in await receive_types(alice_ws) if e["type"] == "notification.new"]
    bob_events = [e for e in await receive_types(bob_ws) if e["type"] == "notification.new"]
    assert alice_events and not bob_events
    payload = alice_events[0]["payload"]
    assert payload["unread"] == 1 and "Live flow" in payload["title"]
    await alice_ws.disconnect()
    await bob_ws.disconnect()


def test_the_demo_rules_ring_the_bell_of_admins_and_support_once(admin, flow):
    from monitoring.demo import DEMO_RULES, ensure_demo_alert_rules

    support = UserFactory(username="desk", roles=[SUPPORT])
    assert len(ensure_demo_alert_rules()) == len(DEMO_RULES)
    assert ensure_demo_alert_rules() == []  # a second bootstrap adds nothing
    make_run(flow, RunStatus.FAILED)
    alerts.evaluate()
    for user in (admin, support):
        assert Notification.objects.filter(user=user, alert__rule__condition="run_failed").count() == 1
