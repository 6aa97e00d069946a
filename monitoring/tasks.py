"""django-q2 task functions of the monitoring app: ids in, safe to run twice."""


def evaluate_alerts() -> int:
    """Every minute: evaluate every enabled alert rule; returns how many alerts changed state."""
    from integration_hub.context import acting_as
    from monitoring import alerts

    with acting_as(None, source="task:alerts"):
        result = alerts.evaluate()
    return len(result.opened) + len(result.resolved)
