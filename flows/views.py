from django.contrib import messages
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.decorators import method_decorator
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django_tables2 import LazyPaginator, RequestConfig

from flows import (
    blueprints,
    breaker,
    configio,
    datahealth,
    designer,
    failures,
    flowtests,
    links,
    services,
    sync,
    webhooks,
)
from flows.choices import PauseKind
from flows.connectors.errors import ConnectorError, RecordError
from flows.connectors.registry import connector_classes
from flows.engine.chain_text import ChainTextError, format_chain, parse_chain
from flows.engine.transforms import TRANSFORMS, TransformContext, apply_chain, clean_chain, validate_chain
from flows.filtersets import (
    FailedRecordFilterSet,
    FlowFilterSet,
    RecordLinkFilterSet,
    RunFilterSet,
    SystemFilterSet,
    ValueMapFilterSet,
)
from flows.forms import (
    ConfigImportForm,
    FilterForm,
    FilterFormSet,
    FlowForm,
    FlowTestForm,
    HealthScanForm,
    MappingFormSet,
    RuleForm,
    RuleFormSet,
    SystemForm,
    ValueMapForm,
)
from flows.models import Flow, HealthScan, RecordLink, Run, RunTrigger, System, ValueMap
from flows.runs import visible_runs
from flows.tables import FailedRecordTable, FlowTable, RecordLinkTable, RunTable, SystemTable, ValueMapTable
from flows.valuemaps import entries_to_csv
from integration_hub.decorators import public
from integration_hub.paginators import DeepPageLazyPaginator
from integration_hub.permissions import (
    can,
    can_see_personal_data,
    has_any_permission,
    has_global_permission,
    restrict,
)
from integration_hub.views import generic
from integration_hub.views.access import ObjectAccessView


class SystemListView(generic.ObjectListView):
    queryset = System.objects.select_related("owner")
    filterset = SystemFilterSet
    table = SystemTable
    empty_message = gettext_lazy(
        "No system is connected yet. Add your ERP, PIM, CRM or shop to start building flows."
    )


class SystemTabs:
    """A system's pages share one tab strip: details, data health, history, access."""

    def object_tabs(self, obj):
        tabs = super().object_tabs(obj)
        tabs.insert(
            1,
            {
                "name": "health",
                "label": _("Data health"),
                "url": reverse("flows:system_health", args=[obj.pk]),
            },
        )
        tabs.insert(
            2,
            {"name": "links", "label": _("ID links"), "url": reverse("flows:system_links", args=[obj.pk])},
        )
        return tabs


class SystemView(SystemTabs, generic.ObjectView):
    queryset = System.objects.select_related("owner")
    template_name = "flows/system.html"

    def get_extra_context(self, obj):
        checks = list(obj.checks.all()[:48])
        return {
            "checks": checks,
            "latency_chart": latency_chart(list(reversed(checks))),
            "can_check": can(self.request.user, "check", obj),
            "webhook_events": obj.webhook_events.all()[:20] if obj.webhook_enabled else [],
            "connector_label": _connector_label(obj),
            "breaker": breaker.state_of(obj.pk),
            "maintenance_flows": Flow.objects.filter(
                Q(source_system=obj) | Q(target_system=obj), pause_kind=PauseKind.MAINTENANCE, enabled=False
            ),
        }


class SystemEditView(generic.ObjectEditView):
    queryset = System.objects.all()
    form = SystemForm
    template_name = "flows/system_edit.html"

    def get_extra_context(self):
        return {"connectors": connector_classes()}


class SystemDeleteView(generic.ObjectDeleteView):
    queryset = System.objects.all()


class SystemHistoryView(SystemTabs, generic.ObjectHistoryView):
    queryset = System.objects.all()


class SystemAccessView(SystemTabs, ObjectAccessView):
    queryset = System.objects.all()


class SystemCheckView(generic.ObjectMixin, View):
    """Test connection (POST): runs the check now and answers the result fragment."""

    queryset = System.objects.all()
    action = "check"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        result = services.check_system(system)
        return render(request, "flows/includes/check_result.html", {"result": result, "object": system})


class SystemMaintenanceView(generic.ObjectMixin, View):
    """Start (``maintenance=on``) or end the maintenance of a system (POST): pauses its flows, or
    resumes exactly those the maintenance paused."""

    queryset = System.objects.all()
    action = "change"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        on = request.POST.get("maintenance") == "on"
        outcome = services.set_maintenance(
            system, on, user=request.user, reason=request.POST.get("reason", "")[:500]
        )
        if on:
            messages.success(
                request,
                ngettext(
                    "Maintenance started: %(n)s flow paused.",
                    "Maintenance started: %(n)s flows paused.",
                    len(outcome.paused),
                )
                % {"n": len(outcome.paused)},
            )
        else:
            messages.success(
                request,
                ngettext(
                    "Maintenance ended: %(n)s flow resumed.",
                    "Maintenance ended: %(n)s flows resumed.",
                    len(outcome.resumed),
                )
                % {"n": len(outcome.resumed)},
            )
            for flow, why in outcome.kept:
                messages.warning(request, f"{flow}: {why}")
        return HttpResponseRedirect(system.get_absolute_url())


class SystemDiscoverView(generic.ObjectMixin, View):
    """Discover (POST): reads entities, fields and samples now and answers the entities fragment."""

    queryset = System.objects.all()
    action = "check"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        error = None
        try:
            services.discover_system(system)
        except ConnectorError as exc:
            error = exc.message
        except Exception as exc:
            error = _("Discovery failed: %(error)s") % {"error": exc}
        return render(
            request, "flows/includes/entities.html", {"object": system, "discover_error": error}, status=200
        )


def _connector_label(system):
    try:
        return system.connector_class.label
    except KeyError:
        return system.connector or "—"


def latency_chart(checks, width=480, height=80) -> dict | None:
    """An SVG polyline of check latencies (ms), oldest first; failed checks are marked red."""
    points = [c for c in checks if c.latency_ms is not None]
    if len(points) < 2:
        return None
    top = max(c.latency_ms for c in points) or 1
    step = width / (len(points) - 1)
    coords = [
        (round(i * step, 1), round(height - 4 - (c.latency_ms / top) * (height - 8), 1))
        for i, c in enumerate(points)
    ]
    return {
        "width": width,
        "height": height,
        "max_ms": round(top),
        "polyline": " ".join(f"{x},{y}" for x, y in coords),
        "failures": [
            {"x": x, "y": y} for (x, y), c in zip(coords, points, strict=True) if c.status == "down"
        ],
    }


