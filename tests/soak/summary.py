"""The soak's figures, added up by the fault tests as they go and written at the end of the session
(``tests/soak/conftest.py``): runs killed, faults injected (as the servers counted them), records
checked, records lost and duplicates (both must be 0), per test and in total."""

from __future__ import annotations

from collections import Counter

FIGURES = ("runs_killed", "records_checked", "records_lost", "duplicates", "runs")

totals: Counter = Counter()
faults: Counter = Counter()
tests: dict[str, dict] = {}


def record(test: str, *, faults_injected: dict | None = None, **figures: int) -> None:
    """Add a test's figures (``runs_killed=3, records_checked=500, records_lost=0, duplicates=0``)."""
    entry = tests.setdefault(test, {"faults_injected": {}})
    for name, value in figures.items():
        entry[name] = entry.get(name, 0) + int(value)
        totals[name] += int(value)
    for kind, value in (faults_injected or {}).items():
        entry["faults_injected"][kind] = entry["faults_injected"].get(kind, 0) + int(value)
        faults[kind] += int(value)


def note(test: str, **facts) -> None:
    """Facts that are not counts (a run's status, how long an outage lasted)."""
    tests.setdefault(test, {"faults_injected": {}}).update(facts)


def as_dict() -> dict:
    return {
        **{name: totals.get(name, 0) for name in FIGURES},
        "faults_injected": dict(faults),
        "faults_injected_total": sum(faults.values()),
        "tests": tests,
    }
