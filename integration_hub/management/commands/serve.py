"""Run the console (ASGI: HTTP + websockets) and a django-q2 worker cluster in one foreground command."""

import os
import signal
import subprocess
import sys
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
            help="Also run the four sandbox systems (ports 8101-8104) the demo connects to.",
        )

    def handle(self, *args, host, port, no_worker, sandbox, **options):
        python = sys.executable
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
        if sandbox:
            data_dir = str(settings.DATA_DIR / "sandbox")
            commands["sandbox"] = [
                python,
                "-m",
                "sandbox",
                "serve",
                "--data-dir",
                data_dir,
                "--host",
                "127.0.0.1",
            ]
        procs = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}  # noqa: S603
        self.stdout.write(
            self.style.SUCCESS(f"Console at http://{host}:{port}  (Ctrl-C stops the console and the workers)")
        )

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
