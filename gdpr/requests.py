"""Data-subject requests (erasure, access): every state change lives here, and the console, the API, the
public intake page, the task queue and the commands call these functions.

received → verified → planned → executing → completed / partially completed; refused, on hold and
cancelled on the side. Nothing is planned before the person's identity is verified; nothing is changed in
any system before a plan shows where the person was found.

The identifiers (e-mail, phone, customer numbers…) are kept encrypted until the erasure completed; their
keyed hashes (``subject_keys``) stay, with the suppression list, the tasks' record ids (encrypted) and the
evidence pack (pseudonymised).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from flows.models import Flow, System
from gdpr import deadlines, purge
from gdpr.models import DataSubjectRequest, ErasureStrategy, RequestTask
from gdpr.models.choices import (
    DONE_TASK_STATUSES,
    RequestChannel,
    RequestKind,
    RequestState,
    Strategy,
    TaskAction,
    TaskStatus,
)
from gdpr.suppression import subject_key, suppress
from integration_hub import realtime
from integration_hub.audit import record
from integration_hub.models import AuditAction

logger = logging.getLogger(__name__)

IDENTIFIER_KINDS = ("email", "phone", "customer_id", "national_id", "other_id")
CODE_TTL = timedelta(minutes=30)
CODE_MAX_ATTEMPTS = 5
TASK_ATTEMPTS = 2  # tries per execution; a task still failing waits for "retry failed tasks"
EXEMPT = "exempt"  # a connector's default strategy for an entity kept by law (not a Strategy choice)


class RequestError(ValidationError):
    """A state change refused, with the reason in words for the console and the API."""


# --- identifiers ---------------------------------------------------------------------------------------


def clean_identifiers(identifiers: dict) -> dict[str, list[str]]:
    """``{"email": ["a@b"], …}`` trimmed, e-mails case-folded, duplicates and empty values dropped."""
    cleaned: dict[str, list[str]] = {}
    for kind, values in (identifiers or {}).items():
        if kind not in IDENTIFIER_KINDS:
            raise RequestError(_("Unknown identifier type “%(kind)s”.") % {"kind": kind})
        if isinstance(values, str):
            values = [values]
        seen = []
        for value in values or []:
            value = " ".join(str(value).split())
            if kind == "email":
                value = value.casefold()
            if value and value not in seen:
                seen.append(value)
        if seen:
            cleaned[kind] = seen
    return cleaned


def keys_of(identifiers: dict[str, list[str]]) -> list[str]:
    return sorted({subject_key(kind, v) for kind, values in identifiers.items() for v in values})


def identifier_values(identifiers: dict[str, list[str]]) -> list[str]:
    return [v for values in identifiers.values() for v in values]


def mask_identifier(value: str) -> str:
    """``j***@e***.com`` / ``+33 ******89``: enough to tell two requests apart, not to read the value."""
    value = str(value)
    if "@" in value:
        local, _at, domain = value.partition("@")
        name, _dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{(name or tld)[:1]}***{'.' + tld if name else ''}"
    if len(value) <= 4:
        return "***"
    return f"{value[:2]}{'*' * (len(value) - 4)}{value[-2:]}"


def masked_identifiers(request: DataSubjectRequest) -> dict[str, list[str]]:
    return {kind: [mask_identifier(v) for v in values] for kind, values in request.identifiers.items()}


def _pseudonym(keys: list[str]) -> str:
    digest = hashlib.sha256(" ".join(keys).encode()).hexdigest()[:10]
    return f"subject {digest}"


def _next_reference(year: int) -> str:
    prefix = f"DSR-{year}-"
    last = (
        DataSubjectRequest.objects.filter(reference__startswith=prefix)
        .order_by("-reference")
        .values_list("reference", flat=True)
        .first()
    )
    number = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{prefix}{number:04d}"


# --- intake --------------------------------------------------------------------------------------------


def create_request(
    kind: str,
    channel: str,
    received_on: date,
    identifiers: dict,
    *,
    user=None,
    assignee=None,
    notes: str = "",
    send_code: bool = False,
) -> DataSubjectRequest:
    """Record a request: due date one calendar month after receipt, a reference, a pseudonym, the
    identifiers encrypted and their keyed hashes kept. ``send_code``: e-mail the verification code."""
    identifiers = clean_identifiers(identifiers)
    if not identifiers:
        raise RequestError(_("Give at least one identifier of the person (an e-mail address…)."))
    if kind not in RequestKind.values:
        raise RequestError(_("Unknown request type."))
    if channel not in RequestChannel.values:
        raise RequestError(_("Unknown channel."))
    keys = keys_of(identifiers)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                request = DataSubjectRequest(
                    reference=_next_reference(received_on.year),
                    kind=kind,
                    channel=channel,
                    received_on=received_on,
                    due_on=deadlines.due_date(received_on),
                    subject_keys=" ".join(keys),
                    pseudonym=_pseudonym(keys),
                    assignee=assignee,
                    notes=notes,
                    created_by=user if getattr(user, "is_authenticated", False) else None,
                )
                request.identifiers = identifiers
                request.save()
                break
        except IntegrityError:  # two requests took the same reference at once: take the next one
            continue
    else:
        raise RequestError(_("Could not number the request; try again."))
    _changed(request)
    if send_code:
        send_verification_code(request)
    return request


def _changed(request: DataSubjectRequest) -> None:
    realtime.publish_object_change(request, "updated")


def _require_state(request: DataSubjectRequest, *states: str) -> None:
    if request.state not in states:
        raise RequestError(
            _("This request is %(state)s: this step is not possible now.")
            % {"state": request.get_state_display()}
        )


def _code_hash(request: DataSubjectRequest, code: str) -> str:
    key = hashlib.sha256(f"{settings.HUB_LOOKUP_KEY}/dsr-code".encode()).digest()
    return hmac.new(key, f"{request.pk}:{code}".encode(), hashlib.sha256).hexdigest()


def send_verification_code(request: DataSubjectRequest) -> bool:
    """E-mail a 6-digit code to the address on file; only its keyed hash is kept (30 minutes, 5 tries).
    False when the request has no e-mail address."""
    _require_state(request, RequestState.RECEIVED)
    emails = request.identifiers.get("email") or []
    if not emails:
        return False
    code = f"{secrets.randbelow(10**6):06d}"
    request.verification_code_hash = _code_hash(request, code)
    request.verification_expires = timezone.now() + CODE_TTL
    request.verification_attempts = 0
    request.save(
        update_fields=["verification_code_hash", "verification_expires", "verification_attempts", "updated"]
    )
    minutes = int(CODE_TTL.total_seconds() // 60)
    send_mail(
        _("Your request %(reference)s: verification code") % {"reference": request.reference},
        _(
            "We received a request about your personal data (reference %(reference)s).\n\n"
            "To confirm that it is yours, enter this code on the page where you filed it: %(code)s\n\n"
            "The code is valid for %(minutes)s minutes. If you did not make this request, ignore this message."
        )
        % {"reference": request.reference, "code": code, "minutes": minutes},
        None,
        [emails[0]],
    )
    record(AuditAction.UPDATE, request, message="verification code sent to the address on file")
    return True


def check_verification_code(request: DataSubjectRequest, code: str) -> DataSubjectRequest:
    """The person typed the code: verified when it matches, in time, within the tries allowed."""
    _require_state(request, RequestState.RECEIVED)
    if not request.verification_code_hash:
        raise RequestError(_("No code was sent for this request."))
    if request.verification_attempts >= CODE_MAX_ATTEMPTS:
        raise RequestError(_("Too many wrong codes: ask for a new code."))
    if request.verification_expires is None or timezone.now() > request.verification_expires:
        raise RequestError(_("This code has expired: ask for a new code."))
    code = "".join(str(code).split())
    if not hmac.compare_digest(_code_hash(request, code), request.verification_code_hash):
        DataSubjectRequest.objects.filter(pk=request.pk).update(
            verification_attempts=request.verification_attempts + 1
        )
        request.verification_attempts += 1
        left = CODE_MAX_ATTEMPTS - request.verification_attempts
        raise RequestError(_("Wrong code. Tries left: %(left)s.") % {"left": left})
    return _verified(request, _("code sent to the address on file confirmed"), user=None)


def verify_identity(request: DataSubjectRequest, method: str, *, user) -> DataSubjectRequest:
    """The DPO verified the person's identity on their behalf, saying how ("ID document seen"…)."""
    _require_state(request, RequestState.RECEIVED)
    if not (method or "").strip():
        raise RequestError(_("Say how the identity was verified."))
    return _verified(request, method.strip(), user=user)


