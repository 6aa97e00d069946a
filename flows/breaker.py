"""The circuit breaker of each system, shared by every process (console, API, every worker).

States: **closed** (requests go out) → **open** after ``HUB_BREAKER_THRESHOLD`` consecutive failures
(requests fail fast with a ``TransientError``, ``reason="breaker"``, until the cool-down
``HUB_BREAKER_COOLDOWN`` has passed) → **half-open** (the first request after the cool-down is the one
probe; the others still fail fast while it is under way) → a probe that gets an answer closes the
circuit, a probe that fails opens it again for another cool-down.

What counts, decided once per *logical* request (after ``HubClient``'s own retries):

- a failure: nothing answered (connection refused, reset, timeout) or the system answered 5xx — that
  is, a ``TransientError`` with reason ``refused``, ``timeout``, ``network`` or ``http``;
- an answer (resets the count, closes a half-open circuit): any HTTP response that is not a 5xx,
  including 401/403, a 4xx record error, a redirect and a 429 — a rate-limited system is alive, its
  budget and ``Retry-After`` deal with it;
- neither: what says nothing about the system's availability — a wrong host name (DNS) or a refused
  TLS certificate (configuration: the connection test says so), the hub's own allow-list, a request
  budget that stayed full, or a bug on our side.

The connection test (``services.check_system``) runs inside ``bypass()``: it is never failed fast, so
an admin can always probe, and its outcome counts like any request's (a test that gets an answer closes
the circuit). Only connectors speaking HTTP through ``HubClient`` have a breaker; the state lives in
``flows.coordination`` (database rows by default, Redis when configured), under ``breaker:<system id>``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from flows import coordination
from flows.connectors.errors import ConnectorError, RateLimited, TransientError

logger = logging.getLogger(__name__)

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_LABELS = {
    CLOSED: gettext_lazy("closed"),
    OPEN: gettext_lazy("open"),
    HALF_OPEN: gettext_lazy("half-open"),
}
FAILURE_REASONS = frozenset({"refused", "timeout", "network", "http"})
STATE_TTL = 30 * 24 * 3600.0  # a remembered state outlives any cool-down; a closed one is deleted
PROBE_MARGIN = 30.0  # a probe whose process died frees its turn after its timeout and this margin
EVENT = "system.breaker"

_bypass = contextvars.ContextVar("breaker_bypass", default=False)

# This process's memory of circuits seen closed and clean: trusted for CLEAN_FOR seconds, so that a
# sync sending thousands of requests does not read the shared state twice per request. Another
# process opening the circuit is seen here within that delay; a failure here forgets it at once.
CLEAN_FOR = 1.0
_clean_until: dict[int, float] = {}


def _known_clean(system_id: int) -> bool:
    return _clean_until.get(system_id, 0.0) > time.monotonic()


def _remember(system_id: int, state: BreakerState) -> None:
    if state.is_closed and not state.failures:
        _clean_until[system_id] = time.monotonic() + CLEAN_FOR
    else:
        _clean_until.pop(system_id, None)


def threshold() -> int:
    """Failures in a row that open the circuit; 0 turns the breaker off."""
    return int(getattr(settings, "HUB_BREAKER_THRESHOLD", 5))


def cooldown() -> float:
    return float(getattr(settings, "HUB_BREAKER_COOLDOWN", 60))


@dataclass
class BreakerState:
    state: str = CLOSED
    failures: int = 0
    opened_at: float | None = None
    open_until: float | None = None
    probe_until: float | None = None
    last_error: str = ""

    @classmethod
    def load(cls, raw: str | None) -> BreakerState:
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (TypeError, ValueError):
            return cls()

    def dump(self) -> str:
        return json.dumps(asdict(self))

    @property
    def is_closed(self) -> bool:
        return self.state == CLOSED

    @property
    def label(self) -> str:
        return str(STATE_LABELS.get(self.state, self.state))

    @property
    def until(self) -> datetime | None:
        """When the cool-down ends (aware datetime), for open and half-open circuits."""
        return _when(self.open_until) if self.open_until and not self.is_closed else None

    @property
    def since(self) -> datetime | None:
        return _when(self.opened_at) if self.opened_at and not self.is_closed else None

    def as_payload(self, system_id: int) -> dict:
        return {
            "system": system_id,
            "state": self.state,
            "failures": self.failures,
            "open_until": self.until.isoformat() if self.until else None,
            "last_error": self.last_error,
        }


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _key(system_id: int) -> str:
    return f"breaker:{system_id}"


def state_of(system_id: int) -> BreakerState:
    """The breaker of ``system_id`` as every process sees it."""
    return BreakerState.load(coordination.get_shared(_key(system_id)))


def states(system_ids) -> dict[int, BreakerState]:
    """Breakers of several systems (for lists and dashboards): closed ones are left out."""
    found = {}
    for system_id in system_ids:
        state = state_of(system_id)
        if not state.is_closed:
            found[system_id] = state
    return found


def _save(system_id: int, state: BreakerState) -> None:
    _clean_until.pop(system_id, None)
    if state.is_closed and not state.failures:
        coordination.delete_shared(_key(system_id))
    else:
        coordination.set_shared(_key(system_id), state.dump(), STATE_TTL)


def _publish(system_id: int, state: BreakerState) -> None:
    from flows.models import System
    from integration_hub import realtime

    payload = state.as_payload(system_id)
    for group in (realtime.object_group(System, system_id), realtime.model_group(System)):
        realtime.publish(group, EVENT, payload)


def _format_time(when: datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S %Z")


def open_message(name: str, state: BreakerState) -> str:
    until = state.until
    message = _(
        "The circuit of %(system)s is open after %(n)s failed requests in a row: requests fail fast "
        "until %(until)s."
    ) % {"system": name or "?", "n": state.failures, "until": _format_time(until) if until else "?"}
    if state.last_error:
        message += " " + _("Last error: %(error)s") % {"error": state.last_error}
    return message


@contextmanager
def bypass():
    """Requests inside are never failed fast (the connection test); their outcome still counts."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def before_request(system_id: int, name: str = "", *, probe_seconds: float = 30.0) -> bool:
    """Call before sending a request to ``system_id``. Returns True when this request is the half-open
    circuit's probe (send it once, without retries); raises ``TransientError`` (``reason="breaker"``)
    while the circuit is open."""
    if threshold() <= 0 or _known_clean(system_id):
        return False
    state = state_of(system_id)
    _remember(system_id, state)
    if state.is_closed or _bypass.get():
        return False
    now = time.time()
    if state.state == OPEN and now < (state.open_until or 0):
        raise TransientError(open_message(name, state), reason="breaker")
    if state.state == HALF_OPEN and now < (state.probe_until or 0):
        raise TransientError(
            open_message(name, state) + " " + _("A probe request is checking whether it answers again."),
            reason="breaker",
        )
    # The cool-down is over (or the last probe's process died): one request becomes the probe.
    try:
        with coordination.lock(_key(system_id), ttl=10, wait=5):
            state = state_of(system_id)
            now = time.time()
            ready = (state.state == OPEN and now >= (state.open_until or 0)) or (
                state.state == HALF_OPEN and now >= (state.probe_until or 0)
            )
            if state.is_closed:
                return False
            if not ready:
                raise TransientError(open_message(name, state), reason="breaker")
            changed = state.state != HALF_OPEN
            state.state = HALF_OPEN
            state.probe_until = now + probe_seconds + PROBE_MARGIN
            _save(system_id, state)
    except TransientError as exc:
        if exc.reason == "breaker":
            raise
        raise TransientError(open_message(name, state), reason="breaker") from exc
    if changed:
        logger.info("Circuit of system %s half-open: probing", system_id)
        _publish(system_id, state)
    return True