@method_decorator(csrf_exempt, name="dispatch")
@method_decorator(public, name="dispatch")
class WebhookReceiveView(View):
    """Where systems push events. Public by design: the token in the address and the HMAC signature
    authenticate the sender. Answers at once, never runs a sync inline."""

    def post(self, request, slug, token):
        try:
            body = request.body
        except RequestDataTooBig:  # beyond DATA_UPLOAD_MAX_MEMORY_SIZE: not even read
            body = None
        outcome = webhooks.receive(slug, token, body, request.headers)
        return JsonResponse(outcome.body, status=outcome.status)


class WebhookRotateView(generic.ObjectMixin, View):
    """Give a system a new webhook address (the old one stops working)."""

    queryset = System.objects.all()
    action = "change"

    def post(self, request, pk):
        system = self.get_object(pk=pk)
        webhooks.rotate_token(system)
        messages.success(request, _("New webhook address created; update it in %(name)s.") % {"name": system})
        return HttpResponseRedirect(system.get_absolute_url())


# --- value maps -------------------------------------------------------------------------------------


class ValueMapListView(generic.ObjectListView):
    queryset = ValueMap.objects.all()
    filterset = ValueMapFilterSet
    table = ValueMapTable
    empty_message = gettext_lazy(
        "No value map yet. A value map translates codes between systems, e.g. ERP colour codes to shop labels."
    )


class ValueMapView(generic.ObjectView):
    queryset = ValueMap.objects.all()
    template_name = "flows/valuemap.html"

    def get_extra_context(self, obj):
        used_by = [
            f
            for f in Flow.objects.prefetch_related("mappings")
            if obj.name in designer.value_maps_used([m.as_definition() for m in f.mappings.all()])
        ]
        return {"entries": sorted(obj.entries.items())[:500], "used_by": used_by}


class ValueMapEditView(generic.ObjectEditView):
    queryset = ValueMap.objects.all()
    form = ValueMapForm
    template_name = "flows/valuemap_edit.html"


class ValueMapDeleteView(generic.ObjectDeleteView):
    queryset = ValueMap.objects.all()


class ValueMapHistoryView(generic.ObjectHistoryView):
    queryset = ValueMap.objects.all()


class ValueMapExportView(generic.ObjectMixin, View):
    """The entries as a CSV download."""

    queryset = ValueMap.objects.all()

    def get(self, request, pk):
        value_map = self.get_object(pk=pk)
        response = HttpResponse(entries_to_csv(value_map.entries), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="{slugify(value_map.name) or "value-map"}.csv"'
        )
        return response


# --- flows ------------------------------------------------------------------------------------------


class FlowListView(generic.ObjectListView):
    queryset = Flow.objects.select_related("source_system", "target_system", "current_version")
    filterset = FlowFilterSet
    table = FlowTable
    template_name = "flows/flow_list.html"
    empty_message = gettext_lazy(
        "No flow yet. A flow moves one kind of record from a system to another: start from a template or from scratch."
    )


class FlowTemplatesView(View):
    """One-click templates for the classic flows between the demo systems; each creates a paused flow."""

    template_name = "flows/flow_templates.html"

    def dispatch(self, request, *args, **kwargs):
        if not has_global_permission(request.user, Flow, "add"):
            generic.deny(request, _("You may not add flows."))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        return render(
            request, self.template_name, {"blueprints": blueprints.available_blueprints(request.user)}
        )

    def post(self, request):
        try:
            flow = blueprints.create_from_blueprint(request.POST.get("key", ""), author=request.user)
        except designer.DefinitionError as exc:
            messages.error(
                request,
                _("The template cannot be used here: %(e)s") % {"e": "; ".join(exc.errors.values())},
            )
            return HttpResponseRedirect(reverse("flows:flow_templates"))
        messages.success(
            request,
            _("Flow “%(name)s” created from its template, paused: preview it, then enable it.")
            % {"name": flow.name},
        )
        return HttpResponseRedirect(flow.get_absolute_url())


