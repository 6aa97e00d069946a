"""The dashboard (home page) and /api/dashboard/: freshness against the SLA, hourly series equal to the
runs' counters, only what the user's grants allow, masked failures, and a bounded number of queries."""

import contextlib
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flows import coordination
from flows.models import FailedRecord, FlowVersion, Run
from integration_hub import services
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT, VIEWER
from monitoring import dashboard
from tests.factories import FlowFactory, SystemFactory, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

API = "/api/dashboard/"


def make_run(flow, status="succeeded", *, finished=None, seconds=60, **counters):
    version = flow.versions.first() or FlowVersion.objects.create(flow=flow, number=1, definition={})
    started = (
        finished - timedelta(seconds=seconds) if finished else timezone.now() - timedelta(seconds=seconds)
    )
    run = Run.objects.create(
        flow=flow,
        version=version,
        trigger="manual",
        status=status,
        started=started,
        finished=finished,
        **counters,
    )
    Run.objects.filter(pk=run.pk).update(queued_at=started)  # queued when it started, as in life
    return run


def fail(flow, message="Rejected", source_id="42", run=None):
    return FailedRecord.objects.create(
        flow=flow,
        run=run,
        source_id=source_id,
        stage="write",
        error_class="rejected",
        message=message,
        signature="s",
    )


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def hour_start():
    return timezone.localtime(timezone.now()).replace(minute=0, second=0, microsecond=0)


# --- freshness --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes_ago", "sla", "state"),
    [
        (5, 10, dashboard.FRESH),
        (10, 10, dashboard.FRESH),  # exactly the SLA: still fresh
        (11, 10, dashboard.LATE),
        (20, 10, dashboard.LATE),  # twice the SLA: amber yet
        (21, 10, dashboard.STALE),
        (500, None, dashboard.NO_SLA),
    ],
)
def test_freshness_state_against_the_sla(minutes_ago, sla, state):
    now = timezone.now()
    got, age = dashboard.freshness(now - timedelta(minutes=minutes_ago), sla, now)
    assert got == state
    assert age == timedelta(minutes=minutes_ago)


def test_freshness_of_a_flow_that_never_delivered_is_never():
    assert dashboard.freshness(None, 10, timezone.now()) == (dashboard.NEVER, None)


def test_flow_rows_take_freshness_from_the_last_succeeded_or_partial_run_only():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    now = timezone.now()
    fresh = FlowFactory(name="Stock", freshness_sla_minutes=10)
    make_run(fresh, "succeeded", finished=now - timedelta(minutes=2), read=120)
    late = FlowFactory(name="Prices", freshness_sla_minutes=10)
    make_run(late, "partial", finished=now - timedelta(minutes=15))
    # A later failed run delivers nothing: freshness still counts from the partial one.
    make_run(late, "failed", finished=now - timedelta(minutes=1))
    stale = FlowFactory(name="Customers", freshness_sla_minutes=10)
    make_run(stale, "succeeded", finished=now - timedelta(minutes=45))
    make_run(stale, "running", finished=None)
    never = FlowFactory(name="Orders", freshness_sla_minutes=10)
    make_run(never, "failed", finished=now - timedelta(minutes=3))
    FlowFactory(name="Unused")

    rows = {row.flow.name: row for row in dashboard.flow_rows(admin, now)}

    assert rows["Stock"].state == dashboard.FRESH and rows["Stock"].age_seconds == 120
    assert rows["Stock"].records_per_minute == 120.0  # 120 read in 60 s
    assert rows["Prices"].state == dashboard.LATE
    assert rows["Prices"].last_run.status == "failed"  # the table shows the latest run
    assert rows["Customers"].state == dashboard.STALE
    assert rows["Customers"].last_run.status == "running"
    assert rows["Orders"].state == dashboard.NEVER
    assert rows["Unused"].state == dashboard.NEVER and rows["Unused"].last_run is None


def test_page_shows_freshness_colour_and_age_of_each_flow():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    flow = FlowFactory(name="Stock", target_entity="stock", freshness_sla_minutes=15)
    make_run(flow, "succeeded", finished=timezone.now() - timedelta(minutes=2))
    html = client_for(admin).get(reverse("home")).content.decode()
    assert 'data-freshness="fresh"' in html
    assert "stock 2 min" in html  # "stock 2 min 0 s old"
    assert "(SLA 15 min)" in html


