"""The bulk-sync benchmark harness (``bench/bulk_sync.py``) with a few hundred records: the hub and both
hand-written baselines copy every record exactly, and the harness refuses a wrong copy. Behaviour
only: speed is reported by ``make bench``, never asserted here."""

import json

import httpx
import pytest

from bench import bulk_sync, catalog

RECORDS = 300


def test_the_source_fast_path_serves_the_reference_records():
    for i in (1, 2, 99, 1000, 999_999):
        for version in (0, 1, 2):
            assert json.loads(catalog.source_record_json(i, version)) == catalog.source_record(i, version)
    body = json.loads(catalog.source_page_json(3, 100, 250))
    assert body == {"data": catalog.source_page(3, 100, 250), "meta": {"total_pages": 3, "total": 250}}


def test_the_source_changes_one_percent_and_reads_from_a_cursor():
    """Scenario 3's source: ``mutate`` changes every 100th product (its mapped record differs and it is
    updated after every original), an incremental read from the first sync's cursor finds exactly
    those (and the products at the cursor itself), ``reset`` undoes it."""
    store = catalog.SourceStore(RECORDS, cache_limit=1_000)
    first = json.loads(store.page(1, 1000))["data"]
    cursor = max(r["updated_at"] for r in first)
    at_cursor = [r["id"] for r in first if r["updated_at"] == cursor]
    assert json.loads(store.page(1, 100, cursor))["meta"]["total"] == len(at_cursor) < 5

    assert store.mutate() == 3
    after = {r["id"]: r for r in json.loads(store.page(1, 1000))["data"]}
    differ = [
        i for i in after if catalog.map_record(after[i]) != catalog.map_record(catalog.source_record(i))
    ]
    assert differ == [100, 200, 300] and all(after[i]["updated_at"] > cursor for i in differ)
    since = json.loads(store.page(1, 100, cursor))
    assert sorted(r["id"] for r in since["data"]) == sorted([*at_cursor, 100, 200, 300])
    assert since["meta"] == {"total_pages": 1, "total": len(at_cursor) + 3}

    assert store.mutate() == 3  # a second change of the same products: changed again
    assert json.loads(store.page(2, 100))["data"][-1] == catalog.source_record(200, 2)
    store.reset()
    assert json.loads(store.page(3, 100))["data"] == catalog.source_page(3, 100, RECORDS)


def test_the_source_server_mutates_and_filters():
    from bench import servers

    with servers.running(RECORDS) as urls, httpx.Client() as client:
        assert client.post(f"{urls['source']}/mutate", json={}).json() == {"changed": 3}
        since = "2026-02-01T00:00:00+00:00"
        body = client.get(f"{urls['source']}/products", params={"updated_since": since, "per_page": 2}).json()
        assert [r["id"] for r in body["data"]] == [100, 200] and body["meta"] == {
            "total_pages": 2,
            "total": 3,
        }
        client.post(f"{urls['source']}/reset").raise_for_status()
        body = client.get(f"{urls['source']}/products", params={"updated_since": since}).json()
        assert body["data"] == [] and body["meta"]["total"] == 0


def test_the_reference_mapping_is_what_the_hub_flow_does():
    """The expected target content is computed with ``catalog.map_record``: it must be the flow's own
    mapping (the engine's transforms, sent as the engine sends them), not just the baselines'."""
    from flows.engine.mapping import CompiledFlow, wire

    flow = CompiledFlow({"mappings": catalog.MAPPINGS, "filters": [], "quality_rules": []})
    for i in range(1, 60):
        record = catalog.source_record(i)
        mapped = flow.map(record)
        assert mapped.ok, (mapped.errors, mapped.rule_failures)
        assert json.loads(json.dumps(wire(mapped.record))) == catalog.map_record(record)


