"""Privacy by design: the one check a flow passes before it is enabled (``designer.save_flow`` asks here,
so the console, the API, config import, maintenance resume and the demo all go through it).

A flow whose mappings carry personal data (``FieldMapping.personal``) may be enabled only when the GDPR
register covers it. ``gdpr`` installs the check at start-up (``GdprConfig.ready``); without it nothing is
refused. Asked when a flow is enabled, and when an enabled flow starts moving a kind of personal data it
did not move before.
"""

from __future__ import annotations

from collections.abc import Callable

_checks: list[Callable] = []


def install(check: Callable) -> None:
    """Add ``check(data, flow) -> str | None`` (a reason to refuse, or None); installing twice is a no-op."""
    if check not in _checks:
        _checks.append(check)


def personal_tags(definition: dict) -> set[str]:
    """The personal-data kinds a definition's mappings carry."""
    return {
        m.get("personal")
        for m in definition.get("mappings") or []
        if isinstance(m, dict) and m.get("personal")
    }


def enable_problem(data: dict, flow=None) -> str | None:
    """Why the definition ``data`` may not be saved enabled on ``flow`` (None: a new flow), or None."""
    if not data.get("enabled") or not personal_tags(data):
        return None
    if flow is not None and flow.pk and flow.enabled:
        before = {tag for tag in flow.mappings.values_list("personal", flat=True) if tag}
        if personal_tags(data) <= before:
            return None  # already enabled, and moves no new kind of personal data
    for check in _checks:
        problem = check(data, flow if flow is not None and flow.pk else None)
        if problem:
            return problem
    return None
