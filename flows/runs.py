"""The run history across flows: who sees which runs (the runs of the flows they may view)."""

from django.db.models import QuerySet

from flows.models import Flow, Run
from integration_hub.permissions import has_global_permission, restrict


def visible_runs(user) -> QuerySet[Run]:
    """The runs of the flows ``user`` may view, with their flow (one query per page of them)."""
    runs = Run.objects.select_related("flow")
    if has_global_permission(user, Flow, "view"):
        # No ``flow IN (every flow)``: the plain list then walks the (queued_at, id) index alone.
        return runs
    return runs.filter(flow__in=restrict(Flow.objects.all(), user, "view"))
