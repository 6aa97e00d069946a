"""The sync engine over real HTTP between sandbox systems: a full sync, a rerun where nothing changed,
one change → exactly one write, failures kept with their reason, and one active run per flow."""

import itertools

import pytest
from django.db import IntegrityError, transaction

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.models import FailedRecord, RecordLink, Run, RunStatus
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module")
def sandbox():
    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def small_catalog(name: str | None = None):
    """The catalog template, for the chairs only (250 of the PIM's 2,000 products): quick runs."""
    flow = blueprints.create_from_blueprint("catalog", name=name)
    data = designer.definition_of(flow)
    data["filters"].append({"path": "family", "op": "equals", "value": "chairs"})
    return designer.save_flow(data, flow=flow)


def run_now(flow, **kwargs) -> Run:
    run, created = sync.request_run(flow, **kwargs)
    assert created
    run.refresh_from_db()  # test settings run django-q2 tasks synchronously, in this process
    return run


def pim_products(system) -> list[dict]:
    connector = system.get_connector()
    try:
        return [r for page in connector.read("products") for r in page.records]
    finally:
        connector.close()


def shop_products(system, skus) -> dict:
    connector = system.get_connector()
    try:
        return {p["sku"]: p for p in connector.lookup("products", "sku", list(skus))}
    finally:
        connector.close()


def test_full_sync_then_nothing_changed_then_one_change(systems):
    flow = small_catalog()
    source = pim_products(systems["pim"])
    enabled = [p for p in source if p["enabled"] and p["family"] == "chairs"]

    first = run_now(flow)
    assert first.status == RunStatus.SUCCEEDED, first.message
    assert first.read == len(source)
    assert first.filtered == len(source) - len(enabled)
    assert first.created + first.updated == len(enabled) and first.failed == 0
    assert first.read == first.filtered + first.unchanged + first.created + first.updated + first.failed
    assert RecordLink.objects.filter(flow=flow).count() == len(enabled)
    sample = enabled[:20]
    in_shop = shop_products(systems["shop"], [p["identifier"] for p in sample])
    for product in sample:
        names = {v["locale"]: v["data"] for v in product["values"].get("name", [])}
        assert in_shop[product["identifier"]]["name"] == (names.get("fr_FR") or names.get("en_US")).strip()

    second = run_now(flow)
    assert second.status == RunStatus.SUCCEEDED
    assert (second.unchanged, second.created, second.updated) == (len(enabled), 0, 0)

    changed = enabled[3]
    pim = systems["pim"].get_connector()
    try:
        results = pim.write(
            "products",
            [
                {
                    "identifier": changed["identifier"],
                    "values": {"name": [{"locale": "fr_FR", "scope": None, "data": "Chaise rouge"}]},
                }
            ],
        )
        assert results[0].ok, results[0].error
    finally:
        pim.close()
    third = run_now(flow)
    assert (third.updated, third.created, third.unchanged) == (1, 0, len(enabled) - 1)
    # The link keeps what changed, field by field.
    link = RecordLink.objects.get(flow=flow, source_id=changed["identifier"])
    assert [c for c in link.changes if c["field"] == "name"] == [
        {"field": "name", "old": in_shop[changed["identifier"]]["name"], "new": "Chaise rouge"}
    ]
    assert link.values["name"] == "Chaise rouge"
    assert (
        shop_products(systems["shop"], [changed["identifier"]])[changed["identifier"]]["name"]
        == "Chaise rouge"
    )


def test_records_the_target_refuses_are_kept_with_their_reason(systems):
    flow = small_catalog()
    data = designer.definition_of(flow)
    # A price rule no product meets: every enabled chair fails its data-quality rule.
    data["quality_rules"] = [{"kind": "range", "field": "price", "params": {"min": 1_000_000}}]
    designer.save_flow(data, flow=flow)
    run = run_now(flow)
    assert run.status == RunStatus.PARTIAL
    failures = FailedRecord.objects.filter(flow=flow)
    assert failures.count() == run.failed > 0
    failure = failures.first()
    assert failure.stage == "rule" and "price" in failure.message
    assert failure.payload["source"]["identifier"] == failure.source_id
    assert failures.values("signature").distinct().count() == 1  # one cause, one group
    assert run.read == run.filtered + run.failed
    # The same failure on a rerun is one open record per source record, its attempts counted.
    run_now(flow)
    assert FailedRecord.objects.filter(flow=flow).count() == run.failed
    assert FailedRecord.objects.get(pk=failure.pk).attempts == 2


