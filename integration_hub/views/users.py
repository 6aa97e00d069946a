"""Users & access: accounts, roles, invitations, and each user's own API tokens."""

import django_filters
import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from guardian.models import UserObjectPermission

from integration_hub import services
from integration_hub.filtersets import BaseFilterSet
from integration_hub.forms import ConsoleForm, ConsoleModelForm
from integration_hub.models import APIToken
from integration_hub.permissions import has_global_permission
from integration_hub.roles import ROLE_POLICIES
from integration_hub.tables import BaseTable
from integration_hub.views import generic

User = get_user_model()


# --- users -----------------------------------------------------------------------------------------


class UserFilterSet(BaseFilterSet):
    search_fields = ("username", "email", "first_name", "last_name")
    role = django_filters.ModelChoiceFilter(
        field_name="groups", queryset=Group.objects.order_by("name"), label=gettext_lazy("Role")
    )
    is_active = django_filters.BooleanFilter(label=gettext_lazy("Active"))

    class Meta(BaseFilterSet.Meta):
        model = User
        fields = ("q", "role", "is_active")


class UserTable(BaseTable):
    username = tables.Column(
        linkify=("auth:user", {"pk": tables.A("pk")}), verbose_name=gettext_lazy("User name")
    )
    full_name = tables.Column(accessor="get_full_name", verbose_name=gettext_lazy("Name"), orderable=False)
    email = tables.EmailColumn(verbose_name=gettext_lazy("E-mail"))
    roles = tables.Column(accessor="pk", verbose_name=gettext_lazy("Roles"), orderable=False)
    is_active = tables.BooleanColumn(verbose_name=gettext_lazy("Active"))
    last_login = tables.DateTimeColumn(verbose_name=gettext_lazy("Last login"), short=True, default="—")

    class Meta(BaseTable.Meta):
        model = User
        fields = ("username", "full_name", "email", "roles", "is_active", "last_login")

    def render_roles(self, record):
        return ", ".join(_(g.name) for g in record.groups.all()) or "—"

    def value_roles(self, record):
        return self.render_roles(record)


class UserListView(generic.ObjectListView):
    queryset = User.objects.prefetch_related("groups").order_by("username")
    filterset = UserFilterSet
    table = UserTable
    template_name = "users/user_list.html"


class UserTabsMixin:
    """User pages: details and history tabs (no access tab: grants are made on the objects)."""

    def object_tabs(self, obj):
        return [
            {"name": "details", "label": _("Details"), "url": reverse("auth:user", args=[obj.pk])},
            {"name": "history", "label": _("History"), "url": reverse("auth:user_history", args=[obj.pk])},
        ]

    def base_context(self, obj=None):
        ctx = super().base_context(obj)
        if obj is not None:
            ctx.update(
                can_change=has_global_permission(self.request.user, User, "change")
                and services.can_manage_user(self.request.user, obj),
                edit_url=reverse("auth:user_edit", args=[obj.pk]),
                can_delete=False,
                delete_url=None,
            )
        return ctx


class UserView(UserTabsMixin, generic.ObjectView):
    queryset = User.objects.prefetch_related("groups")
    template_name = "users/user.html"

    def get_extra_context(self, obj):
        grants = (
            UserObjectPermission.objects.filter(user=obj)
            .select_related("content_type", "permission")
            .prefetch_related("content_object")
            .order_by("content_type__model", "object_pk")
        )
        return {"grants": grants, "token_count": APIToken.objects.filter(user=obj).count()}


class UserHistoryView(UserTabsMixin, generic.ObjectHistoryView):
    queryset = User.objects.all()


class RolesField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj):
        return _(obj.name)


