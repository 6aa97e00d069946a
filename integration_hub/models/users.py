import hashlib
import hmac
import secrets

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integration_hub.models.audit import AuditedModel

TOKEN_PREFIX = "ihub"  # noqa: S105  (a public marker, not a secret)


class Role(Group):
    """A role is a group of users with global permissions (Integration admin, Support, DPO, Viewer)."""

    class Meta:
        proxy = True
        verbose_name = _("role")
        verbose_name_plural = _("roles")
        default_permissions = ()
        permissions = [
            ("manage_access", _("Can grant and revoke access to objects")),
            ("view_personal_data", _("Can see personal data unmasked (previews, triage, logs)")),
        ]


def _hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class APITokenQuerySet(models.QuerySet):
    def authenticate(self, raw: str):
        """The token matching ``raw`` (``ihub_<id>_<secret>``), or None; expiry is the caller's to check."""
        parts = raw.strip().split("_")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        token = self.select_related("user").filter(key_id=parts[1]).first()
        if token is None or not hmac.compare_digest(token.key_hash, _hash_key(parts[2])):
            return None
        return token


class APIToken(AuditedModel):
    """A per-user API key for scripts. Only a hash is stored; the key is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the token is for, e.g. 'nightly export'.")
    )
    key_id = models.CharField(_("key id"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    write_enabled = models.BooleanField(
        _("write enabled"), default=False, help_text=_("Without it the token can only read.")
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    audit_excluded_fields = ("key_hash",)
    objects = APITokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created"]

    def __str__(self):
        return f"{self.name} ({TOKEN_PREFIX}_{self.key_id}_…)"

    def get_absolute_url(self):
        return reverse("users:token_list")

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()

    def generate_key(self) -> str:
        """Set a new random key on this token and return it in clear — the only time it exists."""
        self.key_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32).replace("_", "-")
        self.key_hash = _hash_key(secret)
        return f"{TOKEN_PREFIX}_{self.key_id}_{secret}"
