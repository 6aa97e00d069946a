"""The data health report of an entity: duplicates (case and whitespace variants included), missing
required fields, stale and undated records, capped examples, the CSV rows, and a 100k-record stream read
in a few seconds within bounded memory."""

import csv
import io
import json
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from flows.engine.health import (
    analyse,
    months_before,
    parse_datetime,
    records_from_pages,
    report_csv_rows,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def contacts():
    """A small CRM: three duplicated addresses (one three times), holes, old and undated records."""
    return [
        {"id": 1, "email": "jane@example.com", "name": "Jane", "updated": "2026-10-01T10:00:00Z"},
        {"id": 2, "email": "  JANE@example.com ", "name": "Jane D.", "updated": "2026-09-01 10:11:12"},
        {"id": 3, "email": "john@example.com", "name": "", "updated": "2024-01-02 10:11:12"},
        {"id": 4, "email": "John@Example.com", "name": "John", "updated": 1704189072000},
        {"id": 5, "email": "jane@example.com", "name": None, "updated": "2020-05-05"},
        {"id": 6, "email": None, "name": "Nobody", "updated": "not a date"},
        {"id": 7, "email": "solo@example.com", "name": "Solo"},
        {"id": 8, "email": "ann  smith@example.com", "name": "Ann", "updated": "2026-11-01T00:00:00+01:00"},
        {"id": 9, "email": "Ann Smith@example.com", "name": "Ann", "updated": "2025-11-28T00:00:00Z"},
    ]


def test_duplicates_ignore_case_and_spaces():
    report = analyse(contacts(), id_path="id", key_path="email", now=NOW)
    assert report.scanned == 9
    assert report.key_missing == 1
    assert report.distinct_keys == 4  # jane, john, ann smith, solo
    assert report.duplicate_groups == 3
    assert report.duplicate_records == 7
    assert report.duplicate_extra == 4
    groups = {tuple(g.ids): (g.key, g.count) for g in report.duplicate_examples}
    assert groups == {
        (1, 2, 5): ("jane@example.com", 3),
        (3, 4): ("john@example.com", 2),
        (8, 9): ("ann smith@example.com", 2),  # the key as compared
    }


def test_exact_keys_when_not_normalised():
    report = analyse(contacts(), id_path="id", key_path="email", normalise_key=False, now=NOW)
    assert report.duplicate_groups == 1
    assert [g.ids for g in report.duplicate_examples] == [[1, 5]]


def test_composite_keys_and_numbers_equal_their_text():
    records = [
        {"id": "a", "first": "Jane", "last": "Doe"},
        {"id": "b", "first": "jane ", "last": "DOE"},
        {"id": "c", "first": "Jane", "last": "Dove"},
        {"id": "d", "first": "Jane", "last": ""},
    ]
    report = analyse(records, id_path="id", key_path=("first", "last"))
    assert (report.duplicate_groups, report.key_missing) == (1, 1)
    assert report.duplicate_examples[0].ids == ["a", "b"]
    assert report.duplicate_examples[0].key == ["jane", "doe"]
    skus = analyse(
        [{"id": 1, "sku": 42}, {"id": 2, "sku": "42"}, {"id": 3, "sku": 42.5}], id_path="id", key_path="sku"
    )
    assert skus.duplicate_groups == 1


def test_missing_required_fields():
    report = analyse(contacts(), id_path="id", required=("email", "name", "phone"), now=NOW)
    assert report.missing_by_field == {"email": 1, "name": 2, "phone": 9}
    assert report.incomplete_records == 9
    assert [e.id for e in report.missing_examples["name"]] == [3, 5]
    assert [e.id for e in report.missing_examples["email"]] == [6]
    only_name = analyse(contacts(), id_path="id", required=("name",))
    assert only_name.incomplete_records == 2


def test_stale_and_undated_records():
    report = analyse(contacts(), id_path="id", updated_path="updated", stale_months=12, now=NOW)
    assert report.stale_before == datetime(2025, 11, 27, 12, 0, tzinfo=UTC)
    # 3 (2024-01-02), 4 (epoch ms, 2024-01-02), 5 (2020-05-05); 9 is one day inside the window.
    assert report.stale == 3
    assert [(e.id, e.value) for e in report.stale_examples] == [
        (3, "2024-01-02 10:11:12"),
        (4, 1704189072000),
        (5, "2020-05-05"),
    ]
    assert report.undated == 2
    assert [(e.id, e.value) for e in report.undated_examples] == [(6, "not a date"), (7, None)]
    assert report.oldest_update == datetime(2020, 5, 5, tzinfo=UTC)
    assert report.newest_update == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    recent = analyse(contacts(), id_path="id", updated_path="updated", stale_months=1, now=NOW)
    assert recent.stale == 6


def test_no_checks_asked_only_counts():
    report = analyse(iter(contacts()), id_path="id")
    assert report.scanned == 9
    assert (report.duplicate_groups, report.incomplete_records, report.stale, report.undated) == (0, 0, 0, 0)
    assert report.stale_before is None


def test_records_without_an_id_are_counted():
    report = analyse([{"email": "a"}, {"id": "", "email": "A"}], id_path="id", key_path="email")
    assert report.without_id == 2
    assert report.duplicate_examples[0].ids == [None, None]


def test_examples_are_capped():
    records = (
        {"id": i, "email": f"user{i % 50}@example.com", "updated": "2001-01-01", "name": ""}
        for i in range(1000)
    )
    report = analyse(
        records, id_path="id", key_path="email", required=("name",), updated_path="updated", examples=3
    )
    assert report.duplicate_groups == 50
    assert report.duplicate_records == 1000
    assert len(report.duplicate_examples) == 3
    assert all(len(g.ids) == 3 and g.count == 20 for g in report.duplicate_examples)
    assert report.duplicate_examples[0].ids == [0, 50, 100]
    assert report.missing_by_field == {"name": 1000}
    assert len(report.missing_examples["name"]) == 3
    assert (report.stale, len(report.stale_examples)) == (1000, 3)
    assert len(list(report_csv_rows(report))) == 1 + 9 + 3 + 3


def test_no_examples():
    report = analyse(contacts(), id_path="id", key_path="email", required=("name",), examples=0)
    assert report.duplicate_groups == 3
    assert report.duplicate_examples == []
    assert report.missing_examples == {"name": []}


def test_as_dict_is_json_safe():
    records = [*contacts(), {"id": 10, "email": "jane@example.com", "updated": datetime(2019, 1, 1)}]
    report = analyse(
        records, id_path="id", key_path="email", required=("name",), updated_path="updated", now=NOW
    )
    data = json.loads(json.dumps(report.as_dict()))
    assert data["scanned"] == 10
    assert data["duplicates"]["groups"] == 3
    assert data["duplicates"]["examples"][0] == {"key": "jane@example.com", "ids": [1, 2, 5, 10], "count": 4}
    assert data["missing"] == {"records": 3, "by_field": {"name": 3}, "examples": {"name": [3, 5, 10]}}
    assert data["stale"]["records"] == 4
    assert data["stale"]["examples"][-1] == {"id": 10, "value": "2019-01-01T00:00:00"}
    assert data["stale"]["before"] == "2025-11-27T12:00:00+00:00"
    assert data["now"] == "2026-11-27T12:00:00+00:00"


def test_csv_rows():
    report = analyse(
        contacts(), id_path="id", key_path="email", required=("name",), updated_path="updated", now=NOW
    )
    rows = list(report_csv_rows(report))
    assert rows[0] == ["problem", "id", "field", "value", "detail"]
    assert ["duplicate", "2", "email", "jane@example.com", "3 records share this value"] in rows
    assert ["missing", "3", "name", "", "no value"] in rows
    assert ["stale", "4", "updated", "1704189072000", "not updated since 2024-01-02"] in rows
    assert ["undated", "6", "updated", "not a date", "update date not readable"] in rows
    assert ["undated", "7", "updated", "", "no update date"] in rows
    problems = [row[0] for row in rows[1:]]
    assert problems.count("duplicate") == 7
    assert problems.count("missing") == 2
    assert problems.count("stale") == 3
    assert problems.count("undated") == 2
    assert all(isinstance(cell, str) for row in rows for cell in row)
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    assert len(list(csv.reader(io.StringIO(buffer.getvalue())))) == len(rows)


def test_csv_defuses_formulas():
    records = [{"id": "=cmd()", "k": "@SUM(A1)"}, {"id": "-2", "k": "@sum(a1)"}]
    rows = list(report_csv_rows(analyse(records, id_path="id", key_path="k")))
    assert rows[1][1:4] == ["'=cmd()", "k", "'@sum(a1)"]
    assert rows[2][1] == "-2"  # a number stays a number


def test_records_from_pages():
    pages = [
        SimpleNamespace(records=[{"id": 1}, {"id": 2}]),
        SimpleNamespace(records=[]),
        SimpleNamespace(records=[{"id": 3}]),
    ]
    assert analyse(records_from_pages(pages), id_path="id").scanned == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-02T10:11:12Z", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025-01-02T10:11:12.123456Z", datetime(2025, 1, 2, 10, 11, 12, 123456, tzinfo=UTC)),
        ("2025-01-02T11:11:12+01:00", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025-01-02T11:11:12+0100", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025-01-02 10:11:12", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025-01-02 10:11:12 UTC", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025/1/2 10:11:12", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("2025-01-02", datetime(2025, 1, 2, tzinfo=UTC)),
        (" 2025-01-02 ", datetime(2025, 1, 2, tzinfo=UTC)),
        (1735812672, datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        (1735812672000, datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("1735812672000", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("/Date(1735812672000)/", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("Thu, 02 Jan 2025 10:11:12 GMT", datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        (date(2025, 1, 2), datetime(2025, 1, 2, tzinfo=UTC)),
        (datetime(2025, 1, 2, 10, 11, 12), datetime(2025, 1, 2, 10, 11, 12, tzinfo=UTC)),
        ("02/01/2025", None),
        ("yesterday", None),
        ("", None),
        (None, None),
        (True, None),
        (42, None),
        (float("nan"), None),
        ({"at": "2025-01-02"}, None),
    ],
)
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


def test_months_before_clamps_the_day():
    assert months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert months_before(datetime(2024, 3, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(2024, 12, 15, tzinfo=UTC)
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 0) == datetime(2026, 1, 15, tzinfo=UTC)


# -- streaming ------------------------------------------------------------------------------------

COUNT = 100_000


def generated(count: int):
    """A generator: records exist one at a time, as they do when pages stream from a connector."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for i in range(count):
        yield {
            "id": f"contact-{i:06d}",
            # one record in 20 repeats an earlier address, in another case with spaces around
            "email": (f" USER{i - 7}@Example.com " if i % 20 == 19 else f"user{i}@example.com"),
            "name": "" if i % 10 == 0 else f"Name {i}",
            "company": {"name": "Acme"} if i % 3 else {},
            "updated_at": (start + timedelta(hours=i)).strftime("%Y-%m-%d %H:%M:%S"),
        }


def run(records, **options):
    return analyse(
        records,
        id_path="id",
        required=("name", "company.name", "phone"),
        updated_path="updated_at",
        now=NOW,
        **options,
    )


def measure(records, **options):
    """The report, the seconds it took and the peak traced memory (tracemalloc slows Python about four times, so
    speed is timed on a separate pass without it)."""
    tracemalloc.start()
    try:
        report = run(records(), **options)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    started = time.perf_counter()
    run(records(), **options)
    return report, time.perf_counter() - started, peak


@pytest.mark.timing
def test_streaming_100k_records_in_bounded_memory():
    report, elapsed, peak = measure(lambda: generated(COUNT), key_path="email")
    assert report.scanned == COUNT
    assert report.duplicate_groups == COUNT // 20
    assert report.duplicate_records == 2 * (COUNT // 20)
    assert report.distinct_keys == COUNT - COUNT // 20
    assert report.missing_by_field == {"name": COUNT // 10, "company.name": 33_334, "phone": COUNT}
    cutoff_hours = (report.stale_before - datetime(2020, 1, 1, tzinfo=UTC)) / timedelta(hours=1)
    assert report.stale == min(COUNT, int(cutoff_hours) + (cutoff_hours % 1 > 0))
    assert len(report.duplicate_examples) == 10
    # The key map (a digest and the first id per distinct key, ~95k keys here) is what grows.
    assert peak < 40 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
    # Record generation (strftime…) is included: the analysis alone is faster.
    assert elapsed < 5, f"{elapsed:.1f} s"
    print(
        f"\nhealth with duplicates: {COUNT / elapsed:,.0f} records/s, peak {peak / 1e6:.1f} MB (tracemalloc)"
    )


def test_streaming_without_a_key_keeps_memory_flat():
    count = COUNT // 2
    report, elapsed, peak = measure(lambda: generated(count))
    assert report.scanned == count
    assert report.stale == count
    # Counters and capped examples only: the same for 50k records as for 50.
    assert peak < 1024 * 1024, f"peak {peak / 1e3:.0f} kB"
    print(
        f"\nhealth without duplicates: {count / elapsed:,.0f} records/s, peak {peak / 1e3:.0f} kB (tracemalloc)"
    )
