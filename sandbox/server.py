"""Building and serving the stand-ins with uvicorn, several in one asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
from collections.abc import Generator
from typing import Any

import uvicorn

from .faults import FaultConfig

SYSTEMS = ("pim", "shop", "erp", "crm", "shopify", "woo")
PORT_OFFSETS = {"pim": 1, "shop": 2, "erp": 3, "crm": 4, "shopify": 5, "woo": 6}
BASE_PORT = 8101


def port_of(name: str, base_port: int = BASE_PORT) -> int:
    """The port of system ``name`` under ``python -m sandbox serve`` (8101 pim … 8106 woo)."""
    return base_port + PORT_OFFSETS.get(name, SYSTEMS.index(name) + 1) - 1


def build(name: str, *, store_path: str | None, seed: int, faults: FaultConfig | None = None, **options: Any):
    """The app of system ``name`` (one of ``SYSTEMS``)."""
    if name not in SYSTEMS:
        raise ValueError(f"unknown sandbox system {name!r}; expected one of {', '.join(SYSTEMS)}")
    module = importlib.import_module(f"sandbox.{name}")
    return module.create_app(store_path=store_path, seed=seed, faults=faults, **options)


def store_file(data_dir: str, name: str) -> str:
    os.makedirs(data_dir, exist_ok=True)
    return os.path.join(data_dir, f"{name}.sqlite3")


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its owner (several run in one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(
    app: Any, sock: socket.socket | None = None, host: str = "127.0.0.1", port: int = 0
) -> QuietServer:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
        backlog=2048,
    )
    return QuietServer(config)


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the listening
    # socket says so, and without it every small response waits ~40 ms for a delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


async def serve_all(servers: list[tuple[QuietServer, socket.socket]], activity: Any = None) -> None:
    """Serve until every server exits; ``activity`` (a :class:`sandbox.activity.Activity`) ticks meanwhile."""
    ticking = asyncio.create_task(activity.run()) if activity is not None else None
    try:
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    finally:
        if ticking is not None:
            ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticking
