"""The 'Access' tab of every object: who holds which permission on it, grant and revoke."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from integration_hub import services
from integration_hub.forms import ConsoleForm
from integration_hub.permissions import can_manage_access
from integration_hub.views.generic import ObjectMixin, deny

User = get_user_model()


class GrantForm(ConsoleForm):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("username"),
        required=False,
        label=gettext_lazy("User"),
    )
    group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, label=gettext_lazy("Group")
    )
    permissions = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label=gettext_lazy("Permissions"), choices=()
    )

    def __init__(self, *args, model, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].choices = services.grantable_actions(model)

    def clean(self):
        data = super().clean()
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError(_("Choose either a user or a group."))
        return data


class ObjectAccessView(ObjectMixin, View):
    template_name = "generic/object_access.html"

    def check(self):
        if not can_manage_access(self.request.user):
            deny(self.request, _("You may not manage access."))

    def render_page(self, obj, form, status=200):
        context = {
            **self.base_context(obj),
            "active_tab": "access",
            "grants": services.object_grants(obj),
            "form": form,
            "action_labels": dict(services.grantable_actions(self.model)),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, **kwargs):
        self.check()
        obj = self.get_object(**kwargs)
        return self.render_page(obj, GrantForm(model=self.model))

    def post(self, request, **kwargs):
        self.check()
        obj = self.get_object(**kwargs)
        if "revoke_user" in request.POST or "revoke_group" in request.POST:
            return self.revoke(obj)
        form = GrantForm(request.POST, model=self.model)
        if not form.is_valid():
            return self.render_page(obj, form, status=400)
        principal = form.cleaned_data["user"] or form.cleaned_data["group"]
        services.grant_access(obj, principal, form.cleaned_data["permissions"])
        messages.success(request, _("Access granted to %(who)s.") % {"who": principal})
        return HttpResponseRedirect(request.path)

    def revoke(self, obj):
        post = self.request.POST
        try:
            if post.get("revoke_user"):
                principal = User.objects.get(pk=int(post["revoke_user"]))
            else:
                principal = Group.objects.get(pk=int(post["revoke_group"]))
        except (ValueError, User.DoesNotExist, Group.DoesNotExist):
            messages.error(self.request, _("That user or group no longer exists."))
            return HttpResponseRedirect(self.request.path)
        services.revoke_access(obj, principal)
        messages.success(self.request, _("Access revoked from %(who)s.") % {"who": principal})
        return HttpResponseRedirect(self.request.path)
