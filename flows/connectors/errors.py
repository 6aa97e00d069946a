"""The connector error taxonomy. The engine's failure policy is decided by the class of the error:

- ``TransientError``: network trouble, 5xx, timeouts, malformed responses — retry with backoff;
- ``RateLimited``: the remote asked us to slow down — wait ``retry_after`` seconds;
- ``AuthError``: credentials refused (401) or not allowed (403) — fail the run fast;
- ``ConfigError``: the system or flow is configured wrongly — fail fast, tell the admin what to fix;
- ``RecordError``: the remote rejected one record — it goes to triage with the remote's message;
- ``NotFound``: the record or endpoint does not exist.
"""


class ConnectorError(Exception):
    """Base of every error a connector raises. ``message`` is written for the people reading it."""

    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        detail: str = "",
        remote: object = None,
        reason: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail
        self.remote = remote
        # Finer cause for people: dns, refused, tls, timeout, http, malformed, forbidden…
        self.reason = reason

    def __str__(self):
        return self.message


class TransientError(ConnectorError):
    kind = "transient"


class RateLimited(TransientError):
    kind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class AuthError(ConnectorError):
    kind = "auth"


class ConfigError(ConnectorError):
    kind = "config"


class RecordError(ConnectorError):
    kind = "record"


class NotFound(ConnectorError):
    kind = "not_found"
