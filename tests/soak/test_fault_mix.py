"""The fault mix over a large sync: both servers answer 10 % of requests with a 5xx, 5 % with a 429, let
2 % time out and cut 1 % of their JSON answers in half. Runs are repeated until one is not failed (a
read that stays broken through the retries stops a run; the next starts over, skipping what is
unchanged). The target also refuses about 1 % of the products for good (a business rule). Every run's
counters must add up, every record must be in the target or in the failed records with its reason —
none lost, none twice — and once the faults stop, one more run must leave the target exactly equal to
the source but for the refused products, which wait in triage with the target's reason.

CI runs 2,000 records; ``make soak`` 100,000.
"""

import pytest

from flows.models import FailedRecord, Run, RunStatus
from tests.soak import summary
from tests.soak.catalog import Server, Source, Target, expected_digests, hub_objects, refused
from tests.soak.runs import assert_counters_add_up, hub_run

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

FAULTS = {"error_rate": 0.10, "rate_limit_rate": 0.05, "timeout_rate": 0.02, "malformed_rate": 0.01}
NO_FAULTS = dict.fromkeys(FAULTS, 0.0)
MAX_RUNS = 12
REFUSE_EVERY = 97  # the target refuses about 1 % of the products, for good: they stay in triage


def target_state(target: Server) -> dict:
    import httpx

    return httpx.get(f"{target.url}/_catalog/state", timeout=120).json()


def check_target(target: Server, expected: dict[str, str], waiting: set[str]) -> dict:
    """Lost: a source record neither in the target nor waiting in the failed records. Duplicates: a
    record created twice, or one the source never had. Wrong: delivered with other values."""
    state = target_state(target)
    lost = sorted(sku for sku in expected if sku not in state and sku not in waiting)
    duplicates = sum(entry["creates"] - 1 for entry in state.values()) + sum(
        1 for sku in state if sku not in expected
    )
    wrong = sorted(
        sku for sku, entry in state.items() if sku in expected and entry["digest"] != expected[sku]
    )
    return {"lost": lost, "duplicates": duplicates, "wrong": wrong, "delivered": len(state)}


@pytest.mark.parametrize(
    ("records", "page_size"),
    [
        pytest.param(2_000, 100, id="2k"),
        pytest.param(100_000, 1_000, id="100k", marks=pytest.mark.soak),
    ],
)
def test_every_record_is_delivered_or_in_triage_under_the_fault_mix(records, page_size, request):
    # A timed-out request waits 2 s on the server; the hub gives up after 1 s and tries again.
    source = Server("source", Source(records), seed=11, timeout_s=2.0, **FAULTS).start()
    target = Server("target", Target(refuse_every=REFUSE_EVERY), seed=12, timeout_s=2.0, **FAULTS).start()
    try:
        flow = hub_objects(source.url, target.url, page_size=page_size, timeout=1)
        runs = []
        for _attempt in range(MAX_RUNS):
            done = hub_run(flow)
            run = Run.objects.filter(flow=flow).order_by("-pk").first()
            assert run is not None and run.status != RunStatus.RUNNING, done.stdout + done.stderr
            runs.append(run)
            if run.status != RunStatus.FAILED:
                break
            # A failed run says why, in words (not a traceback).
            assert run.message and "Traceback" not in run.message, run.message
        assert runs[-1].status in (RunStatus.SUCCEEDED, RunStatus.PARTIAL), [
            (r.status, r.message) for r in runs
        ]
        for run in runs:
            assert_counters_add_up(run)

        injected = {}
        for server in (source, target):
            for kind, count in server.stats()["faults"].items():
                injected[kind] = injected.get(kind, 0) + count
        assert injected.get("error") and injected.get("rate_limit") and injected.get("timeout"), injected
        if records >= 100_000:
            assert injected.get("malformed"), injected

        expected = expected_digests(range(1, records + 1))
        refused_skus = {sku for sku in expected if refused(sku, REFUSE_EVERY)}
        open_failures = list(FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"]))
        for failure in open_failures:  # each with its reason, as triage shows it
            assert failure.message and failure.error_class and failure.stage, failure
        waiting = {f"SKU-{int(f.source_id):07d}" for f in open_failures if f.source_id.isdigit()}
        assert all(f.source_id.isdigit() for f in open_failures), [f.source_id for f in open_failures]
        under_faults = check_target(target, expected, waiting)
        assert under_faults["lost"] == [], f"{len(under_faults['lost'])} records lost"
        assert under_faults["duplicates"] == 0
        assert under_faults["wrong"] == []
        assert sum(r.failed for r in runs) >= len(open_failures)
        assert refused_skus <= waiting  # never delivered, and each in triage with the target's reason
        for failure in open_failures:
            if f"SKU-{int(failure.source_id):07d}" in refused_skus:
                assert failure.stage == "write" and "cannot be sold" in failure.message, failure.message

        # The faults stop: the next run delivers what waited; the target then holds every source record
        # but the ones it refuses, which are still in triage.
        source.set_faults(**NO_FAULTS)
        target.set_faults(**NO_FAULTS)
        done = hub_run(flow)
        last = Run.objects.filter(flow=flow).order_by("-pk").first()
        assert last.status == RunStatus.PARTIAL, (last.message, done.stdout + done.stderr)
        assert_counters_add_up(last)
        assert last.failed == len(refused_skus)
        still_open = FailedRecord.objects.filter(flow=flow, status__in=["open", "retrying"])
        assert {f"SKU-{int(i):07d}" for i in still_open.values_list("source_id", flat=True)} == refused_skus
        final = check_target(target, expected, refused_skus)
        assert final == {"lost": [], "duplicates": 0, "wrong": [], "delivered": records - len(refused_skus)}

        summary.record(
            request.node.name,
            runs=len(runs) + 1,
            records_checked=records,
            records_lost=len(final["lost"]) + len(under_faults["lost"]),
            duplicates=final["duplicates"] + under_faults["duplicates"],
            faults_injected=injected,
        )
        summary.note(
            request.node.name,
            statuses=[r.status for r in runs] + [last.status],
            waiting_in_triage_under_faults=len(open_failures),
            refused_by_the_target=len(refused_skus),
            failed_records_over_the_runs=sum(r.failed for r in runs),
        )
    finally:
        source.stop()
        target.stop()