def _verified(request, method: str, *, user) -> DataSubjectRequest:
    with transaction.atomic():
        request.state = RequestState.VERIFIED
        request.identity_verified_at = timezone.now()
        request.verification_method = method[:200]
        request.verified_by = user if getattr(user, "is_authenticated", False) else None
        request.verification_code_hash = ""
        request.verification_expires = None
        request.save()
        _changed(request)
    return request


# --- deadlines and decisions ----------------------------------------------------------------------------


def extend_request(
    request: DataSubjectRequest, months: int, reason: str, notified_on: date | None, *, user=None
) -> DataSubjectRequest:
    """Extend the deadline by 1 or 2 more months (Art. 12(3)), with the reason and the date the person
    was told; the due date counts from receipt."""
    if not request.is_open:
        raise RequestError(_("A closed request cannot be extended."))
    try:
        months = int(months)
    except (TypeError, ValueError):
        raise RequestError(_("The extension is a number of months.")) from None
    if not 1 <= months <= deadlines.MAX_EXTENSION_MONTHS:
        raise RequestError(
            _("An extension is 1 to %(max)s months (Art. 12(3)).") % {"max": deadlines.MAX_EXTENSION_MONTHS}
        )
    if not (reason or "").strip():
        raise RequestError(_("Give the reason for the extension: the person must be told why."))
    if notified_on is None:
        raise RequestError(_("Give the date the person was told of the extension."))
    request.extended_months = months
    request.due_on = deadlines.due_date(request.received_on, months)
    request.extension_reason = reason.strip()
    request.extension_notified_on = notified_on
    with transaction.atomic():
        request.save()
        _changed(request)
    return request


