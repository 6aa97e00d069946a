import logging

from integration_hub.context import current


class RequestContextFilter(logging.Filter):
    """Stamp each log record with the acting request id (``-`` outside a request)."""

    def filter(self, record):
        ctx = current()
        record.request_id = str(ctx.request_id)[:8] if ctx.source != "system" else "-"
        return True