def _number(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class FlowTabs:
    """A flow's pages share one tab strip: details, versions, history, access."""

    def object_tabs(self, obj):
        tabs = super().object_tabs(obj)
        tabs.insert(
            1,
            {
                "name": "versions",
                "label": _("Versions"),
                "url": reverse("flows:flow_versions", args=[obj.pk]),
            },
        )
        tabs.insert(
            2,
            {
                "name": "tests",
                "label": _("Tests"),
                "url": reverse("flows:flow_tests", args=[obj.pk]),
            },
        )
        tabs.insert(
            3,
            {"name": "links", "label": _("ID links"), "url": reverse("flows:flow_links", args=[obj.pk])},
        )
        open_failures = getattr(obj, "open_failures", None)  # counted already by the page
        if open_failures is None:
            open_failures = failures.open_count(obj)
        tabs.insert(
            4,
            {
                "name": "failures",
                "label": _("Failed records"),
                "url": reverse("flows:flow_failures", args=[obj.pk]),
                "count": open_failures,
            },
        )
        return tabs


class FlowView(FlowTabs, generic.ObjectView):
    queryset = Flow.objects.select_related(
        "source_system", "target_system", "owner", "after_flow", "current_version"
    )
    template_name = "flows/flow.html"

    def get_extra_context(self, obj):
        definition = designer.definition_of(obj)
        return {
            "definition": definition,
            "mappings": [{**m, "chain": format_chain(m["transforms"])} for m in definition["mappings"]],
            "warnings": designer.validate_definition(definition, flow=obj).warnings,
            "dependents": obj.followers.all(),
            "failing_tests": designer.failing_tests(definition) if definition.get("tests") else [],
            "runs": recent_runs(obj),
            "can_run": can(self.request.user, "run", obj),
        }


def _flow_data_from_forms(form, mappings, filters, rules) -> dict:
    data = form.definition()
    data["mappings"] = [m for m in (f.mapping() for f in mappings.forms if f.cleaned_data) if m]
    data["filters"] = [r for r in (f.rule() for f in filters.forms if f.cleaned_data) if r]
    data["quality_rules"] = [r for r in (f.rule() for f in rules.forms if f.cleaned_data) if r]
    return data


def _place_errors(errors: dict, form, mappings, filters, rules) -> None:
    """Put each designer error on the form field it is about (mappings.N.field → row N's field)."""
    for key, message in errors.items():
        parts = key.split(".")
        if parts[0] == "mappings" and len(parts) == 3 and parts[1].isdigit():
            kept = [f for f in mappings.forms if f.cleaned_data and f.mapping()]
            index = int(parts[1])
            if index < len(kept) and parts[2] in kept[index].fields:
                kept[index].add_error(parts[2], message)
                continue
        if parts[0] == "filters":
            filters._non_form_errors = filters.error_class([message])
            continue
        if parts[0] == "quality_rules":
            rules._non_form_errors = rules.error_class([message])
            continue
        if parts[0] == "mappings":
            mappings._non_form_errors = mappings.error_class([message])
            continue
        form.add_error(parts[0] if parts[0] in form.fields else None, message)


class FlowEditView(generic.ObjectMixin, View):
    """Design a flow: its settings, field mappings with transforms, filters and quality rules."""

    queryset = Flow.objects.all()
    template_name = "flows/flow_edit.html"

    def get_instance(self, kwargs):
        if "pk" in kwargs:
            return self.get_object(action="change", **kwargs)
        if not has_global_permission(self.request.user, Flow, "add"):
            generic.deny(self.request, _("You may not add flows."))
        return Flow()

    def forms(self, flow, data=None, initial=None):
        initial = initial or {}
        form = FlowForm(
            data,
            user=self.request.user,
            flow=flow,
            initial=FlowForm.initial_from(initial) if initial else None,
        )
        mappings = MappingFormSet(
            data,
            prefix="m",
            initial=[
                {**m, "transforms": format_chain(m.get("transforms") or [])}
                for m in initial.get("mappings", [])
            ]
            or None,
        )
        filters = FilterFormSet(
            data, prefix="f", initial=[FilterForm.initial_from(r) for r in initial.get("filters", [])] or None
        )
        rules = RuleFormSet(
            data,
            prefix="r",
            initial=[RuleForm.initial_from(r) for r in initial.get("quality_rules", [])] or None,
        )
        return form, mappings, filters, rules

    def render_page(self, flow, forms, warnings=(), status=200, pick=None):
        form, mappings, filters, rules = forms
        pick = pick or {}
        context = {
            **self.base_context(flow if flow.pk else None),
            "object": flow,
            "is_new": flow.pk is None,
            "form": form,
            "mappings": mappings,
            "filters": filters,
            "rules": rules,
            "warnings": warnings,
            "transform_choices": [(key, spec.label) for key, spec in sorted(TRANSFORMS.items())],
            "return_url": flow.get_absolute_url() if flow.pk else reverse("flows:flow_list"),
            **_pickers(pick),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request, **kwargs):
        flow = self.get_instance(kwargs)
        if flow.pk:
            initial = designer.definition_of(flow)
        else:
            initial = {k: v for k, v in request.GET.items() if k in FlowForm.base_fields}
            initial.setdefault("trigger", "interval")
            initial.setdefault("interval_minutes", 60)
        return self.render_page(flow, self.forms(flow, initial=initial), pick=initial)

    def post(self, request, **kwargs):
        flow = self.get_instance(kwargs)
        forms_ = self.forms(flow, data=request.POST)
        pick = {
            k: request.POST.get(k, "")
            for k in ("source_system", "source_entity", "target_system", "target_entity")
        }
        if request.POST.get("_refresh"):
            # A system or entity changed: redraw with the typed values and the new pickers, unvalidated.
            form, mappings, filters, rules = forms_
            unbound = FlowForm(
                user=request.user,
                flow=flow,
                initial={k: v for k, v in request.POST.items() if k in FlowForm.base_fields},
            )
            return self.render_page(
                flow,
                (
                    unbound,
                    _unbound(MappingFormSet, mappings, "m"),
                    _unbound(FilterFormSet, filters, "f"),
                    _unbound(RuleFormSet, rules, "r"),
                ),
                pick=pick,
            )
        form, mappings, filters, rules = forms_
        if not all([form.is_valid(), mappings.is_valid(), filters.is_valid(), rules.is_valid()]):
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self.render_page(flow, forms_, status=400, pick=pick)
        data = _flow_data_from_forms(form, mappings, filters, rules)
        try:
            with transaction.atomic():
                saved = designer.save_flow(
                    data,
                    flow=flow if flow.pk else None,
                    author=request.user,
                    comment=form.cleaned_data.get("comment", ""),
                    override=form.cleaned_data.get("override", ""),
                )
        except designer.DefinitionError as exc:
            _place_errors(exc.errors, form, mappings, filters, rules)
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self.render_page(flow, forms_, status=400, pick=pick)
        messages.success(
            request,
            _("Saved flow “%(name)s” (version %(v)s).") % {"name": saved, "v": saved.current_version.number},
        )
        return HttpResponseRedirect(saved.get_absolute_url())


def _unbound(formset_class, bound, prefix):
    """The rows as typed, without validating them (a redraw is not a save)."""
    rows = []
    for form in bound.forms:
        row = {name: form.data.get(form.add_prefix(name)) for name in form.base_fields}
        if any(v for k, v in row.items() if k != "DELETE"):
            rows.append(row)
    return formset_class(prefix=prefix, initial=rows or None)


def _pickers(pick: dict) -> dict:
    """The choices the datalists offer: entities of the chosen systems, fields of the chosen entities."""
    out = {"source_entities": [], "target_entities": [], "source_fields": [], "target_fields": []}
    for side in ("source", "target"):
        system = System.objects.filter(slug=pick.get(f"{side}_system") or "").first()
        if system is None:
            continue
        out[f"{side}_entities"] = sorted(designer.known_entities(system) or [])
        entity = pick.get(f"{side}_entity")
        if entity:
            out[f"{side}_fields"] = sorted(designer.known_fields(system, entity) or [])
    return out


class FlowDeleteView(generic.ObjectDeleteView):
    queryset = Flow.objects.all()
    template_name = "flows/flow_delete.html"

    def get(self, request, **kwargs):
        obj = self.get_object(**kwargs)
        context = {
            **self.base_context(obj),
            "return_url": obj.get_absolute_url(),
            "dependents": obj.followers.all(),
        }
        return render(request, self.template_name, context)


class FlowHistoryView(FlowTabs, generic.ObjectHistoryView):
    queryset = Flow.objects.all()


class FlowAccessView(FlowTabs, ObjectAccessView):
    queryset = Flow.objects.all()


class FlowVersionsView(FlowTabs, generic.ObjectMixin, View):
    """Every version of a flow, a readable diff between any two, and rollback."""

    queryset = Flow.objects.all()
    template_name = "flows/flow_versions.html"

    def get(self, request, pk):
        flow = self.get_object(pk=pk)
        versions = list(flow.versions.select_related("author"))
        numbers = {v.number: v for v in versions}
        new = numbers.get(_number(request.GET.get("b"))) or (versions[0] if versions else None)
        old = numbers.get(_number(request.GET.get("a"))) or (versions[1] if len(versions) > 1 else None)
        changes = designer.diff_definitions(old.definition, new.definition) if old and new else []
        context = {
            **self.base_context(flow),
            "active_tab": "versions",
            "versions": versions,
            "old": old,
            "new": new,
            "changes": changes,
            "can_change": can(request.user, "change", flow),
        }
        return render(request, self.template_name, context)

    def post(self, request, pk):
        flow = self.get_object(pk=pk, action="change")
        version = get_object_or_404(flow.versions, number=request.POST.get("version"))
        try:
            designer.rollback(flow, version, author=request.user)
        except designer.DefinitionError as exc:
            messages.error(
                request,
                _("Version %(n)s cannot be restored as it is: %(e)s")
                % {"n": version.number, "e": "; ".join(exc.errors.values())},
            )
            return HttpResponseRedirect(reverse("flows:flow_versions", args=[flow.pk]))
        flow.refresh_from_db()
        messages.success(
            request,
            _("Restored version %(old)s as version %(new)s.")
            % {"old": version.number, "new": flow.current_version.number},
        )
        return HttpResponseRedirect(reverse("flows:flow_versions", args=[flow.pk]))


class FlowCloneView(generic.ObjectMixin, View):
    queryset = Flow.objects.all()

    def post(self, request, pk):
        flow = self.get_object(pk=pk)
        if not has_global_permission(request.user, Flow, "add"):
            generic.deny(request, _("You may not add flows."))
        try:
            copy_ = designer.clone_flow(flow, author=request.user)
        except designer.DefinitionError as exc:  # the original no longer fits its systems' schemas
            messages.error(
                request, _("The flow cannot be cloned: %(e)s") % {"e": "; ".join(exc.errors.values())}
            )
            return HttpResponseRedirect(flow.get_absolute_url())
        messages.success(request, _("Cloned as “%(name)s” (paused).") % {"name": copy_})
        return HttpResponseRedirect(copy_.get_absolute_url())


class FlowToggleView(generic.ObjectMixin, View):
    """Pause or enable a flow."""

    queryset = Flow.objects.all()
    action = "change"

    def post(self, request, pk):
        flow = self.get_object(pk=pk)
        if flow.enabled:  # pausing is an emergency brake: never refused by the flow's validation
            designer.pause_flow(flow, author=request.user)
            messages.success(request, _("Paused."))
            return HttpResponseRedirect(flow.get_absolute_url())
        data = designer.definition_of(flow)
        data["enabled"] = True
        try:
            designer.save_flow(
                data,
                flow=flow,
                author=request.user,
                comment=_("Enabled"),
                override=request.POST.get("override", ""),
            )
        except designer.DefinitionError as exc:
            messages.error(
                request, _("The flow cannot be enabled: %(e)s") % {"e": "; ".join(exc.errors.values())}
            )
        return HttpResponseRedirect(flow.get_absolute_url())


class FlowTestsView(FlowTabs, generic.ObjectMixin, View):
    """The flow's tests: each pinned sample with pass or fail and, when it fails, the exact differences.

    Adding (pasted or pinned from a preview), accepting the current output and deleting a test each save
    a new version of the flow, like any other change to it.
    """

    queryset = Flow.objects.select_related("source_system", "target_system", "current_version")
    template_name = "flows/flow_tests.html"

    def render_page(self, request, flow, form=None, status=200):
        definition = designer.definition_of(flow)
        outcomes = {o.name: o for o in flowtests.run_tests(definition)}
        tests = [{**t, "outcome": outcomes.get(t["name"])} for t in definition.get("tests") or []]
        context = {
            **self.base_context(flow),
            "active_tab": "tests",
            "tests": tests,
            "failed": sum(1 for o in outcomes.values() if not o.passed),
            "form": form or FlowTestForm(),
            "can_change": can(request.user, "change", flow),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, pk):
        return self.render_page(request, self.get_object(pk=pk))

    def post(self, request, pk):
        flow = self.get_object(pk=pk, action="change")
        with transaction.atomic():  # two people editing the tests at once: one waits for the other
            flow = Flow.objects.select_for_update().get(pk=flow.pk)
            return self.change(request, flow)

    def change(self, request, flow):
        action = request.POST.get("action")
        definition = designer.definition_of(flow)
        tests = definition.get("tests") or []
        name = request.POST.get("name", "")
        if action == "add":
            form = FlowTestForm(request.POST, names=[t.get("name") for t in tests])
            if not form.is_valid():
                return self.render_page(request, flow, form=form, status=400)
            test = form.test(definition)
            if test is None:
                return self.render_page(request, flow, form=form, status=400)
            tests.append(test)
            comment = _("Flow test “%(name)s” added") % {"name": test["name"]}
        elif action == "pin":
            source = flowtests.parse_object(request.POST.get("source", ""))
            if source is None:
                messages.error(request, _("The sample record could not be read."))
                return HttpResponseRedirect(reverse("flows:flow_tests", args=[flow.pk]))
            try:
                test = flowtests.pin(definition, source, name=flowtests.unique_name(tests, _("Sample")))
            except flowtests.MaskingChangesOutcome as exc:
                messages.error(request, str(exc))
                return HttpResponseRedirect(reverse("flows:flow_tests", args=[flow.pk]))
            tests.append(test)
            comment = _("Flow test “%(name)s” pinned from a preview") % {"name": test["name"]}
        elif action in ("accept", "delete"):
            index = next((i for i, t in enumerate(tests) if t.get("name") == name), None)
            if index is None:
                messages.error(request, _("There is no test “%(name)s”.") % {"name": name})
                return HttpResponseRedirect(reverse("flows:flow_tests", args=[flow.pk]))
            if action == "delete":
                del tests[index]
                comment = _("Flow test “%(name)s” deleted") % {"name": name}
            else:
                tests[index] = flowtests.accept(definition, tests[index])
                comment = _("Flow test “%(name)s” now expects the current output") % {"name": name}
        else:
            return HttpResponse(status=400)
        definition["tests"] = tests
        try:
            designer.save_flow(definition, flow=flow, author=request.user, comment=comment)
        except designer.DefinitionError as exc:
            messages.error(request, "; ".join(exc.errors.values()))
        else:
            messages.success(request, comment)
        return HttpResponseRedirect(reverse("flows:flow_tests", args=[flow.pk]))


class FlowRunView(generic.ObjectMixin, View):
    """Run now (POST); ``full=1``: a full resync (the incremental cursor is ignored); ``backfill_from``:
    read what changed since that date; ``retry_failed=1``: replay the flow's open failed records."""

    queryset = Flow.objects.all()
    action = "run"

    def post(self, request, pk):
        flow = self.get_object(pk=pk)
        try:
            if request.POST.get("retry_failed"):
                run, created = sync.replay_failed(flow, user=request.user), True
            else:
                run, created = sync.request_run(flow, user=request.user, **_run_options(request.POST))
        except (sync.RunRefused, ValueError) as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(flow.get_absolute_url())
        if created:
            messages.success(request, _("Run #%(n)s queued.") % {"n": run.pk})
        else:
            messages.info(
                request,
                _("Run #%(n)s is already waiting to start: this request is part of it.") % {"n": run.pk},
            )
        return HttpResponseRedirect(run.get_absolute_url())


def _run_options(data) -> dict:
    """``request_run`` options from a form or an API body: full resync, or backfill from a date."""
    full = str(data.get("full") or "").lower() in ("1", "true", "on", "yes")
    raw = str(data.get("backfill_from") or "").strip()
    if raw:
        day = parse_date(raw)
        if day is None:
            raise ValueError(_("“%(v)s” is not a date: give it as YYYY-MM-DD.") % {"v": raw[:40]})
        if day > timezone.localdate():
            raise ValueError(_("A backfill starts from a past date."))
        return {"trigger": RunTrigger.BACKFILL, "backfill_from": day.isoformat()}
    return {"trigger": RunTrigger.RESYNC if full else RunTrigger.MANUAL, "full": full}


class RunListView(generic.ObjectListView):
    """The run history across the flows the user may view, newest first, fast on a million runs: every
    filter keeps to an index, pages are read without a COUNT(*) (LazyPaginator: one row past the page
    says whether there is a next one) and the flow comes in the same query."""

    queryset = Run.objects.all()
    filterset = RunFilterSet
    table = RunTable
    template_name = "flows/run_list.html"
    paginator_class = DeepPageLazyPaginator  # LazyPaginator; deep pages read their keys first
    export_limit = 10_000
    empty_message = gettext_lazy(
        "No run yet. Open a flow, preview it, then click “Run now” (or enable it so its schedule runs it): "
        "every run shows up here."
    )

    def has_list_permission(self) -> bool:
        return has_any_permission(self.request.user, Flow, "view")

    def get_queryset(self):
        return visible_runs(self.request.user).order_by("-queued_at", "-pk")

    def paginator_options(self) -> dict:
        # A user with grants on some flows: a deep page merges one index walk per flow (PostgreSQL).
        return {"split": "flow_id"}

    def export_csv(self, table):
        """The newest ``export_limit`` matching runs, in the order chosen (the API pages through all)."""
        newest = self.table(table.data.data[: self.export_limit], user=self.request.user)
        return super().export_csv(newest)


class RunView(View):
    """One run: status, counters, cursors, live while it runs; cancel. Seen by those who see its flow."""

    template_name = "flows/run.html"
    queryset = Run.objects.all()

    def get_run(self, request, pk, action="view"):
        run = get_object_or_404(Run.objects.select_related("flow", "version", "requested_by"), pk=pk)
        if not can(request.user, action, run.flow):
            generic.deny(request, _("You may not see this run."))
        return run

    def get(self, request, pk):
        from flows import runlog
        from flows.failures import Presenter
        from flows.models.runs import COUNTERS as RUN_COUNTERS

        run = self.get_run(request, pk)
        level = request.GET.get("level") if request.GET.get("level") in ("warning", "error") else ""
        lines = list(runlog.lines_of(run, level=level or None)[: runlog.MAX_LINES + 10])
        presenter = Presenter(request.user)
        failures = list(run.failures.select_related("flow")[:20])
        for failure in failures:
            failure.shown_message = presenter.message(failure)
        context = {
            "run": run,
            "flow": run.flow,
            "can_change": can(request.user, "run", run.flow),
            "failures": failures,
            "see_personal": can_see_personal_data(request.user),
            "log_lines": lines,
            "log_level": level,
            "timeline": runlog.timeline(run),
            "counter_tiles": [
                (name, Run._meta.get_field(name).verbose_name, getattr(run, name)) for name in RUN_COUNTERS
            ],
        }
        if request.GET.get("part") == "body":
            return render(request, "flows/includes/run_body.html", context)
        return render(request, self.template_name, context)


class RunCancelView(RunView):
    def get(self, request, pk):
        return HttpResponse(status=405)

    def post(self, request, pk):
        run = self.get_run(request, pk, action="run")
        sync.cancel_run(run)
        messages.info(request, _("Cancelling: the run stops after the page it is writing."))
        return HttpResponseRedirect(run.get_absolute_url())


def recent_runs(flow, limit: int = 10):
    return list(flow.runs.select_related("requested_by")[:limit])


class FlowRunsPartView(generic.ObjectMixin, View):
    """The flow page's runs card, redrawn live when one of its runs moves."""

    queryset = Flow.objects.all()

    def get(self, request, pk):
        flow = self.get_object(pk=pk)
        return render(request, "flows/includes/flow_runs.html", {"object": flow, "runs": recent_runs(flow)})


class FlowPreviewView(generic.ObjectMixin, View):
    """Dry run (POST): live source samples → mapped records → what the target holds. Nothing is written."""

    queryset = Flow.objects.all()
    action = "change"  # it reads live records and spends the source system's request budget

    def post(self, request, pk):
        flow = self.get_object(pk=pk)
        pin_url = reverse("flows:flow_tests", args=[flow.pk])
        return render_preview(request, designer.definition_of(flow), pin_url=pin_url)


def require_designer(request):
    """The designer's helpers (draft preview, try a transform) are for those who may add or change a flow."""
    if not (
        has_global_permission(request.user, Flow, "add") or has_any_permission(request.user, Flow, "change")
    ):
        generic.deny(request, _("You may not design flows."))


class FlowDraftPreviewView(View):
    """Dry run of the form being edited, before it is saved."""

    def post(self, request):
        require_designer(request)
        form = FlowForm(request.POST, user=request.user)
        mappings = MappingFormSet(request.POST, prefix="m")
        filters = FilterFormSet(request.POST, prefix="f")
        rules = RuleFormSet(request.POST, prefix="r")
        if not all([form.is_valid(), mappings.is_valid(), filters.is_valid(), rules.is_valid()]):
            return render(
                request,
                "flows/includes/preview.html",
                {"error": _("Complete the form first: some fields are not valid.")},
            )
        return render_preview(request, _flow_data_from_forms(form, mappings, filters, rules))


def preview_payload(user, data: dict) -> dict:
    """The dry run for ``user``: items, or the error that stopped it; personal data masked unless the
    user may see it. The console's fragment and the API's JSON both come from here."""
    from flows.services import mask_record
    from integration_hub.permissions import can_see_personal_data

    allowed = can_see_personal_data(user)
    personal = {m["target"] for m in data.get("mappings", []) if m.get("personal")}

    def show(path, value):
        if allowed or value is None:
            return value
        if isinstance(value, dict | list):
            return mask_record(value)
        return services.mask_value(value) if path in personal else value

    error, items = None, []
    try:
        items = designer.preview(data, limit=5, mask=show)
    except designer.DefinitionError as exc:
        error = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
    except ConnectorError as exc:
        error = _("The source could not be read: %(e)s") % {"e": exc.message}
    if allowed and items:
        from integration_hub import personal

        personal.shown_unmasked(
            user,
            [System.objects.filter(slug=data.get("source_system")).first()],
            what=_("dry run of flow “%(flow)s”: %(n)s live records")
            % {"flow": data.get("name") or "?", "n": len(items)},
        )
    if not allowed:
        for item in items:
            item.source = mask_record(item.source)
            item.mapped = mask_record(item.mapped, personal)
            item.current = mask_record(item.current, personal) if item.current else None
            for problem in item.errors:
                if problem["field"] in personal:
                    problem["message"] = _("%(f)s: the value was refused (hidden: personal data)") % {
                        "f": problem["field"]
                    }
    return {"items": items, "error": error, "masked": not allowed}


def render_preview(request, data: dict, pin_url: str = ""):
    context = {**preview_payload(request.user, data), "pin_url": pin_url}
    return render(request, "flows/includes/preview.html", context)


class TryTransformView(View):
    """The designer's "try this transform": one value through a chain typed in a mapping row."""

    def post(self, request):
        require_designer(request)
        row = request.POST.get("row", "")
        text = request.POST.get(f"{row}-transforms", request.POST.get("chain", ""))
        value = request.POST.get(f"try-{row}", request.POST.get("value", ""))
        try:
            chain = parse_chain(text)
            validation = validate_chain(chain)
            problems = [
                f"{i}. {next(iter(p.items()))[0]}: {next(iter(p.items()))[1]}"
                for i, p in enumerate(validation, 1)
                if p
            ]
            if problems:
                raise ValueError("; ".join(problems))
            result = apply_chain(value, clean_chain(chain), TransformContext(record={}))
            return render(request, "flows/includes/try_result.html", {"ok": True, "result": result})
        except (ChainTextError, ValueError, RecordError) as exc:
            return render(
                request,
                "flows/includes/try_result.html",
                {"ok": False, "result": getattr(exc, "message", str(exc))},
            )


# --- config as code -----------------------------------------------------------------------------------


class ConfigAccess(View):
    def dispatch(self, request, *args, **kwargs):
        if not any(has_any_permission(request.user, m, "view") for m in (Flow, System, ValueMap)):
            generic.deny(request, _("You may not see the hub's configuration."))
        return super().dispatch(request, *args, **kwargs)


class ConfigView(ConfigAccess):
    """Export the configuration, or check an import (changes and line-precise errors) and apply it."""

    template_name = "flows/config.html"

    def context(self, request, **extra) -> dict:
        return {
            "counts": {
                "systems": restrict(System.objects.all(), request.user).count(),
                "value_maps": restrict(ValueMap.objects.all(), request.user).count(),
                "flows": restrict(Flow.objects.all(), request.user).count(),
            },
            "may_import": configio.may_import(request.user),
            **extra,
        }

    def get(self, request):
        return render(request, self.template_name, self.context(request, form=ConfigImportForm()))

    def post(self, request):
        if not configio.may_import(request.user):
            generic.deny(request, _("You may not change systems, value maps or flows."))
        form = ConfigImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, self.context(request, form=form), status=400)
        apply = request.POST.get("apply") == "1"
        report = configio.import_config(form.text, fmt=form.fmt, user=request.user, apply=apply)
        if report.applied:
            counts = report.counts()
            messages.success(
                request,
                _("Imported: %(create)s created, %(update)s updated, %(unchanged)s unchanged.") % counts,
            )
            for warning in report.warnings:
                messages.warning(request, str(warning))
            return HttpResponseRedirect(reverse("flows:flow_list"))
        checked = ConfigImportForm(initial={"content": form.text})
        return render(
            request,
            self.template_name,
            self.context(request, form=checked, report=report, text=form.text),
            status=200 if report.ok else 400,
        )