def test_one_running_and_one_queued_run_per_flow_triggers_coalesce(systems):
    flow = small_catalog()
    running_run = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING
    )
    from django.utils import timezone

    Run.objects.filter(pk=running_run.pk).update(heartbeat=timezone.now())
    outcomes = [sync.request_run(flow) for _ in range(20)]
    assert sum(created for _run, created in outcomes) == 1
    queued = {run.pk for run, _created in outcomes}
    assert len(queued) == 1
    assert Run.objects.get(pk=queued.pop()).status == RunStatus.QUEUED  # waits for the running one
    with pytest.raises(IntegrityError), transaction.atomic():
        Run.objects.create(
            flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING
        )


def test_a_run_whose_worker_died_is_interrupted_and_the_waiting_run_starts(systems):
    from datetime import timedelta

    from django.utils import timezone

    flow = small_catalog()
    dead = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING
    )
    Run.objects.filter(pk=dead.pk).update(heartbeat=timezone.now() - timedelta(minutes=10))
    run = run_now(flow)
    dead.refresh_from_db()
    assert dead.status == RunStatus.INTERRUPTED and "worker stopped" in dead.message
    assert run.status == RunStatus.SUCCEEDED


def test_a_queued_run_whose_task_was_lost_is_sent_again(systems):
    from datetime import timedelta

    from django.utils import timezone

    from flows.models.runs import RunLogLine

    flow = small_catalog()
    # a queued run whose task never reached a worker (the task queue was flushed)
    lost = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.QUEUED
    )
    assert sync.reap_stuck_runs() == 0  # queued just now: its task may only be waiting for a worker
    Run.objects.filter(pk=lost.pk).update(queued_at=timezone.now() - timedelta(minutes=30))
    # while another run of the flow is going, waiting is normal: nothing is sent
    going = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING
    )
    Run.objects.filter(pk=going.pk).update(heartbeat=timezone.now())
    assert sync.reap_stuck_runs() == 0
    assert Run.objects.get(pk=lost.pk).status == RunStatus.QUEUED
    Run.objects.filter(pk=going.pk).update(status=RunStatus.SUCCEEDED, finished=timezone.now())
    # alone and old: its task is sent again (the test settings run it at once) and the log says so
    assert sync.reap_stuck_runs() == 1
    lost.refresh_from_db()
    assert lost.status == RunStatus.SUCCEEDED and lost.read > 0
    resent = RunLogLine.objects.get(run=lost, event="run.resent")
    assert resent.level == "warning" and "sent again" in resent.message


def test_a_lost_database_connection_fails_the_run_at_once_with_the_reason(systems, monkeypatch):
    from django.db import OperationalError

    flow = small_catalog()
    real = sync._record_failure
    attempts = []

    def flaky(run, exc):  # the first attempt meets the dead connection, the next a fresh one
        attempts.append(exc)
        if len(attempts) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(run, exc)

    def lost_connection(self):
        raise OperationalError("terminating connection due to administrator command")

    monkeypatch.setattr(sync, "_record_failure", flaky)
    monkeypatch.setattr(sync, "DB_RECOVERY_WAITS", (0.01,))
    monkeypatch.setattr(sync._Executor, "execute", lost_connection)
    run = run_now(flow)
    assert run.status == RunStatus.FAILED and len(attempts) == 2
    assert "database connection was lost" in run.message and "administrator command" in run.message


def test_the_links_cursor_raises_djangos_database_errors_on_postgresql():
    """The links are written through psycopg's own cursor on PostgreSQL (server-side binding): its
    errors still reach the run as Django's, which its recovery and the callers' handlers catch."""
    from django.db import DataError, connection

    if connection.vendor != "postgresql":
        pytest.skip("SQLite writes the links through Django's own cursor")
    with pytest.raises(DataError), sync._bound_cursor() as cursor:
        cursor.execute("SELECT 1 / %s", [0])


