"""django-q2 task functions of the GDPR app: ids in, safe to run twice."""

from __future__ import annotations


def execute_request(request_id: int) -> None:
    """Run a data-subject request's tasks (queued by ``gdpr.requests.execute_request``)."""
    from gdpr import requests
    from integration_hub.context import acting_as

    with acting_as(None, source="task:gdpr request"):
        requests.run_request(request_id)
