"""JSON logs (``HUB_LOG_FORMAT=json``): one object per line with time, level, logger, message, request
id and the run, flow and system ids the engine passes; secrets and personal values come out masked, in
the text format too."""

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from integration_hub.log import JsonFormatter, RedactingFilter, RequestContextFilter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_log():
    """A logger writing through the console handler's filters and the JSON formatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("tests.json_logs")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield logger, lines
    logger.removeHandler(handler)


def test_shape_and_ids(json_log):
    logger, lines = json_log
    logger.warning(
        "Page %s committed", 3, extra={"run_id": 12, "flow_id": 4, "system_id": 7, "event": "page.committed"}
    )
    (entry,) = lines()
    assert entry["message"] == "Page 3 committed"
    assert entry["level"] == "WARNING" and entry["logger"] == "tests.json_logs"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"]
    assert entry["request_id"] == "-"  # outside a request
    assert (entry["run_id"], entry["flow_id"], entry["system_id"], entry["event"]) == (
        12,
        4,
        7,
        "page.committed",
    )


def test_secrets_and_personal_values_are_masked(json_log):
    logger, lines = json_log
    logger.info(
        "Calling %s with Authorization: Bearer sk_live_abc123 for %s, password=hunter2",
        "https://api.example.test/v1?api_key=K3Y&page=2",
        "jane.doe@example.com",
        extra={
            "context": {"token": "t0k3n", "customer": "bob@example.org", "phone": "+33 6 12 34 56 78", "n": 5}
        },
    )
    logger.error("Refused", exc_info=ValueError("contact jane.doe@example.com"))
    first, second = lines()
    text = json.dumps([first, second])
    for secret in ("sk_live_abc123", "hunter2", "K3Y", "t0k3n", "jane.doe@example.com", "bob@example.org",
                   "12 34 56"):  # fmt: skip
        assert secret not in text
    assert "j***@example.com" in first["message"] and "page=2" in first["message"]
    assert first["context"]["n"] == 5 and first["context"]["token"] == "***"
    assert "j***@example.com" in second["exception"]


def test_ids_and_dates_stay_readable():
    from integration_hub.redact import redact_text

    line = "Run 100000123 of flow 4 from 127.0.0.1 since 2026-12-03 13:24:30"
    assert redact_text(line) == line


def test_the_engine_log_goes_out_as_json_with_its_ids_and_masked(tmp_path):
    """The real settings with HUB_LOG_FORMAT=json, in a fresh process: a run log line on stderr."""
    script = (
        "import django, logging; django.setup();"
        "logging.getLogger('hub.run').warning('Failed: customer ann@example.com refused, token=abc',"
        " extra={'run_id': 5, 'flow_id': 2, 'system_id': 9, 'event': 'run.failed'})"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "HUB_LOG_FORMAT": "json",
        "HUB_NAMESPACE": "hubtestjsonlogs",
        "HUB_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    entries = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    (entry,) = [e for e in entries if e["logger"] == "hub.run"]
    assert (entry["run_id"], entry["flow_id"], entry["system_id"]) == (5, 2, 9)
    assert "ann@example.com" not in entry["message"] and "abc" not in entry["message"]

    env["HUB_LOG_FORMAT"] = "text"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert "WARNING hub.run" in done.stderr and "a***@example.com" in done.stderr
    assert not done.stderr.lstrip().startswith("{")
