"""The suppression list: erased persons' e-mails and phones, kept only as keyed hashes, checked by every
flow (``flows.suppression``) so that a lagging system, a restored backup or a re-import cannot bring the
person back."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from flows.lookup import lookup_key

SUPPRESSED_KINDS = ("email", "phone", "national_id")


def subject_key(kind: str, value: str) -> str:
    """The keyed hash of one identifier, as the flows compute it from their mapped values (trimmed,
    case-folded by ``lookup_key``; a phone written another way — spaces, dots — is another value). The
    kind is not part of the hash: a flow hashes a value without knowing which kind it is."""
    return lookup_key(value)


def active_keys() -> frozenset[str]:
    from gdpr.models import SuppressedSubject

    return frozenset(SuppressedSubject.objects.values_list("key", flat=True))


def record_hits(hits: dict[str, int]) -> None:
    from gdpr.models import SuppressedSubject

    now = timezone.now()
    for key, count in hits.items():
        SuppressedSubject.objects.filter(key=key).update(hits=F("hits") + count, last_hit=now)


def suppress(identifiers: dict[str, list[str]], request=None) -> int:
    """Add a person's e-mails and phones to the list (idempotent); how many keys are new."""
    from gdpr.models import SuppressedSubject

    added = 0
    for kind in SUPPRESSED_KINDS:
        for value in identifiers.get(kind) or []:
            if not str(value).strip():
                continue
            _obj, created = SuppressedSubject.objects.get_or_create(
                key=subject_key(kind, value), defaults={"kind": kind, "request": request}
            )
            added += created
    return added
