"""Where the hub may open outgoing connections (``HUB_OUTBOUND_ALLOWED_HOSTS``; empty = anywhere).

Tests force it to loopback so that no test can reach beyond the machine."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings


def _link_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_link_local
    except ValueError:
        return False


def host_allowed(host: str) -> bool:
    """May the hub connect to ``host``? Link-local addresses (169.254.0.0/16, fe80::/10 — where cloud
    metadata services answer) only when named explicitly in the allow-list."""
    host = (host or "").lower().strip("[]").rstrip(".")
    allowed = [h.lower() for h in settings.HUB_OUTBOUND_ALLOWED_HOSTS]
    if not allowed:
        return not _link_local(host)
    return any(host == a or (a.startswith(".") and host.endswith(a)) for a in allowed)


def url_allowed(url: str) -> bool:
    return host_allowed(urlsplit(url).hostname or "")
