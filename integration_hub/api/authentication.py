from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from integration_hub.audit import record
from integration_hub.models import APIToken, AuditAction

# last_used is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class SessionAuthentication(authentication.SessionAuthentication):
    """The browser's session; CSRF is enforced on every unsafe method (DRF's behaviour)."""


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Token ihub_<id>_<secret>`` (``Bearer`` is accepted too)."""

    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower().decode(errors="replace") not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: expected 'Token <key>'.")
            )
        try:
            raw = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("The token contains invalid characters.")) from exc

        token = APIToken.objects.authenticate(raw)
        if token is None:
            record(
                AuditAction.TOKEN_REJECTED, message=f"Unknown API token on {request.method} {request.path}"
            )
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if token.is_expired:
            record(
                AuditAction.TOKEN_REJECTED,
                token,
                user=token.user,
                message=f"Expired API token on {request.method} {request.path}",
            )
            raise exceptions.AuthenticationFailed(
                _("This token expired on %(date)s; create a new one under API tokens.")
                % {"date": timezone.localtime(token.expires).strftime("%Y-%m-%d %H:%M %Z")}
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This token's user is deactivated."))

        now = timezone.now()
        if token.last_used is None or now - token.last_used > LAST_USED_RESOLUTION:
            # A plain update: not a configuration change, so no audit entry.
            APIToken.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