def refuse_request(request: DataSubjectRequest, reason: str, *, user=None) -> DataSubjectRequest:
    return _close(request, RequestState.REFUSED, reason)


def cancel_request(request: DataSubjectRequest, reason: str, *, user=None) -> DataSubjectRequest:
    return _close(request, RequestState.CANCELLED, reason)


def _close(request, state, reason) -> DataSubjectRequest:
    if not request.is_open or request.state == RequestState.EXECUTING:
        raise RequestError(_("Only an open request that is not executing can be refused or cancelled."))
    if not (reason or "").strip():
        raise RequestError(_("Give the reason (the person is told it)."))
    with transaction.atomic():
        request.state = state
        request.refusal_reason = reason.strip()
        request.completed_at = timezone.now()
        request.save()
        _changed(request)
    return request


def hold_request(request: DataSubjectRequest, reason: str, *, user=None) -> DataSubjectRequest:
    """Put on hold (waiting for the person, a legal question…); the deadline still runs."""
    _require_state(request, RequestState.RECEIVED, RequestState.VERIFIED, RequestState.PLANNED)
    if not (reason or "").strip():
        raise RequestError(_("Say why the request is on hold."))
    with transaction.atomic():
        # The state to come back to is kept in the notes' last line (the model has no field for it).
        request.notes = f"{request.notes}\n[on hold from {request.state}] {reason.strip()}".strip()
        request.state = RequestState.ON_HOLD
        request.save()
        _changed(request)
    return request


def resume_request(request: DataSubjectRequest, *, user=None) -> DataSubjectRequest:
    _require_state(request, RequestState.ON_HOLD)
    previous = RequestState.RECEIVED
    for line in reversed(request.notes.splitlines()):
        if line.startswith("[on hold from "):
            previous = line[len("[on hold from ") :].split("]", 1)[0]
            break
    if previous not in (RequestState.RECEIVED, RequestState.VERIFIED, RequestState.PLANNED):
        previous = RequestState.RECEIVED
    with transaction.atomic():
        request.state = previous
        request.save()
        _changed(request)
    return request


def sign_off(request: DataSubjectRequest, *, user) -> DataSubjectRequest:
    """The DPO signs off a finished request; a partially completed one gets its evidence pack now."""
    _require_state(request, RequestState.COMPLETED, RequestState.PARTIAL, RequestState.REFUSED)
    from gdpr import evidence

    with transaction.atomic():
        request.signed_off_by = user
        request.signed_off_at = timezone.now()
        request.save()
        if request.state in (RequestState.COMPLETED, RequestState.PARTIAL):
            evidence.build_pack(request, values=identifier_values(request.identifiers))
        _changed(request)
    return request


def assign(request: DataSubjectRequest, assignee, *, user=None) -> DataSubjectRequest:
    """Give the request to someone (or to nobody)."""
    with transaction.atomic():
        request.assignee = assignee
        request.save()
        _changed(request)
    return request


# --- plan ----------------------------------------------------------------------------------------------


def subject_systems():
    """The systems whose connector declares subject entities (it can find and erase a person)."""
    found = []
    for system in System.objects.filter(enabled=True).exclude(connector="").order_by("name"):
        try:
            cls = system.connector_class
        except KeyError:
            continue
        if getattr(cls, "subject_entities", ()):
            found.append(system)
    return found


def _strategy_for(system: System, declared) -> tuple[str, dict, str]:
    """(strategy, mask, exemption) of one system's entity: the DPO's override, else the connector's."""
    override = ErasureStrategy.objects.filter(system=system, entity=declared.entity).first()
    if override is not None:
        return override.strategy, dict(override.mask_fields or {}), override.exemption
    return declared.strategy, dict(getattr(declared, "mask", None) or {}), getattr(declared, "exemption", "")


