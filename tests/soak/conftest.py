"""The soak's summary: printed at the end of the session and written to test-results/soak-summary.json
when soak tests ran (``make soak``)."""

import json
import time
from pathlib import Path

from tests.soak import summary

ROOT = Path(__file__).resolve().parent.parent.parent
_started = time.monotonic()


def _soak_ran(session) -> bool:
    return any(item.get_closest_marker("soak") for item in session.items)


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput") or not _soak_ran(session) or not summary.tests:
        return
    out = ROOT / "test-results" / "soak-summary.json"
    out.parent.mkdir(exist_ok=True)
    data = {
        **summary.as_dict(),
        "wall_seconds": round(time.monotonic() - _started),
        "passed": exitstatus == 0,
    }
    out.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    session.config._soak_summary = (out, data)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    found = getattr(config, "_soak_summary", None)
    if not found:
        return
    out, data = found
    terminalreporter.section("soak summary")
    for name in summary.FIGURES:
        terminalreporter.write_line(f"{name:>16}: {data[name]}")
    terminalreporter.write_line(
        f"{'faults injected':>16}: {data['faults_injected_total']} {json.dumps(data['faults_injected'])}"
    )
    terminalreporter.write_line(f"{'wall time':>16}: {data['wall_seconds']} s")
    terminalreporter.write_line(f"written to {out.relative_to(ROOT)}")