def rename_in_pim(system, identifier: str, name: str) -> None:
    pim = system.get_connector()
    try:
        (result,) = pim.write(
            "products",
            [
                {
                    "identifier": identifier,
                    "values": {"name": [{"locale": "fr_FR", "scope": None, "data": name}]},
                }
            ],
        )
        assert result.ok, result.error
    finally:
        pim.close()


def test_incremental_runs_read_only_what_changed_since_the_last_one(systems):
    flow = small_catalog()
    data = designer.definition_of(flow)
    data.update(sync_mode="incremental", cursor_field="updated")
    flow = designer.save_flow(data, flow=flow)
    first = run_now(flow)
    assert first.status == RunStatus.SUCCEEDED and first.read == len(pim_products(systems["pim"]))
    flow.refresh_from_db()
    assert flow.sync_cursor == first.cursor_after != ""

    second = run_now(flow)
    assert second.cursor_before == first.cursor_after
    assert second.read < 5 and second.created + second.updated == 0  # the last second's records, unchanged

    chair = next(p for p in pim_products(systems["pim"]) if p["family"] == "chairs" and p["enabled"])
    rename_in_pim(systems["pim"], chair["identifier"], "Fauteuil bleu")
    third = run_now(flow)
    assert third.updated == 1 and third.read < 5
    assert third.cursor_after > second.cursor_after

    resync = run_now(flow, full=True)
    assert resync.cursor_before == "" and resync.read == first.read
    assert resync.unchanged == first.created + first.updated


def test_run_now_from_the_console_is_followed_on_its_page(systems):
    from django.test import Client
    from django.urls import reverse

    from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
    from tests.factories import UserFactory

    flow = small_catalog()
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    assert "No run yet" in admin.get(flow.get_absolute_url()).content.decode()
    response = admin.post(reverse("flows:flow_run", args=[flow.pk]))
    run = Run.objects.get(flow=flow)
    assert response["Location"] == run.get_absolute_url()
    page = admin.get(run.get_absolute_url()).content.decode()
    assert 'data-status="succeeded"' in page and f'data-counter="created">{run.created}<' in page
    assert f"#{run.pk}" in admin.get(reverse("flows:flow_runs", args=[flow.pk])).content.decode()

    admin.post(reverse("flows:flow_run", args=[flow.pk]), {"full": "1"})
    resync = Run.objects.filter(flow=flow).first()
    assert resync.full and resync.trigger == "resync"

    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(run.get_absolute_url()).status_code == 200
    assert viewer.post(reverse("flows:flow_run", args=[flow.pk])).status_code == 403
    assert viewer.post(reverse("flows:run_cancel", args=[run.pk])).status_code == 403
    assert Run.objects.filter(flow=flow).count() == 2


def test_api_and_manage_py_run_the_same_way(systems, capsys):
    from django.core.management import call_command
    from django.urls import reverse
    from rest_framework.test import APIClient

    from integration_hub.roles import INTEGRATION_ADMIN
    from tests.factories import UserFactory

    flow = small_catalog()
    api = APIClient()
    api.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    answer = api.post(reverse("flows-api:flow-run", args=[flow.pk]), {}, format="json")
    assert answer.status_code == 202 and answer.json()["coalesced"] is False
    runs = api.get(reverse("flows-api:flow-runs", args=[flow.pk])).json()
    written = runs[0]["counters"]["created"] + runs[0]["counters"]["updated"]
    assert runs[0]["status"] == "succeeded" and written > 0

    call_command("hub", "run", flow.name)
    out = capsys.readouterr().out
    assert "succeeded" in out and f"unchanged {written}" in out


def test_a_queued_run_can_be_cancelled_before_it_starts(systems):
    flow = small_catalog()
    Run.objects.create(flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING)
    from django.utils import timezone

    Run.objects.filter(flow=flow).update(heartbeat=timezone.now())
    waiting, created = sync.request_run(flow)
    assert created and waiting.status == RunStatus.QUEUED
    assert sync.cancel_run(waiting).status == RunStatus.CANCELLED