# --- hourly series ----------------------------------------------------------------------------------


def test_series_numbers_equal_the_runs_counters():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    a, b = FlowFactory(name="A"), FlowFactory(name="B")
    two_hours_ago = hour_start() - timedelta(hours=2)
    make_run(a, finished=two_hours_ago + timedelta(minutes=10), read=100, created=60, updated=20, failed=5)
    make_run(
        b,
        "partial",
        finished=two_hours_ago + timedelta(minutes=40),
        read=50,
        updated=10,
        deleted=2,
        failed=15,
    )
    make_run(
        a, "failed", finished=hour_start() - timedelta(hours=5) + timedelta(minutes=5), read=10, failed=10
    )
    make_run(a, finished=hour_start() - timedelta(hours=30), read=7, created=7)  # outside 24 h, inside 7 d
    make_run(a, "running", finished=None, read=999, created=999)  # unfinished: not counted yet

    day = dashboard.series(admin, "24h")
    assert len(day["hours"]) == 24
    i = day["hours"].index((two_hours_ago).astimezone(dashboard.UTC).isoformat())
    assert day["synced"][i] == 60 + 20 + 10 + 2
    assert day["failed"][i] == 5 + 15
    assert day["error_rate"][i] == round(100 * 20 / 150, 1)
    j = day["hours"].index((hour_start() - timedelta(hours=5)).astimezone(dashboard.UTC).isoformat())
    assert (day["synced"][j], day["failed"][j], day["error_rate"][j], day["failed_runs"][j]) == (
        0,
        10,
        100.0,
        1,
    )
    assert sum(day["synced"]) == day["totals"]["synced"] == 92
    assert day["totals"]["failed"] == 30 and day["totals"]["runs"] == 3
    assert day["by_flow"][str(a.pk)] == {"synced": 80, "failed": 15, "runs": 2}
    assert day["by_flow"][str(b.pk)] == {"synced": 12, "failed": 15, "runs": 1}
    quiet = [k for k in range(24) if k not in (i, j)]
    assert all(day["synced"][k] == 0 and day["error_rate"][k] is None for k in quiet)

    week = dashboard.series(admin, "7d")
    assert len(week["hours"]) == 168
    assert week["totals"]["synced"] == 92 + 7

    only_b = dashboard.series(admin, "24h", flow=b.pk)
    assert only_b["totals"] == {"synced": 12, "failed": 15, "runs": 1, "failed_runs": 0, "error_rate": 30.0}


def test_series_through_the_api_with_window_and_flow():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    a = FlowFactory()
    make_run(a, finished=hour_start() - timedelta(hours=40), read=3, created=3)
    body = client_for(admin).get(API, {"sections": "series", "window": "7d", "flow": a.pk}).json()
    assert set(body) == {"generated", "series"}
    assert body["series"]["window"] == "7d" and body["series"]["totals"]["synced"] == 3
    body = client_for(admin).get(API, {"sections": "series", "window": "bogus"}).json()
    assert body["series"]["window"] == "24h" and body["series"]["totals"]["synced"] == 0


# --- visibility -------------------------------------------------------------------------------------


@pytest.fixture
def two_flows():
    """Flow X (hidden from the user) and flow Y (granted), each with a finished run, a running run and
    a failure."""
    now = timezone.now()
    x = FlowFactory(name="Secret payroll export")
    y = FlowFactory(name="Visible stock sync")
    for flow, n in ((x, 40), (y, 4)):
        run = make_run(flow, finished=now - timedelta(minutes=1), read=n, created=n)
        make_run(flow, "running", finished=None, read=n)
        fail(flow, message=f"{flow.name} rejected", source_id=f"src-{flow.pk}", run=run)
    user = UserFactory(username="support-y")  # no role: sees only what is granted per object
    services.grant_access(y, user, ["view_flow"])
    return x, y, user


