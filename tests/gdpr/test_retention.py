"""Retention of the hub's own stores: default rules, what each purge removes (and keeps), batches, the
log of each purge, the daily schedule, and the page where the DPO edits the rules and purges now."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_q.models import Schedule
from rest_framework.test import APIClient

from flows.models import FailedRecord, FlowVersion, RecordLink, Run, RunLogLine, RunStatus, WebhookEvent
from gdpr import retention, schedules
from gdpr.models import PurgeLog, RetentionRule
from gdpr.models.choices import HubStore
from integration_hub import audit, crypto
from integration_hub.models import AuditEntry
from integration_hub.models.audit import AuditAction
from integration_hub.roles import DPO, INTEGRATION_ADMIN, SUPPORT
from tests.factories import FlowFactory, UserFactory
from tests.flows.test_failures import fail

NOW = timezone.now()
OLD = NOW - timedelta(days=500)
RECENT = NOW - timedelta(days=2)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def flow(db):
    retention.ensure_rules()
    flow = FlowFactory(name="Customers")
    FlowVersion.objects.create(flow=flow, number=1, definition={})
    return flow


def run(flow, finished, status=RunStatus.SUCCEEDED) -> Run:
    r = Run.objects.create(flow=flow, version=flow.versions.first(), trigger="manual", status=status)
    Run.objects.filter(pk=r.pk).update(queued_at=finished or NOW, finished=finished)
    RunLogLine.objects.create(run=r, event="page", message="12 records")
    return r


def link(flow, source_id, synced) -> RecordLink:
    return RecordLink.objects.create(
        flow=flow,
        source_system=flow.source_system,
        source_entity="contacts",
        source_id=source_id,
        target_system=flow.target_system,
        target_entity="customers",
        target_id=f"T-{source_id}",
        last_hash="abc",
        last_synced=synced,
        last_values=crypto.encrypt(json.dumps({"email": "jane.doe@example.com"})),
        last_changes=crypto.encrypt(
            json.dumps([{"field": "email", "old": "a@b.c", "new": "jane.doe@example.com"}])
        ),
    )


@pytest.mark.django_db
def test_default_rules_are_created_once_and_never_overwritten():
    RetentionRule.objects.all().delete()
    retention.ensure_rules()
    days = dict(RetentionRule.objects.values_list("store", "keep_days"))
    assert days == {
        HubStore.RUNS: 400,
        HubStore.FAILED_RECORDS: 180,
        HubStore.RECORD_LINKS: 180,
        HubStore.WEBHOOK_EVENTS: 30,
        HubStore.AUDIT: 1095,
    }
    RetentionRule.objects.filter(store=HubStore.RUNS).update(keep_days=90)
    retention.ensure_rules()
    assert RetentionRule.objects.get(store=HubStore.RUNS).keep_days == 90
    assert RetentionRule.objects.count() == 5


@pytest.mark.django_db
def test_a_runs_purge_keeps_recent_active_and_each_flows_latest_run(flow):
    old_done, old_failed, recent = run(flow, OLD), run(flow, OLD, RunStatus.FAILED), run(flow, RECENT)
    old_stuck = run(flow, None, RunStatus.RUNNING)
    Run.objects.filter(pk=old_stuck.pk).update(queued_at=OLD)
    other = FlowFactory(name="Products")
    FlowVersion.objects.create(flow=other, number=1, definition={})
    only_run_of_other = run(other, OLD)  # old, but the latest the flow has: kept
    failure = fail(flow, "C-1", "refused", run=old_done)

    assert retention.count_purgeable(HubStore.RUNS) == 2
    log = retention.purge_store(HubStore.RUNS, batch_size=1)

    assert log.rows == 2
    assert set(Run.objects.values_list("pk", flat=True)) == {recent.pk, old_stuck.pk, only_run_of_other.pk}
    assert not RunLogLine.objects.filter(run_id__in=[old_done.pk, old_failed.pk]).exists()
    failure.refresh_from_db()
    assert failure.run_id is None  # the failed record outlives its run
    rule = RetentionRule.objects.get(store=HubStore.RUNS)
    assert (rule.last_purged, rule.last_purge_at) == (2, log.time)
    entry = AuditEntry.objects.for_object(log).get(action=AuditAction.DELETE)
    assert "2 rows" in entry.message and "runs" in entry.message


@pytest.mark.django_db
def test_open_failed_records_are_never_purged(flow):
    resolved = fail(flow, "C-1", "refused", status=FailedRecord.Status.RESOLVED)
    ignored = fail(flow, "C-2", "refused", status=FailedRecord.Status.IGNORED)
    still_open = fail(flow, "C-3", "refused")
    retrying = fail(flow, "C-4", "refused", status=FailedRecord.Status.RETRYING)
    recently_resolved = fail(flow, "C-5", "refused", status=FailedRecord.Status.RESOLVED)
    FailedRecord.objects.exclude(pk=recently_resolved.pk).update(updated=OLD)

    assert retention.purge_store(HubStore.FAILED_RECORDS).rows == 2
    assert not FailedRecord.objects.filter(pk__in=[resolved.pk, ignored.pk]).exists()
    assert set(FailedRecord.objects.values_list("pk", flat=True)) == {
        still_open.pk,
        retrying.pk,
        recently_resolved.pk,
    }


@pytest.mark.django_db
def test_old_id_links_lose_their_values_but_keep_the_link(flow):
    old, recent = link(flow, "C-1", OLD), link(flow, "C-2", RECENT)

    assert retention.count_purgeable(HubStore.RECORD_LINKS) == 1
    assert retention.purge_store(HubStore.RECORD_LINKS).rows == 1
    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.last_values, old.last_changes) == ("", "")
    assert (old.target_id, old.last_hash) == ("T-C-1", "abc")  # still matched on the next sync
    assert recent.values == {"email": "jane.doe@example.com"}
    assert retention.count_purgeable(HubStore.RECORD_LINKS) == 0  # cleared once, not counted again


@pytest.mark.django_db
def test_webhook_events_and_audit_entries_older_than_their_rule_go(flow):
    system = flow.source_system
    for n, received in enumerate([NOW - timedelta(days=40), NOW - timedelta(days=31), RECENT]):
        event = WebhookEvent.objects.create(
            system=system, event_id=f"e{n}", payload_encrypted=crypto.encrypt("{}")
        )
        WebhookEvent.objects.filter(pk=event.pk).update(received=received)
    assert retention.purge_store(HubStore.WEBHOOK_EVENTS).rows == 2
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["e2"]

    ancient = audit.record(AuditAction.LOGIN, message="four years ago")
    AuditEntry.objects.filter(pk=ancient.pk).update(time=NOW - timedelta(days=4 * 365))
    kept = audit.record(AuditAction.LOGIN, message="last year")
    AuditEntry.objects.filter(pk=kept.pk).update(time=NOW - timedelta(days=365))
    log = retention.purge_store(HubStore.AUDIT)
    assert log.rows >= 1
    assert (
        not AuditEntry.objects.filter(pk=ancient.pk).exists()
        and AuditEntry.objects.filter(pk=kept.pk).exists()
    )
    assert AuditEntry.objects.for_object(log).exists()  # the purge of the audit log is itself audited


@pytest.mark.django_db
def test_the_daily_schedule_purges_every_enabled_store(flow):
    schedules.ensure_schedules()
    schedules.ensure_schedules()
    schedule = Schedule.objects.get(name=schedules.RETENTION)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (
        "gdpr.retention.purge_due",
        Schedule.DAILY,
        -1,
    )
    RetentionRule.objects.filter(store=HubStore.AUDIT).update(enabled=False)
    run(flow, OLD), run(flow, RECENT)
    done = retention.purge_due()
    assert done[HubStore.RUNS] == 1 and HubStore.AUDIT not in done
    assert set(PurgeLog.objects.values_list("store", flat=True)) == set(HubStore.values) - {HubStore.AUDIT}


# --- the page ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dpo_edits_the_rules_and_purges_now_after_a_dry_run_count(flow):
    run(flow, OLD), run(flow, OLD), run(flow, RECENT)
    client = client_for(UserFactory(roles=[DPO]))
    page = client.get(reverse("gdpr:retention")).content.decode()
    assert "Runs and their logs" in page and reverse("gdpr:retention_purge", args=["runs"]) in page

    data = {}
    for rule in RetentionRule.objects.all():
        data[f"{rule.store}-keep_days"] = rule.keep_days
        if rule.enabled:
            data[f"{rule.store}-enabled"] = "on"
    data["webhook_events-keep_days"] = 7
    assert client.post(reverse("gdpr:retention"), data).status_code == 302
    rule = RetentionRule.objects.get(store=HubStore.WEBHOOK_EVENTS)
    assert rule.keep_days == 7
    assert AuditEntry.objects.for_object(rule).filter(action=AuditAction.UPDATE).exists()
    data["runs-keep_days"] = 0
    assert client.post(reverse("gdpr:retention"), data).status_code == 400

    confirm = client.get(reverse("gdpr:retention_purge", args=[HubStore.RUNS])).content.decode()
    assert "2 rows older than" in confirm  # the dry run: nothing deleted yet
    assert Run.objects.count() == 3
    client.post(reverse("gdpr:retention_purge", args=[HubStore.RUNS]))
    assert Run.objects.count() == 1
    page = client.get(reverse("gdpr:retention")).content.decode()
    assert "purged by hand" in page


@pytest.mark.django_db
def test_only_the_dpo_changes_rules_or_purges(flow):
    run(flow, OLD), run(flow, RECENT)
    admin = client_for(UserFactory(roles=[INTEGRATION_ADMIN]))
    page = admin.get(reverse("gdpr:retention"))
    assert page.status_code == 200 and "retention/runs/purge/" not in page.content.decode()
    assert admin.post(reverse("gdpr:retention"), {"runs-keep_days": 1}).status_code == 403
    assert admin.get(reverse("gdpr:retention_purge", args=[HubStore.RUNS])).status_code == 403
    assert admin.post(reverse("gdpr:retention_purge", args=[HubStore.RUNS])).status_code == 403
    assert client_for(UserFactory(roles=[SUPPORT])).get(reverse("gdpr:retention")).status_code == 403
    assert Run.objects.count() == 2

    api = APIClient()
    api.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    rule = RetentionRule.objects.get(store=HubStore.RUNS)
    assert api.post(reverse("gdpr-api:retentionrule-purge", args=[rule.pk])).status_code == 403
    dpo_api = APIClient()
    dpo_api.force_login(UserFactory(roles=[DPO]))
    assert dpo_api.get(reverse("gdpr-api:retentionrule-purge", args=[rule.pk])).json()["would_purge"] == 1
    assert dpo_api.post(reverse("gdpr-api:retentionrule-purge", args=[rule.pk])).json()["rows"] == 1
    assert Run.objects.count() == 1


@pytest.mark.django_db
def test_a_big_purge_now_is_queued_for_a_worker_on_behalf_of_the_user(
    flow, monkeypatch, django_capture_on_commit_callbacks
):
    run(flow, OLD), run(flow, OLD), run(flow, RECENT)
    monkeypatch.setattr(retention, "INLINE_LIMIT", 1)
    queued = []
    monkeypatch.setattr(
        "django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args))
    )
    dpo = UserFactory(roles=[DPO])
    with django_capture_on_commit_callbacks(execute=True):
        page = client_for(dpo).post(reverse("gdpr:retention_purge", args=[HubStore.RUNS]), follow=True)
    assert "a worker is doing it" in page.content.decode() and Run.objects.count() == 3
    assert queued == [("gdpr.retention.purge_store_task", (HubStore.RUNS, dpo.pk, queued[0][1][2]))]

    assert retention.purge_store_task(*queued[0][1]) == 2  # what the worker runs
    log = PurgeLog.objects.get(store=HubStore.RUNS)
    assert AuditEntry.objects.for_object(log).get().user == dpo
