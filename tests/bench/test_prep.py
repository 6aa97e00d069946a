"""What ``make bench`` prepares once and copies (``bench/prep.py``): a copied data directory and a
database made from the migrated template are as usable as freshly bootstrapped/migrated ones, and the
templates are gone after ``cleanup()``."""

import sqlite3
from pathlib import Path

import pytest

from bench import prep
from bench.console_lists import DEFAULT_SERVER, _with_db
from bench.realtime_latency import _env


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_second_data_directory_is_a_copy_of_the_first_bootstrap(tmp_path, monkeypatch):
    prep.cleanup()  # no template left by an earlier test of this process
    calls = []
    real = prep._bootstrap
    monkeypatch.setattr(prep, "_bootstrap", lambda d, env: (calls.append(d), real(d, env)))
    try:
        first, second = tmp_path / "one", tmp_path / "two"
        for data_dir in (first, second):
            prep.bootstrapped(data_dir, _env(data_dir, None))
        assert len(calls) == 1  # the template, bootstrapped once
        for data_dir in (first, second):
            tables = _tables(data_dir / "hub.sqlite3")
            assert {"flows_flow", "flows_run", "auth_group", "django_migrations"} <= tables
            assert (data_dir / "encryption.key").exists()
            with sqlite3.connect(data_dir / "hub.sqlite3") as db:
                assert db.execute("SELECT count(*) FROM auth_group").fetchone()[0] > 0  # the roles
        # Each copy is a database of its own.
        with sqlite3.connect(first / "hub.sqlite3") as db:
            db.execute("DELETE FROM auth_group_permissions")
            db.execute("DELETE FROM auth_group")
        with sqlite3.connect(second / "hub.sqlite3") as db:
            assert db.execute("SELECT count(*) FROM auth_group").fetchone()[0] > 0
        template = calls[0]
    finally:
        prep.cleanup()
    assert not template.exists()


def test_throwaway_databases_come_migrated_from_one_template():
    psycopg = pytest.importorskip("psycopg")
    server = _with_db(DEFAULT_SERVER, "postgres")
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL: {exc}")
    names = ["hub_test_prep_a", "hub_test_prep_b"]
    try:
        for name in names:
            prep.postgres_database(server, name)
        template = prep._pg_templates[server]
        for name in names:
            with psycopg.connect(_with_db(server, name)) as conn:
                applied = conn.execute(
                    "SELECT count(*) FROM django_migrations WHERE app = 'flows'"
                ).fetchone()
                assert applied[0] > 0
                assert conn.execute("SELECT to_regclass('flows_failedrecord')").fetchone()[0] is not None
    finally:
        prep.cleanup()
        with psycopg.connect(server, autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", [template]).fetchone()
    assert left[0] == 0
