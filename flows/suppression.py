"""The hooks through which every flow skips records of erased persons (the GDPR suppression list) and,
for a consent-based purpose, the records of persons who did not consent.

``gdpr`` installs the provider at start-up (``GdprConfig.ready``); without it nothing is suppressed.
A flow hashes the e-mail and phone values its mapping tags as personal (``flows.lookup.lookup_key``,
the same keyed hash the suppression list keeps) and leaves out a record whose hash is listed: it is
counted ``suppressed``, never written, never put in triage.
"""

from __future__ import annotations

from collections.abc import Callable

from flows.choices import PersonalData
from flows.engine.paths import PathError, parse_path

# Identifier kinds worth suppressing on: unique to one person across systems (an ERP customer number
# is not: another system's record 42 is somebody else).
SUPPRESSIBLE = (PersonalData.EMAIL, PersonalData.PHONE, PersonalData.NATIONAL_ID)

_provider: Callable[[], frozenset[str]] | None = None
_on_hits: Callable[[dict[str, int]], None] | None = None
_consent: Callable[[int], str] | None = None

# Values of a consent field that mean "granted" (compared case-insensitively, as text).
GRANTED = frozenset({"true", "1", "yes", "y", "granted", "opt-in", "optin", "opted_in", "subscribed", "on"})


def install(
    provider: Callable[[], frozenset[str]],
    on_hits: Callable[[dict[str, int]], None],
    consent: Callable[[int], str] | None = None,
) -> None:
    global _provider, _on_hits, _consent
    _provider, _on_hits, _consent = provider, on_hits, consent


def consent_path(flow_id: int):
    """The source path of the consent flag a flow must check (None: the flow is not consent-gated)."""
    name = _consent(flow_id) if _consent is not None else ""
    if not name:
        return None
    try:
        return parse_path(name)
    except PathError:
        return None


def granted(value) -> bool:
    """Whether a consent field's value says yes (absent, empty, false or unknown: no)."""
    if value is True:
        return True
    if value is None or value is False or isinstance(value, dict | list):
        return False
    return str(value).strip().casefold() in GRANTED


def active_keys() -> frozenset[str]:
    """The suppressed keyed hashes (read once per run)."""
    return _provider() if _provider is not None else frozenset()


def report_hits(hits: dict[str, int]) -> None:
    if hits and _on_hits is not None:
        _on_hits(hits)


def paths_of(definition: dict) -> list:
    """The target paths of a flow version that carry a suppressible identifier."""
    paths = []
    for mapping in definition.get("mappings") or []:
        if mapping.get("personal") in SUPPRESSIBLE and mapping.get("target"):
            try:
                paths.append(parse_path(mapping["target"]))
            except PathError:
                continue
    return paths