def test_user_sees_neither_the_row_the_run_the_failures_nor_the_numbers_of_a_flow_not_granted(two_flows):
    x, y, user = two_flows
    client = client_for(user)

    html = client.get(reverse("home")).content.decode()
    assert "Visible stock sync" in html
    assert "Secret payroll export" not in html
    assert f'data-flow="{x.pk}"' not in html

    body = client.get(API).json()
    assert [row["flow"] for row in body["flows"]] == [y.pk]
    assert [run["flow"] for run in body["running"]] == [y.pk]
    assert [f["flow"] for f in body["failures"]] == [y.pk]
    assert body["series"]["totals"]["synced"] == 4
    assert set(body["series"]["by_flow"]) == {str(y.pk)}
    # Asking for X's series by id gives nothing away.
    assert client.get(API, {"sections": "series", "flow": x.pk}).json()["series"]["totals"]["synced"] == 0


def test_a_role_with_global_view_sees_every_flow(two_flows):
    support = UserFactory(roles=[SUPPORT])
    body = client_for(support).get(API).json()
    assert len(body["flows"]) == 2 and len(body["running"]) == 2
    assert body["series"]["totals"]["synced"] == 44


def test_api_needs_a_login_and_is_read_only():
    assert Client().get(API).status_code in (401, 403)
    viewer = client_for(UserFactory(roles=[VIEWER]))
    assert viewer.get(API).status_code == 200
    assert viewer.post(API, {}, content_type="application/json").status_code in (403, 405)


# --- failures feed ----------------------------------------------------------------------------------


def test_failures_feed_masks_personal_data_unless_the_user_may_see_it():
    flow = FlowFactory(name="Customers")
    fail(flow, message='Email "jane.doe@example.com" rejected by the shop')
    viewer, dpo = UserFactory(roles=[VIEWER]), UserFactory(roles=[DPO])

    masked = client_for(viewer).get(reverse("home")).content.decode()
    assert "jane.doe@example.com" not in masked
    assert "j***@example.com" in masked
    assert (
        client_for(viewer).get(API).json()["failures"][0]["message"]
        == 'Email "j***@example.com" rejected by the shop'
    )

    assert "jane.doe@example.com" in client_for(dpo).get(reverse("home")).content.decode()


def test_failures_feed_keeps_the_newest_ten():
    flow = FlowFactory()
    for n in range(12):
        fail(flow, source_id=f"r{n}")
    body = client_for(UserFactory(roles=[SUPPORT])).get(API, {"sections": "failures"}).json()
    assert [f["source_id"] for f in body["failures"]] == [f"r{n}" for n in range(11, 1, -1)]


# --- page ---------------------------------------------------------------------------------------------


def test_empty_dashboard_says_what_to_do_next():
    admin_html = client_for(UserFactory(roles=[INTEGRATION_ADMIN])).get(reverse("home")).content.decode()
    assert "No flow yet — design your first flow" in admin_html
    assert reverse("flows:flow_add") in admin_html
    viewer_html = client_for(UserFactory(roles=[VIEWER])).get(reverse("home")).content.decode()
    assert "No flow to watch yet" in viewer_html
    assert reverse("flows:flow_add") not in viewer_html


