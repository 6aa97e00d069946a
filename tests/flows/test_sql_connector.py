"""The PostgreSQL connector against a real PostgreSQL (the machine's, on 127.0.0.1:5432): keyset paging,
incremental reads, read-only queries, batched upserts with one bad row, and plain-words failures."""

import os
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from flows.connectors.base import ConnectionSettings, WriteMode
from flows.connectors.errors import ConfigError, RecordError
from flows.connectors.sql import PostgresConnector

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DB = f"hub_sqlconn_{os.getpid()}"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _admin():
    return psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=3, **PG)


try:
    _admin().close()
    PG_AVAILABLE = True
except psycopg.OperationalError:
    PG_AVAILABLE = False

pytestmark = [
    pytest.mark.skipif(not PG_AVAILABLE, reason="PostgreSQL SKIPPED: nothing answers on 127.0.0.1:5432"),
    pytest.mark.django_db,
]


@pytest.fixture(scope="module")
def database():
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}"')
        admin.execute(f'CREATE DATABASE "{DB}"')
    with psycopg.connect(dbname=DB, autocommit=True, **PG) as conn:
        conn.execute(
            "CREATE TABLE products (id serial PRIMARY KEY, sku text UNIQUE NOT NULL, name text NOT NULL, "
            "price numeric(10,2) CHECK (price >= 0), attrs jsonb, updated_at timestamptz NOT NULL)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO products (sku, name, price, updated_at) VALUES (%s, %s, %s, %s)",
                [
                    (f"SKU-{i:05d}", f"Product {i}", i % 50, START + timedelta(minutes=i))
                    for i in range(1, 1235)
                ],
            )
    yield DB
    with _admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')


ENTITIES = [
    {
        "key": "products",
        "table": "public.products",
        "id_field": "id",
        "cursor_field": "updated_at",
        "natural_keys": ["sku"],
        "conflict": ["sku"],
    },
    {
        "key": "cheap",
        "query": "SELECT id, sku, price, updated_at FROM products WHERE price < 10",
        "id_field": "id",
        "cursor_field": "updated_at",
    },
]


def connector(database, **overrides):
    params = {**PG, "database": database, "sslmode": "disable", "page_size": 100, "entities": ENTITIES}
    params.update(overrides.pop("params", {}))
    overrides.setdefault("system_id", None)
    return PostgresConnector(
        ConnectionSettings(name="pg", params=params, secrets={"password": "x"}, **overrides)
    )


def read_all(conn, key, **kwargs):
    pages = list(conn.read(key, **kwargs))
    return pages, [r for p in pages for r in p.records]


def test_keyset_paging_reads_every_row_once(database):
    pages, rows = read_all(connector(database), "products")
    assert len(rows) == 1234 and len({r["id"] for r in rows}) == 1234
    assert len(pages) == 13 and not pages[-1].has_more
    assert rows[0]["price"] == 1 and isinstance(rows[0]["updated_at"], str)


def test_resume_from_a_cursor_and_incremental_since(database):
    conn = connector(database)
    first = next(iter(conn.read("products")))
    _, rest = read_all(conn, "products", cursor=first.cursor)
    assert len(first.records) + len(rest) == 1234
    since = (START + timedelta(minutes=1200)).isoformat()
    _, recent = read_all(conn, "products", since=since)
    # The bound is inclusive: rows stamped with that very instant are read again, never missed.
    assert [r["sku"] for r in recent] == [f"SKU-{i:05d}" for i in range(1200, 1235)]


def test_rows_written_during_a_read_are_not_skipped(database):
    conn = connector(database)
    reader = conn.read("products", since=(START + timedelta(minutes=1100)).isoformat())
    first = next(reader)
    with psycopg.connect(dbname=database, autocommit=True, **PG) as other:
        other.execute("UPDATE products SET name = 'moved', updated_at = now() WHERE sku = 'SKU-01101'")
    later = [r for p in reader for r in p.records]
    assert "SKU-01101" in {r["sku"] for r in first.records} | {r["sku"] for r in later}
    assert any(r["sku"] == "SKU-01101" and r["name"] == "moved" for r in later)


def test_query_entities_are_read_only(database):
    _, cheap = read_all(connector(database), "cheap")
    assert cheap and all(r["price"] < 10 for r in cheap)
    evil = [{"key": "evil", "query": "SELECT setval('products_id_seq', 1) AS id", "id_field": "id"}]
    with pytest.raises(ConfigError, match="read-only"):
        read_all(connector(database, params={"entities": evil}), "evil")
    sneaky = [
        {
            "key": "sneaky",
            "query": "WITH d AS (DELETE FROM products RETURNING *) SELECT * FROM d",
            "id_field": "id",
        }
    ]
    with pytest.raises(ConfigError, match="refused"):
        read_all(connector(database, params={"entities": sneaky}), "sneaky")
    assert len(read_all(connector(database), "products")[1]) >= 1234
    with pytest.raises(ConfigError, match="is a query"):
        connector(database).write("cheap", [{"sku": "x"}])