def _find(system: System, identifiers: dict) -> list:
    connector = system.get_connector()
    try:
        return list(connector.find_subject(identifiers))
    finally:
        close = getattr(connector, "close", None)
        if close:
            close()


def plan_request(request: DataSubjectRequest, *, user=None) -> DataSubjectRequest:
    """Find the person in every system that can look them up and in the hub's own rows, and make the
    tasks; nothing changes anywhere yet. A system that cannot be reached gets a failed task with the
    error: plan again once it is back — for a partially completed request, only those systems are
    asked again, and what was done elsewhere stays as it is."""
    _require_state(request, RequestState.VERIFIED, RequestState.PLANNED, RequestState.PARTIAL)
    identifiers = request.identifiers
    if not identifiers:
        raise RequestError(_("The request's identifiers are gone: it cannot be planned again."))
    action = TaskAction.EXPORT if request.kind == RequestKind.ACCESS else None
    systems = subject_systems()
    partial = request.state == RequestState.PARTIAL
    if partial:
        unreached = set(
            request.tasks.filter(entity="", status=TaskStatus.FAILED)
            .exclude(system=None)
            .exclude(action=TaskAction.NOTIFY)
            .values_list("system_id", flat=True)
        )
        if not unreached:
            raise RequestError(_("Every system was asked already: retry the failed tasks instead."))
        systems = [s for s in systems if s.pk in unreached]
    systems_plan, task_rows = [], []
    for system in systems:
        entry, tasks = _plan_system(request, system, identifiers, action)
        systems_plan.append(entry)
        task_rows.extend(tasks)

    with transaction.atomic():
        if partial:
            request.tasks.filter(system__in=systems).exclude(action=TaskAction.NOTIFY).delete()
            replanned = {s.pk for s in systems}
            systems_plan = [
                e for e in request.plan.get("systems", []) if e["system"] not in replanned
            ] + systems_plan
        else:
            request.tasks.all().delete()
        for task in task_rows:
            task.save()
        all_records = [
            {"system": e["system"], "entity": r["entity"], "id": r["id"]}
            for e in systems_plan
            for r in e["records"]
            if "id" in r
        ]
        hub = purge.find_hub_rows(keys_of(identifiers), all_records, identifier_values(identifiers))
        request.tasks.filter(system=None).delete()
        RequestTask.objects.create(
            request=request,
            system=None,
            action=action or TaskAction.ERASE,
            strategy="" if action else Strategy.DELETE,
            records_found=hub.total,
            status=TaskStatus.PENDING if hub.total or not action else TaskStatus.NOT_FOUND,
        )
        if not action:
            _plan_recipients(request, hub)
        request.plan = {
            **request.plan,
            "systems": systems_plan,
            "hub": hub.as_dict(),
            "hub_total": hub.total,
            "found_systems": sum(1 for s in systems_plan if s["records"]),
            "found_records": sum(len(s["records"]) for s in systems_plan),
            "unreachable": [s["name"] for s in systems_plan if not s["ok"]],
        }
        request.planned_at = timezone.now()
        request.state = RequestState.PLANNED
        request.save()
        _changed(request)
    return request


def _plan_system(request, system: System, identifiers: dict, action) -> tuple[dict, list[RequestTask]]:
    """What one system holds of the person: its plan entry and one unsaved task per subject entity."""
    entry = {"system": system.pk, "name": system.name, "ok": True, "error": "", "records": []}
    try:
        found = _find(system, identifiers)
    except Exception as exc:  # unreachable, refused: a failed task says why, the DPO plans again
        logger.warning("plan %s: %s unreachable", request.reference, system.name, exc_info=True)
        entry.update(ok=False, error=_error_text(exc))
        task = RequestTask(
            request=request,
            system=system,
            action=action or TaskAction.ERASE,
            status=TaskStatus.FAILED,
            error=_("Could not look the person up: %(error)s") % {"error": entry["error"]},
        )
        return entry, [task]
    by_entity: dict[str, list] = {}
    for rec in found:
        by_entity.setdefault(rec.entity, []).append(rec)
        entry["records"].append({"entity": rec.entity, "id": str(rec.id), "label": str(rec.label or "")})
    tasks = []
    for spec in system.connector_class.subject_entities:
        records = by_entity.get(spec.entity, [])
        strategy, _mask, exemption = _strategy_for(system, spec)
        task = RequestTask(
            request=request,
            system=system,
            entity=spec.entity,
            records_found=len(records),
            exemption=str(exemption or ""),
        )
        task.targets = [str(r.id) for r in records]
        if action:
            task.action, task.strategy = action, ""
        else:
            task.action = TaskAction.MASK if strategy == Strategy.MASK else TaskAction.ERASE
            task.strategy = strategy if strategy in Strategy.values else ""
        if not records:
            task.status = TaskStatus.NOT_FOUND
        elif not action and strategy == EXEMPT:
            task.status = TaskStatus.EXEMPT
        tasks.append(task)
    return entry, tasks


