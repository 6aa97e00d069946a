import secrets
import time

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache
from django_q.tasks import async_task

from integration_hub import health
from integration_hub.decorators import public


@public
@never_cache
def healthz(request):
    """The process is alive (no dependency is checked)."""
    return JsonResponse({"status": "ok"})


@public
@never_cache
def readyz(request):
    """Database, task broker and channel layer all answer: 200, else 503 with the failing check.

    Worker-cluster liveness is reported under ``advisory`` and never fails the probe: the console
    serves (and shows what is wrong) without workers, so a load balancer must keep it in rotation.
    Without a live cluster the status is ``degraded``, still 200; alert on ``hub_workers_up`` instead.
    """
    checks = health.readiness()
    advisory = [health.worker_liveness()]
    ok = all(c.ok for c in checks)
    # Error texts can name hosts and database users: only logged-in staff get them (and /status/).
    detailed = request.user.is_authenticated

    def describe(c):
        return {"ok": c.ok, "latency_ms": c.latency_ms, **({"detail": c.detail} if detailed else {})}

    body = {
        "status": ("ok" if all(c.ok for c in advisory) else "degraded") if ok else "unavailable",
        "checks": {c.name: describe(c) for c in checks},
        "advisory": {c.name: describe(c) for c in advisory},
    }
    return JsonResponse(body, status=200 if ok else 503)


@method_decorator(never_cache, name="dispatch")
class StatusView(View):
    """Platform status for staff: dependencies, worker clusters, and a live-update round trip test."""

    def get(self, request):
        return render(
            request,
            "status.html",
            {"checks": health.readiness(), "clusters": health.cluster_status()},
        )


class LivePingView(View):
    """Queue a task that a worker answers over the websocket; the page measures the round trip."""

    def post(self, request):
        token = secrets.token_hex(8)
        enqueued_at = time.time()
        # sync=False: even where tests run tasks inline, this test is about a real worker.
        async_task("integration_hub.tasks.ping_browser", request.user.pk, token, enqueued_at, sync=False)
        return render(request, "status_ping.html", {"token": token, "enqueued_at": enqueued_at})
