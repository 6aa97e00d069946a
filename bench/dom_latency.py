"""Scenario 5: an event published in a worker process updates the DOM of a console page in a browser.

Hub path: worker process → ``realtime.send_now`` → channel layer (embedded channels-lite SQLite layer,
then Redis) → uvicorn → the page's websocket → ``static/hub/hub.js`` dispatches ``hub:hub.ping`` on
document.body → a listener the bench adds to the page (``page.add_init_script``) writes the token into
the DOM and records the time, then the time of the next animation frame (the update on screen).

Clocks: the publisher stamps each event with ``time.time()``; the page reads
``performance.timeOrigin + performance.now()``. Same machine, same wall clock (sub-millisecond).

Baseline, same run, same events: a websocket client without a browser (the scenario of
``bench/realtime_latency.py``) connected as the same user to the same server, so each event is
measured twice and the browser's share (``dom - websocket``) is visible per event.

Targets (issue "Performance", scenario 5): p95 < 1 s embedded, < 300 ms with Redis.
"""

import asyncio
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import websockets

from bench import prep
from bench.realtime_latency import _env, _python
from tests.live import asgi_server

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
TARGETS_MS = {"embedded": 1000, "redis": 300}

# Capture phase on document: hub.js dispatches a non-bubbling CustomEvent on document.body.
LISTENER = """
(() => {
  window.__bench = [];
  const now = () => performance.timeOrigin + performance.now();
  document.addEventListener("hub:hub.ping", (ev) => {
    const handled = now();
    const payload = (ev.detail && ev.detail.payload) || {};
    if (!String(payload.token || "").startsWith("bench-")) return;
    let box = document.getElementById("bench-last-ping");
    if (!box) {
      box = document.createElement("output");
      box.id = "bench-last-ping";
      document.body.appendChild(box);
    }
    box.textContent = payload.token;
    const sample = { token: payload.token, sent: payload.t, dom: handled, frame: null };
    window.__bench.push(sample);
    requestAnimationFrame(() => { sample.frame = now(); });
  }, true);
})();
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]  # nearest rank


def summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(percentile(ms, 0.95), 1),
        "max_ms": round(max(ms), 1),
    }


def _prepare(env: dict) -> dict:
    """Bootstrap a fresh data dir, create a Viewer and a logged-in session for it."""
    prep.bootstrapped(Path(env["HUB_DATA_DIR"]), env)  # ``manage.py bootstrap``, or a copy of one
    out = _python(
        [
            "-c",
            "import django; django.setup()\n"
            "from django.conf import settings\n"
            "from django.contrib.auth import get_user_model\n"
            "from django.contrib.auth.models import Group\n"
            "from django.test import Client\n"
            "from integration_hub.roles import VIEWER, ensure_roles\n"
            "ensure_roles()\n"
            "u = get_user_model().objects.create_user('bench', password='x')\n"
            "u.groups.add(Group.objects.get(name=VIEWER))\n"
            "c = Client(); c.force_login(u)\n"
            "print(u.pk, settings.SESSION_COOKIE_NAME, c.cookies[settings.SESSION_COOKIE_NAME].value)",
        ],
        env,
    ).stdout.split()
    return {"user": int(out[0]), "cookie_name": out[1], "session": out[2]}


class _SocketClient(threading.Thread):
    """The baseline: a plain websocket client of the same user, in a thread with its own loop."""

    def __init__(self, base: str, cookie: str, count: int):
        super().__init__(daemon=True)
        self.base, self.cookie, self.count = base, cookie, count
        self.ready = threading.Event()
        self.arrived: dict[str, float] = {}
        self.error: BaseException | None = None

    def run(self):
        try:
            asyncio.run(self._receive())
        except BaseException as exc:  # reported by the caller
            self.error = exc
            self.ready.set()

    async def _receive(self):
        url = self.base.replace("http://", "ws://") + "/ws/live/"
        async with websockets.connect(
            url, additional_headers={"Cookie": self.cookie, "Origin": self.base}
        ) as ws:
            await ws.recv()  # hello: subscribed
            self.ready.set()
            while len(self.arrived) < self.count:
                event = json.loads(await asyncio.wait_for(ws.recv(), 60))
                if event["type"] == "hub.ping":
                    self.arrived[event["payload"]["token"]] = time.time()


def measure(redis_url: str | None, count: int, *, interval: float = 0.1, page_path: str = "/status/") -> dict:
    """Publish ``count`` events to one user; latencies in ms of the page's DOM, its next frame and the
    plain websocket client, for the same events."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = _env(Path(tmp), redis_url)
        login = _prepare(env)
        with asgi_server(env=env) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_cookies([{"name": login["cookie_name"], "value": login["session"], "url": base}])
                context.add_init_script(LISTENER)
                page = context.new_page()
                response = page.goto(base + page_path)
                if response is None or not response.ok or "/login" in page.url:
                    raise RuntimeError(
                        f"{page_path} did not open logged in: {page.url} {response and response.status}"
                    )
                # hub.js marks the page live once the server has subscribed its connection.
                page.wait_for_selector('#live-status[data-state="live"]', state="attached", timeout=30_000)
                cookie = f"{login['cookie_name']}={login['session']}"
                client = _SocketClient(base, cookie, count)
                client.start()
                client.ready.wait(30)
                if client.error:
                    raise client.error
                publisher = _publish(login["user"], count, interval, env)
                deadline = time.monotonic() + count * interval * 2 + 30
                samples = []
                while time.monotonic() < deadline:
                    samples = page.evaluate("window.__bench.filter(s => s.frame !== null)")
                    if len(samples) >= count:
                        break
                    page.wait_for_timeout(250)
                publisher.wait(30)
                client.join(30)
                if client.error:
                    raise client.error
            finally:
                browser.close()
    if len(samples) < count:
        raise RuntimeError(f"the page handled {len(samples)} of {count} events")
    dom = [s["dom"] - s["sent"] * 1000 for s in samples]
    frame = [s["frame"] - s["sent"] * 1000 for s in samples]
    socket = [
        (client.arrived[s["token"]] - s["sent"]) * 1000 for s in samples if s["token"] in client.arrived
    ]
    share = [s["dom"] - client.arrived[s["token"]] * 1000 for s in samples if s["token"] in client.arrived]
    return {
        "dom": summary(dom),
        "frame": summary(frame),
        "websocket": summary(socket),
        "browser_share": summary(share),
    }


