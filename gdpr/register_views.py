"""The GDPR pages of the register: overview, register entries, controller, systems' privacy profiles,
taxonomy, exports. Every state change goes through ``gdpr.register``; access through the generic views
(``permissions.restrict``). A user without any GDPR permission (Support, Viewer) gets 403 on every page,
not a 404 that would hide the section's existence from nobody."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db.models import Avg, Count
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from flows.models import System
from gdpr import register, taxonomy
from gdpr.breach_views import breach_summary
from gdpr.models import ActivitySnapshot, ControllerProfile, DataCategory, ProcessingActivity, SystemPrivacy
from gdpr.models.choices import SECURITY_MEASURES, ActivityState, RecipientKind, TransferSafeguard
from gdpr.register_export import ART30_COLUMNS, activity_row, register_rows
from gdpr.register_filtersets import ProcessingActivityFilterSet
from gdpr.register_forms import ActivityForm, ControllerProfileForm, SystemPrivacyForm
from gdpr.register_tables import ProcessingActivityTable
from integration_hub.permissions import can, has_any_permission, has_global_permission, restrict
from integration_hub.views import generic
from integration_hub.views.generic import _csv_cell, deny


def may_see_gdpr(user) -> bool:
    """Any GDPR page at all: the register's view permission (DPO: all; integration admins: read-only)."""
    return has_any_permission(user, ProcessingActivity, "view")


class GdprAccessMixin:
    """403 before anything else for users without any GDPR permission."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not may_see_gdpr(request.user):
            deny(request, _("The GDPR pages are for the DPO and integration admins."))
        return super().dispatch(request, *args, **kwargs)


# --- overview -----------------------------------------------------------------------------------------


class GdprIndexView(GdprAccessMixin, View):
    """/gdpr/: the register's summary; the requests and breaches blocks are filled by their own apps."""

    template_name = "gdpr/index.html"

    def get_context_data(self) -> dict:
        user = self.request.user
        activities = restrict(ProcessingActivity.objects.all(), user)
        counts = dict(activities.values_list("state").annotate(n=Count("pk")).order_by())
        states = [(value, label, counts.get(value, 0)) for value, label in ActivityState.choices]
        live = activities.exclude(state=ActivityState.ARCHIVED)
        average = live.aggregate(avg=Avg("completeness"))["avg"]
        drifting = list(live.exclude(drift=[]).order_by("reference")[:10])
        return {
            "states": states,
            "total": sum(counts.values()),
            "average_completeness": round(average) if average is not None else None,
            "drifting": drifting,
            "drifting_count": live.exclude(drift=[]).count(),
            "controller": ControllerProfile.load(),
            "controller_filled": register.controller_filled(),
            "systems_without_profile": System.objects.filter(privacy__isnull=True).count(),
            "can_add": has_global_permission(user, ProcessingActivity, "add"),
            "can_edit_controller": has_global_permission(user, ControllerProfile, "change"),
            "breach_summary": breach_summary(user),  # the breaches block (gdpr.breach_views)
        }

    def get(self, request):
        return render(request, self.template_name, self.get_context_data())


# --- register entries ---------------------------------------------------------------------------------


class ActivityListView(GdprAccessMixin, generic.ObjectListView):
    queryset = ProcessingActivity.objects.select_related("owner")
    filterset = ProcessingActivityFilterSet
    table = ProcessingActivityTable
    template_name = "gdpr/register_list.html"
    empty_message = gettext_lazy(
        "The register is empty. Add an entry per processing activity (order fulfilment, customer service, "
        "marketing…) and link the flows it uses: their personal fields fill in what the entry must declare."
    )