def _plan_recipients(request: DataSubjectRequest, hub) -> None:
    """Art. 19: systems that received the person's data through the flows but cannot erase through a
    connector are told by a person; a manual "notify" task records it."""
    from flows.models import RecordLink

    subject_pks = {s.pk for s in subject_systems()}
    done = set(request.tasks.filter(action=TaskAction.NOTIFY).values_list("system_id", flat=True))
    targets = set(
        RecordLink.objects.filter(pk__in=hub.record_links).values_list("target_system_id", flat=True)
    )
    for system in System.objects.filter(pk__in=targets - subject_pks - done).order_by("name"):
        RequestTask.objects.create(
            request=request, system=system, action=TaskAction.NOTIFY, strategy=Strategy.MANUAL
        )


def _error_text(exc: Exception) -> str:
    from integration_hub.redact import mask_message

    return mask_message(str(getattr(exc, "message", "") or exc) or type(exc).__name__)[:500]


def plan_summary(request: DataSubjectRequest) -> dict:
    plan = request.plan
    return {
        "systems": plan.get("found_systems", 0),
        "records": plan.get("found_records", 0),
        "hub_rows": plan.get("hub_total", 0),
        "unreachable": plan.get("unreachable", []),
    }


# --- execute -------------------------------------------------------------------------------------------


def execute_request(request: DataSubjectRequest, *, user=None) -> DataSubjectRequest:
    """Queue the execution of a planned request (or a partial one's failed tasks again)."""
    from django_q.tasks import async_task

    _require_state(request, RequestState.PLANNED, RequestState.PARTIAL, RequestState.EXECUTING)
    if request.kind not in (RequestKind.ERASURE, RequestKind.ACCESS):
        raise RequestError(_("Only erasure and access requests are executed through the systems."))
    if request.kind == RequestKind.ERASURE and not request.identifiers:
        raise RequestError(_("The request's identifiers are gone: use reapply_erasures instead."))
    with transaction.atomic():
        # A task left running by a worker that died is tried again too.
        request.tasks.filter(status__in=[TaskStatus.FAILED, TaskStatus.RETRYING, TaskStatus.RUNNING]).update(
            status=TaskStatus.RETRYING
        )
        request.state = RequestState.EXECUTING
        request.completed_at = None
        request.save()
        _changed(request)
        pk = request.pk
        transaction.on_commit(lambda: async_task("gdpr.tasks.execute_request", pk, task_name=f"dsr {pk}"))
    return request


def progress(request: DataSubjectRequest) -> dict:
    """How far the execution is: tasks done (any end state) out of all."""
    statuses = list(request.tasks.values_list("status", flat=True))
    ended = (*DONE_TASK_STATUSES, TaskStatus.FAILED, TaskStatus.MANUAL)
    done = sum(1 for s in statuses if s in ended)
    total = len(statuses)
    return {"done": done, "total": total, "percent": round(100 * done / total) if total else 0}


def run_request(request_id: int) -> DataSubjectRequest | None:
    """Execute the tasks of one request, one by one (the task queue's job; safe to run twice)."""
    request = DataSubjectRequest.objects.filter(pk=request_id).first()
    if request is None or request.state != RequestState.EXECUTING:
        return request
    identifiers = request.identifiers
    values = identifier_values(identifiers)
    tasks = list(request.tasks.select_related("system").order_by("pk"))
    connector_tasks = [t for t in tasks if t.system_id and t.action != TaskAction.NOTIFY]
    hub_tasks = [t for t in tasks if t.system_id is None]
    for task in connector_tasks:
        if task.status in DONE_TASK_STATUSES or task.status == TaskStatus.MANUAL:
            continue
        if not task.entity:
            # The system could not be asked when the plan was made: nothing is known to erase there.
            _task_update(
                task,
                status=TaskStatus.FAILED,
                error=_("%(system)s could not be asked when the request was planned: plan again.")
                % {"system": task.system.name},
            )
            continue
        if not _claim(task):
            continue  # another worker runs it
        if request.kind == RequestKind.ACCESS:
            _run_export(request, task)
        else:
            _run_erase(request, task, identifiers)
        _changed(request)
    if request.kind == RequestKind.ERASURE:
        for task in hub_tasks:
            if task.status not in DONE_TASK_STATUSES:
                _run_hub_purge(request, task, identifiers)
        for task in tasks:
            if task.action == TaskAction.NOTIFY and task.status == TaskStatus.PENDING:
                _task_update(
                    task,
                    status=TaskStatus.MANUAL,
                    post_check_detail=_("Tell this recipient of the erasure (Art. 19), then mark it done."),
                )
        suppress(identifiers, request=request)
    else:
        for task in hub_tasks:
            if task.status not in DONE_TASK_STATUSES:
                _task_update(task, status=TaskStatus.SUCCEEDED, finished_at=timezone.now())
    return _finish(request, values)