class ConfigExportView(ConfigAccess):
    def get(self, request):
        fmt = request.GET.get("as") or "yaml"
        if fmt not in configio.FORMATS:
            fmt = "yaml"
        return configio.file_response(configio.export_config(request.user), fmt)


# --- data health --------------------------------------------------------------------------------------


class SystemHealthView(SystemTabs, generic.ObjectMixin, View):
    """Start a data-health scan of one of the system's entities; the latest scans."""

    queryset = System.objects.all()
    template_name = "flows/system_health.html"

    def render_page(self, request, system, form, status=200):
        entity = form.chosen_entity()
        context = {
            **self.base_context(system),
            "active_tab": "health",
            "form": form,
            "entity_fields": sorted(entity["fields"]) if entity else [],
            "scans": system.health_scans.select_related("created_by")[: HealthScan.KEEP],
            "can_scan": can(request.user, "check", system),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request, pk):
        system = self.get_object(pk=pk)
        entities = datahealth.entities_of(system)
        form = HealthScanForm(entities=entities)
        entity = form.chosen_entity()
        if entity:
            form = HealthScanForm(entities=entities, initial=form.proposals(entity))
        return self.render_page(request, system, form)

    def post(self, request, pk):
        system = self.get_object(pk=pk, action="check")
        entities = datahealth.entities_of(system)
        if request.POST.get("_refresh"):
            form = HealthScanForm(entities=entities, data=request.POST)
            entity = form.chosen_entity()
            form = HealthScanForm(entities=entities, initial=form.proposals(entity) if entity else {})
            return self.render_page(request, system, form)
        form = HealthScanForm(request.POST, entities=entities)
        if form.is_valid():
            try:
                scan = datahealth.start_scan(system, user=request.user, **form.cleaned_data)
            except datahealth.ScanError as exc:
                for field, message in exc.errors.items():
                    form.add_error(field if field in form.fields else None, message)
            else:
                return HttpResponseRedirect(scan.get_absolute_url())
        return self.render_page(request, system, form, status=400)


