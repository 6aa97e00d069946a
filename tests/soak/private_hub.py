"""Commands the restart tests run in processes of their own against the private PostgreSQL and Redis
(``DATABASE_URL``/``REDIS_URL`` in the environment): ``python -m tests.soak.private_hub setup SOURCE
TARGET`` creates the catalog systems, the flow and a *run failed* alert rule, and prints the flow's id;
``queue FLOW`` queues a run through the broker (Redis) for the worker cluster, and prints its id."""

import sys


def main(argv: list[str]) -> None:
    import django

    django.setup()
    from flows import sync
    from flows.models import Flow
    from monitoring.models import AlertRule
    from tests.soak.catalog import hub_objects

    command, *args = argv
    if command == "setup":
        source, target = args
        flow = hub_objects(source, target, page_size=50, timeout=5)
        AlertRule.objects.create(name="Run failed", condition="run_failed", scope_kind="flow", flow=flow)
        print(flow.pk)
    elif command == "queue":
        run, _created = sync.request_run(Flow.objects.get(pk=int(args[0])))
        print(run.pk)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