def _publish(user_id: int, count: int, interval: float, env: dict):
    import subprocess

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.publisher",
            "hub",
            "--user",
            str(user_id),
            "--count",
            str(count),
            "--interval",
            str(interval),
        ],
        cwd=ROOT,
        env=env,
    )


def run(count: int = 200, redis_url: str | None = None, *, interval: float = 0.1) -> list[dict]:
    if not Path(CHROMIUM).exists():
        raise SystemExit(
            f"scenario 5 drives Debian's Chromium at {CHROMIUM}, which is not installed: "
            "apt-get install chromium (make bench does it when it may), or leave it out with --only"
        )
    results = []
    backends = [("embedded", None, "embedded (channels-lite SQLite layer)")]
    if redis_url:
        backends.append(("redis", redis_url, "Redis (channels_redis)"))
    for key, url, label in backends:
        m = measure(url, count, interval=interval)
        target = TARGETS_MS[key]
        results.append(
            {
                "scenario": f"5. publish → browser DOM, {label}",
                "backend": key,
                "events": count,
                **m,
                "target": f"p95 < {target} ms",
                "met": m["dom"]["p95_ms"] < target,
            }
        )
    return results


def table(results: list[dict]) -> list[str]:
    rows = [
        "| scenario | DOM handled p50 / p95 | next frame p50 / p95 | baseline: websocket client p50 / p95 "
        "| browser's share p50 / p95 | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rows.append(
            f"| {r['scenario']} ({r['events']} events) | {r['dom']['p50_ms']} / {r['dom']['p95_ms']} ms "
            f"| {r['frame']['p50_ms']} / {r['frame']['p95_ms']} ms "
            f"| {r['websocket']['p50_ms']} / {r['websocket']['p95_ms']} ms "
            f"| {r['browser_share']['p50_ms']} / {r['browser_share']['p95_ms']} ms "
            f"| {r['target']} | {'yes' if r['met'] else '**no**'} |"
        )
    return rows
