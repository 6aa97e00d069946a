"""The structured log of a run: what the engine did and why, kept with the run and sent to the
``hub.run`` logger.

Lines carry counts, page numbers, cursors and HTTP statuses — never record payloads — and personal
values in messages (e-mail addresses, phone numbers, quoted values) are masked before they are kept or
logged. A run keeps at most ``MAX_LINES`` lines (its start and end always), then one "… n more" line.

The engine buffers a page's lines and writes them in the page's own transaction (one bulk insert per
page at most): the log costs the hot loop nothing it would notice.
"""

from __future__ import annotations

import itertools
import logging

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.models.runs import Run, RunLogLevel, RunLogLine
from integration_hub.redact import mask_message, redact

logger = logging.getLogger("hub.run")

MAX_LINES = 500
# Always kept, past the cap too: a run's log must say how it started and how it ended.
LIFECYCLE = frozenset(
    {"run.started", "run.finished", "run.failed", "run.interrupted", "run.cancelled", "log.truncated"}
)
_LEVELS = {
    RunLogLevel.INFO: logging.INFO,
    RunLogLevel.WARNING: logging.WARNING,
    RunLogLevel.ERROR: logging.ERROR,
}


def _clean(message: str, context: dict) -> tuple[str, dict]:
    context = {key: value for key, value in context.items() if value is not None and value != ""}
    return mask_message(str(message))[:2000], redact(context)


def _ids(run: Run) -> dict:
    flow = run.flow
    return {
        "run_id": run.pk,
        "flow_id": run.flow_id,
        "system_id": flow.source_system_id,
        "target_system_id": flow.target_system_id,
    }


def _emit(ids: dict, level: str, event: str, message: str, context: dict) -> None:
    logger.log(_LEVELS.get(level, logging.INFO), message, extra={**ids, "event": event, "context": context})


class RunLog:
    """The lines of one run being executed, buffered until the next page commit (``flush``)."""

    def __init__(self, run: Run):
        self.run = run
        self.pending: list[RunLogLine] = []
        self.kept = RunLogLine.objects.filter(run_id=run.pk).count()
        self.dropped = 0
        self.ids = _ids(run)

    def add(self, level: str, event: str, message: str, **context) -> None:
        message, context = _clean(message, context)
        _emit(self.ids, level, event, message, context)
        if self.kept >= MAX_LINES and event not in LIFECYCLE:
            self.dropped += 1
            return
        if event in LIFECYCLE and event != "run.started" and self.dropped:
            self._truncated()
        self.pending.append(
            RunLogLine(
                run_id=self.run.pk,
                time=timezone.now(),
                level=level,
                event=event,
                message=message,
                context=context,
            )
        )
        self.kept += 1

    def _truncated(self) -> None:
        count, self.dropped = self.dropped, 0
        self.pending.append(
            RunLogLine(
                run_id=self.run.pk,
                level=RunLogLevel.INFO,
                event="log.truncated",
                message=_("… %(n)s more lines not kept (a run keeps %(max)s).")
                % {"n": count, "max": MAX_LINES},
                context={"more": count},
            )
        )
        self.kept += 1

    def flush(self) -> None:
        """Write the buffered lines (call inside the page's transaction)."""
        if self.pending:
            RunLogLine.objects.bulk_create(self.pending)
            self.pending = []


def write(run: Run, level: str, event: str, message: str, **context) -> None:
    """One line written at once, outside a run's page loop (a run claimed, failed or reaped)."""
    message, context = _clean(message, context)
    _emit(_ids(run), level, event, message, context)
    if event not in LIFECYCLE and RunLogLine.objects.filter(run_id=run.pk).count() >= MAX_LINES:
        return
    RunLogLine.objects.create(run_id=run.pk, level=level, event=event, message=message, context=context)


def lines_of(run: Run, *, level: str | None = None) -> QuerySet[RunLogLine]:
    """The run's log lines, oldest first; ``level``: that level and above ("warning" → warnings, errors)."""
    lines = RunLogLine.objects.filter(run=run).order_by("pk")
    if level == RunLogLevel.WARNING:
        lines = lines.filter(level__in=[RunLogLevel.WARNING, RunLogLevel.ERROR])
    elif level == RunLogLevel.ERROR:
        lines = lines.filter(level=RunLogLevel.ERROR)
    return lines


def timeline(run: Run) -> list[dict]:
    """Queued → started → pages … → finished, each step with when it happened and how long it took."""
    steps = [{"key": "queued", "label": _("Queued"), "time": run.queued_at}]
    if run.started:
        steps.append({"key": "started", "label": _("Started"), "time": run.started})
    pages = RunLogLine.objects.filter(run=run, event="page.committed")
    first, last = pages.order_by("pk").first(), pages.order_by("-pk").first()
    if first is not None:
        steps.append(
            {
                "key": "first_page",
                "label": _("Page %(n)s committed") % {"n": first.context.get("page", 1)},
                "time": first.time,
            }
        )
    if last is not None and last.pk != first.pk:
        steps.append(
            {
                "key": "last_page",
                "label": _("Page %(n)s committed") % {"n": last.context.get("page", "…")},
                "time": last.time,
            }
        )
    if run.finished:
        steps.append(
            {"key": "finished", "label": run.get_status_display().capitalize(), "time": run.finished}
        )
    for previous, step in itertools.pairwise(steps):
        step["after"] = (step["time"] - previous["time"]).total_seconds()
    return steps
