"""Run the console (ASGI: HTTP + websockets) and a django-q2 worker cluster in one foreground command."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the console with uvicorn and start a worker cluster; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HUB_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("HUB_PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Serve the console only.")
        parser.add_argument(
            "--sandbox",
            action="store_true",
            help=(
                "Also run the sandbox systems (ports 8101 and up) the demo connects to, with business "
                "activity, and register the hub's webhook address in the sandbox shop."
            ),
        )
        parser.add_argument(
            "--sandbox-activity",
            type=float,
            default=float(os.environ.get("SANDBOX_ACTIVITY_SECONDS") or 20),
            metavar="SECONDS",
            help="With --sandbox: a new shop order, ERP stock moves and PIM edits every SECONDS (0: none; "
            "default 20, env SANDBOX_ACTIVITY_SECONDS).",
        )

    def handle(self, *args, host, port, no_worker, sandbox, sandbox_activity, **options):
        python = sys.executable
        procs = {}
        if sandbox:
            # First, so that the flows' first scheduled runs find the systems up.
            data_dir = str(settings.DATA_DIR / "sandbox")
            procs["sandbox"] = subprocess.Popen(  # noqa: S603
                [python, "-m", "sandbox", "serve", "--data-dir", data_dir, "--host", "127.0.0.1"]
                + (["--activity", f"{sandbox_activity:g}"] if sandbox_activity > 0 else [])
            )
            self.wait_for_sandbox(procs["sandbox"])
        commands = {
            "web": [
                python,
                "-m",
                "uvicorn",
                "integration_hub.asgi:application",
                "--host",
                host,
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--no-server-header",
            ],
        }
        if not no_worker:
            commands["worker"] = [python, "manage.py", "qcluster"]
        procs.update({name: subprocess.Popen(cmd) for name, cmd in commands.items()})  # noqa: S603
        self.stdout.write(
            self.style.SUCCESS(f"Console at http://{host}:{port}  (Ctrl-C stops the console and the workers)")
        )
        wiring_stop = threading.Event()
        if sandbox:
            from flows.demo import run_demo_wiring

            local = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost", "127.0.0.1") else host  # noqa: S104
            threading.Thread(
                target=run_demo_wiring,
                args=(f"http://{local}:{port}", wiring_stop, self.stdout.write),
                name="demo-wiring",
                daemon=True,
            ).start()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the rest.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.3)
        finally:
            wiring_stop.set()
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 15
            for proc in procs.values():
                try:
                    proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
        if exit_code:
            sys.exit(exit_code)

    def wait_for_sandbox(self, proc, ports=None, timeout: float = 120.0) -> None:
        """Until every sandbox port accepts connections (the first start seeds the stores: seconds)."""
        if ports is None:
            from sandbox.server import SYSTEMS, port_of

            ports = [port_of(name) for name in SYSTEMS]
        deadline = time.monotonic() + timeout
        waiting = list(ports)
        while waiting and time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", waiting[0]), timeout=1):
                    waiting.pop(0)
            except OSError:
                time.sleep(0.2)
        if waiting:
            self.stderr.write(
                f"The sandbox does not answer on port {waiting[0]} yet; starting the rest anyway."
            )
