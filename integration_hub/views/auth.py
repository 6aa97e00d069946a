from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.shortcuts import render
from django.utils.translation import gettext as _

from integration_hub.audit import record
from integration_hub.forms import ConsoleFormMixin
from integration_hub.models import AuditAction


class LoginForm(ConsoleFormMixin, auth_forms.AuthenticationForm):
    pass


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


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    form_class = SetPasswordForm


def csrf_failure(request, reason=""):
    """A POST without a valid CSRF token: refused with a page that says why, and audited."""
    user = getattr(request, "user", None)
    record(
        AuditAction.DENIED,
        user=user if user is not None and user.is_authenticated else None,
        message=f"CSRF check failed on {request.method} {request.path}: {reason}"[:1000],
    )
    return render(request, "403_csrf.html", {"reason": reason, "title": _("Request refused")}, status=403)