def test_the_check_refuses_a_wrong_target():
    expected = catalog.expected_digest(3)
    good = {"target": {"count": 3, "digest": expected["digest"], "written": 3}}
    bulk_sync._check("hub", {"runs": [good, good]}, expected)
    wrong = {"target": {**good["target"], "digest": catalog.expected_digest(2)["digest"]}}
    with pytest.raises(AssertionError, match="holds"):
        bulk_sync._check("hub", {"runs": [wrong]}, expected)
    rewritten = {"target": {**good["target"], "written": 4}}
    with pytest.raises(AssertionError, match="nothing changed"):
        bulk_sync._check("hub", {"runs": [good, rewritten]}, expected)


def test_the_check_wants_exactly_the_changed_records_written():
    """Scenario 3: after 1 % changed, the target must hold the changed records and exactly that many
    writes must have happened — not fewer (a missed change), not more (records rewritten needlessly)."""
    expected = bulk_sync.expectations(RECORDS)
    assert expected["changed"] != expected["full"] != expected["changed_full"]

    def step(name, state, written, changed=0):
        return {"step": name, "changed": changed, "target": {**expected[state], "written": written}}

    runs = [
        step("full", "full", RECORDS),
        step("again", "full", RECORDS),
        step("cursor", "full", RECORDS),
        step("changed", "changed", RECORDS + 3, changed=3),
        step("changed_full", "changed_full", RECORDS + 6, changed=3),
    ]
    bulk_sync._check("hub", {"runs": runs}, expected)
    for wrong, message in (
        ({"target": {**runs[3]["target"], "written": RECORDS + 2}}, "exactly 3"),
        ({"target": {**runs[3]["target"], "written": RECORDS + 300}}, "exactly 3"),
        ({"target": {**expected["full"], "written": RECORDS + 3}}, "holds"),  # the change never arrived
    ):
        with pytest.raises(AssertionError, match=message):
            bulk_sync._check("hub", {"runs": [*runs[:3], {**runs[3], **wrong}]}, expected)


def test_hub_and_both_baselines_copy_every_record():
    seen = {}

    def inspect(urls):
        with httpx.Client() as client:
            for i in (1, 150, RECORDS):
                # The hub's last run followed a second change of every 100th product.
                source = catalog.source_record(i, 2 if i % catalog.CHANGE_EVERY == 0 else 0)
                seen[i] = (source, client.get(f"{urls['target']}/products/{source['sku']}").json())

    result = bulk_sync.run(
        records=RECORDS, rounds=1, page_size=100, memory_records=RECORDS, log=lambda *a: None, inspect=inspect
    )
    expected = bulk_sync.expectations(RECORDS)
    for mode in ("hub", "raw", "competent"):
        state = result["verified"][mode]
        assert {"count": state["count"], "digest": state["digest"]} == expected[state["step"]], mode
        assert result["memory"]["verified"][mode]["count"] == RECORDS, mode
    assert result["verified"]["hub"]["step"] == result["verified"]["competent"]["step"] == "changed_full"
    assert seen[RECORDS][1]["quantity"] != catalog.source_record(RECORDS)["stock"]  # the change arrived
    # The hub ran last: the target holds its records, mapped by the flow's transforms.
    for source, held in seen.values():
        assert held["sku"] == source["sku"] and held["id"].startswith("P")
        assert held["name"] == source["name"].strip() and held["brand"] == source["brand"].upper()
        assert held["price"] == float(source["price"]) and held["quantity"] == source["stock"]
    # A rerun with nothing changed writes nothing, one after 1 % changed exactly that 1 % (checked by
    # the harness), and the table is written.
    assert result["nothing_changed"]["hub"]["median_s"] > 0
    assert result["nothing_changed_cursor"]["hub"]["median_s"] > 0
    assert result["changed"]["records_changed"] == 3
    assert result["changed"]["cursor"]["target"] == 0.15
    rows = bulk_sync.table(result)
    assert any(row.startswith("| 4. peak RSS") for row in rows)
    assert any(row.startswith("| 3. 1 % changed (3 of 300), incremental cursor") for row in rows)
    assert any(row.startswith("| 2. nothing changed, incremental cursor") for row in rows)
