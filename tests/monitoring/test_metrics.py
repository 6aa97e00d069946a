"""/metrics: Prometheus exposition of runs, records, durations, freshness, systems, queue and workers."""

import math
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from flows import breaker
from flows.models import FailedRecord, FlowVersion, Run
from integration_hub.models import AuditAction, AuditEntry
from monitoring import metrics
from tests.factories import FlowFactory, SystemFactory, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

TOKEN = "s3cret-metrics-token"


def scrape(token=TOKEN, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    with override_settings(HUB_METRICS_TOKEN=TOKEN):
        return Client().get(reverse("monitoring:metrics"), **headers)


def samples(text):
    """{(sample name, frozenset(labels)): value} of a scrape, through prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(found, name, **labels):
    return found[(name, frozenset(labels.items()))]


def make_run(flow, status, *, seconds=None, finished_ago=None, **counters):
    version = flow.versions.first() or FlowVersion.objects.create(flow=flow, number=1, definition={})
    now = timezone.now()
    finished = now - timedelta(seconds=finished_ago or 0) if seconds is not None else None
    started = finished - timedelta(seconds=seconds) if finished else None
    return Run.objects.create(
        flow=flow,
        version=version,
        trigger="manual",
        status=status,
        started=started,
        finished=finished,
        **counters,
    )


# --- Protection -------------------------------------------------------------------------------------


def test_metrics_are_off_without_a_configured_token():
    with override_settings(HUB_METRICS_TOKEN=""):
        response = Client().get(reverse("monitoring:metrics"), HTTP_AUTHORIZATION="Bearer anything")
    assert response.status_code == 404
    assert b"HUB_METRICS_TOKEN" in response.content


def test_no_credentials_is_401_with_a_bearer_challenge():
    response = scrape(token=None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"hub_" not in response.content


def test_another_scheme_or_an_empty_token_is_401():
    assert scrape(token=None, HTTP_AUTHORIZATION=f"Token {TOKEN}").status_code == 401
    assert scrape(token=None, HTTP_AUTHORIZATION="Bearer ").status_code == 401


def test_a_wrong_token_is_403_and_audited():
    response = scrape(token=TOKEN + "x")
    assert response.status_code == 403 and b"hub_" not in response.content
    assert AuditEntry.objects.filter(action=AuditAction.TOKEN_REJECTED, message__contains="metrics").exists()


def test_a_session_is_not_enough():
    client = Client()
    client.force_login(UserFactory(is_superuser=True))
    with override_settings(HUB_METRICS_TOKEN=TOKEN):
        assert client.get(reverse("monitoring:metrics")).status_code == 401


def test_a_users_api_token_is_not_the_metrics_token():
    from integration_hub import services

    _token, key = services.create_api_token(UserFactory(is_superuser=True), name="scraper")
    assert scrape(token=key).status_code == 403


def test_only_get():
    with override_settings(HUB_METRICS_TOKEN=TOKEN):
        response = Client().post(reverse("monitoring:metrics"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405


# --- Content ------------------------------------------------------------------------------------------


def test_the_exposition_parses_and_reflects_runs_records_and_durations():
    flow = FlowFactory(name="Catalog", freshness_sla_minutes=60, enabled=True, criticality="critical")
    make_run(
        flow, "succeeded", seconds=3, finished_ago=120, read=10, created=4, updated=3, unchanged=2, filtered=1
    )
    make_run(flow, "partial", seconds=30, finished_ago=30, read=5, created=1, failed=4)
    make_run(flow, "failed", seconds=4000, finished_ago=10, read=0)
    make_run(flow, "running", read=7, updated=7)
    idle = FlowFactory(name="Idle")

    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"] == metrics.CONTENT_TYPE
    found = samples(response.content.decode())

    assert value(found, "hub_runs_total", flow="Catalog", status="succeeded") == 1
    assert value(found, "hub_runs_total", flow="Catalog", status="partial") == 1
    assert value(found, "hub_runs_total", flow="Catalog", status="failed") == 1
    assert value(found, "hub_runs_total", flow="Catalog", status="running") == 1
    assert ("hub_runs_total", frozenset({"flow": "Idle", "status": "succeeded"}.items())) not in found

    assert value(found, "hub_records_read_total", flow="Catalog") == 22
    assert value(found, "hub_records_total", flow="Catalog", outcome="created") == 5
    assert value(found, "hub_records_total", flow="Catalog", outcome="updated") == 10
    assert value(found, "hub_records_total", flow="Catalog", outcome="failed") == 4
    assert value(found, "hub_records_total", flow="Catalog", outcome="deleted") == 0

    # Durations 3 s, 30 s and 4000 s (the running run has none yet).
    buckets = {
        le: value(found, "hub_run_duration_seconds_bucket", flow="Catalog", le=le)
        for le in ("1.0", "5.0", "15.0", "60.0", "300.0", "900.0", "3600.0", "+Inf")
    }
    assert buckets == {
        "1.0": 0,
        "5.0": 1,
        "15.0": 1,
        "60.0": 2,
        "300.0": 2,
        "900.0": 2,
        "3600.0": 2,
        "+Inf": 3,
    }
    assert value(found, "hub_run_duration_seconds_count", flow="Catalog") == 3
    assert math.isclose(value(found, "hub_run_duration_seconds_sum", flow="Catalog"), 4033, abs_tol=0.01)

    # Freshness: the partial run 30 s ago is the last good one (the failed run 10 s ago does not count).
    assert 29 <= value(found, "hub_flow_freshness_seconds", flow="Catalog") < 90
    assert ("hub_flow_freshness_seconds", frozenset({"flow": "Idle"}.items())) not in found
    assert value(found, "hub_flow_freshness_sla_seconds", flow="Catalog") == 3600
    assert value(found, "hub_flow_enabled", flow="Catalog") == 1
    assert value(found, "hub_flow_enabled", flow=idle.name) == 0
    assert value(found, "hub_flow_info", flow="Catalog", criticality="critical") == 1


def test_failed_records_systems_circuits_queue_and_workers():
    shop = SystemFactory(name="Shop", health_status="degraded")
    erp = SystemFactory(name="ERP", health_status="up")
    flow = FlowFactory(name="Orders", source_system=shop, target_system=erp)
    quiet = FlowFactory(name="Quiet", source_system=erp, target_system=shop)
    for i, status in enumerate(["open", "open", "retrying", "resolved", "ignored"]):
        FailedRecord.objects.create(
            flow=flow,
            source_id=f"R{i}",
            stage="write",
            error_class="http",
            message="x",
            signature="s",
            status=status,
        )
    with override_settings(HUB_BREAKER_THRESHOLD=1):
        breaker.record(shop.pk, False, error="refused")
    try:
        fake_cluster = SimpleNamespace(timestamp=timezone.now(), workers=[1, 2])
        stale_cluster = SimpleNamespace(timestamp=timezone.now() - timedelta(minutes=5), workers=[3])
        with mock.patch("django_q.status.Stat.get_all", return_value=[fake_cluster, stale_cluster]):
            found = samples(scrape().content.decode())
    finally:
        breaker.reset(shop.pk)

    assert value(found, "hub_failed_records_open", flow="Orders") == 3
    assert value(found, "hub_failed_records_open", flow=quiet.name) == 0
    assert value(found, "hub_system_health", system="Shop", status="degraded") == 1
    assert value(found, "hub_system_health", system="Shop", status="up") == 0
    assert value(found, "hub_system_health", system="ERP", status="up") == 1
    assert value(found, "hub_system_circuit_open", system="Shop") == 1
    assert value(found, "hub_system_circuit_open", system="ERP") == 0
    assert value(found, "hub_queue_depth") >= 0
    assert value(found, "hub_workers_up") == 1


def test_label_values_are_escaped():
    tricky = 'Shop "EU" \\ main\nline two'
    flow = FlowFactory(name=tricky)
    make_run(flow, "succeeded", seconds=1, finished_ago=1)
    SystemFactory(name=tricky)

    text = scrape().content.decode()
    assert 'flow="Shop \\"EU\\" \\\\ main\\nline two"' in text
    found = samples(text)
    assert value(found, "hub_runs_total", flow=tricky, status="succeeded") == 1
    assert value(found, "hub_system_health", system=tricky, status="unknown") == 1
    # Every sample is one line: the newline in the name never splits one.
    assert all(line.startswith(("#", "hub_")) for line in text.splitlines())


def test_escape_label_value():
    assert metrics.escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'


def test_the_query_count_does_not_grow_with_flows_or_runs():
    system = SystemFactory()

    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            assert scrape().status_code == 200
        return len(ctx.captured_queries)

    flow = FlowFactory(source_system=system, target_system=system)
    make_run(flow, "succeeded", seconds=2, finished_ago=5)
    few = count_queries()

    for _ in range(5):
        other = FlowFactory(source_system=system, target_system=system)
        for status in ("succeeded", "failed", "partial"):
            make_run(other, status, seconds=2, finished_ago=5, read=3)
        FailedRecord.objects.create(
            flow=other, source_id="X", stage="write", error_class="http", message="x", signature="s"
        )
    assert count_queries() == few
    assert few <= 10, few