def test_a_running_run_asked_to_stop_ends_after_the_page_it_is_on(systems, monkeypatch):
    """``cancel_run`` on a running run: the page being written is committed, the next is never read
    (the page's own counters update reads the request), and the run ends cancelled with what it did."""
    flow = small_catalog()
    first = sync.request_run(flow)[0]
    first.refresh_from_db()
    assert first.status == RunStatus.SUCCEEDED and first.pages > 1  # the chairs take several pages

    def cancel_on_first_page(name):
        if name == "page_read" and not Run.objects.filter(flow=flow, cancel_requested=True).exists():
            running = Run.objects.get(flow=flow, status=RunStatus.RUNNING)
            assert sync.cancel_run(running).cancel_requested

    monkeypatch.setattr(sync, "_crash_point", cancel_on_first_page)
    run = run_now(flow, full=True)
    assert run.status == RunStatus.CANCELLED
    assert run.pages == 1 and 0 < run.read < first.read


def test_the_flow_schedule_follows_its_trigger(systems):
    from django_q.models import Schedule

    from flows.schedules import schedule_name

    flow = small_catalog()
    name = schedule_name(flow.pk)
    assert not Schedule.objects.filter(name=name).exists()  # paused: no schedule
    data = designer.definition_of(flow)
    data.update(enabled=True, trigger="interval", interval_minutes=1)
    designer.save_flow(data, flow=flow)
    schedule = Schedule.objects.get(name=name)
    assert (schedule.schedule_type, schedule.minutes, schedule.func) == ("I", 1, "flows.tasks.scheduled_run")
    data.update(trigger="cron", cron="*/5 * * * *")
    designer.save_flow(data, flow=flow)
    schedule.refresh_from_db()
    assert (schedule.schedule_type, schedule.cron) == ("C", "*/5 * * * *")
    designer.pause_flow(flow)
    assert not Schedule.objects.filter(name=name).exists()
    data["enabled"] = True
    designer.save_flow(data, flow=flow)
    flow.delete()
    assert not Schedule.objects.filter(name=name).exists()


def test_twenty_simultaneous_triggers_give_one_run_at_a_time_and_lose_none(systems):
    import threading

    from django.db import connections

    flow = small_catalog()
    barrier = threading.Barrier(20)
    outcomes, errors = [], []

    def trigger():
        try:
            barrier.wait(timeout=30)
            outcomes.append(sync.request_run(flow))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=trigger) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and len(outcomes) == 20
    runs = list(Run.objects.filter(flow=flow).order_by("started"))
    # Every trigger got a run: one it created, or the waiting one it was folded into.
    assert {run.pk for run, _created in outcomes} <= {run.pk for run in runs}
    assert sum(created for _run, created in outcomes) == len(runs)
    assert all(run.status == RunStatus.SUCCEEDED for run in runs), [(r.status, r.message) for r in runs]
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished <= later.started  # never two at once
    # A trigger that arrived while a run was going on was not lost: a run started after it.
    assert runs[-1].started >= max(run.queued_at for run in runs)


def test_one_record_can_be_resynced_and_failed_records_replayed(systems):
    flow = small_catalog()
    first = run_now(flow)
    delivered = first.created + first.updated
    chair = next(p for p in pim_products(systems["pim"]) if p["family"] == "chairs" and p["enabled"])

    # Resync one: fetched fresh by id and written even though nothing changed; the cursor stays.
    one, created = sync.request_run(flow, trigger="records", record_ids=[chair["identifier"]])
    one.refresh_from_db()
    assert created and one.status == RunStatus.SUCCEEDED
    assert (one.read, one.updated, one.created) == (1, 1, 0)

    # A rule every chair fails, then fixed: replaying the failures delivers them without a full read.
    data = designer.definition_of(flow)
    data["quality_rules"] = [{"kind": "range", "field": "price", "params": {"min": 1_000_000}}]
    designer.save_flow(data, flow=flow)
    rename_in_pim(systems["pim"], chair["identifier"], "Chaise verte")
    failing = run_now(flow, full=True)
    assert failing.failed == delivered and failing.status == RunStatus.PARTIAL
    signature = FailedRecord.objects.filter(flow=flow).first().signature
    data["quality_rules"] = []
    designer.save_flow(data, flow=flow)
    replay = sync.replay_failed(flow, signature=signature)
    replay.refresh_from_db()
    assert replay.status == RunStatus.SUCCEEDED and replay.read == delivered
    assert not FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]).exists()
    assert (
        shop_products(systems["shop"], [chair["identifier"]])[chair["identifier"]]["name"] == "Chaise verte"
    )
    with pytest.raises(sync.RunRefused):
        sync.replay_failed(flow)  # nothing left to replay


