"""What the sync engine keeps: runs, cross-system ID links and the records that failed.

The database, not luck, keeps at most one active run per flow: a partial unique index allows one
``running`` run and one ``queued`` follow-up per flow (a trigger while both exist is coalesced into
the queued one, which reads whatever changed by the time it starts).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from flows.models.flows import Flow, FlowVersion
from flows.models.systems import System
from integration_hub import crypto


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    SUCCEEDED = "succeeded", _("succeeded")
    PARTIAL = "partial", _("partial")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")
    INTERRUPTED = "interrupted", _("interrupted")


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED = (
    RunStatus.SUCCEEDED,
    RunStatus.PARTIAL,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
    RunStatus.INTERRUPTED,
)


class RunTrigger(models.TextChoices):
    MANUAL = "manual", _("manual")
    SCHEDULE = "schedule", _("schedule")
    WEBHOOK = "webhook", _("webhook")
    CHAIN = "chain", _("after another flow")
    RESYNC = "resync", _("full resync")
    RETRY = "retry", _("retry failed records")
    RECORDS = "records", _("chosen records")
    BACKFILL = "backfill", _("backfill")


COUNTERS = ("read", "filtered", "unchanged", "created", "updated", "deleted", "failed", "suppressed")


class Run(models.Model):
    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(
        # RESTRICT, not PROTECT: a version stays while its runs do, and goes with them when the flow is
        # deleted (PROTECT would refuse to delete a flow that has ever run).
        FlowVersion,
        on_delete=models.RESTRICT,
        related_name="runs",
        verbose_name=_("flow version"),
    )
    trigger = models.CharField(_("trigger"), max_length=20, choices=RunTrigger.choices)
    status = models.CharField(
        _("status"), max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True
    )
    full = models.BooleanField(_("full read"), default=False, help_text=_("Ignore the incremental cursor."))
    # Chosen records (replay of failed records, resync of one record, webhook events): fetched fresh
    # from the source by id and written even if unchanged, before the read of the entity — which a run
    # over chosen records only (``read_all`` off) leaves out.
    record_ids = models.JSONField(_("records"), default=list, blank=True)
    read_all = models.BooleanField(_("reads the entity"), default=True)
    # A backfill reads from this bound instead of the flow's cursor (and leaves the cursor alone).
    backfill_from = models.CharField(_("backfill from"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    # Counters: read = filtered + unchanged + created + updated + failed + suppressed (+ deleted in
    # mirror mode).
    read = models.PositiveIntegerField(pgettext_lazy("run counter", "read"), default=0)
    filtered = models.PositiveIntegerField(pgettext_lazy("run counter", "filtered out"), default=0)
    unchanged = models.PositiveIntegerField(pgettext_lazy("run counter", "unchanged"), default=0)
    created = models.PositiveIntegerField(pgettext_lazy("run counter", "created"), default=0)
    updated = models.PositiveIntegerField(pgettext_lazy("run counter", "updated"), default=0)
    deleted = models.PositiveIntegerField(pgettext_lazy("run counter", "deleted"), default=0)
    failed = models.PositiveIntegerField(pgettext_lazy("run counter", "failed"), default=0)
    # Records of erased persons (the GDPR suppression list) the run left out.
    suppressed = models.PositiveIntegerField(pgettext_lazy("run counter", "suppressed"), default=0)
    # The incremental bound the read started from, and the highest cursor value committed since.
    cursor_before = models.CharField(_("cursor before"), max_length=200, blank=True)
    cursor_after = models.CharField(_("cursor after"), max_length=200, blank=True)
    # Where the read resumes after the last committed page (the connector's opaque page cursor).
    resume = models.TextField(_("resume position"), blank=True)
    pages = models.PositiveIntegerField(_("pages committed"), default=0)
    # How many records the read will yield, when the source says (for the progress bar and the ETA).
    expected = models.PositiveIntegerField(_("records expected"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)
    worker = models.CharField(_("worker"), max_length=120, blank=True)
    # Indexed first in ``flows_run_recent`` (no index of its own: the planner took one for a deep page
    # and sorted 100,000 rows it had fetched from the table).
    queued_at = models.DateTimeField(_("queued"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat = models.DateTimeField(_("heartbeat"), null=True, blank=True)
    cancel_requested = models.BooleanField(_("cancel requested"), default=False)

    class Meta:
        verbose_name = _("run")
        verbose_name_plural = _("runs")
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["flow"], condition=Q(status="running"), name="flows_run_one_running_per_flow"
            ),
            models.UniqueConstraint(
                fields=["flow"], condition=Q(status="queued"), name="flows_run_one_queued_per_flow"
            ),
        ]
        indexes = [
            # One flow's runs, newest first; with the pk a page of them comes from the index alone (a
            # user's deep page merges one walk per flow: ``DeepPageLazyPaginator.split``).
            models.Index(fields=["flow", "-queued_at", "-id"], name="flows_run_flow_recent"),
            # The run history across flows (a million rows): newest first, whole or by status or
            # trigger; the pk breaks ties so the index alone gives the page in order. The flow comes
            # last so that a user with grants on some flows reads a deep page from the index alone
            # (``flow_id IN (…)`` checked in it: ``permissions.restrict_through``).
            models.Index(fields=["-queued_at", "-id", "flow"], name="flows_run_recent"),
            models.Index(fields=["status", "-queued_at", "-id"], name="flows_run_status_recent"),
            models.Index(fields=["trigger", "-queued_at", "-id"], name="flows_run_trigger_recent"),
            # The dashboard's chart: runs by the hour they finished, over a day or a week.
            models.Index(fields=["finished"], name="flows_run_finished"),
        ]

    def __str__(self):
        return f"{self.flow} #{self.pk}"

    def get_absolute_url(self):
        return reverse("flows:run", args=[self.pk])

    @property
    def written(self) -> int:
        return self.created + self.updated + self.deleted

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def duration(self):
        if self.started and self.finished:
            return self.finished - self.started
        return None

    @property
    def throughput(self) -> float | None:
        """Records read per second."""
        duration = self.duration
        if duration is None or duration.total_seconds() <= 0:
            return None
        return self.read / duration.total_seconds()

    def counters(self) -> dict:
        return {name: getattr(self, name) for name in COUNTERS}

    @property
    def rate(self) -> float | None:
        """Records read per second so far (while running) or over the whole run."""
        if self.finished:
            return self.throughput
        if not self.started or not self.read:
            return None
        elapsed = (timezone.now() - self.started).total_seconds()
        return self.read / elapsed if elapsed > 0 else None

    @property
    def percent(self) -> int | None:
        """How far the read is, when the source said how many records it holds."""
        if not self.expected:
            return None
        return max(0, min(100, round(100 * self.read / self.expected)))

    @property
    def eta_seconds(self) -> int | None:
        """Seconds left at the current rate (running runs whose source gave a count)."""
        rate = self.rate
        if self.status != "running" or not self.expected or not rate:
            return None
        return max(0, round((self.expected - self.read) / rate))

    def progress(self) -> dict:
        """Where the run is: the ``run.progress`` event's payload, and the dashboard's running-sync row."""
        rate = self.rate
        return {
            "run": self.pk,
            "flow": self.flow_id,
            "status": self.status,
            "counters": self.counters(),
            "pages": self.pages,
            "expected": self.expected,
            "percent": self.percent,
            "rate": round(rate, 1) if rate else None,
            "eta_seconds": self.eta_seconds,
        }


class RunLogLevel(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    ERROR = "error", _("error")


class RunLogLine(models.Model):
    """One line of a run's structured log: what the engine did, with counts, cursors and statuses —
    never record payloads; personal values are masked before they are written (``flows.runlog``)."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="log_lines")
    time = models.DateTimeField(_("time"), default=timezone.now)
    level = models.CharField(_("level"), max_length=10, choices=RunLogLevel.choices, default=RunLogLevel.INFO)
    event = models.CharField(_("event"), max_length=40)
    message = models.TextField(_("message"), blank=True)
    context = models.JSONField(_("context"), default=dict, blank=True)

    class Meta:
        verbose_name = _("run log line")
        verbose_name_plural = _("run log lines")
        ordering = ["run", "pk"]

    def __str__(self):
        return f"{self.run_id} {self.level} {self.event}"


