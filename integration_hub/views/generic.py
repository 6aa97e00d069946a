"""Declarative generic views (NetBox's shape): a view names its queryset, filterset, table and form;
permissions, filtering, sorting, pagination, CSV export, history and access come from here.

Every view narrows its queryset through ``permissions.restrict`` — the one choke point.
"""

import csv

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import transaction
from django.db.models import ProtectedError
from django.http import Http404, HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views import View
from django_tables2 import RequestConfig

from integration_hub.audit import record
from integration_hub.models.audit import AuditAction, AuditEntry
from integration_hub.permissions import (
    can,
    can_manage_access,
    has_any_permission,
    has_global_permission,
    restrict,
)
from integration_hub.tables import AuditEntryTable

PER_PAGE_CHOICES = (25, 50, 100, 250)


def viewname(model, action: str = "") -> str:
    """URL name of a model's view: ``flows:system_list`` for (System, "list"), ``flows:system`` for ""."""
    suffix = f"_{action}" if action else ""
    return f"{model._meta.app_label}:{model._meta.model_name}{suffix}"


def reverse_or_none(name: str, *args):
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def safe_return_url(request, default: str) -> str:
    url = request.POST.get("return_url") or request.GET.get("return_url")
    if url and url_has_allowed_host_and_scheme(url, {request.get_host()}, require_https=request.is_secure()):
        return url
    return default