class ActivityView(GdprAccessMixin, generic.ObjectView):
    queryset = ProcessingActivity.objects.select_related("owner", "approved_by")
    template_name = "gdpr/activity.html"

    def get_extra_context(self, obj):
        user = self.request.user
        facts = register.derived(obj)
        report = register.completeness_report(obj, facts)
        declared_keys = set(obj.data_categories.values_list("key", flat=True))
        names = {c.key: c.name for c in DataCategory.objects.all()}
        kinds = dict(RecipientKind.choices)
        safeguards = dict(TransferSafeguard.choices)
        return {
            "facts": facts,
            "report": report,
            "missing_must": [i for i in report if i["level"] == "must" and not i["ok"]],
            "missing_should": [i for i in report if i["level"] == "should" and not i["ok"]],
            "declared_keys": declared_keys,
            "recipients": [
                {**r, "kind_label": kinds.get(r.get("kind"), r.get("kind"))} for r in obj.recipients or []
            ],
            "transfers": [
                {**t, "safeguard_label": safeguards.get(t.get("safeguard") or "", t.get("safeguard"))}
                for t in obj.transfers or []
            ],
            "retention": [(names.get(k, k), v) for k, v in (obj.retention or {}).items()],
            "security": [
                (label, (obj.security_measures or {}).get(key, ""))
                for key, label in SECURITY_MEASURES.items()
            ],
            "snapshots": list(obj.snapshots.select_related("approved_by")[:20]),
            "changed_since_approval": register.changed_since_approval(obj),
            "can_submit": obj.state == ActivityState.DRAFT and can(user, "change", obj),
            "can_approve": obj.state in (ActivityState.IN_REVIEW, ActivityState.APPROVED)
            and can(user, "approve", obj),
            "can_archive": obj.state != ActivityState.ARCHIVED and can(user, "change", obj),
            "can_reopen": obj.state in (ActivityState.IN_REVIEW, ActivityState.ARCHIVED)
            and can(user, "change", obj),
            "safeguard_labels": safeguards,
        }


class ActivityEditView(GdprAccessMixin, generic.ObjectEditView):
    queryset = ProcessingActivity.objects.all()
    form = ActivityForm
    template_name = "gdpr/activity_edit.html"

    def get_form_kwargs(self):
        return {"user": self.request.user}

    def get(self, request, **kwargs):
        obj = self.get_instance(kwargs)
        initial = {}
        if obj.pk is None:
            initial = {k: v for k, v in request.GET.items() if k in ("name", "legal_basis", "description")}
            if request.GET.getlist("flows"):
                initial["flows"] = request.GET.getlist("flows")
        return self.render_form(self.form(instance=obj, initial=initial, **self.get_form_kwargs()), obj)


class ActivityDeleteView(GdprAccessMixin, generic.ObjectDeleteView):
    queryset = ProcessingActivity.objects.all()


class ActivityHistoryView(GdprAccessMixin, generic.ObjectHistoryView):
    queryset = ProcessingActivity.objects.all()


class ActivityTransitionView(GdprAccessMixin, generic.ObjectMixin, View):
    """POST submit / approve / archive / reopen: each one service of ``gdpr.register``."""

    queryset = ProcessingActivity.objects.all()
    transition = ""
    transitions = {
        "submit": ("change", register.submit_activity, gettext_lazy("Submitted for review.")),
        "approve": ("approve", register.approve_activity, gettext_lazy("Approved: a snapshot was frozen.")),
        "archive": ("change", register.archive_activity, gettext_lazy("Archived.")),
        "reopen": ("change", register.reopen_activity, gettext_lazy("Back to draft.")),
    }

    def post(self, request, pk):
        action, service, done = self.transitions[self.transition]
        activity = self.get_object(action=action, pk=pk)
        try:
            service(activity, request.user)
        except register.WorkflowError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, str(done))
        return HttpResponseRedirect(activity.get_absolute_url())


class SnapshotView(GdprAccessMixin, View):
    """One approved version of an entry, as it was frozen."""

    queryset = ActivitySnapshot.objects.select_related("activity", "approved_by")

    def get(self, request, pk):
        snapshot = get_object_or_404(self.queryset, pk=pk)
        activity = snapshot.activity
        if not can(request.user, "view", activity):
            raise Http404(_("No approved version matches this address, or you may not see it."))
        return render(
            request,
            "gdpr/activity_snapshot.html",
            {"object": activity, "snapshot": snapshot, "data": snapshot.data},
        )


# --- exports ------------------------------------------------------------------------------------------


class _RegisterExportMixin(GdprAccessMixin):
    def activities(self, request):
        queryset = restrict(ProcessingActivity.objects.select_related("owner"), request.user)
        fs = ProcessingActivityFilterSet(request.GET, queryset=queryset, request=request)
        return (fs.qs if fs.is_valid() else queryset.none()).prefetch_related(
            "purposes", "subject_categories", "data_categories"
        )


class RegisterCSVView(_RegisterExportMixin, View):
    """The register as CSV: one row per entry, one column per Art. 30(1) item."""

    def get(self, request):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localdate().isoformat()
        response["Content-Disposition"] = f'attachment; filename="register-of-processing-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow([str(label) for _key, label in ART30_COLUMNS])
        for row in register_rows(self.activities(request)):
            writer.writerow([_csv_cell(row[key]) for key, _label in ART30_COLUMNS])
        return response