class UserForm(ConsoleModelForm):
    roles = RolesField(queryset=Group.objects.none(), required=False, label=gettext_lazy("Roles"))

    class Meta:
        model = User
        fields = ("first_name", "last_name", "email", "is_active")

    def __init__(self, *args, acting_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.acting_user = acting_user
        self.fields["roles"].queryset = services.assignable_roles(acting_user)
        self.fields["email"].required = True
        if self.instance.pk:
            self.fields["roles"].initial = list(self.instance.groups.values_list("pk", flat=True))

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise ValidationError(_("A user with that e-mail address already exists."))
        return email

    def clean_is_active(self):
        active = self.cleaned_data["is_active"]
        if not active and self.acting_user is not None and self.instance.pk == self.acting_user.pk:
            raise ValidationError(_("You cannot deactivate your own account."))
        return active


class UserEditView(generic.ObjectEditView):
    queryset = User.objects.all()
    form = UserForm
    template_name = "generic/object_edit.html"

    def get_instance(self, kwargs):
        target = self.get_object(action="change", **kwargs)
        if not services.can_manage_user(self.request.user, target):
            generic.deny(
                self.request,
                _(
                    "This account can do more than you can; only someone with at least its rights may change it."
                ),
            )
        return target

    def get_form_kwargs(self):
        return {"acting_user": self.request.user}

    def save_form(self, form):
        fields = {k: form.cleaned_data[k] for k in ("first_name", "last_name", "email", "is_active")}
        # The form already wrote the new values onto form.instance: the service gets the stored row,
        # so its audit entry and e-mail notice see the real before/after.
        target = User.objects.get(pk=form.instance.pk)
        # Roles the editor may not give are kept as they are, not silently removed.
        kept = target.groups.exclude(pk__in=form.fields["roles"].queryset)
        services.update_user(target, roles=[*form.cleaned_data["roles"], *kept], **fields)
        return target


class InviteForm(ConsoleForm):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150)
    email = forms.EmailField(label=gettext_lazy("E-mail"))
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    roles = RolesField(queryset=Group.objects.none(), required=False, label=gettext_lazy("Roles"))

    def __init__(self, *args, acting_user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = services.assignable_roles(acting_user)
        self.fields["username"].validators += User._meta.get_field("username").validators

    def clean_username(self):
        name = self.cleaned_data["username"]
        if User.objects.filter(username__iexact=name).exists():
            raise ValidationError(_("A user with that user name already exists."))
        return name

    def clean_email(self):
        email = self.cleaned_data["email"]
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError(_("A user with that e-mail address already exists."))
        return email


class InviteView(View):
    template_name = "users/invite.html"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm("auth.add_user"):
            generic.deny(request, _("You may not invite users."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return render(request, self.template_name, {"form": InviteForm(acting_user=request.user)})

    def post(self, request):
        form = InviteForm(request.POST, acting_user=request.user)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        user, link = services.invite_user(base_url=request.build_absolute_uri("/"), **form.cleaned_data)
        messages.success(request, _("Invitation sent to %(email)s.") % {"email": user.email})
        return render(request, "users/invited.html", {"invited": user, "link": link})


class ResendInvitationView(View):
    """Send a new set-password link to a user who has not chosen a password yet."""

    queryset = User.objects.all()

    def post(self, request, pk):
        if not request.user.has_perm("auth.change_user"):
            generic.deny(request, _("You may not invite users."))
        user = get_object_or_404(self.queryset, pk=pk)
        if not services.can_manage_user(request.user, user):
            generic.deny(
                request,
                _(
                    "This account can do more than you can; only someone with at least its rights may change it."
                ),
            )
        if user.has_usable_password() or not user.is_active:
            messages.error(request, _("%(name)s already has a password or is deactivated.") % {"name": user})
            return HttpResponseRedirect(reverse("auth:user", args=[user.pk]))
        link = services.send_invitation(user, request.build_absolute_uri("/"), resend=True)
        messages.success(request, _("Invitation sent again to %(email)s.") % {"email": user.email})
        return render(request, "users/invited.html", {"invited": user, "link": link})


class RoleListView(View):
    def get(self, request):
        if not request.user.has_perm("auth.view_group"):
            generic.deny(request, _("You may not see roles."))
        roles = Group.objects.prefetch_related("permissions__content_type", "user_set").order_by("name")
        descriptions = {name: _(policy["description"]) for name, policy in ROLE_POLICIES.items()}
        return render(request, "users/role_list.html", {"roles": roles, "descriptions": descriptions})


# --- the user's own API tokens ---------------------------------------------------------------------


class TokenForm(ConsoleModelForm):
    expires = forms.DateTimeField(
        required=False,
        label=gettext_lazy("Expires"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=gettext_lazy("Leave empty for a token that never expires (not recommended)."),
    )

    class Meta:
        model = APIToken
        fields = ("name", "write_enabled", "expires")


class TokenListView(View):
    def get(self, request):
        tokens = APIToken.objects.filter(user=request.user)
        return render(request, "users/token_list.html", {"tokens": tokens, "form": TokenForm()})

    def post(self, request):
        form = TokenForm(request.POST)
        tokens = APIToken.objects.filter(user=request.user)
        if not form.is_valid():
            return render(request, "users/token_list.html", {"tokens": tokens, "form": form}, status=400)
        try:
            token, key = services.create_api_token(request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
            return render(request, "users/token_list.html", {"tokens": tokens, "form": form}, status=400)
        return render(
            request,
            "users/token_list.html",
            {"tokens": tokens, "form": TokenForm(), "new_token": token, "new_key": key},
        )


class TokenDeleteView(View):
    queryset = APIToken.objects.all()  # narrowed to the user's own tokens below

    def post(self, request, pk):
        token = get_object_or_404(self.queryset, pk=pk, user=request.user)
        services.revoke_api_token(token)
        messages.success(request, _("Token “%(name)s” revoked.") % {"name": token.name})
        return HttpResponseRedirect(reverse("users:token_list"))