def test_batched_upsert_with_one_bad_row(database):
    conn = connector(database)
    results = conn.write(
        "products",
        [
            {"sku": "SKU-00001", "name": "Renamed", "price": 5, "updated_at": datetime.now(UTC)},
            {"sku": "NEW-1", "name": "Brand new", "price": -3, "updated_at": datetime.now(UTC)},
            {
                "sku": "NEW-2",
                "name": "Also new",
                "price": 7,
                "attrs": {"colour": "red"},
                "updated_at": datetime.now(UTC),
            },
        ],
    )
    assert [r.ok for r in results] == [True, False, True]
    assert results[0].action == "updated" and results[2].action == "created"
    assert isinstance(results[1].error, RecordError) and "price_check" in results[1].error.message
    found = {r["sku"]: r for r in conn.lookup("products", "sku", ["SKU-00001", "NEW-1", "NEW-2"])}
    assert set(found) == {"SKU-00001", "NEW-2"} and found["NEW-2"]["attrs"] == {"colour": "red"}
    assert (
        conn.write(
            "products",
            [{"sku": "NEW-2", "name": "again", "updated_at": datetime.now(UTC)}],
            mode=WriteMode.CREATE,
        )[0].ok
        is False
    )
    assert (
        conn.write(
            "products", [{"sku": "NOPE", "name": "x", "updated_at": datetime.now(UTC)}], mode=WriteMode.UPDATE
        )[0].ok
        is False
    )
    assert conn.delete("products", [found["NEW-2"]["id"]])[0].ok
    assert conn.fetch("products", [found["NEW-2"]["id"]]) == []


def test_names_from_configuration_cannot_inject_sql(database):
    from flows.connectors.sql import validate_entities

    assert "not a valid table" in validate_entities([{"key": "x", "table": "products; DROP TABLE products"}])
    assert "must be a SELECT" in validate_entities([{"key": "x", "query": "DELETE FROM products"}])
    bad = [{"key": "x", "table": "products", "id_field": 'id" OR 1=1 --'}]
    with pytest.raises(ConfigError, match="not a valid"):
        read_all(connector(database, params={"entities": bad}), "x")


def test_plain_words_failures(database, settings):
    assert connector(database).check().ok
    unknown_user = connector(database, params={"user": "no_such_role_xyz"}).check()
    assert not unknown_user.ok and unknown_user.kind == "auth"
    refused = connector(database, params={"port": 1}).check()
    assert not refused.ok and refused.kind == "refused"
    missing = connector("no_such_db_xyz").check()
    assert not missing.ok and missing.kind == "config" and "does not exist" in missing.message
    settings.HUB_OUTBOUND_ALLOWED_HOSTS = ["localhost"]
    blocked = connector(database).check()
    assert not blocked.ok and "not allowed" in blocked.message


def test_discover_infers_the_columns(database):
    entities = {e.key: e for e in connector(database).discover()}
    fields = {f.name: f.type for f in entities["products"].fields}
    assert fields["id"] == "integer" and fields["updated_at"] == "datetime" and fields["sku"] == "string"


@pytest.mark.django_db(transaction=True)
def test_concurrency_budget_holds(database):
    """Four threads, one slot: queries never overlap, and every thread gets its turn."""
    in_slot, peak, done, errors = [0], [0], [], []
    lock = threading.Lock()

    def worker():
        try:
            conn = connector(database, system_id=88, max_concurrency=1)
            with conn.budget.slot():
                with lock:
                    in_slot[0] += 1
                    peak[0] = max(peak[0], in_slot[0])
                threading.Event().wait(0.05)
                with lock:
                    in_slot[0] -= 1
            read_all(conn, "products", limit=3)
            conn.close()
            done.append(1)
        except Exception as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(done) == 4 and peak[0] == 1


def test_odd_columns_null_cursors_and_one_bad_row_alone(database):
    with psycopg.connect(dbname=database, autocommit=True, **PG) as conn:
        conn.execute(
            "CREATE TABLE parents (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), code text UNIQUE, "
            "seen time, addr inet, updated_at timestamptz)"
        )
        conn.execute("CREATE TABLE kids (id serial PRIMARY KEY, parent uuid REFERENCES parents(id))")
        conn.execute(
            "INSERT INTO parents (code, seen, addr, updated_at) VALUES ('a', '10:00', '10.0.0.1', NULL), "
            "('b', NULL, NULL, NULL), ('c', '11:00', NULL, now()), ('50%', NULL, NULL, now())"
        )
        conn.execute("INSERT INTO kids (parent) SELECT id FROM parents WHERE code = 'a'")
    entities = [
        {
            "key": "parents",
            "table": "parents",
            "id_field": "id",
            "cursor_field": "updated_at",
            "conflict": ["code"],
        },
        {"key": "percent", "query": "SELECT * FROM parents WHERE code LIKE '50%'", "id_field": "id"},
    ]
    conn = connector(database, params={"entities": entities, "page_size": 1})
    _, rows = read_all(conn, "parents")
    assert sorted(r["code"] for r in rows) == ["50%", "a", "b", "c"]  # rows with no cursor value too
    assert {r["seen"] for r in rows} >= {"10:00:00"} and "10.0.0.1" in {r["addr"] for r in rows}
    assert [r["code"] for r in read_all(conn, "percent")[1]] == ["50%"]
    a_id = next(r["id"] for r in rows if r["code"] == "a")
    assert [r["code"] for r in conn.fetch("parents", [a_id])] == ["a"]
    results = conn.write("parents", [{"code": "d"}, {"code": "e", "no_such_column": 1}, {"code": "f"}])
    assert [r.ok for r in results] == [True, False, True]
    deleted = conn.delete("parents", [a_id, next(r["id"] for r in rows if r["code"] == "b")])
    assert [r.ok for r in deleted] == [False, True]  # "a" is still referenced by a kid
    assert "foreign key" in deleted[0].error.message
