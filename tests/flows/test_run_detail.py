"""The run detail page and its structured log: lines written by the engine for a real run (PIM → shop
over HTTP), bounded per run, personal values masked; the page shows the timeline, counters, cursors and
version, redraws live; users who may not see the flow get neither the page nor the API."""

import logging

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import blueprints, designer, runlog, sync
from flows.demo import ensure_demo_systems
from flows.models import FailedRecord, FlowVersion, Run, RunLogLine, RunStatus
from integration_hub import services
from integration_hub.roles import DPO, SUPPORT
from sandbox.testing import running
from tests.factories import FlowFactory, SystemFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module")
def sandbox():
    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def chairs_catalog(*, incremental=False):
    flow = blueprints.create_from_blueprint("catalog")
    data = designer.definition_of(flow)
    data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
    if incremental:
        data.update(sync_mode="incremental", cursor_field="updated")
    return designer.save_flow(data, flow=flow)


def run_now(flow, **kwargs) -> Run:
    run, created = sync.request_run(flow, **kwargs)
    assert created
    run.refresh_from_db()  # django-q2 runs tasks synchronously in the tests
    return run


def client_for(user, api=False):
    client = APIClient() if api else Client()
    client.force_login(user)
    return client


def test_a_real_run_logs_its_start_each_page_and_its_end(systems, caplog):
    flow = chairs_catalog(incremental=True)
    with caplog.at_level(logging.INFO, logger="hub.run"):
        run = run_now(flow)
    assert run.status == RunStatus.SUCCEEDED, run.message
    lines = list(RunLogLine.objects.filter(run=run).order_by("pk"))
    events = [line.event for line in lines]
    assert events[0] == "run.started" and events[-1] == "run.finished"
    start = lines[0].context
    assert start["trigger"] == "manual" and start["version"] == run.version.number and start["mode"] == "full"
    pages = [line for line in lines if line.event == "page.committed"]
    assert len(pages) == run.pages > 1
    assert [p.context["page"] for p in pages] == list(range(1, run.pages + 1))
    # The page lines add up to the run's counters, and each says how long the page took.
    for name in ("read", "created", "filtered"):
        assert sum(p.context.get(name, 0) for p in pages) == getattr(run, name)
    assert all(p.context["duration_ms"] >= 0 for p in pages)
    end = lines[-1].context
    assert (
        end["status"] == "succeeded" and end["read"] == run.read and end["cursor_after"] == run.cursor_after
    )
    # Never a record payload: only counts, cursors and statuses.
    assert not any("values" in line.context or "record" in line.context for line in lines)
    # The same lines went to the Python logger, with the run, flow and system ids.
    records = [r for r in caplog.records if r.name == "hub.run" and r.run_id == run.pk]
    assert len(records) == len(lines)
    assert {(r.flow_id, r.system_id) for r in records} == {(flow.pk, flow.source_system_id)}

    # A rerun reads from the cursor the first one left: its log says so.
    second = run_now(flow)
    started = RunLogLine.objects.get(run=second, event="run.started")
    assert started.context["cursor_before"] == run.cursor_after and started.context["mode"] == "incremental"


def test_the_log_is_bounded_and_says_how_many_lines_it_left_out(systems, monkeypatch):
    monkeypatch.setattr(runlog, "MAX_LINES", 4)
    flow = chairs_catalog()
    run = run_now(flow)
    assert run.pages > 5
    lines = list(RunLogLine.objects.filter(run=run).order_by("pk"))
    events = [line.event for line in lines]
    assert events[:4] == ["run.started", "page.committed", "page.committed", "page.committed"]
    assert events[-2:] == ["log.truncated", "run.finished"]  # the end is always kept
    assert lines[-2].context["more"] == run.pages - 3
    assert str(run.pages - 3) in lines[-2].message


def test_a_failed_run_logs_why_with_personal_values_masked(db):
    flow = FlowFactory()
    version = FlowVersion.objects.create(flow=flow, number=1, definition={})
    run = Run.objects.create(flow=flow, version=version, status=RunStatus.RUNNING)
    sync._record_failure(run, ValueError("customer jane.doe@example.com +33 6 12 34 56 78 refused"))
    line = RunLogLine.objects.get(run=run, event="run.failed")
    assert line.level == "error"
    assert "jane.doe@example.com" not in line.message and "j***@example.com" in line.message
    assert "12 34 56" not in line.message
    runlog.write(run, "warning", "page.transient", "token=abc123 for bob@example.org", reason="x@y.example")
    line = RunLogLine.objects.get(run=run, event="page.transient")
    assert "bob@example.org" not in line.message and "x@y.example" not in str(line.context)


