"""Where the hub may open outgoing connections (``HUB_OUTBOUND_ALLOWED_HOSTS``; empty = anywhere).

Tests force it to loopback so that no test can reach beyond the machine."""

from urllib.parse import urlsplit

from django.conf import settings


def host_allowed(host: str) -> bool:
    allowed = [h.lower() for h in settings.HUB_OUTBOUND_ALLOWED_HOSTS]
    if not allowed:
        return True
    host = (host or "").lower().strip("[]")
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in allowed)


def url_allowed(url: str) -> bool:
    return host_allowed(urlsplit(url).hostname or "")