def deny(request, message: str):
    """Refuse with 403, leaving an audit entry of the attempt when it tried to change something."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        record(AuditAction.DENIED, message=f"{request.method} {request.path}: {message}")
    raise PermissionDenied(message)


class ObjectMixin:
    queryset = None
    action = "view"

    @property
    def model(self):
        if self.queryset is None:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a queryset")
        return self.queryset.model

    def get_object(self, action: str | None = None, **kwargs):
        """The object named by the URL, if ``request.user`` may ``action`` it.

        Hidden objects give 404 (their existence is not revealed); visible ones the user may not
        change give 403 with an audit entry of the attempt.
        """
        action = action or self.action
        lookup = {k: v for k, v in kwargs.items() if k in ("pk", "slug")}
        visible = restrict(self.queryset, self.request.user, "view")
        try:
            obj = visible.get(**lookup)
        except (self.model.DoesNotExist, ValueError) as exc:
            raise Http404(
                _("No %(name)s matches this address, or you may not see it.")
                % {"name": self.model._meta.verbose_name}
            ) from exc
        if action != "view" and not can(self.request.user, action, obj):
            deny(
                self.request,
                _("You may not %(action)s this %(name)s.")
                % {"action": _(action), "name": self.model._meta.verbose_name},
            )
        return obj

    def object_tabs(self, obj) -> list[dict]:
        user = self.request.user
        tabs = [{"name": "details", "label": _("Details"), "url": obj.get_absolute_url()}]
        history = reverse_or_none(viewname(self.model, "history"), obj.pk)
        if history:
            tabs.append({"name": "history", "label": _("History"), "url": history})
        access = reverse_or_none(viewname(self.model, "access"), obj.pk)
        if access and can_manage_access(user):
            tabs.append({"name": "access", "label": _("Access"), "url": access})
        return tabs

    def base_context(self, obj=None) -> dict:
        user = self.request.user
        meta = self.model._meta
        ctx = {
            "model": self.model,
            "verbose_name": meta.verbose_name,
            "verbose_name_plural": meta.verbose_name_plural,
            "list_url": reverse_or_none(viewname(self.model, "list")),
        }
        if obj is not None:
            ctx.update(
                object=obj,
                tabs=self.object_tabs(obj),
                can_change=can(user, "change", obj),
                can_delete=can(user, "delete", obj),
                edit_url=reverse_or_none(viewname(self.model, "edit"), obj.pk),
                delete_url=reverse_or_none(viewname(self.model, "delete"), obj.pk),
            )
        return ctx


class ObjectListView(ObjectMixin, View):
    """A filterable, sortable, paginated table of the objects the user may see, exportable as CSV."""

    filterset = None
    filterset_form = None
    table = None
    template_name = "generic/object_list.html"
    empty_message = ""  # what to do next when nothing exists yet
    default_per_page = 50
    # None: Django's paginator (an exact COUNT(*) per page). django_tables2's LazyPaginator for tables
    # that grow without bound: it reads one row past the page instead (its template must not ask
    # for ``paginator.count``).
    paginator_class = None

    def get_queryset(self):
        """The rows the user may see; override to narrow further."""
        return restrict(self.queryset, self.request.user, "view")

    def paginator_options(self) -> dict:
        """Keyword arguments for ``paginator_class`` beyond ``per_page``."""
        return {}

    def has_list_permission(self) -> bool:
        """May the user open the list at all? Override when rows follow another object's grants."""
        return has_any_permission(self.request.user, self.model, "view")

    def get(self, request):
        model = self.model
        if not self.has_list_permission():
            deny(request, _("You have no access to %(name)s.") % {"name": model._meta.verbose_name_plural})
        queryset = self.get_queryset()
        has_unfiltered_rows = None
        filter_form = None
        if self.filterset is not None:
            fs = self.filterset(request.GET, queryset=queryset, request=request)
            queryset = fs.qs if fs.is_valid() else queryset.none()
            filter_form = self.filterset_form(request.GET) if self.filterset_form else fs.form
            if any(v for k, v in request.GET.items() if k in fs.filters):
                # Not called here: the template asks only when nothing matches, and only whether
                # anything exists (no COUNT(*) of a big table on every filtered page).
                has_unfiltered_rows = self.get_queryset().exists

        table = self.table(queryset, user=request.user)
        if request.GET.get("export") == "csv":
            RequestConfig(request, paginate=False).configure(table)  # the sort the user chose applies
            return self.export_csv(table)
        per_page = _per_page(request, self.default_per_page)
        paginate = {"per_page": per_page}
        if self.paginator_class is not None:
            paginate["paginator_class"] = self.paginator_class
            paginate.update(self.paginator_options())
        RequestConfig(request, paginate=paginate).configure(table)

        context = {
            **self.base_context(),
            "table": table,
            "filter_form": filter_form,
            "can_add": has_global_permission(request.user, model, "add"),
            "add_url": reverse_or_none(viewname(model, "add")),
            "empty_message": self.empty_message,
            "has_unfiltered_rows": has_unfiltered_rows,
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "object-table":
            template = f"{template}#table"
        return render(request, template, context)

    def export_csv(self, table):
        model_name = slugify(self.model._meta.verbose_name_plural)
        pseudo_buffer = _Echo()
        writer = csv.writer(pseudo_buffer)
        rows = (
            writer.writerow([_csv_cell(v) for v in row])
            for row in table.as_values(exclude_columns=("actions",))
        )
        response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{model_name}.csv"'
        return response


class _Echo:
    def write(self, value):
        return value


def _csv_cell(value) -> str:
    # A cell starting with = + - @ would run as a formula in a spreadsheet (CSV injection).
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _per_page(request, default: int) -> int:
    try:
        value = int(request.GET.get("per_page", default))
    except ValueError:
        return default
    return value if value in PER_PAGE_CHOICES else default


class ObjectView(ObjectMixin, View):
    """One object's detail page."""

    template_name = None

    def get_extra_context(self, obj) -> dict:
        return {}

    def get(self, request, **kwargs):
        obj = self.get_object(**kwargs)
        context = {**self.base_context(obj), "active_tab": "details", **self.get_extra_context(obj)}
        return render(request, self.template_name or "generic/object.html", context)


class ObjectEditView(ObjectMixin, View):
    """Create (no pk in the URL) or edit an object with ``form``; the save goes through ``save_form``."""

    form = None
    template_name = "generic/object_edit.html"

    def get_instance(self, kwargs):
        if "pk" in kwargs or "slug" in kwargs:
            return self.get_object(action="change", **kwargs)
        if not has_global_permission(self.request.user, self.model, "add"):
            deny(
                self.request, _("You may not add %(name)s.") % {"name": self.model._meta.verbose_name_plural}
            )
        return self.model()

    def get_form_kwargs(self) -> dict:
        return {}

    def get_extra_context(self) -> dict:
        return {}

    def save_form(self, form):
        """Persist the form; override to call a service instead."""
        return form.save()

    def render_form(self, form, obj, status=200):
        context = {
            **self.base_context(obj if obj.pk else None),
            "form": form,
            "object": obj,
            "is_new": obj.pk is None,
            **self.get_extra_context(),
            "return_url": safe_return_url(
                self.request,
                obj.get_absolute_url() if obj.pk else (reverse_or_none(viewname(self.model, "list")) or "/"),
            ),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, **kwargs):
        obj = self.get_instance(kwargs)
        # Prefill from the query string only when adding: a crafted link must not pre-edit an object.
        initial = (
            {k: v for k, v in request.GET.items() if k in self.form.base_fields} if obj.pk is None else {}
        )
        return self.render_form(self.form(instance=obj, initial=initial, **self.get_form_kwargs()), obj)

    def post(self, request, **kwargs):
        obj = self.get_instance(kwargs)
        is_new = obj.pk is None
        if request.POST.get("_refresh"):
            # A field that shapes the form changed (a system's connector): show the new form with what
            # was typed so far, without validating or saving anything.
            initial = {k: v for k, v in request.POST.items() if not k.startswith(("csrf", "_"))}
            return self.render_form(self.form(instance=obj, initial=initial, **self.get_form_kwargs()), obj)
        form = self.form(request.POST, request.FILES or None, instance=obj, **self.get_form_kwargs())
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self.render_form(form, obj, status=400)
        with transaction.atomic():
            obj = self.save_form(form)
        msg = _("Created %(name)s “%(obj)s”.") if is_new else _("Saved %(name)s “%(obj)s”.")
        messages.success(request, msg % {"name": self.model._meta.verbose_name, "obj": obj})
        return HttpResponseRedirect(
            obj.get_absolute_url() if is_new else safe_return_url(request, obj.get_absolute_url())
        )


class ObjectDeleteView(ObjectMixin, View):
    template_name = "generic/object_delete.html"
    action = "delete"

    def get(self, request, **kwargs):
        obj = self.get_object(**kwargs)
        return render(
            request, self.template_name, {**self.base_context(obj), "return_url": obj.get_absolute_url()}
        )

    def post(self, request, **kwargs):
        obj = self.get_object(**kwargs)
        name = str(obj)
        try:
            with transaction.atomic():
                obj.delete()
        except ProtectedError as exc:
            dependents = ", ".join(sorted({str(o) for o in exc.protected_objects})[:10])
            messages.error(
                request,
                _("“%(obj)s” is still used by: %(deps)s. Remove those first.")
                % {"obj": name, "deps": dependents},
            )
            return HttpResponseRedirect(obj.get_absolute_url())
        messages.success(
            request, _("Deleted %(name)s “%(obj)s”.") % {"name": self.model._meta.verbose_name, "obj": name}
        )
        return HttpResponseRedirect(reverse_or_none(viewname(self.model, "list")) or "/")


class ObjectHistoryView(ObjectMixin, View):
    """The 'History' tab: every audit entry of one object, newest first."""

    template_name = "generic/object_history.html"

    def get(self, request, **kwargs):
        obj = self.get_object(**kwargs)
        entries = AuditEntry.objects.for_object(obj).select_related("user", "content_type")
        table = AuditEntryTable(entries, user=request.user, exclude=("content_type", "object_repr"))
        RequestConfig(request, paginate={"per_page": 50}).configure(table)
        return render(
            request, self.template_name, {**self.base_context(obj), "table": table, "active_tab": "history"}
        )