class HealthScanView(SystemTabs, generic.ObjectMixin, View):
    """One scan: live progress while it reads, then counts, charts and examples (masked as needed)."""

    queryset = System.objects.all()
    template_name = "flows/health_scan.html"

    def get_scan(self, request, pk, scan_pk):
        system = self.get_object(pk=pk)
        return system, get_object_or_404(system.health_scans.select_related("created_by"), pk=scan_pk)

    def get(self, request, pk, scan_pk):
        system, scan = self.get_scan(request, pk, scan_pk)
        context = {
            **self.base_context(system),
            "active_tab": "health",
            "scan": scan,
            "report": datahealth.view_of(scan, request.user),
            "masked": not can_see_personal_data(request.user),
        }
        if request.htmx and request.GET.get("part") == "body":
            return render(request, "flows/includes/health_scan_body.html", context)
        return render(request, self.template_name, context)


class HealthScanCsvView(HealthScanView):
    def get(self, request, pk, scan_pk):
        import csv

        system, scan = self.get_scan(request, pk, scan_pk)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"{slugify(system.slug)}-{slugify(scan.entity)}-health-{scan.created:%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response.write("\ufeff")  # spreadsheets read UTF-8 with a BOM
        writer = csv.writer(response)
        for row in datahealth.csv_rows(scan, request.user):
            writer.writerow(row)
        return response


