from datetime import timedelta

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from integration_hub.audit import record
from integration_hub.context import current
from integration_hub.forms import ConsoleFormMixin
from integration_hub.models import AuditAction, AuditEntry
from integration_hub.signals import password_changed


class LoginForm(ConsoleFormMixin, auth_forms.AuthenticationForm):
    """Django's login form, refusing to try once a user name or an address has failed too often."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        ctx = current()
        since = timezone.now() - timedelta(seconds=settings.HUB_LOGIN_FAILURE_WINDOW)
        failures = AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED, time__gte=since)
        by_name = failures.filter(object_repr=username[:200]).count()
        by_address = failures.filter(remote_addr=ctx.remote_addr).count() if ctx.remote_addr else 0
        # An address may be shared (an office behind one NAT), so it gets a larger allowance.
        if by_name >= settings.HUB_LOGIN_MAX_FAILURES or by_address >= 5 * settings.HUB_LOGIN_MAX_FAILURES:
            record(
                AuditAction.DENIED,
                object_repr=username[:200],
                message="Login refused: too many recent failures",
            )
            minutes = settings.HUB_LOGIN_FAILURE_WINDOW // 60
            raise ValidationError(
                _("Too many failed attempts. Wait %(minutes)s minutes and try again, or reset your password.")
                % {"minutes": minutes},
                code="throttled",
            )
        return super().clean()


class PasswordChangeForm(ConsoleFormMixin, auth_forms.PasswordChangeForm):
    pass


class PasswordResetForm(ConsoleFormMixin, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(ConsoleFormMixin, auth_forms.SetPasswordForm):
    pass


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        # 400, not 200: a script posting wrong credentials must see the failure in the status.
        response = super().form_invalid(form)
        response.status_code = 400
        return response


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = PasswordChangeForm

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(form.user, "Password changed")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm

    def form_valid(self, form):
        response = super().form_valid(form)
        password_changed(form.user, "Password set from an e-mailed link")
        return response


def csrf_failure(request, reason=""):
    """A POST without a valid CSRF token: refused with a page that says why, and audited."""
    user = getattr(request, "user", None)
    record(
        AuditAction.DENIED,
        user=user if user is not None and user.is_authenticated else None,
        message=f"CSRF check failed on {request.method} {request.path}: {reason}"[:1000],
    )
    return render(request, "403_csrf.html", {"reason": reason, "title": _("Request refused")}, status=403)