def test_each_section_renders_alone_for_its_live_refresh():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    make_run(FlowFactory(name="Stock"), "running", finished=None, read=3)
    client = client_for(admin)
    for target in ("flow-table", "running-syncs", "worker-health", "recent-failures", "system-tiles"):
        html = client.get(reverse("home"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET=target).content.decode()
        assert html.lstrip().startswith(f'<div id="{target}"'), target
        assert "<html" not in html


def test_running_sync_shows_its_progress_and_eta():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    run = make_run(FlowFactory(name="Stock"), "running", finished=None, seconds=10, read=250, expected=1000)
    html = client_for(admin).get(reverse("home")).content.decode()
    assert f'data-run="{run.pk}"' in html
    assert 'value="25"' in html
    assert "250 of 1000 records read" in html
    assert "left" in html  # ETA: 750 records at 25/s


def test_system_tile_shows_request_budget_use():
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    shop = SystemFactory(name="Shop", max_concurrency=4, rate_limit=2.5)
    html = client_for(admin).get(reverse("home")).content.decode()
    assert "0 of 4 in flight" in html
    assert "at most 2.5 req/s" in html
    # Two requests hold a slot (through the shared backend: database rows, or Redis when configured);
    # a third's lease expired (its process died): it no longer counts.
    with contextlib.ExitStack() as held:
        for _ in range(2):
            held.enter_context(coordination.Budget(shop.pk, None, 4).slot(timeout=5))
        dead = coordination.Budget(shop.pk, None, 4, lease_seconds=-coordination.LEASE_MARGIN - 60)
        coordination._backend().try_acquire(dead)
        assert coordination.in_flight([shop.pk]) == {shop.pk: 2}
        assert "2 of 4 in flight" in client_for(admin).get(reverse("home")).content.decode()
    assert coordination.in_flight([shop.pk]) == {}


def _populate(n, source, target):
    now = timezone.now()
    for k in range(n):
        flow = FlowFactory(source_system=source, target_system=target, freshness_sla_minutes=10)
        run = make_run(flow, finished=now - timedelta(minutes=k), read=5, created=5)
        make_run(flow, "running", finished=None, read=1)
        fail(flow, source_id=f"x{k}", run=run)


@pytest.mark.parametrize("role", [INTEGRATION_ADMIN, None])
def test_page_queries_do_not_grow_with_the_number_of_flows(role):
    user = UserFactory(roles=[role] if role else [])
    # The same two systems throughout: each system's circuit breaker is one read of shared state.
    source, target = SystemFactory(), SystemFactory()

    def count(n):
        _populate(n, source, target)
        if role is None:
            from flows.models import Flow

            for flow in Flow.objects.all():
                services.grant_access(flow, user, ["view_flow"])
        client = client_for(user)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(reverse("home"))
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode().count(
            'class="list-group-item running-sync"'
        )

    small, shown_small = count(3)
    large, shown_large = count(27)  # 30 flows in all
    assert (shown_small, shown_large) == (3, 30)
    assert small == large


# --- workers and queue --------------------------------------------------------------------------------


def test_worker_health_reports_queue_depth_and_the_oldest_queued_task():
    from django_q.brokers import get_broker
    from django_q.signing import SignedPackage

    broker = get_broker()
    broker.purge_queue()
    now = timezone.now()
    for age in (90, 30):
        broker.enqueue(
            SignedPackage.dumps(
                {"id": f"t{age}", "func": "math.floor", "started": now - timedelta(seconds=age)}
            )
        )
    try:
        health = dashboard.worker_health(now)
        assert health["queue_depth"] == 2
        assert health["oldest_queued_seconds"] == 90
        assert health["up"] is False  # no cluster runs in this test
        html = client_for(UserFactory(roles=[VIEWER])).get(reverse("home")).content.decode()
        assert 'data-workers-up="false"' in html and re.search(r"1 min 3\d s old", html)
    finally:
        broker.purge_queue()


def test_empty_queue_has_no_oldest_task():
    from django_q.brokers import get_broker

    get_broker().purge_queue()
    health = dashboard.worker_health()
    assert (health["queue_depth"], health["oldest_queued_seconds"]) == (0, None)


def test_next_run_comes_from_the_flow_schedule_or_its_fan_out_group():
    from django_q.models import Schedule

    from flows.schedules import sync_all_flow_schedules

    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    source = SystemFactory()
    alone = FlowFactory(name="Alone", enabled=True, trigger="interval", interval_minutes=15)
    pair = [
        FlowFactory(
            name=f"Pair {k}", source_system=source, enabled=True, trigger="interval", interval_minutes=5
        )
        for k in (1, 2)
    ]
    manual = FlowFactory(name="Manual")
    sync_all_flow_schedules()
    soon = timezone.now() + timedelta(minutes=4)
    Schedule.objects.update(next_run=soon)

    rows = {row.flow.pk: row for row in dashboard.flow_rows(admin)}
    assert rows[alone.pk].next_run == soon
    assert rows[pair[0].pk].next_run == rows[pair[1].pk].next_run == soon  # one shared schedule
    assert Schedule.objects.filter(name__startswith="flows reading").count() == 1
    assert rows[manual.pk].next_run is None