@pytest.fixture
def finished_run(db):
    pim = SystemFactory(name="PIM", slug="pim-x")
    shop = SystemFactory(name="Shop", slug="shop-x")
    flow = FlowFactory(name="Catalog X", source_system=pim, target_system=shop)
    version = FlowVersion.objects.create(flow=flow, number=3, definition={})
    run = Run.objects.create(
        flow=flow,
        version=version,
        status=RunStatus.PARTIAL,
        trigger="schedule",
        read=12,
        created=9,
        failed=3,
        pages=2,
        cursor_before="2025-01-01T00:00:00",
        cursor_after="2025-02-01T10:00:00",
    )
    from django.utils import timezone

    Run.objects.filter(pk=run.pk).update(started=timezone.now(), finished=timezone.now())
    run.refresh_from_db()
    log = runlog.RunLog(run)
    log.add("info", "run.started", "Started (schedule).", cursor_before=run.cursor_before)
    log.add("info", "page.committed", "Page 1 committed", page=1, read=6, duration_ms=40)
    log.add("warning", "page.committed", "Page 2 committed", page=2, read=6, failed=3, duration_ms=55)
    log.add("warning", "run.finished", "Partial.", status="partial")
    log.flush()
    FailedRecord.objects.create(
        flow=flow, run=run, source_id="P-1", stage="write", error_class="invalid", signature="s",
        message="Customer “ann@example.com” is refused",
    )  # fmt: skip
    return run


def test_page_shows_timeline_counters_cursors_version_log_and_masked_failures(finished_run):
    support = UserFactory(roles=[SUPPORT])
    response = client_for(support).get(finished_run.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    for step in ('data-step="queued"', 'data-step="started"', 'data-step="first_page"', 'data-step="last_page"',
                 'data-step="finished"'):  # fmt: skip
        assert step in html
    assert 'data-counter="read">12<' in html and 'data-counter="failed">3<' in html
    assert "2025-01-01T00:00:00" in html and "2025-02-01T10:00:00" in html
    assert reverse("flows:flow_versions", args=[finished_run.flow_id]) + "#v3" in html
    assert html.count('data-event="page.committed"') == 2
    assert "a***@example.com" in html and "ann@example.com" not in html  # Support has no personal-data right
    # The level filter keeps the warnings and errors.
    html = client_for(support).get(finished_run.get_absolute_url() + "?level=warning").content.decode()
    assert html.count("<tr data-level=") == 2 and 'data-level="info"' not in html
    # Someone with the personal-data right reads the message as it is.
    dpo = UserFactory(roles=[DPO])
    assert "ann@example.com" in client_for(dpo).get(finished_run.get_absolute_url()).content.decode()


def test_live_fragment_redraws_the_body_only(finished_run):
    support = UserFactory(roles=[SUPPORT])
    run = finished_run
    Run.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, finished=None, expected=24)
    response = client_for(support).get(run.get_absolute_url() + "?part=body")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="run-progress"' in html and 'value="50"' in html  # 12 of 24 read
    assert 'id="run-log"' in html
    page = client_for(support).get(run.get_absolute_url()).content.decode()
    assert f'data-live-run="{run.pk}"' in page and "hub/runs.js" in page


def test_api_gives_the_log_and_filters_by_level(finished_run):
    api = client_for(UserFactory(roles=[SUPPORT]), api=True)
    data = api.get(reverse("flows-api:run-detail", args=[finished_run.pk])).json()
    assert [line["event"] for line in data["log"]] == ["run.started", "page.committed", "page.committed",
                                                      "run.finished"]  # fmt: skip
    assert data["cursor_after"] == "2025-02-01T10:00:00"
    log = api.get(reverse("flows-api:run-log", args=[finished_run.pk]), {"level": "warning"}).json()
    assert [line["level"] for line in log] == ["warning", "warning"]
    assert log[0]["context"]["failed"] == 3


def test_users_who_may_not_see_the_flow_get_neither_page_nor_api(finished_run):
    other = FlowFactory(name="Other")
    outsider = UserFactory()
    services.grant_access(other, outsider, ["view_flow"])  # sees another flow, not this run's
    page = client_for(outsider).get(finished_run.get_absolute_url())
    assert page.status_code in (403, 404)
    assert client_for(outsider).get(finished_run.get_absolute_url() + "?part=body").status_code in (403, 404)
    api = client_for(outsider, api=True)
    assert api.get(reverse("flows-api:run-detail", args=[finished_run.pk])).status_code in (403, 404)
    assert api.get(reverse("flows-api:run-log", args=[finished_run.pk])).status_code in (403, 404)
    # Granted this flow, the same user sees it.
    services.grant_access(finished_run.flow, outsider, ["view_flow"])
    assert client_for(outsider).get(finished_run.get_absolute_url()).status_code == 200
    assert api.get(reverse("flows-api:run-log", args=[finished_run.pk])).status_code == 200
