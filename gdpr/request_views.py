"""Pages of data-subject requests: the DPO's list, form, detail (verification, plan, execution, evidence,
extension, decisions), the suppression list, and the public intake pages.

Every state change goes through ``gdpr.requests``; permissions through the generic views
(``permissions.restrict``): view, add, change (verify, extend, refuse, hold), execute (plan, execute,
manual tasks) and sign-off are separate permissions the DPO role holds.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from gdpr import evidence, requests
from gdpr.models import DataSubjectRequest, EvidencePack, RequestTask, SuppressedSubject
from gdpr.models.choices import RequestChannel, RequestKind, RequestState
from gdpr.request_forms import (
    AssignForm,
    CodeForm,
    ExtendForm,
    IntakeForm,
    ManualTaskForm,
    ReasonForm,
    RequestFilterSet,
    RequestForm,
    VerifyForm,
)
from gdpr.request_tables import TASK_CSS, RequestTable, SuppressionTable, due_badge, state_badge, urgency_of
from integration_hub.audit import record
from integration_hub.context import current
from integration_hub.decorators import public
from integration_hub.models import AuditAction, AuditEntry
from integration_hub.permissions import can, can_see_personal_data, has_global_permission
from integration_hub.views import generic

INTAKE_PER_IP_PER_HOUR = 5
CODES_PER_REQUEST_PER_HOUR = 3
INTAKE_SALT = "gdpr.intake"


class RequestListView(generic.ObjectListView):
    queryset = DataSubjectRequest.objects.select_related("assignee")
    filterset = RequestFilterSet
    table = RequestTable
    template_name = "gdpr/request_list.html"
    empty_message = gettext_lazy(
        "No data-subject request yet. Record one received by e-mail, post or phone, or point people to the "
        "public request page: each request is answered within one month."
    )


class RequestCreateView(generic.ObjectMixin, View):
    queryset = DataSubjectRequest.objects.all()
    template_name = "gdpr/request_edit.html"

    def check(self, request):
        if not has_global_permission(request.user, DataSubjectRequest, "add"):
            generic.deny(request, _("You may not record data-subject requests."))

    def render_form(self, form, status=200):
        return render(
            self.request,
            self.template_name,
            {**self.base_context(), "form": form, "intake_url": reverse("gdpr:request_intake")},
            status=status,
        )

    def get(self, request):
        self.check(request)
        return self.render_form(RequestForm())

    def post(self, request):
        self.check(request)
        form = RequestForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Nothing was saved: please correct the fields marked below."))
            return self.render_form(form, status=400)
        data = form.cleaned_data
        try:
            obj = requests.create_request(
                data["kind"],
                data["channel"],
                data["received_on"],
                form.identifiers(),
                user=request.user,
                assignee=data.get("assignee"),
                notes=data.get("notes", ""),
                send_code=data.get("send_code", False),
            )
        except requests.RequestError as exc:
            for message in exc.messages:
                form.add_error(None, message)
            return self.render_form(form, status=400)
        messages.success(
            request,
            _("Recorded request %(ref)s, due on %(due)s.")
            % {"ref": obj.reference, "due": obj.due_on.isoformat()},
        )
        return HttpResponseRedirect(obj.get_absolute_url())


def _timeline(obj: DataSubjectRequest) -> list[dict]:
    steps = [
        (_("Received"), obj.received_on, obj.get_channel_display()),
        (_("Identity verified"), obj.identity_verified_at, obj.verification_method),
        (_("Planned"), obj.planned_at, ""),
        (
            _("Completed") if obj.state != RequestState.PARTIAL else _("Partially completed"),
            obj.completed_at if obj.state in (RequestState.COMPLETED, RequestState.PARTIAL) else None,
            "",
        ),
        (
            _("Signed off by the DPO"),
            obj.signed_off_at,
            obj.signed_off_by.get_username() if obj.signed_off_by else "",
        ),
    ]
    if obj.extended_months:
        steps.insert(
            1,
            (
                _("Extended by %(n)s month(s)") % {"n": obj.extended_months},
                obj.extension_notified_on,
                obj.extension_reason,
            ),
        )
    if obj.state in (RequestState.REFUSED, RequestState.CANCELLED):
        steps.append((obj.get_state_display().capitalize(), obj.completed_at, obj.refusal_reason))
    return [{"label": label, "when": _when(when), "detail": detail} for label, when, detail in steps]


def _when(value) -> str:
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat() if value else ""


def task_rows(obj: DataSubjectRequest) -> list[RequestTask]:
    tasks = list(obj.tasks.select_related("system", "completed_by").order_by("system__name", "entity", "pk"))
    for task in tasks:
        task.css = TASK_CSS.get(task.status, "secondary")
    return tasks


class RequestView(generic.ObjectView):
    queryset = DataSubjectRequest.objects.select_related("assignee", "verified_by", "signed_off_by")
    template_name = "gdpr/request.html"

    def get(self, request, **kwargs):
        if request.htmx and request.GET.get("part") == "progress":
            obj = self.get_object(**kwargs)
            response = render(request, "gdpr/request.html#progress", self.progress_context(obj))
            if obj.state != RequestState.EXECUTING:
                response["HX-Refresh"] = "true"  # done: the whole page (state, evidence, sign-off) changed
            return response
        return super().get(request, **kwargs)

    def progress_context(self, obj) -> dict:
        user = self.request.user
        return {
            "object": obj,
            "tasks": task_rows(obj),
            "progress": requests.progress(obj),
            "executing": obj.state == RequestState.EXECUTING,
            "can_execute": can(user, "execute", obj),
            "manual_form": ManualTaskForm(),
        }

    def get_extra_context(self, obj):
        user = self.request.user
        may_see = can_see_personal_data(user)
        reveal = may_see and self.request.GET.get("reveal") == "1" and bool(obj.identifiers_encrypted)
        if reveal:
            record(AuditAction.PERSONAL_VIEW, obj, message="data-subject request identifiers shown unmasked")
        identifiers = obj.identifiers if reveal else requests.masked_identifiers(obj)
        plan = obj.plan
        return {
            **self.progress_context(obj),
            "identifiers": identifiers,
            "revealed": reveal,
            "may_reveal": may_see and bool(obj.identifiers_encrypted) and not reveal,
            "due_badge": due_badge(obj),
            "state_badge": state_badge(obj),
            "urgency": urgency_of(obj),
            "timeline": _timeline(obj),
            "plan": requests.plan_summary(obj) if obj.planned_at else None,
            "plan_systems": plan.get("systems", []),
            "can_execute": can(user, "execute", obj),
            "can_signoff": can(user, "signoff", obj),
            "has_email": bool(obj.identifiers.get("email")) if obj.identifiers_encrypted else False,
            "verify_form": VerifyForm(),
            "extend_form": ExtendForm(),
            "reason_form": ReasonForm(),
            "assign_form": AssignForm(initial={"assignee": obj.assignee_id}),
            "evidence": EvidencePack.objects.filter(request=obj).first(),
            "has_export": bool(obj.export_encrypted),
            "states": RequestState,
        }


class RequestHistoryView(generic.ObjectHistoryView):
    queryset = DataSubjectRequest.objects.all()


def _step_send_code(obj, request, form):
    since = timezone.now() - timedelta(hours=1)
    sent = AuditEntry.objects.for_object(obj).filter(
        time__gte=since, message__startswith="verification code sent"
    )
    if sent.count() >= CODES_PER_REQUEST_PER_HOUR:
        raise requests.RequestError(
            _("Several codes were sent in the last hour: wait before sending another.")
        )
    if not requests.send_verification_code(obj):
        raise requests.RequestError(_("The request has no e-mail address to send a code to."))
    return _("A verification code was sent to the address on file.")


# step -> (permission action, form class or None, handler(obj, request, form) -> message)
STEPS = {
    "send-code": ("change", None, _step_send_code),
    "verify": (
        "change",
        VerifyForm,
        lambda obj, request, form: (
            requests.verify_identity(obj, form.cleaned_data["method"], user=request.user),
            _("Identity verified."),
        )[1],
    ),
    "plan": (
        "execute",
        None,
        lambda obj, request, form: (
            requests.plan_request(obj, user=request.user),
            _("Planned: found in %(systems)s systems, %(records)s records. Nothing has changed yet.")
            % requests.plan_summary(obj),
        )[1],
    ),
    "execute": (
        "execute",
        None,
        lambda obj, request, form: (
            requests.execute_request(obj, user=request.user),
            _("Executing: the systems are being asked one by one."),
        )[1],
    ),
    "extend": (
        "change",
        ExtendForm,
        lambda obj, request, form: (
            requests.extend_request(
                obj,
                form.cleaned_data["months"],
                form.cleaned_data["reason"],
                form.cleaned_data["notified_on"],
                user=request.user,
            ),
            _("Deadline extended to %(due)s.") % {"due": obj.due_on.isoformat()},
        )[1],
    ),
    "refuse": (
        "change",
        ReasonForm,
        lambda obj, request, form: (
            requests.refuse_request(obj, form.cleaned_data["reason"], user=request.user),
            _("Request refused."),
        )[1],
    ),
    "cancel": (
        "change",
        ReasonForm,
        lambda obj, request, form: (
            requests.cancel_request(obj, form.cleaned_data["reason"], user=request.user),
            _("Request cancelled."),
        )[1],
    ),
    "hold": (
        "change",
        ReasonForm,
        lambda obj, request, form: (
            requests.hold_request(obj, form.cleaned_data["reason"], user=request.user),
            _("Request on hold."),
        )[1],
    ),
    "resume": (
        "change",
        None,
        lambda obj, request, form: (requests.resume_request(obj, user=request.user), _("Request resumed."))[
            1
        ],
    ),
    "assign": (
        "change",
        AssignForm,
        lambda obj, request, form: (
            requests.assign(obj, form.cleaned_data["assignee"], user=request.user),
            _("Assignee saved."),
        )[1],
    ),
    "sign-off": (
        "signoff",
        None,
        lambda obj, request, form: (requests.sign_off(obj, user=request.user), _("Signed off."))[1],
    ),
}


class RequestStepView(generic.ObjectMixin, View):
    """POST one step of a request (verify, plan, execute, extend, refuse…)."""

    queryset = DataSubjectRequest.objects.all()
    step = ""

    def get(self, request, pk):
        self.get_object(pk=pk)  # 404 for those who may not see it, as its page would answer
        return HttpResponseRedirect(reverse("gdpr:request", args=[pk]))

    def post(self, request, pk):
        action, form_class, handler = STEPS[self.step]
        obj = self.get_object(action=action, pk=pk)
        form = form_class(request.POST) if form_class else None
        if form is not None and not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    messages.error(request, f"{label}: {error}" if label else error)
            return HttpResponseRedirect(obj.get_absolute_url())
        try:
            message = handler(obj, request, form)
        except requests.RequestError as exc:
            for text in exc.messages:
                messages.error(request, text)
        else:
            messages.success(request, message)
        return HttpResponseRedirect(obj.get_absolute_url())


class TaskDoneView(generic.ObjectMixin, View):
    """POST: a manual task (erased by hand, recipient notified) is done."""

    queryset = DataSubjectRequest.objects.all()

    def get(self, request, pk):
        self.get_object(pk=pk)  # 404 for those who may not see it, as its page would answer
        return HttpResponseRedirect(reverse("gdpr:request", args=[pk]))

    def post(self, request, pk):
        obj = self.get_object(action="execute", pk=pk)
        task_pk = request.POST.get("task", "")
        task = obj.tasks.filter(pk=task_pk).first() if task_pk.isdigit() else None
        if task is None:
            raise Http404
        form = ManualTaskForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say what was done."))
            return HttpResponseRedirect(obj.get_absolute_url())
        try:
            requests.complete_manual_task(task, form.cleaned_data["note"], user=request.user)
        except requests.RequestError as exc:
            for text in exc.messages:
                messages.error(request, text)
        else:
            messages.success(request, _("Task marked done."))
        return HttpResponseRedirect(obj.get_absolute_url())


class EvidenceView(generic.ObjectMixin, View):
    """The evidence pack: JSON download (``?format=json``) or a printable page."""

    queryset = DataSubjectRequest.objects.all()

    def get(self, request, pk):
        obj = self.get_object(pk=pk)
        pack = EvidencePack.objects.filter(request=obj).first()
        if pack is None:
            raise Http404(_("This request has no evidence pack yet."))
        if request.GET.get("format") == "json":
            response = JsonResponse(
                evidence.export(pack), json_dumps_params={"indent": 2, "ensure_ascii": False}
            )
            response["Content-Disposition"] = f'attachment; filename="{obj.reference}-evidence.json"'
            return response
        problems = evidence.verify_chain(
            EvidencePack.objects.filter(sequence__lte=pack.sequence).order_by("sequence")
        )
        return render(
            request,
            "gdpr/request_evidence.html",
            {"object": obj, "pack": pack, "data": pack.data, "chain_problems": problems},
        )


class AccessExportView(generic.ObjectMixin, View):
    """An access request's answer: the person's data as JSON (``?format=json``) or a printable page with
    the purposes, recipients, retention and sources from the register."""

    queryset = DataSubjectRequest.objects.all()

    def get(self, request, pk):
        obj = self.get_object(pk=pk)
        if obj.kind != RequestKind.ACCESS or not obj.export_encrypted:
            raise Http404(_("This request has no assembled data."))
        if not can_see_personal_data(request.user):
            generic.deny(request, _("You may not see personal data."))
        export = obj.export
        record(AuditAction.PERSONAL_VIEW, obj, message="access-request export shown")
        if request.GET.get("format") == "json":
            body = {"reference": obj.reference, "generated_at": timezone.now().isoformat(), **export}
            response = HttpResponse(
                json.dumps(body, indent=2, ensure_ascii=False, default=str), content_type="application/json"
            )
            response["Content-Disposition"] = f'attachment; filename="{obj.reference}-personal-data.json"'
            return response
        return render(
            request,
            "gdpr/request_access.html",
            {"object": obj, "export": export, "activities": requests.register_context(obj)},
        )


class SuppressionListView(generic.ObjectListView):
    queryset = SuppressedSubject.objects.select_related("request")
    table = SuppressionTable
    template_name = "gdpr/request_suppression.html"
    empty_message = gettext_lazy(
        "Nobody is suppressed. When an erasure completes, the person's e-mail and phone are listed here as "
        "keyed hashes, and every flow leaves them out."
    )


# --- the public intake pages ------------------------------------------------------------------------------


def intake_token(obj: DataSubjectRequest) -> str:
    return signing.dumps(obj.pk, salt=INTAKE_SALT)


def _from_token(token: str) -> DataSubjectRequest:
    try:
        pk = signing.loads(token, salt=INTAKE_SALT, max_age=timedelta(days=7))
    except signing.BadSignature:
        raise Http404 from None
    obj = DataSubjectRequest.objects.filter(pk=pk).first()
    if obj is None:
        raise Http404
    return obj


def _too_many_from_this_address() -> bool:
    ip = current().remote_addr
    if not ip:
        return False
    since = timezone.now() - timedelta(hours=1)
    # Requests created from this address by nobody logged in: the audit log already has them.
    created = AuditEntry.objects.filter(
        action=AuditAction.CREATE,
        content_type=ContentType.objects.get_for_model(DataSubjectRequest),
        user__isnull=True,
        remote_addr=ip,
        time__gte=since,
    )
    return created.count() >= INTAKE_PER_IP_PER_HOUR


@method_decorator(public, name="dispatch")
class IntakeView(View):
    """Anyone files a request with their e-mail address; a code sent to it proves it is theirs."""

    template_name = "gdpr/intake.html"

    def get(self, request):
        return render(request, self.template_name, {"form": IntakeForm()})

    def post(self, request):
        form = IntakeForm(request.POST)
        if _too_many_from_this_address():
            record(AuditAction.DENIED, message="public intake refused: too many requests from this address")
            return render(
                request,
                self.template_name,
                {"form": form, "throttled": True},
                status=429,
            )
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        if form.cleaned_data.get("website"):
            # A bot filled in the hidden field: answer as if it worked, record nothing.
            return render(request, "gdpr/intake_sent.html", {"token": ""})
        obj = requests.create_request(
            form.cleaned_data["kind"],
            RequestChannel.FORM,
            timezone.localdate(),
            {"email": [form.cleaned_data["email"]]},
        )
        requests.send_verification_code(obj)
        return HttpResponseRedirect(reverse("gdpr:request_intake_verify", args=[intake_token(obj)]))


@method_decorator(public, name="dispatch")
class IntakeVerifyView(View):
    """The person types the code they received."""

    template_name = "gdpr/intake_verify.html"

    def get(self, request, token):
        obj = _from_token(token)
        return render(request, self.template_name, {"form": CodeForm(), "object": obj, "token": token})

    def post(self, request, token):
        obj = _from_token(token)
        if request.POST.get("resend"):
            try:
                _step_send_code(obj, request, None)
                messages.success(request, _("A new code was sent."))
            except requests.RequestError as exc:
                messages.error(request, exc.messages[0])
            return HttpResponseRedirect(reverse("gdpr:request_intake_verify", args=[token]))
        form = CodeForm(request.POST)
        if form.is_valid():
            try:
                requests.check_verification_code(obj, form.cleaned_data["code"])
            except requests.RequestError as exc:
                form.add_error("code", exc.messages[0])
            else:
                return render(request, "gdpr/intake_sent.html", {"object": obj, "verified": True})
        return render(request, self.template_name, {"form": form, "object": obj, "token": token}, status=400)
