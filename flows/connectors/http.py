"""The one HTTP client factory every connector uses.

``HubClient`` wraps an ``httpx.Client`` with: timeouts, TLS verification on, the outbound allow-list,
the system's request budget and circuit breaker (shared by every process through
``flows.coordination``, see ``flows.breaker``), retries with
exponential backoff and jitter on connection errors and 502/503/504, ``Retry-After`` honoured on 429
and 503, a request id on every call, request logging with secrets and personal values redacted, and
the mapping of HTTP failures onto the connector error taxonomy.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import random
import re
import ssl
import time
import uuid
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import breaker
from flows.connectors.base import CheckResult, ConnectionSettings
from flows.connectors.errors import (
    AuthError,
    ConfigError,
    ConnectorError,
    RateLimited,
    TransientError,
)
from flows.coordination import Budget
from integration_hub.outbound import url_allowed

logger = logging.getLogger("flows.http")

RETRY_STATUSES = {502, 503, 504}
MAX_RETRY_AFTER = 120.0
USER_AGENT = "IntegrationHub/0.1 (+https://github.com/integration-hub)"
_SENSITIVE_QUERY = re.compile(r"key|token|secret|password|passwd|signature|sig|auth|session", re.I)
_EMAIL = re.compile(r"[^@\s/&=?]+@[^@\s/&=?]+")


# What a failed connection test's ``kind`` means, in words for the console.
FAILURE_KINDS = {
    "dns": gettext_lazy("host not found"),
    "refused": gettext_lazy("connection refused"),
    "tls": gettext_lazy("TLS certificate"),
    "timeout": gettext_lazy("timeout"),
    "auth": gettext_lazy("credentials refused"),
    "forbidden": gettext_lazy("not allowed"),
    "rate_limited": gettext_lazy("rate limited"),
    "http": gettext_lazy("HTTP error"),
    "config": gettext_lazy("configuration"),
    "malformed": gettext_lazy("unreadable answer"),
    "network": gettext_lazy("network"),
    "not_found": gettext_lazy("not found"),
    "host_key": gettext_lazy("unknown host key"),
    "breaker": gettext_lazy("circuit open"),
}


def redact_url(url: str) -> str:
    """The URL with secret-looking query values and e-mail addresses masked, for logs."""
    parts = urlsplit(url)
    query = [
        (k, "***" if _SENSITIVE_QUERY.search(k) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    masked = urlunsplit((parts.scheme, parts.netloc.split("@")[-1], parts.path, urlencode(query), ""))
    return _EMAIL.sub("***@***", masked)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (delta or HTTP date), capped; None when absent or unreadable."""
    raw = response.headers.get("Retry-After")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def remote_message(response: httpx.Response) -> str:
    """The remote's own error message, found in the usual places of a JSON error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300].strip()
    if isinstance(body, dict):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value[:500]
            if isinstance(value, dict) and isinstance(value.get("message"), str):
                return value["message"][:500]
    return json.dumps(body)[:300]


@functools.cache
def _tls_context(verify: bool) -> ssl.SSLContext:
    """The TLS settings of every client, made once per process: building them (loading the CA
    bundle) costs ~25 ms of CPU, and a run opens a client per system. Clients speak HTTP/1.1 only,
    so the ALPN httpcore sets on it per connection is always the same."""
    return httpx.create_ssl_context(verify=verify)


class HubClient:
    """HTTP for one system. Use as a context manager or call ``close()``."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        base_url: str,
        headers: dict | None = None,
        auth: httpx.Auth | None = None,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ):
        if not base_url or urlsplit(base_url).scheme not in ("http", "https"):
            raise ConfigError(_("The base URL must start with http:// or https://."), reason="config")
        self.settings = settings
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.budget = Budget(
            settings.system_id or 0, settings.rate_limit, settings.max_concurrency, settings.timeout
        )
        timeout = httpx.Timeout(settings.timeout, connect=min(10.0, settings.timeout))
        self._client = httpx.Client(
            base_url=base_url,
            timeout=timeout,
            verify=_tls_context(settings.verify_tls),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
            auth=auth,
            follow_redirects=False,
            transport=transport,
        )

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._client.close()

    def _sleep_before_retry(self, attempt: int, floor: float | None = None) -> None:
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)  # noqa: S311
        time.sleep(max(delay, floor or 0.0))

    def request(self, method: str, url: str, *, idempotent: bool = True, **kwargs) -> httpx.Response:
        """Send one request with the budget, retries and error mapping. Returns responses < 400 and the
        4xx the caller must interpret (404 and record-level errors); raises for the rest.

        ``idempotent=False`` (a create without an idempotency key, a comment): retried only when the
        request surely never reached the server (connection refused), never after a timeout or a 5xx —
        it may have been applied, and sending it again would duplicate it.
        """
        params = kwargs.pop("params", None)
        if params:
            # Merge into the URL's own query: httpx would replace it (a next-page URL keeps its paging).
            url = str(httpx.URL(url).copy_merge_params({k: v for k, v in params.items() if v is not None}))
        full_url = str(self._client.build_request(method, url).url)
        if not url_allowed(full_url):
            raise ConfigError(
                _("Connections to %(host)s are not allowed (HUB_OUTBOUND_ALLOWED_HOSTS).")
                % {"host": urlsplit(full_url).hostname},
                reason="config",
            )
        system_id = self.settings.system_id
        probe = (
            breaker.before_request(system_id, self.settings.name, probe_seconds=self.settings.timeout)
            if system_id
            else False
        )
        try:
            response = self._send(
                method, url, full_url, idempotent, 1 if probe else self.max_retries + 1, kwargs
            )
        except BaseException as exc:
            if system_id:
                breaker.record(
                    system_id,
                    breaker.outcome_of(exc) if isinstance(exc, ConnectorError) else None,
                    probe=probe,
                    error=str(exc),
                )
            raise
        if system_id:
            breaker.record(system_id, True, probe=probe)
        return response

    def _send(self, method: str, url: str, full_url: str, idempotent: bool, attempts: int, kwargs: dict):
        """The attempts of one request: the budget, retries with backoff, the error mapping."""
        last_error: ConnectorError | None = None
        extra_headers = kwargs.pop("headers", None) or {}
        for attempt in range(attempts):
            request_id = uuid.uuid4().hex[:16]
            headers = {**extra_headers, "X-Request-ID": request_id}
            start = time.perf_counter()
            try:
                with self.budget.slot():
                    response = self._client.request(method, url, headers=headers, **kwargs)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                # Nothing reached the server: always safe to try again.
                last_error = (
                    _transport_error(exc)
                    if isinstance(exc, httpx.ConnectError)
                    else TransientError(
                        _("No answer within %(s)s s.") % {"s": f"{self.settings.timeout:g}"},
                        reason="timeout",
                        detail=str(exc),
                    )
                )
                if isinstance(last_error, ConfigError) or last_error.reason == "dns":
                    raise last_error from exc  # a wrong host name or certificate does not heal
            except httpx.TimeoutException as exc:
                last_error = TransientError(
                    _("No answer within %(s)s s.") % {"s": f"{self.settings.timeout:g}"},
                    reason="timeout",
                    detail=str(exc),
                )
                if not idempotent:
                    raise last_error from exc  # it may have been applied: never sent twice
            except httpx.TransportError as exc:
                # The connection broke after the request left (a reset, a half answer).
                last_error = _transport_error(exc)
                if not idempotent or isinstance(last_error, ConfigError):
                    raise last_error from exc
            else:
                elapsed = (time.perf_counter() - start) * 1000
                logger.info(
                    "%s %s -> %s in %.0f ms (%s bytes) [%s]",
                    method,
                    redact_url(full_url),
                    response.status_code,
                    elapsed,
                    len(response.content),
                    request_id,
                    extra={"system_id": self.settings.system_id},
                )
                status = response.status_code
                if 300 <= status < 400:
                    target = response.headers.get("Location", "")
                    raise ConfigError(
                        _("The system redirects to %(url)s: use that address in the system's settings.")
                        % {"url": redact_url(urljoin(str(response.url), target)) if target else "?"},
                        status=status,
                        reason="config",
                    )
                if status == 429 or (status == 503 and "Retry-After" in response.headers):
                    wait = retry_after_seconds(response)
                    last_error = RateLimited(
                        _("The system asked to slow down (HTTP %(status)s).") % {"status": status},
                        status=status,
                        retry_after=wait,
                        reason="rate_limited",
                        detail=remote_message(response),
                    )
                    if attempt < attempts - 1:
                        self._sleep_before_retry(attempt, floor=wait)
                        continue
                    raise last_error
                if status in RETRY_STATUSES and not idempotent:
                    raise TransientError(
                        _(
                            "The system is unavailable (HTTP %(status)s); not resent, it may have been applied."
                        )
                        % {"status": status},
                        status=status,
                        reason="http",
                        detail=remote_message(response),
                    )
                if status in RETRY_STATUSES:
                    last_error = TransientError(
                        _("The system is unavailable (HTTP %(status)s).") % {"status": status},
                        status=status,
                        reason="http",
                        detail=remote_message(response),
                    )
                elif status == 401:
                    raise AuthError(
                        _("The credentials were refused (HTTP 401)."),
                        status=401,
                        reason="auth",
                        detail=remote_message(response),
                        remote=_safe_json(response),
                    )
                elif status == 403:
                    raise AuthError(
                        _("The credentials are valid but not allowed to do this (HTTP 403)."),
                        status=403,
                        reason="forbidden",
                        detail=remote_message(response),
                        remote=_safe_json(response),
                    )
                elif status >= 500:
                    raise TransientError(
                        _("The system failed (HTTP %(status)s).") % {"status": status},
                        status=status,
                        reason="http",
                        detail=remote_message(response),
                        remote=_safe_json(response),
                    )
                elif (malformed := _unreadable_read(method, response)) is not None:
                    # A cut or garbled answer to a read: reading again is safe, and it usually heals.
                    last_error = malformed
                else:
                    return response
            if attempt < attempts - 1:
                self._sleep_before_retry(attempt)
        raise last_error


