"""The document store, both backends."""

import pytest

from sandbox.store import MemoryStore, SQLiteStore


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "s.sqlite3"))
    yield s
    s.close()


def test_put_get_delete_and_stamps(store):
    a = store.put("thing", "a", {"v": 1})
    b = store.put("thing", "b", {"v": 2})
    assert a["updated_at"] < b["updated_at"] and b["updated_at"].endswith("Z")
    again = store.put("thing", "a", {"v": 3})
    assert again["updated_at"] > b["updated_at"]
    assert store.get("thing", "a")["v"] == 3
    assert store.count("thing") == 2
    assert store.delete("thing", "a") is True and store.delete("thing", "a") is False
    assert store.get("thing", "a") is None and store.count("thing") == 1


def test_scans(store):
    stamps = {}
    for n in (5, 1, 3, 2, 4):
        stamps[n] = store.put("n", n, {"n": n})["updated_at"]
    assert [d["n"] for d in store.scan_by_id("n")] == [1, 2, 3, 4, 5]
    assert [d["n"] for d in store.scan_by_id("n", after=2, limit=2)] == [3, 4]
    assert [d["n"] for d in store.scan_by_id("n", limit=2, offset=3)] == [4, 5]
    assert [d["n"] for d in store.scan_by_updated("n")] == [5, 1, 3, 2, 4]
    assert [d["n"] for d in store.scan_by_updated("n", since=stamps[3])] == [2, 4]
    assert [d["n"] for d in store.scan_by_updated("n", since=stamps[3], inclusive=True)] == [3, 2, 4]
    assert [d["n"] for d in store.scan_by_updated("n", after=(stamps[1], 1), limit=2)] == [3, 2]
    assert store.count("n", since=stamps[3]) == 2
    assert [d["n"] for d in store.iter_by_id("n", after=3)] == [4, 5]
    assert [d["n"] for d in store.iter_by_updated("n", since=stamps[2])] == [4]
    store.put("n", 1, {"n": 1})
    assert [d["n"] for d in store.scan_by_updated("n", since=stamps[4])] == [1]
    assert store.max_id("n") == 5


def test_bulk_seed_then_writes_stay_ordered(store):
    store.put_many(
        "s",
        [("x", {"k": 1}), ("y", {"k": 2})],
        stamps=["2025-01-01T00:00:00.000000Z", "2025-01-02T00:00:00.000000Z"],
    )
    later = store.put("s", "x", {"k": 3})
    assert later["updated_at"] > "2025-01-02"
    assert [d["k"] for d in store.scan_by_updated("s")] == [2, 3]
    store.set_meta("seeded", 42)
    assert store.get_meta("seeded") == 42 and store.get_meta("missing", "d") == "d"


def test_sqlite_keeps_the_clock_across_reopen(tmp_path):
    path = str(tmp_path / "c.sqlite3")
    first = SQLiteStore(path)
    stamp = first.put("e", 1, {})["updated_at"]
    first.close()
    second = SQLiteStore(path)
    assert second.get("e", 1)["updated_at"] == stamp
    assert second.put("e", 2, {})["updated_at"] > stamp
    second.close()
