"""Run sandbox servers from tests: ``with running("pim") as url: ...``.

The servers run in a background thread (one asyncio loop, one uvicorn server per system) on
ephemeral ports of 127.0.0.1, and stop when the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

from .faults import FaultConfig
from .server import SYSTEMS, QuietServer, bind, build, make_server, serve_all, store_file


@contextlib.contextmanager
def running(
    names: str | list[str] | tuple[str, ...] = SYSTEMS,
    *,
    memory: bool = True,
    seed: int = 42,
    data_dir: str | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    startup_timeout: float = 20.0,
    activity: float | None = None,
    **fault_kwargs: Any,
) -> Iterator[Any]:
    """Start the named system(s); yield the base URL (one name) or ``{name: url}`` (several).

    - ``memory=True``: in-memory stores seeded from ``seed``; ``memory=False`` needs ``data_dir``
      (SQLite files ``<data_dir>/<name>.sqlite3``, seeded on first use, kept afterwards).
    - ``options``: per-system factory options, e.g. ``{"pim": {"max_limit": 1000}}``.
    - any other keyword is a fault knob (:class:`sandbox.faults.FaultConfig`), e.g.
      ``latency_ms=50`` or ``error_rate=1.0``; unset knobs default to zero (the environment's
      ``SANDBOX_*`` fault variables are ignored here, so tests are not disturbed by them).
    - ``activity``: seconds between ticks of demo activity (:mod:`sandbox.activity`); off by default
      (``SANDBOX_ACTIVITY_SECONDS`` is ignored here too).
    """
    single = isinstance(names, str)
    wanted = [names] if isinstance(names, str) else list(names)
    if not memory and not data_dir:
        raise ValueError("running(memory=False) needs data_dir")
    faults = FaultConfig().updated(fault_kwargs)
    apps = {}
    for name in wanted:
        path = None if memory else store_file(data_dir, name)  # type: ignore[arg-type]
        apps[name] = build(name, store_path=path, seed=seed, faults=faults, **(options or {}).get(name, {}))

    pairs: list[tuple[QuietServer, Any]] = []
    urls = {}
    for name, app in apps.items():
        sock = bind("127.0.0.1", 0)
        pairs.append((make_server(app), sock))
        urls[name] = f"http://127.0.0.1:{sock.getsockname()[1]}"

    failure: list[BaseException] = []
    ticker = None
    if activity:
        from .activity import Activity

        ticker = Activity(apps, activity, seed=seed)

    def run() -> None:
        try:
            asyncio.run(serve_all(pairs, ticker))
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"sandbox-{'-'.join(wanted)}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not all(server.started for server, _ in pairs):
        if failure or not thread.is_alive():
            raise RuntimeError(
                f"sandbox servers failed to start: {failure[0] if failure else 'thread ended'}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError("sandbox servers did not start in time")
        time.sleep(0.01)
    try:
        yield urls[wanted[0]] if single else urls
    finally:
        for server, _ in pairs:
            server.should_exit = True
        thread.join(timeout=10)
        for app in apps.values():
            app.close()


def stored_mentions(data_dir: str, name: str, text: str) -> list[tuple[str, Any]]:
    """``(entity, id)`` of every document of system ``name``'s store that contains ``text`` (without
    case), read straight from its SQLite file (``running(memory=False, data_dir=...)``): what the
    system's storage still holds about a person, beyond what its API shows."""
    path = store_file(data_dir, name)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT entity, id FROM docs WHERE instr(lower(doc), lower(?)) > 0 OR instr(lower(id), lower(?)) > 0"
            " ORDER BY entity, id",
            (text, text),
        ).fetchall()
    finally:
        db.close()
    return [(entity, ident) for entity, ident in rows]