def test_triggers_for_chosen_records_fold_into_the_waiting_run(systems):
    from django.utils import timezone

    flow = small_catalog()
    Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING,
        heartbeat=timezone.now(),
    )  # fmt: skip
    waiting, created = sync.request_run(flow, trigger="webhook", record_ids=["A", "B"])
    assert created and not waiting.read_all
    again, created = sync.request_run(flow, trigger="webhook", record_ids=["B", "C"])
    assert not created and again.pk == waiting.pk
    waiting.refresh_from_db()
    assert waiting.record_ids == ["A", "B", "C"] and not waiting.read_all
    sync.request_run(flow, backfill_from="2026-01-01")
    waiting.refresh_from_db()
    assert waiting.read_all and waiting.backfill_from == "2026-01-01"


def test_a_target_that_stays_down_keeps_the_records_for_the_next_run(systems, sandbox, monkeypatch):
    import httpx

    from flows.connectors.base import Connector

    monkeypatch.setattr(Connector, "retries", 0)  # fail at once instead of backing off in a test
    flow = small_catalog()
    httpx.put(f"{sandbox['shop']}/_sandbox/faults", json={"error_rate": 1.0}).raise_for_status()
    try:
        down = run_now(flow)
    finally:
        httpx.put(f"{sandbox['shop']}/_sandbox/faults", json={"error_rate": 0.0}).raise_for_status()
    # The run stopped after a few pages in a row could not be written; their records wait, with why.
    assert down.status == RunStatus.FAILED and "pages in a row" in down.message
    waiting = FailedRecord.objects.filter(flow=flow, status="open")
    assert waiting.count() == down.failed > 0
    assert set(waiting.values_list("error_class", flat=True)) == {"transient"}
    assert waiting.first().http_status == 503

    back = run_now(flow)  # the next run retries them first, then reads on
    assert back.status == RunStatus.SUCCEEDED
    assert not FailedRecord.objects.filter(flow=flow, status="open").exists()
    enabled = [p for p in pim_products(systems["pim"]) if p["enabled"] and p["family"] == "chairs"]
    assert RecordLink.objects.filter(flow=flow).count() == len(enabled)


def test_a_flow_that_could_create_twice_after_a_crash_is_refused(systems):
    data = blueprints.definition_for("catalog", name="Products without a key")
    data.update(match_strategy="links", source_key="", target_key="", write_mode="create")
    data["mappings"] = [m for m in data["mappings"] if m["target"] != "sku"]
    with pytest.raises(designer.DefinitionError) as refused:
        designer.save_flow(data)
    assert "create a record twice" in refused.value.errors["write_mode"]
    data["write_mode"] = "update"  # never creates: nothing to reconcile
    flow = designer.save_flow(data)
    # A version saved before the rule (or edited in the database) is refused when it would run.
    version = flow.current_version
    version.definition = {**version.definition, "write_mode": "create"}
    version.save()
    with pytest.raises(sync.RunRefused, match="create a record twice"):
        sync.request_run(flow)
    assert not Run.objects.filter(flow=flow).exists()