# --- ID links and failed records ----------------------------------------------------------------------


def _filtered(filterset_class, data, queryset, request, hide=()):
    """The filterset for a page scoped to one object: the filters that name that object are left out."""
    fs = filterset_class(data, queryset=queryset, request=request)
    for name in hide:
        fs.filters.pop(name, None)
    return fs, (fs.qs if fs.is_valid() else queryset.none())


class LinksPage:
    """A table of ID links with search by any id: a flow's links, or a system's (either side)."""

    template_name = "flows/record_links.html"
    hide_filters: tuple[str, ...] = ()

    def links_of(self, obj):
        raise NotImplementedError

    def empty_message(self, obj) -> str:
        raise NotImplementedError

    def get(self, request, pk):
        obj = self.get_object(pk=pk)
        base = self.links_of(obj).select_related("flow", "source_system", "target_system", "last_run")
        fs, queryset = _filtered(RecordLinkFilterSet, request.GET, base, request, self.hide_filters)
        if not request.GET.get("q"):
            queryset = queryset.order_by("-last_synced", "-pk")
        table = RecordLinkTable(queryset, user=request.user, exclude=self.hide_filters)
        RequestConfig(request, paginate={"per_page": generic._per_page(request, 50)}).configure(table)
        filtered = any(v for k, v in request.GET.items() if k in fs.filters)
        context = {
            **self.base_context(obj),
            "active_tab": "links",
            "table": table,
            "filter_form": fs.form,
            "query": request.GET.get("q", ""),
            "filtered": filtered,
            "total": base.count() if filtered else None,
            "empty_message": self.empty_message(obj),
            "per_page": generic._per_page(request, 50),
            "per_page_choices": generic.PER_PAGE_CHOICES,
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "object-table":
            template = f"{template}#table"
        return render(request, template, context)


class FlowLinksView(FlowTabs, LinksPage, generic.ObjectMixin, View):
    """A flow's ID links: which source record became which target record; search by either id."""

    queryset = Flow.objects.select_related("source_system", "target_system")
    hide_filters = ("flow",)

    def links_of(self, flow):
        return RecordLink.objects.filter(flow=flow)

    def empty_message(self, flow):
        return _(
            "No ID link yet. A link is kept for each record a run writes to %(target)s: run the flow "
            "from its Details tab, then come back to find a record by its id in either system."
        ) % {"target": flow.target_system}


class SystemLinksView(SystemTabs, LinksPage, generic.ObjectMixin, View):
    """A system's ID links, where it is the source or the target of the record."""

    queryset = System.objects.all()

    def links_of(self, system):
        return links.for_system(RecordLink.objects.all(), system)

    def empty_message(self, system):
        return _(
            "No record of %(system)s is linked yet. Links appear when a flow from or to this system "
            "writes records: create a flow, or run one from the Flows page."
        ) % {"system": system}


class LinkView(View):
    """One ID link: the record's history across systems (transitively), resync, unlink, merge."""

    queryset = RecordLink.objects.all()
    template_name = "flows/link.html"

    def get_link(self, request, pk, act=False) -> RecordLink:
        link = links.visible_links(request.user).filter(pk=pk).first()
        if link is None:
            raise Http404(_("No ID link matches this address, or you may not see it."))
        if act and not links.may_act(request.user, link):
            generic.deny(request, _("You may not change the ID links of this flow."))
        return link

    def get(self, request, pk):
        link = self.get_link(request, pk)
        history = links.link_history(link, user=request.user)
        presenter = failures.Presenter(request.user)
        context = {
            "link": link,
            "flow": link.flow,
            "history": history,
            "failures": [{"record": f, "message": presenter.message(f)} for f in history.failures],
            "duplicates": links.duplicates_of(link, links.visible_links(request.user)),
            "can_act": links.may_act(request.user, link),
            "back_url": reverse("flows:flow_links", args=[link.flow_id])
            if link.flow_id
            else reverse("flows:system_links", args=[link.source_system_id]),
        }
        return render(request, self.template_name, context)


class LinkResyncView(LinkView):
    """Resync this record (POST): a run over it alone, fetched fresh, written with the current version."""

    def get(self, request, pk):
        return HttpResponse(status=405)

    def post(self, request, pk):
        link = self.get_link(request, pk, act=True)
        try:
            run, created = links.resync(link, user=request.user)
        except links.LinkError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("flows:link", args=[link.pk]))
        if created:
            messages.success(request, _("Run #%(n)s queued for this record.") % {"n": run.pk})
        else:
            messages.info(
                request, _("Run #%(n)s was waiting to start: this record was added to it.") % {"n": run.pk}
            )
        return HttpResponseRedirect(run.get_absolute_url())


