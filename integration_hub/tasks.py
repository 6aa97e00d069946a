"""django-q2 task functions of the project package: ids in, safe to run twice."""

import time

from integration_hub import realtime


def ping_browser(user_id: int, token: str, enqueued_at: float) -> None:
    """Answer the status page's live-update test from a worker process: worker → channel layer → browser."""
    realtime.send_now(
        realtime.user_group(user_id),
        "hub.ping",
        {"token": token, "enqueued_at": enqueued_at, "worker_at": time.time()},
    )
