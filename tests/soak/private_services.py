"""A private PostgreSQL and a private Redis for the restart tests: each in a temporary folder, on a free
port of 127.0.0.1, started, restarted and stopped by the test. The machine's shared services (5432,
6379) are never touched.

PostgreSQL refuses to run as root: under root, its commands run as the ``postgres`` user (``runuser``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.live import free_port


def pg_bindir() -> Path | None:
    try:
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    except (OSError, subprocess.CalledProcessError):
        pass
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PrivatePostgres:
    def __init__(self):
        bindir = pg_bindir()
        if bindir is None:
            raise FileNotFoundError("PostgreSQL's initdb was not found (pg_config --bindir)")
        self.bin = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hub-soak-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_user = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            self.root.chmod(0o700)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, check=True, cwd=self.root
        )

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def start(self) -> PrivatePostgres:
        if not (self.data / "PG_VERSION").exists():
            self._run(
                str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
            )
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start"
        )
        return self

    def restart(self, down_seconds: float = 0) -> None:
        """Stop (every connection is cut), stay down ``down_seconds``, start again."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        time.sleep(down_seconds)
        self.start()

    def createdb(self, name: str) -> None:
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def query(self, dbname: str, sql: str, params=()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(dbname), connect_timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(
                str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60
            )
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    """``redis-server`` without persistence on its own port: a restart empties it, as a crash of a
    cache-only Redis does."""

    def __init__(self):
        self.exe = shutil.which("redis-server")
        if self.exe is None:
            raise FileNotFoundError("redis-server was not found")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hub-soak-redis-"))
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> PrivateRedis:
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    return self
            except redis.RedisError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.1)

    def restart(self, down_seconds: float = 0) -> None:
        self.stop_process()
        time.sleep(down_seconds)
        self.start()

    def stop_process(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self) -> None:
        self.stop_process()
        shutil.rmtree(self.root, ignore_errors=True)
