from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from integration_hub.navigation import menu_for


def console(request):
    """The navigation the user may see, and the websocket address for live updates."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_menu": [], "languages": settings.LANGUAGES}
    return {
        "nav_menu": menu_for(request),
        "languages": settings.LANGUAGES,
        "live_socket_path": "/ws/live/",
        "product_name": _("Integration Hub"),
        "status_url": reverse("status"),
    }