_DECODED = "_hub_decoded_json"  # a response's body, parsed once by the client's read check


def decode_json(response: httpx.Response):
    if not response.content:
        return None
    decoded = getattr(response, _DECODED, _DECODED)
    if decoded is not _DECODED:
        return decoded
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:  # RecursionError: thousands of nested brackets
        raise TransientError(
            _("The system sent a response that is not valid JSON."),
            status=response.status_code,
            reason="malformed",
            detail=response.text[:200],
        ) from exc


def _unreadable_read(method: str, response: httpx.Response) -> TransientError | None:
    """For a successful GET announced as JSON: the error its body gives when it does not parse (then
    the client reads again), else None — the parsed body is kept for ``decode_json``."""
    if (
        method.upper() != "GET"
        or not 200 <= response.status_code < 300
        or not response.content
        or "json" not in response.headers.get("content-type", "")
    ):
        return None
    try:
        setattr(response, _DECODED, decode_json(response))
    except TransientError as exc:
        return exc
    return None


def _safe_json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]


def _transport_error(exc: httpx.TransportError) -> TransientError | ConfigError:
    text = f"{exc} {exc.__cause__ or ''}"
    lowered = text.lower()
    if isinstance(exc, httpx.ConnectError) and any(
        s in lowered
        for s in (
            "name or service not known",
            "nodename nor servname",
            "name resolution",
            "no address associated",
            "getaddrinfo",
        )
    ):
        return TransientError(
            _("The host name could not be found (DNS). Check the URL."), reason="dns", detail=text[:300]
        )
    if isinstance(exc.__cause__, ssl.SSLError) or "certificate" in lowered or "ssl" in lowered:
        # A certificate problem does not heal by retrying: the admin must fix it.
        return ConfigError(
            _("The TLS certificate was not accepted: %(detail)s") % {"detail": text[:200]},
            reason="tls",
            detail=text[:300],
        )
    if "refused" in lowered:
        return TransientError(
            _(
                "Nothing answers at this address and port (connection refused). Is the service running and the port right?"
            ),
            reason="refused",
            detail=text[:300],
        )
    return TransientError(
        _("The connection failed: %(detail)s") % {"detail": text[:200]}, reason="network", detail=text[:300]
    )


def explain(exc: BaseException, latency_ms: float | None = None) -> CheckResult:
    """A failed connection test in plain words, from any exception a connector raised."""
    latency = round(latency_ms, 1) if latency_ms is not None else None
    if isinstance(exc, ConnectorError):
        kind = exc.reason or exc.kind
        message = exc.message
        if exc.detail and exc.detail not in message:
            message = f"{message} — {exc.detail[:200]}"
        return CheckResult(ok=False, latency_ms=latency, message=message, kind=kind, detail=exc.detail)
    if isinstance(exc, TimeoutError):
        return CheckResult(ok=False, latency_ms=latency, message=str(exc), kind="timeout")
    return CheckResult(
        ok=False, latency_ms=latency, message=f"{type(exc).__name__}: {exc}"[:300], kind="error"
    )