class RecordLink(models.Model):
    """One record known in two systems: the source's id and the id the target gave it (OCA "bindings").

    ``last_hash`` is the canonical hash of the mapped record last written: an unchanged record is not
    written again.
    """

    # No one-column index of their own on ``flow``, ``source_system``, ``target_system``: each leads
    # one of the composite indexes below, which serve the same lookups (and the deletes that cascade);
    # every link written kept three more B-trees up to date for nothing.
    flow = models.ForeignKey(
        Flow, on_delete=models.SET_NULL, null=True, blank=True, related_name="links", db_index=False
    )
    source_system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="+", db_index=False)
    source_entity = models.CharField(_("source entity"), max_length=100)
    source_id = models.CharField(_("source id"), max_length=255)
    target_system = models.ForeignKey(System, on_delete=models.CASCADE, related_name="+", db_index=False)
    target_entity = models.CharField(_("target entity"), max_length=100)
    target_id = models.CharField(_("target id"), max_length=255)
    last_hash = models.CharField(_("last hash"), max_length=64, blank=True)
    last_run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    last_synced = models.DateTimeField(_("last synced"), null=True, blank=True)
    # The mapped record last written (canonical JSON) and, for an update, what changed from the one
    # before ([{"field", "old", "new"}]): encrypted when the flow maps personal data.
    last_values = models.TextField(_("last values"), blank=True, editable=False)
    last_changes = models.TextField(_("last changes"), blank=True, editable=False)
    # Keyed hashes (HMAC) of the record's identifying values — SKU, order number, e-mail… — so that
    # Trace finds a record by them even when its values are encrypted (``flows.trace.lookup_key``).
    lookup_keys = models.TextField(_("lookup keys"), blank=True, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("record link")
        verbose_name_plural = _("record links")
        constraints = [
            models.UniqueConstraint(
                fields=["source_system", "source_entity", "source_id", "target_system", "target_entity"],
                name="flows_link_one_target_per_source",
            ),
        ]
        indexes = [
            models.Index(fields=["target_system", "target_entity", "target_id"], name="flows_link_target"),
            models.Index(fields=["flow", "source_id"], name="flows_link_flow_source"),
        ]

    def __str__(self):
        return f"{self.source_entity}:{self.source_id} → {self.target_entity}:{self.target_id}"

    @property
    def source_url(self) -> str:
        """The source record's address in the source system's own screens ("" without a template)."""
        return self.source_system.record_url(self.source_entity, self.source_id)

    @property
    def target_url(self) -> str:
        return self.target_system.record_url(self.target_entity, self.target_id)

    @property
    def values(self) -> dict:
        return stored_json(self.last_values) or {}

    @property
    def changes(self) -> list[dict]:
        """The field-level difference of the last update (empty after a create)."""
        return stored_json(self.last_changes) or []


def stored_json(text: str):
    """JSON kept as is, or encrypted (personal data): Fernet tokens never start with { or [."""
    if not text:
        return None
    if text[0] in "{[":
        return json.loads(text)
    try:
        return json.loads(crypto.decrypt(text))
    except (crypto.DecryptionError, ValueError):
        return None


def store_json(text: str, *, personal: bool) -> str:
    return crypto.encrypt(text) if personal and text else text


class FailedRecord(models.Model):
    """A record a run could not deliver, with its reason — never retried blindly, never dropped."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        RETRYING = "retrying", _("retrying")
        RESOLVED = "resolved", _("resolved")
        IGNORED = "ignored", _("ignored")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="failed_records")
    run = models.ForeignKey(Run, on_delete=models.SET_NULL, null=True, blank=True, related_name="failures")
    source_id = models.CharField(_("source id"), max_length=255, blank=True)
    stage = models.CharField(_("stage"), max_length=20)  # read, mapping, rule, write
    error_class = models.CharField(_("error class"), max_length=40)
    message = models.TextField(_("message"))
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    signature = models.CharField(_("signature"), max_length=64, db_index=True)
    payload_encrypted = models.TextField(blank=True, editable=False)
    # Keyed hashes of the payload's identifying values (``flows.lookup``): how an erasure finds the
    # person's failed records without decrypting every payload.
    lookup_keys = models.TextField(_("lookup keys"), blank=True, editable=False)
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    created = models.DateTimeField(_("first failed"), auto_now_add=True)
    updated = models.DateTimeField(_("last failed"), auto_now=True)

    class Meta:
        verbose_name = _("failed record")
        verbose_name_plural = _("failed records")
        ordering = ["-updated", "-pk"]
        indexes = [
            # A flow's failures page (a million records): what waits for a decision, newest first, read
            # from the index in order; the pk breaks ties as in the sort.
            models.Index(
                fields=["flow", "-updated", "-id"],
                condition=Q(status__in=["open", "retrying"]),
                name="flows_failed_open_recent",
            ),
            # Counts per cause (signature) and status of a flow: the error groups' counters, the
            # failures page's groups, replay/ignore of a signature.
            models.Index(fields=["flow", "signature", "status"], name="flows_failed_flow_sig"),
            # The latest record of a cause (the triage inbox's example message).
            models.Index(fields=["flow", "signature", "-updated", "-id"], name="flows_failed_sig_recent"),
            # The dashboard's failures feed across flows, newest first.
            models.Index(fields=["-updated", "-id"], name="flows_failed_recent"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "source_id"],
                condition=Q(status__in=["open", "retrying"]) & ~Q(source_id=""),
                name="flows_failed_one_open_per_record",
            ),
        ]

    def __str__(self):
        return f"{self.flow} · {self.source_id or '?'} · {self.error_class}"

    @property
    def payload(self) -> dict:
        """``{"source": …, "mapped": …}`` (encrypted at rest: it may hold personal data)."""
        if not self.payload_encrypted:
            return {}
        return json.loads(crypto.decrypt(self.payload_encrypted))

    @payload.setter
    def payload(self, value: dict) -> None:
        self.payload_encrypted = crypto.encrypt(json.dumps(value, default=str)) if value else ""