def _claim(task: RequestTask) -> bool:
    """pending / retrying / failed → running, unless another worker took the task first."""
    claimable = (TaskStatus.PENDING, TaskStatus.RETRYING, TaskStatus.FAILED)
    claimed = RequestTask.objects.filter(pk=task.pk, status__in=claimable).update(status=TaskStatus.RUNNING)
    if claimed:
        task.status = TaskStatus.RUNNING
    return bool(claimed)


def _task_update(task: RequestTask, **fields) -> None:
    for name, value in fields.items():
        setattr(task, name, value)
    task.save()


def _connector(system):
    return system.get_connector()


def _run_erase(request: DataSubjectRequest, task: RequestTask, identifiers: dict) -> None:
    if task.strategy == Strategy.MANUAL:
        _task_update(
            task,
            status=TaskStatus.MANUAL,
            post_check_detail=_("Erase the records by hand in %(system)s, then mark the task done.")
            % {"system": task.system.name},
        )
        return
    strategy = task.strategy or Strategy.DELETE
    declared = {e.entity: e for e in task.system.connector_class.subject_entities}.get(task.entity)
    mask = {}
    if declared is not None:
        strategy, mask, _exemption = _strategy_for(task.system, declared)
    targets = task.targets
    _task_update(task, status=TaskStatus.RUNNING, started_at=task.started_at or timezone.now(), error="")
    last_error = ""
    for _try in range(TASK_ATTEMPTS):
        task.attempts += 1
        affected, errors = 0, []
        try:
            connector = _connector(task.system)
            try:
                for record_id in targets:
                    result = connector.erase_subject(
                        task.entity, record_id, strategy=strategy, mask=mask or None
                    )
                    if result.ok:
                        affected += result.action in ("erased", "masked", "deleted", "updated")
                    else:
                        errors.append(_error_text(result.error) if result.error else _("refused"))
            finally:
                getattr(connector, "close", lambda: None)()
        except Exception as exc:
            errors.append(_error_text(exc))
        if not errors:
            passed, detail = _post_check(task, identifiers, strategy)
            _task_update(
                task,
                status=TaskStatus.SUCCEEDED if passed else TaskStatus.FAILED,
                records_affected=affected,
                post_check="passed" if passed else "failed",
                post_check_detail=detail,
                error="" if passed else _("The post-check found the person still there."),
                finished_at=timezone.now(),
            )
            return
        last_error = "; ".join(errors)[:2000]
        _task_update(task, status=TaskStatus.RETRYING, error=last_error, records_affected=affected)
    _task_update(task, status=TaskStatus.FAILED, error=last_error, finished_at=timezone.now())


def _post_check(task: RequestTask, identifiers: dict, strategy: str) -> tuple[bool, str]:
    """Ask the system again: a deleted record must not be found; a masked one must hold no identifier."""
    try:
        found = [r for r in _find(task.system, identifiers) if r.entity == task.entity]
    except Exception as exc:
        return False, _("The system could not be asked again: %(error)s") % {"error": _error_text(exc)}
    if strategy == Strategy.MASK:
        values = [v.casefold() for v in identifier_values(identifiers) if len(v) >= 3]
        holding = [r for r in found if any(v in json.dumps(r.data, default=str).casefold() for v in values)]
        if holding:
            return False, _("%(n)s record(s) still hold an identifier after masking.") % {"n": len(holding)}
        return True, _("Looked up again: the masked records hold no identifier.")
    targets = set(task.targets)
    left = [r for r in found if str(r.id) in targets] or found
    if left:
        return False, _("%(n)s record(s) still found after the erasure.") % {"n": len(left)}
    return True, _("Looked up again: not found.")


