import logging
import re

from integration_hub.context import current


class RequestContextFilter(logging.Filter):
    """Stamp each log record with the acting request id (``-`` outside a request)."""

    def filter(self, record):
        ctx = current()
        record.request_id = str(ctx.request_id)[:8] if ctx.source != "system" else "-"
        return True


_HOOK_TOKEN = re.compile(r"(/hooks/[^/\s]+/)[^/\s\"']+")


class SecretPathFilter(logging.Filter):
    """Mask the token of inbound webhook addresses (``/hooks/<system>/<token>/``) in log lines, which
    Django's request logger and the ASGI server's access log would otherwise write in full."""

    def filter(self, record):
        if "/hooks/" in str(record.msg) or any(
            "/hooks/" in str(a) for a in (record.args or ()) if isinstance(record.args, tuple)
        ):
            record.msg = _HOOK_TOKEN.sub(r"\1***", str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(
                    _HOOK_TOKEN.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
                )
        return True


class RedactingFilter(logging.Filter):
    """Mask secrets and personal values in every log record before any handler writes it.

    The message is formatted once (``msg % args``) and redacted: ``Authorization: Bearer …``,
    ``password=…``, ``api_key: …`` values, e-mail addresses and phone numbers; dict arguments and the
    ``context`` extra are redacted by key (secret-looking keys) and by value.
    """

    def filter(self, record):
        from integration_hub.redact import redact, redact_text

        try:
            message = record.getMessage()
        except Exception:  # a broken format string: log what there is rather than lose the line
            message = str(record.msg)
        record.msg, record.args = redact_text(message), None
        for name in ("context", "payload", "headers", "params"):
            if isinstance(getattr(record, name, None), dict | list):
                setattr(record, name, redact(getattr(record, name)))
        return True


# Attributes every LogRecord has: anything else was passed with ``extra=`` and goes into the JSON line.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and — when the record
    carries them — run, flow and system ids (``hub.run``), the event and its context, the exception."""

    def format(self, record):
        import json
        from datetime import UTC, datetime

        from integration_hub.redact import redact, redact_text

        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = redact(value) if isinstance(value, dict | list) else value
        if record.exc_info:
            entry["exception"] = redact_text(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
