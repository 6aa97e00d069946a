from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from flows import configio, designer, services
from flows.api.serializers import (
    CheckResultSerializer,
    FlowSerializer,
    FlowVersionSerializer,
    SystemCheckSerializer,
    SystemSerializer,
)
from flows.connectors.errors import ConnectorError
from flows.filtersets import FlowFilterSet, SystemFilterSet
from flows.models import Flow, System
from integration_hub.api.viewsets import BaseModelViewSet
from integration_hub.permissions import has_global_permission


class SystemViewSet(BaseModelViewSet):
    queryset = System.objects.select_related("owner")
    serializer_class = SystemSerializer
    filterset_class = SystemFilterSet
    ordering_fields = ("name", "role", "criticality", "updated", "health_status")
    permission_action = {"check": "check", "discover": "check", "checks": "view"}

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
        "run": "change",
        "runs": "view",
        "cancel": "change",
        "rollback": "change",
        "clone": "view",
        "export": "view",
        "import_": "view",  # each object is checked by the import itself
    }

    def _save(self, request, flow=None, partial=False):
        body = request.data
        if not isinstance(body, dict):
            raise ValidationError({"detail": _("Send a flow definition as a JSON object.")})
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
        """Run now (``{"full": true}`` for a full resync). 202 with the run; ``coalesced`` when a run was
        already waiting to start (this request is part of it)."""
        from flows import sync
        from flows.models import RunTrigger

        flow = self.get_object()
        full = bool(isinstance(request.data, dict) and request.data.get("full"))
        try:
            run, created = sync.request_run(
                flow, trigger=RunTrigger.RESYNC if full else RunTrigger.MANUAL, user=request.user, full=full
            )
        except sync.RunRefused as exc:
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
            (200, "application/yaml"): OpenApiTypes.STR,
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
        copy_ = designer.clone_flow(flow, author=request.user)
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