def _run_hub_purge(request: DataSubjectRequest, task: RequestTask, identifiers: dict) -> None:
    _task_update(task, status=TaskStatus.RUNNING, started_at=task.started_at or timezone.now())
    task.attempts += 1
    keys = request.subject_keys.split()
    records = _plan_records(request)
    values = identifier_values(identifiers)
    try:
        rows = purge.find_hub_rows(keys, records, values)
        ids = [r["id"] for r in records]
        counts = purge.purge_hub_rows(rows, reason=request.reference, values=values, ids=ids)
        after = purge.find_hub_rows(keys, records, values)
    except Exception as exc:
        logger.exception("hub purge of %s failed", request.reference)
        _task_update(task, status=TaskStatus.FAILED, error=_error_text(exc), finished_at=timezone.now())
        return
    left = len(after.record_links) + len(after.failed_records) + len(after.webhook_events)
    plan = request.plan
    before = plan.get("purged") or {}
    plan["purged"] = {store: before.get(store, 0) + n for store, n in counts.items()}
    request.plan = plan
    request.save(update_fields=["plan_encrypted", "updated"])
    _task_update(
        task,
        status=TaskStatus.SUCCEEDED if not left else TaskStatus.FAILED,
        records_affected=sum(counts.values()),
        post_check="passed" if not left else "failed",
        post_check_detail=(
            _("Searched again: no link, failed record or webhook event of the person left.")
            if not left
            else _("%(n)s rows still found.") % {"n": left}
        ),
        finished_at=timezone.now(),
    )


def _plan_records(request: DataSubjectRequest) -> list[dict]:
    """The person's record ids per system and entity, from the tasks (kept after the plan's details go)."""
    records = []
    for task in request.tasks.exclude(system=None).exclude(action=TaskAction.NOTIFY):
        records.extend({"system": task.system_id, "entity": task.entity, "id": i} for i in task.targets)
    return records


def _run_export(request: DataSubjectRequest, task: RequestTask) -> None:
    _task_update(task, status=TaskStatus.RUNNING, started_at=task.started_at or timezone.now())
    task.attempts += 1
    data, errors = [], []
    try:
        connector = _connector(task.system)
        try:
            for record_id in task.targets:
                data.append({"id": record_id, "data": connector.export_subject(task.entity, record_id)})
        finally:
            getattr(connector, "close", lambda: None)()
    except Exception as exc:
        errors.append(_error_text(exc))
    with transaction.atomic():
        export = request.export or {"systems": []}
        export["systems"] = [
            s
            for s in export["systems"]
            if not (s["system_id"] == task.system_id and s["entity"] == task.entity)
        ]
        export["systems"].append(
            {"system_id": task.system_id, "system": task.system.name, "entity": task.entity, "records": data}
        )
        request.export = export
        request.save(update_fields=["export_encrypted", "updated"])
        _task_update(
            task,
            status=TaskStatus.FAILED if errors else TaskStatus.SUCCEEDED,
            records_affected=len(data),
            error="; ".join(errors)[:2000],
            finished_at=timezone.now(),
        )


def _finish(request: DataSubjectRequest, values: list[str]) -> DataSubjectRequest:
    from gdpr import evidence

    statuses = list(request.tasks.values_list("status", flat=True))
    complete = all(s in DONE_TASK_STATUSES for s in statuses)
    with transaction.atomic():
        request.state = RequestState.COMPLETED if complete else RequestState.PARTIAL
        request.completed_at = timezone.now()
        if complete and request.kind == RequestKind.ERASURE:
            # What is left of the person: keyed hashes, the tasks' record ids (encrypted), counts.
            plan = request.plan
            for entry in plan.get("systems", []):
                entry["records"] = [{"entity": r["entity"]} for r in entry.get("records", [])]
            request.plan = plan
            request.save()
            evidence.build_pack(request, values=values)
            request.identifiers = {}
        request.save()
        if complete and request.kind == RequestKind.ACCESS:
            evidence.build_pack(request, values=values)
        _changed(request)
    return request


def complete_manual_task(task: RequestTask, note: str, *, user) -> RequestTask:
    """A person did a manual task (erased by hand, notified a recipient): mark it done, saying how."""
    if task.status not in (TaskStatus.MANUAL, TaskStatus.FAILED):
        raise RequestError(_("Only a manual or failed task can be marked done by hand."))
    if not (note or "").strip():
        raise RequestError(_("Say what was done."))
    with transaction.atomic():
        _task_update(
            task,
            status=TaskStatus.SUCCEEDED,
            post_check="",
            post_check_detail=note.strip()[:2000],
            completed_by=user,
            finished_at=timezone.now(),
        )
        record(AuditAction.UPDATE, task.request, message=f"task {task.pk} marked done by hand")
        request = task.request
        if request.state == RequestState.PARTIAL:
            statuses = list(request.tasks.values_list("status", flat=True))
            if all(s in DONE_TASK_STATUSES for s in statuses):
                _finish(request, identifier_values(request.identifiers))
    return task


# --- reading the register for access requests ----------------------------------------------------------


