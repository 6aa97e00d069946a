import uuid

from django.conf import settings
from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from rest_framework.renderers import TemplateHTMLRenderer
from rest_framework.views import APIView

from integration_hub.context import acting_as


def client_ip(request) -> str | None:
    """The client's address. Behind a trusted reverse proxy (``HUB_BEHIND_PROXY``), the address that
    proxy appended to ``X-Forwarded-For`` (the last hop; earlier ones are client-controlled)."""
    if settings.HUB_BEHIND_PROXY:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if hops:
            return hops[-1][:45]
    return request.META.get("REMOTE_ADDR") or None


class RequestContextMiddleware:
    """Give each request an id (echoed as ``X-Request-ID``) and make it the acting context."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        try:
            request_id = uuid.UUID(incoming)
        except ValueError:
            request_id = uuid.uuid4()
        request.id = request_id
        with acting_as(source="web", request_id=request_id, remote_addr=client_ip(request), request=request):
            response = self.get_response(request)
        response["X-Request-ID"] = str(request_id)
        return response


def api_view_kind(view_func) -> str | None:
    """ "json" for a Django REST framework view answering JSON, "html" for one rendering a page (the
    API docs), None for a plain Django view."""
    view_class = getattr(view_func, "cls", None)
    if not (isinstance(view_class, type) and issubclass(view_class, APIView)):
        return None
    return "html" if any(issubclass(r, TemplateHTMLRenderer) for r in view_class.renderer_classes) else "json"


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Every page needs a login unless its view is marked ``@login_not_required``.

    JSON API views authenticate themselves (session or token) and answer 401/403, so they are left
    to Django REST framework instead of being redirected to the login page.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        kind = api_view_kind(view_func)
        if kind == "json":
            return None
        if kind == "html" and not request.user.is_authenticated:
            # DRF marks all its views login_required=False; an HTML page of it still wants a login.
            return self.handle_no_permission(request, view_func)
        return super().process_view(request, view_func, view_args, view_kwargs)
