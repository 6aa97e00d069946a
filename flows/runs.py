"""The run history across flows: who sees which runs (the runs of the flows they may view)."""

from django.db.models import QuerySet

from flows.models import Flow, Run
from integration_hub.permissions import restrict_through


def visible_runs(user) -> QuerySet[Run]:
    """The runs of the flows ``user`` may view, with their flow (one query per page of them). No
    ``flow IN (every flow)`` for a global grant: the plain list then walks the (queued_at, id) index alone."""
    return restrict_through(Run.objects.select_related("flow"), "flow", Flow.objects.all(), user)
