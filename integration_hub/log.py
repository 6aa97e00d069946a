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
