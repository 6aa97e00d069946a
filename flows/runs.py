"""The run history across flows: who sees which runs (the runs of the flows they may view)."""

from django.db.models import QuerySet

from flows.models import Flow, Run
from integration_hub.permissions import parent_ids, within


def visible_runs(user, flow_ids: list[int] | None = ...) -> QuerySet[Run]:
    """The runs of the flows ``user`` may view, with their flow (one query per page of them). No
    ``flow IN (every flow)`` for a global grant: the plain list then walks the (queued_at, id) index alone.
    ``flow_ids``: ``visible_flow_ids(user)`` when the caller has it already."""
    if flow_ids is ...:
        flow_ids = visible_flow_ids(user)
    return within(Run.objects.select_related("flow"), "flow", flow_ids)


def visible_flow_ids(user) -> list[int] | None:
    """The flows whose runs ``user`` sees; ``None``: every flow (a global grant)."""
    return parent_ids(Flow.objects.all(), user)
