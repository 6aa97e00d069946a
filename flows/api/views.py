from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from flows import configio, designer, failures, links, services
from flows.api.serializers import (
    CheckResultSerializer,
    FailedRecordSerializer,
    FailureSelectionSerializer,
    FailureSignatureSerializer,
    FlowSerializer,
    FlowVersionSerializer,
    MaintenanceSerializer,
    RecordLinkSerializer,
    RunSerializer,
    SystemCheckSerializer,
    SystemSerializer,
)
from flows.connectors.errors import ConnectorError
from flows.filtersets import (
    FailedRecordFilterSet,
    FlowFilterSet,
    RecordLinkFilterSet,
    RunFilterSet,
    SystemFilterSet,
)
from flows.models import FailedRecord, Flow, RecordLink, Run, System
from flows.runs import visible_runs
from integration_hub.api.permissions import ObjectPermission
from integration_hub.api.viewsets import BaseModelViewSet
from integration_hub.models import APIToken
from integration_hub.permissions import can, has_any_permission, has_global_permission, restrict


class SystemViewSet(BaseModelViewSet):
    queryset = System.objects.select_related("owner")
    serializer_class = SystemSerializer
    filterset_class = SystemFilterSet
    ordering_fields = ("name", "role", "criticality", "updated", "health_status")
    permission_action = {"check": "check", "discover": "check", "checks": "view", "maintenance": "change"}

    @extend_schema(request=None, responses=CheckResultSerializer)
    @action(detail=True, methods=["post"])
    def check(self, request, pk=None):
        """Test the connection now (recorded in the system's health history)."""
        system = self.get_object()
        result = services.check_system(system)
        return Response(
            {
                "ok": result.ok,
                "latency_ms": result.latency_ms,
                "message": result.message,
                "kind": result.kind,
                "health_status": system.health_status,
            }
        )

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT, 502: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def discover(self, request, pk=None):
        """Read the system's entities, fields and sample records now (personal values masked)."""
        system = self.get_object()
        try:
            entities = services.discover_system(system)
        except ConnectorError as exc:
            return Response({"detail": exc.message, "kind": exc.reason or exc.kind}, status=502)
        return Response({"discovered_at": system.discovered_at, "entities": entities})

    @extend_schema(request=MaintenanceSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def maintenance(self, request, pk=None):
        """Start (``{"on": true, "reason": "…"}``) or end (``{"on": false}``) the system's maintenance:
        its enabled flows are paused, then exactly those are resumed."""
        system = self.get_object()
        body = MaintenanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome = services.set_maintenance(
            system, body.validated_data["on"], user=request.user, reason=body.validated_data["reason"]
        )
        system = outcome.system
        return Response(
            {
                "maintenance": system.maintenance,
                "maintenance_since": system.maintenance_since,
                "maintenance_reason": system.maintenance_reason,
                "paused": [flow.pk for flow in outcome.paused],
                "resumed": [flow.pk for flow in outcome.resumed],
                "kept": [{"flow": flow.pk, "reason": why} for flow, why in outcome.kept],
            }
        )

    @extend_schema(responses=SystemCheckSerializer(many=True))
    @action(detail=True, methods=["get"])
    def checks(self, request, pk=None):
        """The latest connection checks (health history)."""
        system = self.get_object()
        return Response(SystemCheckSerializer(system.checks.all()[:100], many=True).data)


class FlowViewSet(BaseModelViewSet):
    """Flows as designer definitions. POST a definition to create, PUT one to replace, PATCH some of its
    keys to change them; the same validation as the console (``flows.designer``), errors by field."""

    queryset = Flow.objects.select_related(
        "source_system", "target_system", "owner", "after_flow", "current_version"
    )
    serializer_class = FlowSerializer
    filterset_class = FlowFilterSet
    ordering_fields = ("name", "updated", "criticality")
    permission_action = {
        "preview": "change",
        "versions": "view",
        "tests": "view",
        "run": "run",
        "runs": "view",
        "cancel": "run",
        "rollback": "change",
        "clone": "view",
        "export": "view",
        "import_": "view",  # each object is checked by the import itself
    }

    def _save(self, request, flow=None, partial=False):
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"detail": _("Send a flow definition as a JSON object.")})
        # A typo ("enabeld") must not be dropped silently; what GET answers may be sent back as it is.
        unknown = (
            set(body) - designer.DEFINITION_KEYS - set(FlowSerializer.Meta.fields) - {"comment", "override"}
        )
        if unknown:
            raise ValidationError({key: [_("Unknown key.")] for key in sorted(unknown)})
        data = designer.definition_of(flow) if (flow is not None and partial) else {}
        data.update(body)
        comment = str(data.pop("comment", "") or "")[:500]
        # A reason to enable the flow although a flow test fails (audited).
        override = str(data.pop("override", "") or "")[:400]
        data.pop("value_maps", None)  # value maps are managed on their own (and by import)
        try:
            saved = designer.save_flow(
                data, flow=flow, author=request.user, comment=comment, override=override
            )
        except designer.DefinitionError as exc:
            raise ValidationError(exc.errors) from exc
        return Response(
            FlowSerializer(saved, context={"request": request}).data, status=201 if flow is None else 200
        )

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: FlowSerializer})
    def create(self, request, *args, **kwargs):
        return self._save(request)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=FlowSerializer)
    def update(self, request, *args, **kwargs):
        return self._save(request, flow=self.get_object(), partial=kwargs.get("partial", False))

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """Map a few live source records as the flow would, without writing anything."""
        from dataclasses import asdict

        from flows.views import preview_payload  # one preview, masking included

        flow = self.get_object()
        payload = preview_payload(request.user, designer.definition_of(flow))
        payload["items"] = [asdict(item) for item in payload["items"]]
        return Response(payload, status=200 if payload["error"] is None else 502)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def run(self, request, pk=None):
        """Run now. Body (all optional): ``{"full": true}`` a full resync; ``{"backfill_from": "YYYY-MM-DD"}``
        read what changed since then; ``{"record_ids": [...]}`` only these source records, fetched fresh;
        ``{"retry_failed": true}`` replay the open failed records. 202 with the run; ``coalesced`` when a
        run was already waiting to start (this request is part of it)."""
        from flows import sync
        from flows.models import RunTrigger
        from flows.views import _run_options

        flow = self.get_object()
        data = request.data if isinstance(request.data, dict) else {}
        ids = data.get("record_ids")
        if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str | int) for i in ids)):
            raise ValidationError({"record_ids": _("Give a list of source record ids.")})
        try:
            if data.get("retry_failed"):
                run, created = sync.replay_failed(flow, user=request.user), True
            elif ids:
                run, created = sync.request_run(
                    flow, trigger=RunTrigger.RECORDS, user=request.user, record_ids=ids
                )
            else:
                run, created = sync.request_run(flow, user=request.user, **_run_options(data))
        except (sync.RunRefused, ValueError) as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({**run_summary(run), "coalesced": not created}, status=202)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        """The flow's latest runs (50), newest first."""
        flow = self.get_object()
        return Response([run_summary(run) for run in flow.runs.all()[:50]])

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the flow's active runs (a running one stops between two pages)."""
        from flows import sync

        flow = self.get_object()
        runs = [sync.cancel_run(run) for run in flow.runs.filter(status__in=["queued", "running"])]
        return Response([run_summary(run) for run in runs])

    @extend_schema(request=None, responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def tests(self, request, pk=None):
        """Run the flow's tests: each with ``passed``, what the flow did and the differing fields."""
        from dataclasses import asdict

        from flows.flowtests import run_tests

        outcomes = [asdict(o) for o in run_tests(designer.definition_of(self.get_object()))]
        return Response({"passed": all(o["passed"] for o in outcomes), "tests": outcomes})

    @extend_schema(responses=FlowVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        flow = self.get_object()
        return Response(FlowVersionSerializer(flow.versions.select_related("author"), many=True).data)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=FlowSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Restore a version (``{"version": 3}``) as a new version."""
        flow = self.get_object()
        version = flow.versions.filter(number=request.data.get("version")).first()
        if version is None:
            raise ValidationError({"version": _("No such version of this flow.")})
        try:
            designer.rollback(flow, version, author=request.user)
        except designer.DefinitionError as exc:
            raise ValidationError(exc.errors) from exc
        flow.refresh_from_db()
        return Response(FlowSerializer(flow, context={"request": request}).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("as", str, enum=list(configio.FORMATS), description="yaml (default) or json")
        ],
        responses={
            (200, "application/yaml"): OpenApiTypes.OBJECT,  # the same document, written as YAML
            (200, "application/json"): OpenApiTypes.OBJECT,
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """Config as code: systems (never secrets), value maps and flows you may see, as YAML or JSON."""
        fmt = request.query_params.get("as") or "yaml"
        if fmt not in configio.FORMATS:
            raise ValidationError({"as": _("Use yaml or json.")})
        return configio.file_response(configio.export_config(request.user), fmt)

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "content": {"type": "string", "description": "The YAML or JSON document."},
                    "format": {"type": "string", "enum": list(configio.FORMATS)},
                    "apply": {
                        "type": "boolean",
                        "description": "False (default): check and show the changes only.",
                    },
                },
                "required": ["content"],
            }
        },
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"], url_path="import", url_name="import")
    def import_(self, request):
        """Check a config document, show what would change, and with ``apply`` apply all of it or nothing.
        Errors name the path and the line of the file."""
        if not configio.may_import(request.user):
            raise PermissionDenied(_("You may not change systems, value maps or flows."))
        body = request.data if isinstance(request.data, dict) else {}
        content = body.get("content")
        if not isinstance(content, str):
            raise ValidationError({"content": _("Send the document as a string in “content”.")})
        fmt = body.get("format") or None
        if fmt is not None and fmt not in configio.FORMATS:
            raise ValidationError({"format": _("Use yaml or json.")})
        report = configio.import_config(content, fmt=fmt, user=request.user, apply=bool(body.get("apply")))
        return Response(report.as_dict(), status=200 if report.ok else 400)

    @extend_schema(request=None, responses={201: FlowSerializer})
    @action(detail=True, methods=["post"])
    def clone(self, request, pk=None):
        flow = self.get_object()
        if not has_global_permission(request.user, Flow, "add"):
            raise PermissionDenied(_("You may not add flows."))
        try:
            copy_ = designer.clone_flow(flow, author=request.user)
        except designer.DefinitionError as exc:  # the original no longer fits its systems' schemas
            raise ValidationError(exc.errors) from exc
        return Response(FlowSerializer(copy_, context={"request": request}).data, status=201)


def run_summary(run) -> dict:
    return {
        "id": run.pk,
        "flow": run.flow_id,
        "version": run.version.number,
        "trigger": run.trigger,
        "status": run.status,
        "full": run.full,
        "counters": run.counters(),
        "cursor_before": run.cursor_before,
        "cursor_after": run.cursor_after,
        "message": run.message,
        "queued_at": run.queued_at,
        "started": run.started,
        "finished": run.finished,
    }


# --- run history ----------------------------------------------------------------------------------------


class RunCursorPagination(CursorPagination):
    """Pages of runs by position, newest first: no COUNT(*) and no OFFSET, however many runs there are."""

    ordering = ("-queued_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 1000


class RunPermission(ObjectPermission):
    """Runs follow their flow: the list needs view on some flow and holds only the runs of those."""

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user and user.is_authenticated and user.is_active and has_any_permission(user, Flow, "view")
        )

    def has_object_permission(self, request, view, obj):
        return True  # the queryset holds only what the user may see


class RunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The run history across the flows you may see, newest first (``?flow=``, ``?system=`` either side,
    ``?status=`` and ``?trigger=`` repeatable, ``?queued_after=``/``?queued_before=`` days, ``?q=`` a run
    number). Paged by cursor: follow ``next``."""

    queryset = Run.objects.all()
    serializer_class = RunSerializer
    filterset_class = RunFilterSet
    filter_backends = [DjangoFilterBackend]  # the cursor fixes the order
    pagination_class = RunCursorPagination
    permission_classes = [RunPermission]

    def get_queryset(self):
        return visible_runs(self.request.user).select_related("version", "requested_by")

    def retrieve(self, request, *args, **kwargs):
        """One run, with its structured log (``log``; ``?level=warning|error`` keeps those and above)."""
        run = self.get_object()
        data = self.get_serializer(run).data
        data.update(cursor_before=run.cursor_before, cursor_after=run.cursor_after, pages=run.pages)
        data["log"] = _log_lines(run, request)
        return Response(data)

    @extend_schema(
        parameters=[OpenApiParameter("level", OpenApiTypes.STR, enum=["warning", "error"], required=False)]
    )
    @action(detail=True, methods=["get"])
    def log(self, request, pk=None):
        """The run's structured log, oldest first: time, level, event, message, context (no payloads)."""
        return Response(_log_lines(self.get_object(), request))


def _log_lines(run, request) -> list[dict]:
    from flows import runlog

    level = request.query_params.get("level")
    lines = runlog.lines_of(run, level=level if level in ("warning", "error") else None)
    return [
        {
            "time": line.time,
            "level": line.level,
            "event": line.event,
            "message": line.message,
            "context": line.context,
        }
        for line in lines[: runlog.MAX_LINES + 10]
    ]


# --- ID links and failed records ----------------------------------------------------------------------


class FlowRecordPermission(ObjectPermission):
    """ID links and failed records follow their flow (or system): seeing them needs view on either;
    acting on them needs the flow's run permission (``links.may_act``)."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if (
            isinstance(request.auth, APIToken)
            and not request.auth.write_enabled
            and request.method not in SAFE_METHODS
        ):
            raise PermissionDenied(_("This API token is read-only; create one with writes enabled."))
        if self.action(request, view) == "view":
            return has_any_permission(user, Flow, "view") or has_any_permission(user, System, "view")
        return has_any_permission(user, Flow, "run") or has_any_permission(user, System, "change")

    def has_object_permission(self, request, view, obj):
        if self.action(request, view) == "view":
            return True  # the queryset holds only what the user may see
        if isinstance(obj, RecordLink):
            return links.may_act(request.user, obj)
        return can(request.user, "run", obj.flow)


class RecordLinkViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Cross-system ID links. ``?q=`` finds a record by its source or target id (exact, then prefix);
    ``?flow=``, ``?system=`` (either side). DELETE unlinks: the next run treats the record as new."""

    queryset = RecordLink.objects.all()
    serializer_class = RecordLinkSerializer
    filterset_class = RecordLinkFilterSet
    permission_classes = [FlowRecordPermission]
    ordering_fields = ("source_id", "target_id", "last_synced", "created")
    permission_action = {"destroy": "run", "resync": "run", "merge": "run", "history": "view"}

    def get_queryset(self):
        return links.visible_links(self.request.user).order_by("-last_synced", "-pk")

    def perform_destroy(self, instance):
        links.unlink(instance, user=self.request.user)

    @extend_schema(request=None, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def resync(self, request, pk=None):
        """Resync this one record: a run that fetches it fresh and writes it with the current version."""
        link = self.get_object()
        try:
            run, created = links.resync(link, user=request.user)
        except links.LinkError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({**run_summary(run), "coalesced": not created}, status=202)

    @extend_schema(
        request={
            "application/json": {
                "type": "object",
                "properties": {
                    "drop": {
                        "type": "integer",
                        "description": "Remove this other link to the same target record.",
                    },
                    "keep": {"type": "integer", "description": "Keep this other link; this one is removed."},
                    "target_id": {
                        "type": "string",
                        "description": "The target holds the record twice: keep this copy.",
                    },
                },
            }
        },
        responses={200: RecordLinkSerializer},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        """Merge a duplicate: ``drop`` or ``keep`` another link to the same target record, or ``target_id``
        the copy to keep when the target holds this record twice. Audited."""
        link = self.get_object()
        body = request.data if isinstance(request.data, dict) else {}
        try:
            if body.get("target_id") is not None and not (body.get("drop") or body.get("keep")):
                kept = links.keep_target(link, str(body["target_id"]), user=request.user)
            else:
                other_pk = body.get("drop") or body.get("keep")
                other = self.get_queryset().filter(pk=other_pk).first() if str(other_pk).isdigit() else None
                if other is None:
                    raise links.LinkError(_("Name the other link of the duplicate in “drop” or “keep”."))
                if not links.may_act(request.user, other):
                    raise PermissionDenied(_("You may not change the ID links of that flow."))
                keep, drop = (link, other) if body.get("drop") else (other, link)
                kept = links.merge(keep, drop, user=request.user)
        except links.LinkError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response(RecordLinkSerializer(kept, context={"request": request}).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The record across systems: every record reached through links, the links, the runs and the
        failed records that touched it (messages masked as needed)."""
        from flows.failures import Presenter

        link = self.get_object()
        history = links.link_history(link, user=request.user)
        context = {"request": request, "presenter": Presenter(request.user)}
        return Response(
            {
                "records": [
                    {"system": r.system.slug, "entity": r.entity, "id": r.id} for r in history.records
                ],
                "links": RecordLinkSerializer(history.links, many=True, context=context).data,
                "runs": [run_summary(run) for run in history.runs],
                "failures": FailedRecordSerializer(history.failures, many=True, context=context).data,
                "truncated": history.truncated,
            }
        )


class FailedRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Failed records of the flows you may see (``?flow=``, ``?status=``, ``?stage=``, ``?error_class=``,
    ``?signature=``); payloads and messages masked without the personal-data right."""

    queryset = FailedRecord.objects.all()
    serializer_class = FailedRecordSerializer
    filterset_class = FailedRecordFilterSet
    permission_classes = [FlowRecordPermission]
    ordering_fields = ("updated", "created", "attempts", "source_id")
    permission_action = {"replay": "run", "ignore": "run", "signatures": "view"}

    def get_queryset(self):
        return failures.visible_failures(self.request.user)

    def _selection(self, request):
        body = FailureSelectionSerializer(data=request.data if isinstance(request.data, dict) else {})
        body.is_valid(raise_exception=True)
        flow = (
            restrict(Flow.objects.all(), request.user, "view").filter(pk=body.validated_data["flow"]).first()
        )
        if flow is None:
            raise NotFound(_("No flow matches, or you may not see it."))
        if not can(request.user, "run", flow):
            raise PermissionDenied(_("You may not run this flow."))
        return flow, {k: body.validated_data[k] for k in ("ids", "signature") if k in body.validated_data}

    @extend_schema(request=FailureSelectionSerializer, responses={202: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def replay(self, request):
        """Replay failed records of one flow — ``ids``, or all open ones with ``signature``, or all open
        ones: one run re-reads them from the source and writes them with the current version."""
        flow, selection = self._selection(request)
        count = failures.selected(flow, **selection).count()
        try:
            run = failures.replay(flow, user=request.user, **selection)
        except failures.FailureError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({**run_summary(run), "replayed": count}, status=202)

    @extend_schema(request=FailureSelectionSerializer, responses={200: OpenApiTypes.OBJECT})
    @action(detail=False, methods=["post"])
    def ignore(self, request):
        """Set aside open failed records of one flow (``ids`` or ``signature``, or all). Audited."""
        flow, selection = self._selection(request)
        try:
            count = failures.ignore(flow, user=request.user, **selection)
        except failures.FailureError as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        return Response({"ignored": count})

    @extend_schema(responses={200: FailureSignatureSerializer(many=True)})
    @action(detail=False, methods=["get"], pagination_class=None)  # the biggest groups, one list
    def signatures(self, request):
        """The filtered failed records grouped by signature (one cause, many records), biggest first."""
        from flows.failures import Presenter

        presenter = Presenter(request.user)
        groups = failures.signature_groups(self.filter_queryset(self.get_queryset()))
        return Response([{**g, "example": presenter.text(g["example"] or "")} for g in groups])