class LinkUnlinkView(LinkView):
    """Unlink: a confirmation page (GET), then the link is removed (POST) and the removal audited."""

    template_name = "flows/link_unlink.html"

    def get(self, request, pk):
        link = self.get_link(request, pk, act=True)
        return render(request, self.template_name, {"link": link, "flow": link.flow})

    def post(self, request, pk):
        link = self.get_link(request, pk, act=True)
        back = (
            reverse("flows:flow_links", args=[link.flow_id])
            if link.flow_id
            else reverse("flows:system_links", args=[link.source_system_id])
        )
        links.unlink(link, user=request.user)
        messages.success(
            request,
            _(
                "Unlinked %(source)s from %(target)s: the next run treats the record as new (it is "
                "created in the target or matched again on the flow's key)."
            )
            % {"source": link.source_id, "target": link.target_id},
        )
        return HttpResponseRedirect(back)


class LinkMergeView(LinkView):
    """Merge a duplicate (POST): ``drop`` (another link to the same target record) is removed and this
    one kept, or ``keep`` is kept and this one removed; ``target_id``: this record is in the target
    twice, keep that copy."""

    def get(self, request, pk):
        return HttpResponse(status=405)

    def post(self, request, pk):
        link = self.get_link(request, pk, act=True)
        visible = links.visible_links(request.user)
        try:
            if request.POST.get("target_id") is not None and not (
                request.POST.get("drop") or request.POST.get("keep")
            ):
                links.keep_target(link, request.POST["target_id"], user=request.user)
                messages.success(
                    request,
                    _("Linked to target id %(id)s. Delete the other copy in %(system)s.")
                    % {"id": link.target_id, "system": link.target_system},
                )
                return HttpResponseRedirect(reverse("flows:link", args=[link.pk]))
            other_pk = _number(request.POST.get("drop") or request.POST.get("keep"))
            other = visible.filter(pk=other_pk).first() if other_pk else None
            if other is None:
                raise links.LinkError(_("Choose the other link of the duplicate."))
            if not links.may_act(request.user, other):
                generic.deny(request, _("You may not change the ID links of this flow."))
            keep, drop = (link, other) if request.POST.get("drop") else (other, link)
            links.merge(keep, drop, user=request.user)
        except links.LinkError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(reverse("flows:link", args=[link.pk]))
        messages.success(
            request,
            _(
                "Merged: the link from %(removed)s was removed. If that source record still exists, the "
                "next run treats it as new: merge or delete it in %(system)s too."
            )
            % {"removed": drop.source_id, "system": drop.source_system},
        )
        return HttpResponseRedirect(reverse("flows:link", args=[keep.pk]))


