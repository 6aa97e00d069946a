"""Real processes for tests: a live ASGI server (uvicorn) and a django-q2 worker cluster.

They run with ``HUB_TEST_SUBPROCESS=1`` so that they open the test databases this process created
(see tests/settings.py). Data a test wants them to see must be committed: use ``transactional_db``.
"""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subprocess_env(**extra) -> dict:
    env = dict(os.environ)
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", HUB_TEST_SUBPROCESS="1", PYTHONUNBUFFERED="1")
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(extra)
    return env


def _stop(proc: subprocess.Popen, timeout: float = 10, *, group: bool = False) -> str:
    """Stop ``proc`` (SIGTERM, then SIGKILL after ``timeout``). ``group``: it leads a session of its
    own (``start_new_session``) whose every process is killed at the end — a worker cluster's workers
    must never outlive it: they would go on taking the next tests' tasks from the same queue."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if group:
        with suppress(ProcessLookupError):  # every process of the session has ended
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.stdout.read() if proc.stdout else ""


class _Tail:
    """The last lines a server wrote, read as they come by a thread."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: deque[str] = deque(maxlen=500)
        # HUB_TEST_SERVER_LOG=<file>: also append every line there (to read a server's errors after a run).
        self.copy = os.environ.get("HUB_TEST_SERVER_LOG")
        self.thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self.thread.start()

    def _read(self, out) -> None:
        copy = open(self.copy, "a", encoding="utf-8") if self.copy else None  # noqa: SIM115
        try:
            for line in out:
                self.lines.append(line)
                if copy:
                    copy.write(line)
                    copy.flush()
        finally:
            if copy:
                copy.close()

    def text(self) -> str:
        self.thread.join(timeout=5)
        return "".join(self.lines)


def _pump(proc: subprocess.Popen) -> _Tail:
    """Read a server's output as it comes: a long session (a line per HTTP request of every run) would
    fill the pipe and block the server in the middle of its work. The last lines are kept for errors."""
    tail = _Tail(proc)
    proc.stdout = None  # read by the pump only (_stop must not read it too)
    return tail


@contextmanager
def asgi_server(timeout: float = 60, env: dict | None = None):
    """Start uvicorn on a free port; yields its base URL once /healthz answers.

    ``env`` defaults to the test subprocess environment; the benchmarks pass their own.
    """
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "integration_hub.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env or subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    tail = _pump(proc)
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"ASGI server exited with {proc.returncode}:\n{tail.text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"ASGI server did not answer within {timeout}s:\n{tail.text()}")
            time.sleep(0.2)
        yield url
    finally:
        _stop(proc)


@contextmanager
def worker_cluster():
    """Start ``manage.py qcluster`` (one worker) in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    tail = _pump(proc)
    try:
        time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError(f"worker cluster exited with {proc.returncode}:\n{tail.text()}")
        yield proc
    finally:
        _stop(proc, timeout=15, group=True)


def wait_for(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


@contextmanager
def serve_in_thread(app, timeout: float = 10):
    """Serve an ASGI ``app`` with uvicorn in a background thread on a free port; yields its base URL."""
    import threading

    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
