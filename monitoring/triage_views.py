"""The triage inbox and an error group's page. Every change goes through ``monitoring.triage``."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View

from flows import failures
from flows.models import FailedRecord, Flow, RecordLink
from integration_hub.permissions import has_any_permission
from integration_hub.views import generic
from monitoring import triage
from monitoring.filtersets import ErrorGroupFilterSet
from monitoring.models import ErrorGroup

GROUP_ACTIONS = ("acknowledge", "resolve", "reopen", "ignore", "assign", "replay")


def _assignee(request):
    """The user named by the ``assignee`` field: None to unassign; raises TriageError when unknown."""
    value = request.POST.get("assignee", "")
    if value in ("", "none"):
        return None
    if value == "me":
        return request.user
    user = (
        get_user_model()._default_manager.filter(pk=value if value.isdigit() else 0, is_active=True).first()
    )
    if user is None:
        raise triage.TriageError(_("Choose someone to assign to."))
    return user


def run_group_action(request, action: str, groups: list[ErrorGroup]) -> None:
    """Apply one action to the groups and say what happened (shared by the inbox and the group page)."""
    user = request.user
    if action == "acknowledge":
        n = triage.acknowledge(groups, user=user)
        messages.success(
            request,
            ngettext("%(n)s error group acknowledged.", "%(n)s error groups acknowledged.", n) % {"n": n},
        )
    elif action == "resolve":
        n = triage.resolve(groups, user=user)
        messages.success(
            request, ngettext("%(n)s error group resolved.", "%(n)s error groups resolved.", n) % {"n": n}
        )
    elif action == "reopen":
        n = triage.reopen(groups, user=user)
        messages.success(
            request, ngettext("%(n)s error group re-opened.", "%(n)s error groups re-opened.", n) % {"n": n}
        )
    elif action == "ignore":
        n = triage.ignore(groups, user=user)
        messages.success(
            request,
            ngettext(
                "%(n)s error group ignored; its open records were set aside.",
                "%(n)s error groups ignored; their open records were set aside.",
                n,
            )
            % {"n": n},
        )
    elif action == "assign":
        assignee = _assignee(request)
        n = triage.assign(groups, assignee, user=user)
        messages.success(
            request, ngettext("%(n)s error group assigned.", "%(n)s error groups assigned.", n) % {"n": n}
        )
    elif action == "replay":
        runs = triage.replay(groups, user=user)
        messages.success(
            request,
            _("Replaying in run %(runs)s: each record is re-read from the source and written with the flow's current version.")
            % {"runs": ", ".join(f"#{run.pk}" for run in runs)},
        )  # fmt: skip


class TriageView(View):
    """The inbox: error groups of the flows the user may see, newest first; bulk actions."""

    queryset = ErrorGroup.objects.all()  # narrowed per user by triage.visible_groups
    template_name = "monitoring/triage.html"

    def get(self, request):
        if not has_any_permission(request.user, Flow, "view"):
            generic.deny(request, _("You may not see any flow, so no error group either."))
        queryset = triage.visible_groups(request.user)
        data = request.GET.copy()
        if not data.getlist("status"):  # what needs attention, unless asked otherwise (ticked in the form)
            data.setlist("status", list(ErrorGroup.ACTIVE))
        fs = ErrorGroupFilterSet(data, queryset=queryset, request=request)
        groups = fs.qs.order_by("-last_seen", "-pk") if fs.is_valid() else queryset.none()
        page = Paginator(groups, generic._per_page(request, 50)).get_page(request.GET.get("page"))
        presenter = failures.Presenter(request.user)
        rows = [{"group": g, **triage.present(g, presenter)} for g in page.object_list]
        context = {
            "title": _("Triage"),
            "rows": rows,
            "page_obj": page,
            "filter_form": fs.form,
            "filtered": any(v for k, v in request.GET.items() if k in fs.filters and k != "status")
            or set(data.getlist("status")) != set(ErrorGroup.ACTIVE),
            "can_act": triage.can_act(request.user),
            "can_replay": triage.can_act(request.user) and has_any_permission(request.user, Flow, "run"),
            "users": triage.assignable_users(),
            "masked": not presenter.allowed,
            "any_group": queryset.exists(),
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "triage-list":
            template = f"{template}#inbox"
        return render(request, template, context)

    def post(self, request):
        if not triage.can_act(request.user):
            generic.deny(request, _("You may not change error groups."))
        back = generic.safe_return_url(request, reverse("monitoring:triage"))
        action = request.POST.get("action")
        if action not in GROUP_ACTIONS:
            return HttpResponse(status=400)
        try:
            groups = triage.actionable(
                request.user, request.POST.getlist("selection"), replay=action == "replay"
            )
            run_group_action(request, action, groups)
        except triage.PermissionDenied as exc:
            generic.deny(request, str(exc))
        except triage.TriageError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(back)


class ErrorGroupView(View):
    """One error group: status and actions, the comment thread, its failed records (payloads side by side)."""

    queryset = ErrorGroup.objects.all()  # narrowed per user by triage.visible_groups
    template_name = "monitoring/errorgroup.html"

    def get_group(self, request, pk) -> ErrorGroup:
        return get_object_or_404(triage.visible_groups(request.user), pk=pk)

    def get(self, request, pk):
        group = self.get_group(request, pk)
        presenter = failures.Presenter(request.user)
        statuses = [s for s in request.GET.getlist("status") if s in FailedRecord.Status.values] or list(
            failures.OPEN
        )
        records = group.failed_records().filter(status__in=statuses).select_related("run", "flow")
        page = Paginator(records, 20).get_page(request.GET.get("page"))
        rows = []
        flow = group.flow
        source, target = flow.source_system, flow.target_system
        # The records' own addresses in the source and target screens, when the systems have a template.
        linked = {}
        if target is not None and target.record_url_template:
            linked = dict(
                RecordLink.objects.filter(
                    flow=flow, source_id__in=[r.source_id for r in page.object_list if r.source_id]
                ).values_list("source_id", "target_id")
            )
        for record in page.object_list:
            payload = presenter.payload(record)
            rows.append(
                {
                    "record": record,
                    "source_url": source.record_url(flow.source_entity, record.source_id) if source else "",
                    "target_url": target.record_url(flow.target_entity, linked.get(record.source_id))
                    if target
                    else "",
                    "message": presenter.message(record),
                    "source": json.dumps(payload.get("source"), indent=2, ensure_ascii=False, default=str)
                    if payload.get("source") is not None
                    else "",
                    "mapped": json.dumps(payload.get("mapped"), indent=2, ensure_ascii=False, default=str)
                    if payload.get("mapped") is not None
                    else "",
                    "error": payload.get("error"),
                }
            )
        context = {
            "title": _("Error group"),
            "group": group,
            **triage.present(group, presenter),
            "comments": group.comments.select_related("author"),
            "rows": rows,
            "page_obj": page,
            "statuses": statuses,
            "record_statuses": FailedRecord.Status.choices,
            "can_act": triage.can_act(request.user),
            "can_replay": triage.can_replay(request.user, group),
            "users": triage.assignable_users(),
            "masked": not presenter.allowed,
        }
        template = self.template_name
        if request.htmx and request.htmx.target == "errorgroup-body":
            template = f"{template}#body"
        return render(request, template, context)

    def post(self, request, pk):
        group = self.get_group(request, pk)
        if not triage.can_act(request.user):
            generic.deny(request, _("You may not change error groups."))
        back = generic.safe_return_url(request, group.get_absolute_url())
        action = request.POST.get("action")
        if action not in (*GROUP_ACTIONS, "comment", "replay_selected", "ignore_selected"):
            return HttpResponse(status=400)
        replaying = action in ("replay", "replay_selected")
        try:
            (group,) = triage.actionable(request.user, [group.pk], replay=replaying)
            if action == "comment":
                triage.comment(group, request.POST.get("text", ""), user=request.user)
                messages.success(request, _("Comment added."))
            elif action == "replay_selected":
                selection = request.POST.getlist("selection")
                if not selection:
                    raise triage.TriageError(_("Select at least one failed record first (tick its box)."))
                runs = triage.replay([group], user=request.user, ids=selection)
                messages.success(
                    request, _("Replaying the selected records in run #%(run)s.") % {"run": runs[0].pk}
                )
            elif action == "ignore_selected":
                selection = request.POST.getlist("selection")
                if not selection:
                    raise triage.TriageError(_("Select at least one failed record first (tick its box)."))
                n = triage.ignore_records(group, selection, user=request.user)
                messages.success(
                    request,
                    ngettext("%(n)s failed record ignored.", "%(n)s failed records ignored.", n) % {"n": n},
                )
            else:
                run_group_action(request, action, [group])
        except triage.PermissionDenied as exc:
            generic.deny(request, str(exc))
        except triage.TriageError as exc:
            messages.error(request, str(exc))
        return HttpResponseRedirect(back)
