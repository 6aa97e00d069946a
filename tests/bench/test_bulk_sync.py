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
        assert json.loads(catalog.source_record_json(i)) == catalog.source_record(i)
    body = json.loads(catalog.source_page_json(3, 100, 250))
    assert body == {"data": catalog.source_page(3, 100, 250), "meta": {"total_pages": 3, "total": 250}}


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


def test_hub_and_both_baselines_copy_every_record():
    seen = {}

    def inspect(urls):
        with httpx.Client() as client:
            for i in (1, 150, RECORDS):
                source = catalog.source_record(i)
                seen[i] = (source, client.get(f"{urls['target']}/products/{source['sku']}").json())

    result = bulk_sync.run(
        records=RECORDS, rounds=1, page_size=100, memory_records=RECORDS, log=lambda *a: None, inspect=inspect
    )
    expected = catalog.expected_digest(RECORDS)
    for mode in ("hub", "raw", "competent"):
        state = result["verified"][mode]
        assert {"count": state["count"], "digest": state["digest"]} == expected, mode
        assert result["memory"]["verified"][mode]["count"] == RECORDS, mode
    # The hub ran last: the target holds its records, mapped by the flow's transforms.
    for source, held in seen.values():
        assert held["sku"] == source["sku"] and held["id"].startswith("P")
        assert held["name"] == source["name"].strip() and held["brand"] == source["brand"].upper()
        assert held["price"] == float(source["price"]) and held["quantity"] == source["stock"]
    # A rerun with nothing changed writes nothing (checked by the harness) and the table is written.
    assert result["nothing_changed"]["hub"]["median_s"] > 0
    rows = bulk_sync.table(result)
    assert any(row.startswith("| 4. peak RSS") for row in rows)