class FlowFailuresView(FlowTabs, generic.ObjectMixin, View):
    """A flow's failed records: filters, open failures grouped by signature (one cause, many records),
    replay one, a selection or every record of a signature, ignore. Payloads masked as needed."""

    queryset = Flow.objects.select_related("source_system", "target_system", "current_version")
    template_name = "flows/flow_failures.html"

    def get(self, request, pk):
        from django import forms as django_forms

        from integration_hub.forms import ConsoleFormMixin

        flow = self.get_object(pk=pk)
        data = request.GET.copy()
        if "status" not in data:  # what needs attention, unless asked otherwise
            data.setlist("status", list(failures.OPEN))
        base = flow.failed_records.select_related("run", "flow")
        fs, queryset = _filtered(FailedRecordFilterSet, data, base, request, hide=("flow",))
        groups, open_count, classes = failures.open_summary(flow)
        flow.open_failures = open_count  # for the tab's badge
        if data.get("error_class") and data["error_class"] not in classes:
            classes.append(data["error_class"])  # a cause already gone from the groups: keep the choice
        field = django_forms.ChoiceField(
            choices=[("", _("Any"))] + [(c, c) for c in classes],
            required=False,
            label=_("Error class"),
        )
        ConsoleFormMixin.style_field(field)
        fs.form.fields["error_class"] = field
        presenter = failures.Presenter(request.user)
        can_act = can(request.user, "run", flow)
        table = FailedRecordTable(queryset, user=request.user, presenter=presenter, can_act=can_act)
        per_page = generic._per_page(request, 50)
        # No COUNT(*) of the records per page (a flow may hold a hundred thousand): the paginator reads
        # one row past the page; the open count comes from the groups' counters.
        RequestConfig(request, paginate={"per_page": per_page, "paginator_class": LazyPaginator}).configure(
            table
        )
        for group in groups:
            group["example"] = presenter.text(group["example"] or "")
        context = {
            **self.base_context(flow),
            "active_tab": "failures",
            "table": table,
            "filter_form": fs.form,
            "groups": groups,
            "open_count": open_count,
            # Counted only by the empty state that says it (the template calls it when it gets there).
            "total": base.count,
            "filtered": any(v for k, v in request.GET.items() if k in fs.filters),
            "can_act": can_act,
            "masked": not presenter.allowed,
            "per_page": per_page,
            "per_page_choices": generic.PER_PAGE_CHOICES,
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "object-table":
            template = f"{template}#table"
        return render(request, template, context)

    def post(self, request, pk):
        flow = self.get_object(pk=pk, action="run")
        back = generic.safe_return_url(request, reverse("flows:flow_failures", args=[flow.pk]))
        action = request.POST.get("action")
        record = request.POST.get("replay_record")
        scope = request.POST.get("scope", "selection")
        if record:
            action, scope, selection = "replay", "selection", [record]
        else:
            selection = request.POST.getlist("selection")
        if action not in ("replay", "ignore"):
            return HttpResponse(status=400)
        if scope == "signature":
            signature = request.POST.get("signature", "").strip()
            if not signature:
                messages.error(request, _("Choose a signature."))
                return HttpResponseRedirect(back)
            kwargs = {"signature": signature}
        elif scope == "all":
            kwargs = {}
        else:
            if not selection:
                messages.error(request, _("Select at least one failed record first (tick its box)."))
                return HttpResponseRedirect(back)
            kwargs = {"ids": selection}
        try:
            if action == "replay":
                count = failures.selected(flow, **kwargs).count()
                run = failures.replay(flow, user=request.user, **kwargs)
                messages.success(
                    request,
                    ngettext(
                        "Replaying %(n)s record in run #%(run)s: it is re-read from the source and "
                        "written with the flow's current version.",
                        "Replaying %(n)s records in run #%(run)s: they are re-read from the source and "
                        "written with the flow's current version.",
                        count,
                    )
                    % {"n": count, "run": run.pk},
                )
            else:
                count = failures.ignore(flow, user=request.user, **kwargs)
                messages.success(
                    request,
                    ngettext("%(n)s failed record ignored.", "%(n)s failed records ignored.", count)
                    % {"n": count},
                )
        except failures.FailureError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(back)
