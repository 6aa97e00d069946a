"""Scenario 6 (``bench/console_lists.py``) end to end with a few thousand rows on PostgreSQL: the data is
written, every list page answers for both users, its queries are counted and the baseline query runs.
Behaviour only: speed is reported by ``make bench``, never asserted here."""

import pytest

from bench import console_lists

ROWS = 2_000


@pytest.fixture(scope="module")
def result():
    out = console_lists.run(runs=ROWS, failures=ROWS, repeats=2, log=lambda line: None)
    if "skipped" in out:
        pytest.skip(out["skipped"])
    return out


def test_every_page_is_measured_for_both_users(result):
    assert (result["runs"], result["failed_records"]) == (ROWS, ROWS)
    users = {p["user"] for p in result["pages"]}
    assert users == {"Integration admin", "Support (grants on 2 of 8 flows)"}
    labels = {p["page"] for p in result["pages"]}
    assert {"runs: first page", "failures of one flow (open, first page)"} <= labels
    assert any(label.startswith("runs: deep page") for label in labels)
    for page in result["pages"]:
        assert page["hub"]["n"] == 2 and page["baseline"]["n"] == 2
        assert 0 < page["hub"]["p50_ms"] <= page["hub"]["p95_ms"]
        assert page["baseline"]["p50_ms"] > 0
        assert page["sql_ms"] > 0 and page["slowest_query_ms"] <= page["sql_ms"]
        assert page["queries"] > 0 and page["slowest_query"]


def test_the_runs_list_costs_the_same_queries_on_every_page(result):
    """LazyPaginator: no COUNT(*), so a deep page asks no more queries than the first one."""
    for user in {p["user"] for p in result["pages"]}:
        runs = {
            p["page"]: p["queries"]
            for p in result["pages"]
            if p["user"] == user and p["page"].startswith("runs:")
        }
        first = runs["runs: first page"]
        deep = next(v for k, v in runs.items() if k.startswith("runs: deep page"))
        assert deep <= first + 1, runs


def test_the_table_reports_each_page_and_the_data_size(result):
    rows = console_lists.table(result)
    assert sum(1 for row in rows if row.startswith("| runs: first page |")) == 2
    assert any(f"{ROWS:,} runs and {ROWS:,} failed records" in row for row in rows)


def test_an_unreachable_server_is_skipped_with_the_reason():
    out = console_lists.run("postgres://postgres@127.0.0.1:1/postgres", runs=10, failures=10, repeats=1)
    assert out["skipped"].startswith("PostgreSQL unreachable at 127.0.0.1:1")
    assert console_lists.table(out) == [f"Scenario 6 skipped: {out['skipped']}"]