def register_context(request: DataSubjectRequest) -> list:
    """The register entries of the flows touching the systems that hold the person: purposes,
    recipients, retention and sources for the access page."""
    from gdpr.models import ProcessingActivity

    system_ids = {t.system_id for t in request.tasks.exclude(system=None) if t.records_found}
    flows = Flow.objects.filter(source_system_id__in=system_ids) | Flow.objects.filter(
        target_system_id__in=system_ids
    )
    return list(
        ProcessingActivity.objects.filter(flows__in=flows)
        .distinct()
        .prefetch_related("purposes", "data_categories", "flows__source_system", "flows__target_system")
    )


# --- the deadline alert condition -----------------------------------------------------------------------


def deadline_breaches(ctx) -> list:
    """Open requests overdue or due within N days (the rule's threshold, a week by default)."""
    days = ctx.rule.threshold if ctx.rule.threshold is not None else deadlines.DUE_SOON_DAYS
    today = timezone.localdate(ctx.now)
    breaches = []
    from gdpr.models.choices import OPEN_REQUEST_STATES

    for request in DataSubjectRequest.objects.filter(
        state__in=OPEN_REQUEST_STATES, due_on__lte=today + timedelta(days=days)
    ).only("pk", "reference", "due_on", "kind"):
        if request.due_on < today:
            summary = _("Request %(ref)s is overdue: it was due on %(due)s.")
        else:
            summary = _("Request %(ref)s is due on %(due)s.")
        summary %= {"ref": request.reference, "due": request.due_on.isoformat()}
        breaches.append(
            (f"dsr:{request.pk}", summary, {"request": request.pk, "due_on": request.due_on.isoformat()})
        )
    return breaches


def register_alert_condition() -> None:
    from django.utils.translation import gettext_lazy

    from monitoring import alerts

    alerts.register_condition(
        "gdpr_request_deadline",
        gettext_lazy("Data-subject request due within N days, or overdue"),
        deadline_breaches,
        params=("threshold",),
        level=alerts.GLOBAL,
        help=gettext_lazy("N: how many days before the due date the rule fires (overdue requests always)."),
    )


# --- after a backup restore -------------------------------------------------------------------------------


def reapply_erasure(request: DataSubjectRequest) -> dict:
    """Erase again, after a backup restore, what a completed erasure erased.

    Can: erase again by record id in each system (the ids the plan found, kept encrypted in the tasks),
    with the same strategy; purge the hub's links and failed records again by the person's keyed hashes
    and those ids; make sure the suppression keys are still listed (they are the keyed hashes, kept).

    Cannot: find records the restored systems gave new ids (the identifiers are gone, so the person
    cannot be looked up again — the suppression list stops flows from re-creating them, and a record
    re-created by hand in a system is not found); check a masked record for the identifiers (unknown
    now); undo what a restored system sent elsewhere before this command ran.
    """
    from gdpr.models import SuppressedSubject

    if request.kind != RequestKind.ERASURE or request.state not in (
        RequestState.COMPLETED,
        RequestState.PARTIAL,
    ):
        raise RequestError(_("Only completed erasures are re-applied."))
    outcome = {"erased": 0, "unchanged": 0, "failed": 0, "hub_rows": 0}
    for task in request.tasks.select_related("system").exclude(system=None):
        if task.action not in (TaskAction.ERASE, TaskAction.MASK) or task.status != TaskStatus.SUCCEEDED:
            continue
        if task.strategy == Strategy.MANUAL or not task.targets:
            continue
        declared = {e.entity: e for e in task.system.connector_class.subject_entities}.get(task.entity)
        strategy, mask = task.strategy or Strategy.DELETE, {}
        if declared is not None:
            strategy, mask, _exemption = _strategy_for(task.system, declared)
        try:
            connector = _connector(task.system)
            try:
                for record_id in task.targets:
                    result = connector.erase_subject(
                        task.entity, record_id, strategy=strategy, mask=mask or None
                    )
                    if not result.ok:
                        outcome["failed"] += 1
                    elif result.action == "unchanged":
                        outcome["unchanged"] += 1
                    else:
                        outcome["erased"] += 1
            finally:
                getattr(connector, "close", lambda: None)()
        except Exception:
            logger.exception("re-applying %s in %s failed", request.reference, task.system)
            outcome["failed"] += len(task.targets)
    records = _plan_records(request)
    rows = purge.find_hub_rows(request.subject_keys.split(), records)
    counts = purge.purge_hub_rows(
        rows, reason=f"{request.reference} (re-applied)", ids=[r["id"] for r in records]
    )
    outcome["hub_rows"] = sum(counts.values())
    missing = SuppressedSubject.objects.filter(request=request).count()
    outcome["suppression_keys"] = missing
    record(
        AuditAction.UPDATE,
        request,
        message=(
            f"erasure re-applied after a restore: {outcome['erased']} erased, {outcome['unchanged']} already "
            f"gone, {outcome['failed']} failed, {outcome['hub_rows']} hub rows purged"
        ),
    )
    return outcome