def test_mirror_deletes_in_the_target_what_was_deleted_in_the_source(systems):
    flow = small_catalog()
    data = designer.definition_of(flow)
    data["write_mode"] = "mirror"
    flow = designer.save_flow(data, flow=flow)
    first = run_now(flow)
    assert first.status == RunStatus.SUCCEEDED and first.deleted == 0
    chairs = [p for p in pim_products(systems["pim"]) if p["family"] == "chairs" and p["enabled"]]
    gone = chairs[5]["identifier"]
    pim = systems["pim"].get_connector()
    try:
        assert pim.delete("products", [gone])[0].ok
    finally:
        pim.close()

    second = run_now(flow)
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert (second.deleted, second.created, second.updated) == (1, 0, 0)
    assert gone not in shop_products(systems["shop"], [c["identifier"] for c in chairs])
    assert not RecordLink.objects.filter(flow=flow, source_id=gone).exists()
    assert RecordLink.objects.filter(flow=flow).count() == len(chairs) - 1


def test_mirror_holds_back_deleting_most_of_the_target(systems, monkeypatch):
    flow = small_catalog()
    data = designer.definition_of(flow)
    data["write_mode"] = "mirror"
    flow = designer.save_flow(data, flow=flow)
    run_now(flow)
    from flows.connectors.akeneo import AkeneoConnector

    real_read = AkeneoConnector.read

    def read_first_page_only(self, entity, cursor=None, **kwargs):
        yield next(iter(real_read(self, entity, cursor, **kwargs)))

    monkeypatch.setattr(AkeneoConnector, "read", read_first_page_only)
    held = run_now(flow)
    assert held.deleted == 0 and "held back" in held.message
    assert RecordLink.objects.filter(flow=flow).count() > 20


def test_support_runs_backfills_and_retries_from_the_console(systems):
    from django.test import Client
    from django.urls import reverse

    from integration_hub.roles import SUPPORT
    from tests.factories import UserFactory

    flow = small_catalog()
    data = designer.definition_of(flow)
    data.update(sync_mode="incremental", cursor_field="updated")
    flow = designer.save_flow(data, flow=flow)
    support = Client()
    support.force_login(UserFactory(roles=[SUPPORT]))  # may run flows, may not edit them
    page = support.get(flow.get_absolute_url()).content.decode()
    assert 'id="run-now"' in page and 'id="backfill-form"' in page
    support.post(reverse("flows:flow_run", args=[flow.pk]))
    first = Run.objects.get(flow=flow)
    assert first.status == RunStatus.SUCCEEDED and first.requested_by is not None
    flow.refresh_from_db()
    cursor = flow.sync_cursor

    support.post(reverse("flows:flow_run", args=[flow.pk]), {"backfill_from": "2000-01-01"})
    backfill = Run.objects.filter(flow=flow).first()
    assert (backfill.trigger, backfill.cursor_before) == ("backfill", "2000-01-01")
    assert backfill.read == first.read  # everything changed since 2000
    flow.refresh_from_db()
    assert flow.sync_cursor == cursor  # not moved back

    response = support.post(reverse("flows:flow_run", args=[flow.pk]), {"backfill_from": "yesterday"})
    assert Run.objects.filter(flow=flow).count() == 2  # a bad date queues nothing…
    assert "YYYY-MM-DD" in support.get(response["Location"]).content.decode()  # …and says why

    response = support.post(reverse("flows:flow_run", args=[flow.pk]), {"retry_failed": "1"})
    assert "no failed record" in support.get(response["Location"]).content.decode()


def test_a_running_run_shows_its_progress_rate_and_time_left(systems):
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from integration_hub.roles import VIEWER
    from tests.factories import UserFactory

    flow = small_catalog()
    run = Run.objects.create(
        flow=flow, version=flow.current_version, trigger="manual", status=RunStatus.RUNNING,
        started=timezone.now() - timedelta(seconds=10), heartbeat=timezone.now(), read=400, expected=1000,
    )  # fmt: skip
    assert run.percent == 40 and 13 <= run.eta_seconds <= 16  # 40 records/s, 600 to go
    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    page = viewer.get(run.get_absolute_url() + "?part=body").content.decode()
    assert 'value="40" max="100"' in page and "400 of 1000 records read" in page and "left" in page
