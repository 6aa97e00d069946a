"""``manage.py hub export|import|run|maintenance``: config as code, runs and system maintenance from
the command line (the same services as the console pages and the API)."""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from flows import configio
from flows.models import Flow
from integration_hub.context import acting_as


class Command(BaseCommand):
    help = "Export or import the hub's configuration (systems without secrets, value maps, flows) as YAML or JSON."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="Write the configuration to stdout or a file.")
        export.add_argument("--format", choices=configio.FORMATS, default=None, help="yaml (default) or json")
        export.add_argument("--output", "-o", help="File to write (its extension picks the format).")
        export.add_argument("--flow", action="append", default=None, help="Only this flow and what it uses.")
        imp = sub.add_parser("import", help="Check a file and apply all of it, or nothing.")
        imp.add_argument("file", help="A YAML or JSON file, or - for stdin.")
        imp.add_argument("--format", choices=configio.FORMATS, default=None)
        imp.add_argument("--dry-run", action="store_true", help="Check and show the changes; apply nothing.")
        imp.add_argument("--as-user", help="Apply with this user's permissions and name in the audit log.")
        run = sub.add_parser("run", help="Run a flow now, here, and print its counters.")
        run.add_argument("flow", help="The flow's name (or id).")
        run.add_argument("--full", action="store_true", help="A full resync: ignore the incremental cursor.")
        maint = sub.add_parser(
            "maintenance",
            help="Start or end a system's maintenance: pause its flows, then resume exactly those.",
        )
        maint.add_argument("system", help="The system's slug, name (or id).")
        maint.add_argument("state", choices=("on", "off"))
        maint.add_argument("--reason", default="", help="Why (shown on the system's and flows' pages).")
        maint.add_argument("--as-user", help="Record this user as the one who did it.")

    def handle(self, *args, action, **options):
        if action == "export":
            return self.export(**options)
        if action == "run":
            return self.run(**options)
        if action == "maintenance":
            return self.maintenance(**options)
        return self.import_(**options)

    def run(self, *, flow, full, **_options):
        """Queue the run without handing it to the workers and execute it in this process — as soon as
        no other run of the flow is running (a run that was already waiting is followed instead)."""
        import time

        from flows import sync
        from flows.models import Run, RunStatus, RunTrigger

        found = Flow.objects.filter(name=flow).first() or (
            Flow.objects.filter(pk=int(flow)).first() if flow.isdigit() else None
        )
        if found is None:
            raise CommandError(f"No flow named {flow!r}.")
        with acting_as(None, source="command:hub run"):
            try:
                run, created = sync.request_run(
                    found, trigger=RunTrigger.RESYNC if full else RunTrigger.MANUAL, full=full, enqueue=False
                )
            except sync.RunRefused as exc:
                raise CommandError(str(exc)) from exc
            if not created:
                self.stderr.write(f"Run #{run.pk} was already waiting; following it.")
            run = Run.objects.get(pk=run.pk)
            while run.status in (RunStatus.QUEUED, RunStatus.RUNNING):
                if run.status == RunStatus.QUEUED:
                    sync.execute_run(run.pk)  # claims it once the flow's running run (if any) has ended
                else:
                    time.sleep(0.5)
                run.refresh_from_db()
                if run.status == RunStatus.QUEUED:
                    time.sleep(0.5)
        counters = ", ".join(f"{name} {value}" for name, value in run.counters().items())
        self.stdout.write(f"Run #{run.pk} {run.status}: {counters}")
        if run.message:
            self.stdout.write(run.message)
        if run.status not in (RunStatus.SUCCEEDED, RunStatus.PARTIAL):
            raise CommandError(f"Run #{run.pk} {run.status}.")

    def maintenance(self, *, system, state, reason, as_user, **_options):
        from flows import services
        from flows.models import System

        found = (
            System.objects.filter(slug=system).first()
            or System.objects.filter(name=system).first()
            or (System.objects.filter(pk=int(system)).first() if system.isdigit() else None)
        )
        if found is None:
            raise CommandError(f"No system {system!r}.")
        user = None
        if as_user:
            user = get_user_model().objects.filter(username=as_user, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {as_user!r}.")
        with acting_as(user, source="command:hub maintenance"):
            outcome = services.set_maintenance(found, state == "on", user=user, reason=reason)
        if state == "on":
            self.stdout.write(f"{found}: maintenance on; {len(outcome.paused)} flow(s) paused.")
            for flow in outcome.paused:
                self.stdout.write(f"  paused {flow}")
        else:
            self.stdout.write(f"{found}: maintenance off; {len(outcome.resumed)} flow(s) resumed.")
            for flow in outcome.resumed:
                self.stdout.write(f"  resumed {flow}")
            for flow, why in outcome.kept:
                self.stderr.write(f"  still paused {flow}: {why}")

    def export(self, *, format, output, flow, **_options):
        flows = None
        if flow:
            flows = list(Flow.objects.filter(name__in=flow))
            missing = set(flow) - {f.name for f in flows}
            if missing:
                raise CommandError(f"No flow named {', '.join(sorted(missing))}.")
        fmt = format or (configio.sniff_format("", output) if output else "yaml")
        text = configio.dumps(configio.export_config(flows=flows), fmt)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {output}.")
        else:
            self.stdout.write(text, ending="")

    def import_(self, *, file, format, dry_run, as_user, **_options):
        if file == "-":
            text = sys.stdin.read()
        else:
            try:
                text = Path(file).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read {file}: {exc}") from exc
        user = None
        if as_user:
            user = get_user_model().objects.filter(username=as_user, is_active=True).first()
            if user is None:
                raise CommandError(f"No active user {as_user!r}.")
        with acting_as(user, source="command:hub import"):
            report = configio.import_config(
                text, fmt=format or configio.sniff_format(text, file), user=user, apply=not dry_run
            )
        for change in report.changes:
            if change.action != "unchanged" or options_verbose(_options):
                self.stdout.write(f"{change.kind} {change.name}: {change.action}")
                for item in change.changes:
                    self.stdout.write(f"    {item['what']}: {item.get('old')!r} → {item.get('new')!r}")
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        if report.errors:
            raise CommandError(
                "Nothing was imported:\n" + "\n".join(f"  {problem}" for problem in report.errors)
            )
        counts = report.counts()
        summary = (
            f"{counts['create']} to create, {counts['update']} to update, {counts['unchanged']} unchanged"
        )
        self.stdout.write(f"Dry run, nothing applied: {summary}." if dry_run else f"Imported: {summary}.")


def options_verbose(options) -> bool:
    return int(options.get("verbosity", 1)) > 1
