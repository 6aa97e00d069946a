"""Preparation that several scenarios of one ``make bench`` share, made once and copied.

- ``bootstrapped(data_dir, env)``: a data directory as ``manage.py bootstrap`` leaves it (the embedded
  SQLite databases migrated, roles and taxonomy seeded, the keys written). The first call for a
  configuration (embedded channel layer, or Redis) runs the command into a template directory; later
  calls copy that template. The sync, latency and DOM scenarios each started from a bootstrap of their
  own (five in all, ~10 s of CPU each); now two run. With a ``DATABASE_URL`` (PostgreSQL for the hub)
  the command always runs: a copy of files would not carry that database.
- ``postgres_database(server, name)``: a throwaway PostgreSQL database, already migrated: the first
  call migrates a template database, later ones are ``CREATE DATABASE … TEMPLATE`` (a file copy on the
  server). Scenarios 6 and 7 each migrated their own. ``cleanup()`` drops the template.

What a scenario then measures is unchanged: the same schema and seed rows, made once.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
_templates: dict[tuple, Path] = {}
_pg_templates: dict[str, str] = {}  # server URL → template database name
_tmp: tempfile.TemporaryDirectory | None = None


def _tmp_root() -> Path:
    global _tmp
    if _tmp is None:
        _tmp = tempfile.TemporaryDirectory(prefix="bench-templates-")
        atexit.register(cleanup)
    return Path(_tmp.name)


def _bootstrap(data_dir: Path, env: dict) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "bootstrap"],
        cwd=ROOT,
        env={**env, "HUB_DATA_DIR": str(data_dir)},
        check=True,
        capture_output=True,
        text=True,
    )


def bootstrapped(data_dir: Path, env: dict) -> None:
    """Make ``data_dir`` (empty or missing) a freshly bootstrapped data directory for ``env``."""
    if env.get("DATABASE_URL"):
        _bootstrap(data_dir, env)
        return
    key = (bool(env.get("REDIS_URL")), env.get("HUB_CHANNELS_DB", ""))
    template = _templates.get(key)
    if template is None:
        template = _tmp_root() / f"data-{len(_templates)}"
        _bootstrap(template, env)
        _templates[key] = template
    shutil.copytree(template, data_dir, dirs_exist_ok=True)


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def postgres_database(server: str, name: str) -> None:
    """Create ``name`` on ``server`` (a URL to its ``postgres`` database), migrated: a copy of a template
    migrated once per process. Raises ``psycopg.OperationalError`` when the server cannot be reached."""
    import psycopg

    template = _pg_templates.get(server)
    with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if template is None:
            template = f"hub_bench_template_{os.getpid()}"
            conn.execute(f'DROP DATABASE IF EXISTS "{template}"')
            conn.execute(f'CREATE DATABASE "{template}"')
            _pg_templates[server] = template  # dropped by cleanup() even if the migration fails
            atexit.register(cleanup)
            env = dict(os.environ)
            env.update(
                DJANGO_SETTINGS_MODULE="integration_hub.settings",
                DATABASE_URL=_with_db(server, template),
                HUB_DATA_DIR=str(_tmp_root() / "pg-migrate"),
                HUB_NAMESPACE=f"benchtemplate{os.getpid()}",
                PYTHONPATH=str(ROOT),
            )
            env.pop("REDIS_URL", None)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--database", "default", "--verbosity", "0"],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def cleanup() -> None:
    """Drop the template databases and remove the template directories (also at exit)."""
    global _tmp
    if _pg_templates:
        import psycopg

        for server, template in list(_pg_templates.items()):
            try:
                with psycopg.connect(server, autocommit=True, connect_timeout=3) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            except psycopg.Error:
                pass
            _pg_templates.pop(server, None)
    if _tmp is not None:
        _tmp.cleanup()
        _tmp = None
    _templates.clear()
