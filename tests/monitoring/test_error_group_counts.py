"""The error groups keep how many of their records wait and how many there are (``open_records``,
``total_records``), so the triage inbox and a flow's failures page list causes without counting a
million failed records. The counters must stay equal to the real records through everything the engine
and people do to them: a run that fails records, a replay that fails again, a replay that delivers them,
ignoring some records, ignoring a whole group, and the run end that resolves the group."""

import pytest
from django.db.models import Count, Q
from django.test import Client
from django.urls import reverse

from flows import designer, failures
from flows.models import FailedRecord, RunStatus
from integration_hub.roles import SUPPORT
from monitoring import triage
from monitoring.models import ErrorGroup
from tests.factories import UserFactory


def real_counts(flow) -> dict[str, tuple[int, int]]:
    rows = (
        FailedRecord.objects.filter(flow=flow)
        .values("signature")
        .annotate(open=Count("pk", filter=Q(status__in=["open", "retrying"])), total=Count("pk"))
    )
    return {row["signature"]: (row["open"], row["total"]) for row in rows}


def kept_counts(flow) -> dict[str, tuple[int, int]]:
    return {
        group.signature: (group.open_records, group.total_records)
        for group in ErrorGroup.objects.filter(flow=flow)
    }


def assert_counters_match(flow):
    real, kept = real_counts(flow), kept_counts(flow)
    assert kept == {sig: real.get(sig, (0, 0)) for sig in kept}, (kept, real)
    assert set(real) <= set(kept), "every cause of a failed record has its group"


@pytest.fixture(scope="module")
def sandbox():
    from sandbox.testing import running

    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.fixture
def failing(sandbox):
    """The demo catalog with a price rule no chair meets: the engine fails every chair (one cause)."""
    from flows.demo import ensure_demo_systems
    from tests.flows.test_sync import run_now, small_catalog

    ensure_demo_systems(urls=sandbox)
    flow = small_catalog()
    data = designer.definition_of(flow)
    data["quality_rules"] = [{"kind": "range", "field": "price", "params": {"min": 1_000_000}}]
    designer.save_flow(data, flow=flow)
    run = run_now(flow)
    assert run.status == RunStatus.PARTIAL and run.failed >= 4, (run.status, run.failed)
    return flow


def fix(flow):
    data = designer.definition_of(flow)
    data["quality_rules"] = []
    designer.save_flow(data, flow=flow)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_counters_follow_failures_replays_ignores_and_resolution(failing):
    flow = failing
    (group,) = ErrorGroup.objects.filter(flow=flow)
    waiting = FailedRecord.objects.filter(flow=flow, status="open")
    count = waiting.count()
    assert (group.open_records, group.total_records) == (count, count)
    assert_counters_match(flow)
    admin = UserFactory(is_superuser=True)

    # A replay before the fix fails every record again: still all waiting, still counted once.
    failures.replay(flow, user=admin, signature=group.signature)
    assert_counters_match(flow)
    group.refresh_from_db()
    assert group.open_records == count

    # Fixed: replaying two of them delivers those two (the run end recounts the group).
    fix(flow)
    first, second, third = list(waiting.order_by("pk"))[:3]
    failures.replay(flow, user=admin, ids=[first.pk, second.pk])
    assert FailedRecord.objects.get(pk=first.pk).status == "resolved"
    assert_counters_match(flow)
    group.refresh_from_db()
    assert (group.open_records, group.total_records) == (count - 2, count)

    # One record set aside by hand, from the flow's failures page (the service under it).
    failures.ignore(flow, user=admin, ids=[third.pk])
    assert_counters_match(flow)
    group.refresh_from_db()
    assert group.open_records == count - 3

    # The page and its tab say what waits, from the counters.
    support = Client()
    support.force_login(UserFactory(roles=[SUPPORT]))
    page = support.get(reverse("flows:flow_failures", args=[flow.pk])).content.decode()
    assert f"{count - 3} records wait for a decision" in page
    assert f"{count - 3} failed records" in page

    # The whole group ignored from the triage inbox: nothing waits, every record still counted.
    triage.ignore([group], user=admin)
    assert_counters_match(flow)
    group.refresh_from_db()
    assert (group.status, group.open_records, group.total_records) == ("ignored", 0, count)
    inbox = triage.visible_groups(admin).get(pk=group.pk)
    assert (inbox.records_open, inbox.records_total) == (0, count)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_group_resolves_itself_with_zero_waiting_once_every_record_went_through(failing):
    flow = failing
    (group,) = ErrorGroup.objects.filter(flow=flow)
    fix(flow)
    failures.replay(flow, user=UserFactory(is_superuser=True), signature=group.signature)
    group.refresh_from_db()
    assert group.status == ErrorGroup.Status.RESOLVED  # resolve_delivered after the run
    assert group.open_records == 0 and group.total_records == FailedRecord.objects.filter(flow=flow).count()
    assert_counters_match(flow)
    page = Client()
    page.force_login(UserFactory(roles=[SUPPORT]))
    text = page.get(reverse("flows:flow_failures", args=[flow.pk])).content.decode()
    assert "Nothing is waiting" in text and "Open failures by cause" not in text


def test_refresh_counts_repairs_drift_and_touches_only_what_changed(db):
    from tests.factories import FlowFactory
    from tests.flows.test_failures import fail

    flow = FlowFactory()
    a = fail(flow, "A-1", "price: 0 is below the minimum 1")
    fail(flow, "A-2", "price: 0 is below the minimum 1")
    b = fail(flow, "B-1", "name: missing")
    triage.record_failures(flow, [a])
    triage.record_failures(flow, [b])
    assert_counters_match(flow)
    FailedRecord.objects.filter(pk=a.pk).update(status="resolved")  # behind the services' back
    assert triage.refresh_counts(flow.pk, [b.signature]) == 0  # the other cause: nothing to change
    assert triage.refresh_counts(flow.pk) == 1
    assert kept_counts(flow)[a.signature] == (1, 2)
    assert_counters_match(flow)


def test_failures_saved_before_the_inbox_get_their_groups_on_migrate(db):
    """monitoring 0001 groups the failed records that exist already (one group per cause, counted)."""
    import importlib

    from django.apps import apps

    from tests.factories import FlowFactory
    from tests.flows.test_failures import fail

    initial = importlib.import_module("monitoring.migrations.0001_initial")
    flow = FlowFactory(target_entity="customers")
    fail(flow, "C-1", "email: 'jane.doe@example.com' is not a valid address")
    fail(flow, "C-2", "email: 'jane.doe@example.com' is not a valid address", status="resolved")
    done = fail(flow, "C-3", "name: missing", status="ignored")
    initial.group_existing_failures(apps, None)
    assert_counters_match(flow)
    groups = {g.signature: g for g in ErrorGroup.objects.filter(flow=flow)}
    assert len(groups) == 2 and groups[done.signature].status == "resolved"
    email = next(g for g in groups.values() if g.signature != done.signature)
    assert (email.status, email.open_records, email.total_records) == ("open", 1, 2)
    assert "jane.doe@example.com" not in email.title + email.message  # built from the masked message
    initial.group_existing_failures(apps, None)  # run twice: nothing doubles
    assert ErrorGroup.objects.filter(flow=flow).count() == 2
