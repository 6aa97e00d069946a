"""Evidence packs: what was done where for a data-subject request, pseudonymised, hash-chained.

A pack holds the request's reference, pseudonym and the keyed hashes of its identifiers — never a plain
identifier — and per task: system, entity, action, strategy, status, attempts, counts, post-check and
timestamps. Its ``hash`` is the SHA-256 of the canonical JSON of ``{sequence, previous_hash, data}``,
``previous_hash`` the hash of the pack before it: changing, removing or reordering a pack breaks every
hash after it, which ``verify_chain()`` reports.
"""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from django.utils import timezone

from gdpr.models import DataSubjectRequest, EvidencePack
from integration_hub.redact import MASK, mask_message

FORMAT = "integration-hub/evidence-pack/1"


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def pack_hash(sequence: int, previous_hash: str, data: dict) -> str:
    body = canonical({"sequence": sequence, "previous_hash": previous_hash, "data": data})
    return hashlib.sha256(body.encode()).hexdigest()


def _iso(value):
    return value.isoformat() if value else None


def _clean(text: str, values: list[str]) -> str:
    """Free text (an error, a post-check detail) with the person's identifiers and any address masked."""
    text = text or ""
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = text.replace(value, MASK)
            text = text.replace(value.casefold(), MASK)
    return mask_message(text)


def evidence_data(request: DataSubjectRequest, *, values: list[str] = ()) -> dict:
    """The pack's content for ``request`` (pseudonymised: identifiers as keyed hashes only)."""
    values = [str(v) for v in values]
    tasks = []
    for task in request.tasks.select_related("system").order_by("pk"):
        tasks.append(
            {
                "system": task.system.name if task.system else "Integration Hub",
                "system_id": task.system_id,
                "entity": task.entity,
                "action": task.action,
                "strategy": task.strategy,
                "status": task.status,
                "exemption": _clean(task.exemption, values),
                "attempts": task.attempts,
                "records_found": task.records_found,
                "records_affected": task.records_affected,
                "post_check": task.post_check,
                "post_check_detail": _clean(task.post_check_detail, values),
                "error": _clean(task.error, values),
                "started_at": _iso(task.started_at),
                "finished_at": _iso(task.finished_at),
            }
        )
    plan = request.plan
    return {
        "format": FORMAT,
        "reference": request.reference,
        "kind": request.kind,
        "state": request.state,
        "pseudonym": request.pseudonym,
        "subject_keys": request.subject_keys.split(),
        "received_on": _iso(request.received_on),
        "due_on": _iso(request.due_on),
        "extended_months": request.extended_months,
        "identity_verified_at": _iso(request.identity_verified_at),
        "verification_method": _clean(request.verification_method, values),
        "verified_by": request.verified_by.get_username() if request.verified_by else None,
        "planned_at": _iso(request.planned_at),
        "completed_at": _iso(request.completed_at),
        "signed_off_by": request.signed_off_by.get_username() if request.signed_off_by else None,
        "signed_off_at": _iso(request.signed_off_at),
        "found": {
            "systems": plan.get("found_systems", 0),
            "records": plan.get("found_records", 0),
            "hub_rows": plan.get("hub_total", 0),
        },
        "hub_purge": plan.get("purged", {}),
        "suppressed_keys": request.suppressions.count(),
        "tasks": tasks,
        "generated_at": timezone.now().isoformat(),
    }


def build_pack(request: DataSubjectRequest, *, values: list[str] = ()) -> EvidencePack:
    """The request's evidence pack, chained to the latest one (made once; returned as is after)."""
    existing = EvidencePack.objects.filter(request=request).first()
    if existing is not None:
        return existing
    data = evidence_data(request, values=values)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                last = EvidencePack.objects.select_for_update().order_by("-sequence").first()
                sequence = (last.sequence + 1) if last else 1
                previous = last.hash if last else ""
                return EvidencePack.objects.create(
                    request=request,
                    sequence=sequence,
                    data=data,
                    previous_hash=previous,
                    hash=pack_hash(sequence, previous, data),
                )
        except IntegrityError:  # another pack took the sequence number: chain after it
            existing = EvidencePack.objects.filter(request=request).first()
            if existing is not None:
                return existing
    raise RuntimeError("could not chain the evidence pack")


def verify_chain(packs=None) -> list[str]:
    """Problems found in the chain of packs, oldest first; an empty list when it is intact."""
    problems = []
    previous = ""
    expected_sequence = None
    for pack in packs if packs is not None else EvidencePack.objects.order_by("sequence"):
        if expected_sequence is not None and pack.sequence != expected_sequence:
            problems.append(
                f"pack #{pack.sequence}: a pack is missing before it (expected #{expected_sequence})"
            )
        if pack.previous_hash != previous:
            problems.append(f"pack #{pack.sequence}: does not follow the pack before it")
        if pack_hash(pack.sequence, pack.previous_hash, pack.data) != pack.hash:
            problems.append(f"pack #{pack.sequence}: its content does not match its hash (altered)")
        previous = pack.hash
        expected_sequence = pack.sequence + 1
    return problems


def export(pack: EvidencePack) -> dict:
    """The downloadable JSON: the pack's content with its place in the chain."""
    return {
        "sequence": pack.sequence,
        "previous_hash": pack.previous_hash,
        "hash": pack.hash,
        "hash_algorithm": "sha256 over canonical JSON of {sequence, previous_hash, data}",
        "data": pack.data,
    }
