"""Workers killed with SIGKILL at random points of their runs.

Each round starts fresh sandboxes (shop, ERP) and a create-only flow, shop customers → ERP contacts,
matched by the hub's ID links alone (the ERP has no key the mapping fills: the hub stamps its reference
in the contact's ``ref``) — the flow where a crash between a write and its link would create a contact
twice. Runs of the round are killed one after the other, either at a random page and point of the run
(``HUB_TEST_CRASH_AT``: after a page was read, after the target accepted a write and before the links
were saved, after a page was committed) or by a timer at a random moment once the run is running; then
a last run completes. Afterwards the ERP's own API must list each customer exactly once, the links
must point at those contacts, every killed run must be ``interrupted``, and the run after it must have
resumed from its last committed page.

CI kills at least 3 workers; ``make soak`` at least 20. ``HUB_SOAK_SEED`` replays a sequence.
"""

import os
import random
import signal
import time

import pytest

from flows import blueprints, designer
from flows.demo import ensure_demo_systems
from flows.models import Flow, RecordLink, Run, RunLogLine, RunStatus, System
from sandbox.testing import running
from tests.live import wait_for
from tests.soak import summary
from tests.soak.runs import assert_counters_add_up, hub_run, start_hub_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

POINTS = ("page_read", "after_write", "page_committed")
PAGES = 5  # 500 customers, 100 a page


def read_all(system, entity) -> list[dict]:
    connector = system.get_connector()
    try:
        return [r for page in connector.read(entity) for r in page.records]
    finally:
        connector.close()


def create_only_contacts():
    data = blueprints.definition_for("customers", name="Customers to ERP, create only")
    data.update(
        target_system="erp",
        target_entity="partners",
        sync_mode="full",
        cursor_field="",
        match_strategy="links",
        source_key="",
        target_key="",
        write_mode="create",
        quality_rules=[],
        mappings=[
            {"target": "name", "source": "lastname", "transforms": [{"op": "trim"}], "personal": "name"},
            {"target": "city", "source": "addresses.0.city", "transforms": [], "personal": "address"},
        ],
    )
    return designer.save_flow(data)


def kill_by_hook(flow, rng) -> bool:
    point, nth = rng.choice(POINTS), rng.randint(1, PAGES)
    done = hub_run(flow, crash_at=f"{point}:{nth}")
    if done.returncode == 0:
        return False  # the run ended before it reached that point: nothing was killed
    assert done.returncode == -signal.SIGKILL, done.stdout + done.stderr
    return True


def kill_by_timer(flow, rng) -> bool:
    before = set(Run.objects.filter(flow=flow).values_list("pk", flat=True))
    proc = start_hub_run(flow, HUB_RUN_STALE_AFTER="1")
    try:
        run = wait_for(
            lambda: (
                Run.objects.filter(flow=flow, status=RunStatus.RUNNING).exclude(pk__in=before).first()
                or (proc.poll() is not None and "ended")
            ),
            timeout=120,
            message="the run to start",
        )
        if run == "ended":
            return False
        time.sleep(rng.uniform(0.0, 2.0))
        if proc.poll() is not None:
            return False
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        run.refresh_from_db()
        return run.status == RunStatus.RUNNING  # it did not finish in the meantime
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()


def check_round(flow, systems) -> tuple[int, int, int]:
    """(records checked, lost, duplicates) in the ERP, and the links."""
    customers = read_all(systems["shop"], "customers")
    stamped = [p for p in read_all(systems["erp"], "partners") if str(p.get("ref") or "").startswith("hub:")]
    by_ref: dict[str, list] = {}
    for partner in stamped:
        by_ref.setdefault(partner["ref"], []).append(partner["id"])
    expected = {f"hub:shop:customers:{c['id']}" for c in customers}
    lost = len(expected - set(by_ref))
    duplicates = sum(len(ids) - 1 for ids in by_ref.values()) + len(set(by_ref) - expected)
    links = {link.source_id: link.target_id for link in RecordLink.objects.filter(flow=flow)}
    assert links == {
        str(c["id"]): str(by_ref[f"hub:shop:customers:{c['id']}"][0])
        for c in customers
        if f"hub:shop:customers:{c['id']}" in by_ref
    }
    return len(customers), lost, duplicates


def check_resumed(flow, killed: list[int]) -> None:
    """Each killed run is interrupted, and the run after it resumed from its last committed page."""
    runs = list(Run.objects.filter(flow=flow).order_by("pk"))
    for index, run in enumerate(runs):
        if run.pk not in killed:
            continue
        assert run.status == RunStatus.INTERRUPTED, (run.pk, run.status)
        following = runs[index + 1]
        started = RunLogLine.objects.filter(run=following, event="run.started").get()
        assert started.context.get("resume") == bool(run.resume), (run.pk, run.resume, started.context)
        if run.resume:
            assert "resuming an interrupted run" in started.message


def fresh_round(urls):
    RecordLink.objects.all().delete()
    Flow.objects.all().delete()
    System.objects.all().delete()
    return {s.slug: s for s in ensure_demo_systems(urls=urls)}


@pytest.mark.parametrize(
    "kills", [pytest.param(3, id="3"), pytest.param(20, id="20", marks=pytest.mark.soak)]
)
def test_workers_killed_at_random_points_lose_and_duplicate_nothing(kills, request):
    seed = int(os.environ.get("HUB_SOAK_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    print(f"HUB_SOAK_SEED={seed}")
    killed_total = checked = lost = duplicates = rounds = runs = 0
    modes: dict[str, int] = {}
    while killed_total < kills:
        rounds += 1
        assert rounds <= kills * 3, f"only {killed_total} workers killed in {rounds - 1} rounds (seed {seed})"
        with running(["shop", "erp"]) as urls:
            systems = fresh_round(urls)
            flow = create_only_contacts()
            killed = []
            for _kill in range(rng.randint(1, 3)):
                before = set(Run.objects.filter(flow=flow).values_list("pk", flat=True))
                kill = kill_by_hook if rng.random() < 0.5 else kill_by_timer
                if not kill(flow, rng):
                    break
                modes[kill.__name__] = modes.get(kill.__name__, 0) + 1
                killed += list(
                    Run.objects.filter(flow=flow).exclude(pk__in=before).values_list("pk", flat=True)
                )
                time.sleep(1.2)  # its heartbeat is now older than HUB_RUN_STALE_AFTER
            done = hub_run(flow)
            assert done.returncode == 0, done.stdout + done.stderr
            last = Run.objects.filter(flow=flow).order_by("-pk").first()
            assert last.status == RunStatus.SUCCEEDED, last.message
            for run in Run.objects.filter(flow=flow):
                assert_counters_add_up(run)
            check_resumed(flow, killed)
            n, round_lost, round_duplicates = check_round(flow, systems)
            killed_total += len(killed)
            runs += Run.objects.filter(flow=flow).count()
            checked += n
            lost += round_lost
            duplicates += round_duplicates
            assert (round_lost, round_duplicates) == (0, 0), f"seed {seed}, round {rounds}, killed {killed}"
    summary.record(
        request.node.name,
        runs_killed=killed_total,
        runs=runs,
        records_checked=checked,
        records_lost=lost,
        duplicates=duplicates,
    )
    summary.note(request.node.name, seed=seed, rounds=rounds, kills_by=modes)
