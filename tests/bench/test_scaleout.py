"""The scale-out benchmark's harness (``bench/scaleout.py``) at tiny size: the ten record sets of the
bench source are the products the check expects, the servers' latency knob delays them, and the check
refuses a wrong result. Behaviour only: speed-ups are reported by ``make bench``, never asserted here."""

import time

import httpx

from bench import catalog, scaleout, servers

N = 3


def good_runs() -> list[dict]:
    run = {"status": "succeeded", "read": N, "created": N, "updated": 0, "failed": 0, "message": ""}
    return [{**run, "flow": f"set {k}"} for k in range(scaleout.FLOWS)]


def test_the_ten_sets_together_are_the_records_the_check_expects():
    with servers.running(N) as urls, httpx.Client() as client:
        mapped = []
        for entity in scaleout._entities()[0]:
            body = client.get(f"{urls['source']}{entity['path']}", params={"page": 1, "per_page": 100}).json()
            assert body["meta"] == {"total_pages": 1, "total": N}
            mapped += [catalog.map_record(r) for r in body["data"]]
            # What a client reads from a set is what the catalog makes of those numbers.
            assert body["data"] == [catalog.source_record(r["id"]) for r in body["data"]]
    assert len({m["sku"] for m in mapped}) == scaleout.FLOWS * N  # distinct sets
    total = 0
    for record in mapped:
        total = (total + catalog.record_digest(record)) % catalog.MOD
    assert f"{total:064x}" == catalog.expected_digest(scaleout.FLOWS * N)["digest"]


def test_the_latency_knob_delays_product_requests_only():
    with servers.running(N, latency_ms=300) as urls, httpx.Client() as client:
        start = time.perf_counter()
        client.get(f"{urls['source']}/sets/4/products").raise_for_status()
        read = time.perf_counter() - start
        start = time.perf_counter()
        client.post(f"{urls['target']}/products/batch", json={"items": [{"sku": "A"}]}).raise_for_status()
        write = time.perf_counter() - start
        assert client.get(f"{urls['target']}/stats").json()["written"] == 1
    assert read >= 0.3 and write >= 0.3


def test_the_check_accepts_the_right_result_and_names_each_wrong_one():
    expected = catalog.expected_digest(scaleout.FLOWS * N)
    target = {**expected, "written": expected["count"]}
    assert scaleout.problems(good_runs(), target, N, expected) == []

    failed = good_runs()
    failed[3] = {**failed[3], "status": "failed", "message": "The target refused the batch"}
    assert scaleout.problems(failed, target, N, expected) == [
        "run of set 3 ended failed: The target refused the batch"
    ]
    short = good_runs()
    short[0] = {**short[0], "read": N - 1, "created": N - 1}
    assert "run of set 0 read 2, wrote 2" in scaleout.problems(short, target, N, expected)[0]
    assert scaleout.problems(good_runs()[:-1], target, N, expected) == [f"9 runs instead of {scaleout.FLOWS}"]

    missing = {**catalog.expected_digest(scaleout.FLOWS * N - 1), "written": expected["count"] - 1}
    found = scaleout.problems(good_runs(), missing, N, expected)
    assert len(found) == 2 and "holds 29 records" in found[0] and "29 writes" in found[1]
    twice = {**target, "written": expected["count"] + 1}
    assert scaleout.problems(good_runs(), twice, N, expected) == ["the target took 31 writes for 30 records"]


def test_most_runs_at_once():
    assert scaleout.max_parallel([(0, 2), (1, 3), (2, 4), (2.5, 5)]) == 3
    assert scaleout.max_parallel([(0, 1), (1, 2), (2, 3)]) == 1  # one ends as the next starts
    assert scaleout.max_parallel([]) == 0


def test_the_table_says_which_targets_are_met_and_why_a_skip():
    assert scaleout.table({"skipped": "PostgreSQL unreachable at 127.0.0.1:5432"}) == [
        "7. scale-out: **skipped** — PostgreSQL unreachable at 127.0.0.1:5432"
    ]
    measurements = [
        {
            "workers": w,
            "records_per_s": r,
            "seconds": 1.0,
            "speedup": s,
            "max_parallel": w,
            "run_median_s": 0.5,
            "cluster_cpu_s": 9.0,
            "cpu_ms_per_record": 0.45,
        }
        for w, r, s in ((1, 100, 1.0), (2, 190, 1.9), (4, 250, 2.5))
    ]
    result = {
        "records": 2000,
        "rounds": 1,
        "postgres": "15",
        "database": "throwaway database on 127.0.0.1, Redis redis://x",
        "latencies": [
            {"latency_ms": 50.0, "measurements": measurements},
            {"latency_ms": 0.0, "measurements": measurements},
        ],
    }
    rows = [row for row in scaleout.table(result) if row.startswith("| 7.")]
    assert [row.rsplit("|", 3)[-3:-1] for row in rows] == [
        [" — ", " — "],
        [" ≥ 1.8x ", " yes "],
        [" ≥ 3.0x ", " **no** "],
        [" — ", " — "],
        [" — ", " — "],
        [" — ", " — "],
    ]