class RegisterPrintView(_RegisterExportMixin, View):
    """The register in the CNIL layout: a cover page with the controller, then one sheet per entry."""

    def get(self, request):
        controller = register.controller_snapshot()
        sheets = []
        for activity in self.activities(request).exclude(state=ActivityState.ARCHIVED):
            facts = register.derived(activity)
            sheets.append(
                {
                    "activity": activity,
                    "row": activity_row(activity, controller, facts),
                    "facts": facts,
                    "security": [
                        (label, (activity.security_measures or {}).get(key, ""))
                        for key, label in SECURITY_MEASURES.items()
                    ],
                }
            )
        return render(
            request,
            "gdpr/register_print.html",
            {
                "controller": controller,
                "sheets": sheets,
                "today": timezone.localdate(),
                "columns": ART30_COLUMNS,
            },
        )


# --- controller, systems, taxonomy --------------------------------------------------------------------


class ControllerView(GdprAccessMixin, View):
    def get(self, request):
        if not has_global_permission(request.user, ControllerProfile, "view"):
            deny(request, _("You may not see the controller profile."))
        profile = ControllerProfile.load()
        return render(
            request,
            "gdpr/controller.html",
            {
                "object": profile,
                "filled": register.controller_filled(profile),
                "can_change": has_global_permission(request.user, ControllerProfile, "change"),
            },
        )


class ControllerEditView(GdprAccessMixin, View):
    def _check(self, request):
        if not has_global_permission(request.user, ControllerProfile, "change"):
            deny(request, _("You may not change the controller profile."))
        return ControllerProfile.load()

    def _render(self, request, form, status=200):
        return render(
            request,
            "gdpr/controller_edit.html",
            {"form": form, "object": form.instance, "return_url": reverse("gdpr:controller")},
            status=status,
        )

    def get(self, request):
        return self._render(request, ControllerProfileForm(instance=self._check(request)))

    def post(self, request):
        form = ControllerProfileForm(request.POST, instance=self._check(request))
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self._render(request, form, status=400)
        form.save()
        messages.success(request, _("Saved the controller profile."))
        return HttpResponseRedirect(reverse("gdpr:controller"))


class SystemPrivacyListView(GdprAccessMixin, View):
    """Every system the user may see with its hosting and transfer safeguard (and a link to edit it)."""

    def get(self, request):
        systems = restrict(System.objects.select_related("privacy").order_by("name"), request.user)
        rows = []
        for system in systems:
            profile = getattr(system, "privacy", None)
            rows.append({"system": system, "profile": profile})
        return render(
            request,
            "gdpr/register_systems.html",
            {"rows": rows, "can_change": has_global_permission(request.user, SystemPrivacy, "change")},
        )


class SystemPrivacyEditView(GdprAccessMixin, View):
    queryset = System.objects.all()

    def _objects(self, request, pk):
        system = get_object_or_404(restrict(self.queryset, request.user), pk=pk)
        profile = SystemPrivacy.objects.filter(system=system).first()
        action = "change" if profile is not None else "add"
        if not has_global_permission(request.user, SystemPrivacy, action):
            deny(request, _("You may not change systems' privacy profiles."))
        return system, profile or SystemPrivacy(system=system)

    def _render(self, request, system, form, status=200):
        return render(
            request,
            "gdpr/register_system_edit.html",
            {
                "system": system,
                "form": form,
                "return_url": generic.safe_return_url(request, reverse("gdpr:systems")),
            },
            status=status,
        )

    def get(self, request, pk):
        system, profile = self._objects(request, pk)
        return self._render(request, system, SystemPrivacyForm(instance=profile))

    def post(self, request, pk):
        system, profile = self._objects(request, pk)
        form = SystemPrivacyForm(request.POST, instance=profile)
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self._render(request, system, form, status=400)
        form.save()
        messages.success(request, _("Saved the privacy profile of %(system)s.") % {"system": system})
        return HttpResponseRedirect(generic.safe_return_url(request, reverse("gdpr:systems")))


class TaxonomyView(GdprAccessMixin, View):
    def get(self, request):
        from gdpr.models import Purpose, SubjectCategory

        return render(
            request,
            "gdpr/register_taxonomy.html",
            {
                "tree": taxonomy.tree(),
                "subjects": SubjectCategory.objects.all(),
                "purposes": Purpose.objects.all(),
            },
        )


class DataCategoryView(GdprAccessMixin, generic.ObjectView):
    queryset = DataCategory.objects.select_related("parent")
    template_name = "gdpr/register_category.html"

    def get_extra_context(self, obj):
        return {"activities": restrict(obj.activities.all(), self.request.user)}
