"""Who is acting, and under which request id, for audit entries and log lines.

The middleware sets it for each request; management commands and tasks use ``acting_as()``.
A contextvar crosses asgiref's sync/async hops, so ASGI views and worker threads see the right value.
"""

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ActionContext:
    user: object | None = None
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    remote_addr: str | None = None
    source: str = "web"
    # For web requests the user is read from the request when needed: an API token is only
    # authenticated inside the view, after the middleware has set this context.
    request: object | None = None

    @property
    def actor(self):
        user = self.user if self.user is not None else getattr(self.request, "user", None)
        return user if user is not None and getattr(user, "is_authenticated", False) else None


_current: contextvars.ContextVar[ActionContext | None] = contextvars.ContextVar("hub_action", default=None)


def current() -> ActionContext:
    """The acting context; outside any request or command, an anonymous 'system' context."""
    return _current.get() or ActionContext(source="system")


@contextmanager
def acting_as(
    user=None,
    *,
    source: str,
    request_id: uuid.UUID | None = None,
    remote_addr: str | None = None,
    request=None,
):
    token = _current.set(
        ActionContext(
            user=user,
            request_id=request_id or uuid.uuid4(),
            remote_addr=remote_addr,
            source=source,
            request=request,
        )
    )
    try:
        yield _current.get()
    finally:
        _current.reset(token)