def outcome_of(exc: BaseException | None) -> bool | None:
    """True: the system answered; False: a breaker failure; None: nothing learnt about the system."""
    if exc is None or isinstance(exc, RateLimited):
        return True
    if isinstance(exc, TransientError):
        return False if exc.reason in FAILURE_REASONS else None
    if isinstance(exc, ConnectorError) and exc.status is not None:
        return True  # 401, 403, a redirect: the system answered
    return None


def record(system_id: int, answered: bool | None, *, probe: bool = False, error: str = "") -> None:
    """Count one request's outcome (see ``outcome_of``)."""
    if threshold() <= 0:
        return
    if answered is None and not probe:
        return
    if answered and not probe and _known_clean(system_id):
        return  # the usual case, known without reading the shared state
    _clean_until.pop(system_id, None)
    state = state_of(system_id)
    if answered and state.is_closed and not state.failures:
        return  # the usual case: nothing to write
    before = state.state
    try:
        with coordination.lock(_key(system_id), ttl=10, wait=5):
            state = state_of(system_id)
            before = state.state
            now = time.time()
            if answered is None:
                if state.state == HALF_OPEN:
                    state.probe_until = now  # the probe learnt nothing: the next request probes
                    _save(system_id, state)
                return
            if answered:
                state = BreakerState()
            else:
                state.failures += 1
                state.last_error = error[:300]
                if state.state != CLOSED or state.failures >= threshold():
                    state.state = OPEN
                    state.opened_at = now
                    state.open_until = now + cooldown()
                    state.probe_until = None
            _save(system_id, state)
    except TransientError:
        logger.warning("Circuit of system %s not updated: its lock stayed taken", system_id)
        return
    if state.state != before or (state.state == OPEN and before == OPEN and not answered):
        if state.state == OPEN:
            logger.warning(
                "Circuit of system %s open until %s after %s failures: %s",
                system_id,
                state.until,
                state.failures,
                state.last_error,
            )
        else:
            logger.info("Circuit of system %s %s", system_id, state.state)
        _publish(system_id, state)


def reset(system_id: int) -> None:
    """Close the circuit now (an admin's decision, tests)."""
    before = state_of(system_id)
    _clean_until.pop(system_id, None)
    coordination.delete_shared(_key(system_id))
    if not before.is_closed:
        _publish(system_id, BreakerState())
