"""django-q2 task functions of the flows app: ids in, safe to run twice."""

from flows import services


def check_all_systems():
    return services.check_all_systems()


def run_health_scan(scan_id: int) -> None:
    from flows import datahealth
    from integration_hub.context import acting_as

    with acting_as(None, source="task:data health"):
        datahealth.run_scan(scan_id)
