"""Config as code: systems (never their secrets), value maps and flows as one YAML or JSON document.

``export_config`` writes what a user may see; ``import_config`` checks a whole document first — its
shape, then every object with the same rules as the console and the API (the connector's own form, the
model's validators, ``designer.validate_definition``) — and applies all of it or nothing. Errors carry
the line of the file they come from. Importing an unchanged export changes nothing (no new flow
version, no audit entry), so export → import → export gives the same file.

The console page, ``/api/flows/export|import/`` and ``manage.py hub export|import`` all call these.
"""

from __future__ import annotations

import copy
import datetime
import json
from dataclasses import dataclass, field

import yaml
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from flows import designer
from flows.forms import validate_connector_config
from flows.models import Flow, System, ValueMap
from integration_hub import audit
from integration_hub.models import AuditAction
from integration_hub.permissions import can, has_any_permission, has_global_permission, restrict

FORMAT_VERSION = 1
MAX_BYTES = 5_000_000
FORMATS = ("yaml", "json")
# libyaml when installed: much faster, and it refuses thousands of nested brackets at once.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# What a system's entry holds, in this order (secrets and the webhook address never leave the hub).
SYSTEM_KEYS = (
    "slug",
    "name",
    "role",
    "criticality",
    "owner",
    "description",
    "enabled",
    "connector",
    "parameters",
    "timeout",
    "rate_limit",
    "max_concurrency",
    "verify_tls",
    "webhook_enabled",
    "webhook_signature_header",
    "webhook_signature_encoding",
    "webhook_event_id",
    "webhook_topic",
    "webhook_record_id",
)
VALUE_MAP_KEYS = ("name", "description", "entries", "default", "unmatched")
FLOW_KEYS = (
    "name",
    "description",
    "owner",
    "tags",
    "source_system",
    "source_entity",
    "target_system",
    "target_entity",
    "trigger",
    "interval_minutes",
    "cron",
    "webhook_topic",
    "after_flow",
    "criticality",
    "freshness_sla_minutes",
    "sync_mode",
    "cursor_field",
    "match_strategy",
    "source_key",
    "target_key",
    "write_mode",
    "filters",
    "quality_rules",
    "enabled",
    "purpose",
    "mappings",
    "tests",
)
SECTIONS = {
    "systems": ("slug", SYSTEM_KEYS),
    "value_maps": ("name", VALUE_MAP_KEYS),
    "flows": ("name", FLOW_KEYS),
}


# --- export -------------------------------------------------------------------------------------------


def system_entry(system: System) -> dict:
    entry = {}
    for key in SYSTEM_KEYS:
        if key == "owner":
            entry[key] = system.owner.get_username() if system.owner_id else None
        else:
            entry[key] = copy.deepcopy(getattr(system, key))
    return entry


def flow_entry(flow: Flow) -> dict:
    definition = designer.definition_of(flow)
    return {key: definition[key] for key in FLOW_KEYS}


def export_config(user=None, *, flows=None) -> dict:
    """Everything ``user`` may see (everything when None): flows, the systems they use or that the user
    may see, and every value map. ``flows`` narrows to those flows and what they use."""
    flow_qs = Flow.objects.select_related("source_system", "target_system", "owner", "after_flow")
    system_qs = System.objects.select_related("owner")
    map_qs = ValueMap.objects.all()
    if user is not None:
        flow_qs, system_qs, map_qs = (restrict(qs, user, "view") for qs in (flow_qs, system_qs, map_qs))
    if flows is not None:
        flow_qs = flow_qs.filter(pk__in=[f.pk for f in flows])
        used = {f.source_system_id for f in flow_qs} | {f.target_system_id for f in flow_qs}
        system_qs = system_qs.filter(pk__in=used)
        names = designer.value_maps_used([m.as_definition() for f in flow_qs for m in f.mappings.all()])
        map_qs = map_qs.filter(name__in=names)
    return {
        "hub_config": FORMAT_VERSION,
        "systems": [system_entry(s) for s in system_qs.order_by("slug")],
        "value_maps": [vm.as_definition() for vm in map_qs.order_by("name")],
        "flows": [flow_entry(f) for f in flow_qs.order_by("name")],
    }


class _Dumper(yaml.SafeDumper):
    """Block style; long text as literal blocks so diffs of a config file stay readable."""


def _str_representer(dumper, value):
    # NEL and the Unicode line separators are line breaks to a YAML reader: only double quotes keep them.
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def dumps(data: dict, fmt: str = "yaml") -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100
    )


def file_response(data: dict, fmt: str) -> HttpResponse:
    """An export as a download named after the day (the console and the API both serve it)."""
    content_type = "application/json" if fmt == "json" else "application/yaml"
    response = HttpResponse(dumps(data, fmt), content_type=f"{content_type}; charset=utf-8")
    name = f"integration-hub-config-{timezone.localdate():%Y-%m-%d}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def may_import(user) -> bool:
    """Whether importing could change anything for ``user`` (each object is still checked on its own)."""
    return any(
        has_global_permission(user, model, "add") or has_any_permission(user, model, "change")
        for model in (System, ValueMap, Flow)
    )


# --- reading ------------------------------------------------------------------------------------------


@dataclass
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self):
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.path + ': ' if self.path else ''}{self.message}"

    def as_dict(self) -> dict:
        return {"path": self.path, "line": self.line, "message": self.message}


class ConfigError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def sniff_format(text: str, name: str = "") -> str:
    lowered = name.lower()
    if lowered.endswith(".json"):
        return "json"
    if lowered.endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if text.lstrip().startswith(("{", "[")) else "yaml"


MAX_DEPTH = 64  # an export nests 6 levels; deeper is a mistake or an attack
MAX_VALUES = 1_000_000  # YAML aliases can make a small file expand to billions of values


def _plain(value, path: str = "", depth: int = 0, count: list | None = None):
    """JSON-compatible data: YAML dates become ISO text; anything else unusual is refused, and so are
    documents nested too deeply or holding too many values once YAML aliases are expanded."""
    count = [0] if count is None else count
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise ConfigError(
            [
                Problem(
                    "",
                    _("The document holds too many values (more than %(n)s, YAML aliases expanded).")
                    % {"n": MAX_VALUES},
                )
            ]
        )
    if depth > MAX_DEPTH and isinstance(value, (dict, list)):
        raise ConfigError(
            [Problem(path, _("The document is nested more than %(n)s levels deep.") % {"n": MAX_DEPTH})]
        )
    if isinstance(value, dict):
        return {
            str(k): _plain(v, f"{path}.{k}" if path else str(k), depth + 1, count) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]", depth + 1, count) for i, v in enumerate(value)]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise ConfigError(
        [Problem(path, _("Unsupported value of type %(type)s.") % {"type": type(value).__name__})]
    )


def parse(text: str, fmt: str | None = None) -> tuple[dict, dict]:
    """(data, lines) from a document; ``lines`` maps a path like ``flows[2].mappings[0]`` to its line.
    Raises ``ConfigError`` with the line of a syntax error."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise ConfigError([Problem("", _("The file is larger than 5 MB."))])
    fmt = fmt or sniff_format(text)
    if fmt not in FORMATS:
        raise ConfigError([Problem("", _("Unknown format “%(fmt)s”: use yaml or json.") % {"fmt": fmt})])
    too_deep = ConfigError(
        [Problem("", _("The document is nested more than %(n)s levels deep.") % {"n": MAX_DEPTH})]
    )
    if fmt == "json":
        try:
            data = json.loads(text)
        except RecursionError:
            raise too_deep from None
        except json.JSONDecodeError as exc:
            raise ConfigError(
                [
                    Problem(
                        "",
                        _("Not valid JSON: %(msg)s (column %(col)s).") % {"msg": exc.msg, "col": exc.colno},
                        exc.lineno,
                    )
                ]
            ) from exc
    else:
        try:
            data = yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader
        except RecursionError:
            raise too_deep from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
            reason = getattr(exc, "problem", None) or str(exc)
            raise ConfigError(
                [
                    Problem(
                        "", _("Not valid YAML: %(msg)s.") % {"msg": reason}, mark.line + 1 if mark else None
                    )
                ]
            ) from exc
    return _plain(data), line_index(text)


def line_index(text: str) -> dict[str, int]:
    """Where each key and list item of a YAML (or JSON) document starts, by path."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except (yaml.YAMLError, RecursionError):
        return {}
    index: dict[str, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = f"{path}.{key.value}" if path else str(key.value)
                index[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                child = f"{path}[{i}]"
                index[child] = item.start_mark.line + 1
                walk(item, child)

    if root is not None:
        walk(root, "")
    return index


def _line(lines: dict[str, int], path: str) -> int | None:
    """The line of ``path`` or of its nearest ancestor the file has."""
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return lines.get(path)


# --- import -------------------------------------------------------------------------------------------


@dataclass
class Change:
    kind: str  # system, value map, flow
    name: str
    action: str  # create, update, unchanged
    changes: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "name": self.name, "action": self.action, "changes": self.changes}


@dataclass
class ImportReport:
    changes: list[Change] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    applied: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict:
        out = {"create": 0, "update": 0, "unchanged": 0}
        for change in self.changes:
            out[change.action] += 1
        return out

    def as_dict(self) -> dict:
        return {
            "applied": self.applied,
            "counts": self.counts(),
            "changes": [c.as_dict() for c in self.changes],
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
        }


def _dict_changes(old: dict | None, new: dict) -> list[dict]:
    old = old or {}
    return [
        {"what": key, "kind": "changed" if key in old else "added", "old": old.get(key), "new": new.get(key)}
        for key in new
        if old.get(key) != new.get(key)
    ]


class _Importer:
    def __init__(self, data, lines: dict, user):
        self.data = data
        self.lines = lines
        self.user = user
        self.report = ImportReport()

    # problems

    def error(self, path: str, message) -> None:
        self.report.errors.append(Problem(path, str(message), _line(self.lines, path)))

    def warn(self, path: str, message) -> None:
        self.report.warnings.append(Problem(path, str(message), _line(self.lines, path)))

    def allowed(self, path: str, model, obj) -> bool:
        if self.user is None:
            return True
        ok = (
            can(self.user, "change", obj)
            if obj is not None
            else has_global_permission(self.user, model, "add")
        )
        if not ok:
            self.error(
                path,
                (
                    _("You may not change this %(name)s.")
                    if obj is not None
                    else _("You may not add a %(name)s.")
                )
                % {"name": model._meta.verbose_name},
            )
        return ok

    def model_errors(self, path: str, exc: ValidationError) -> None:
        for name, messages in exc.message_dict.items():
            where = path if name == "__all__" else f"{path}.{name}"
            for message in messages:
                self.error(where, message)

    def owner(self, path: str, username):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            self.warn(
                f"{path}.owner", _("No user “%(name)s” here: left without an owner.") % {"name": username}
            )
        return user

    # shape

    def check_shape(self) -> bool:
        data = self.data
        if not isinstance(data, dict):
            self.error("", _("The file must hold a mapping with systems, value_maps and flows."))
            return False
        version = data.get("hub_config", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            self.error("hub_config", _("This hub reads config format %(n)s.") % {"n": FORMAT_VERSION})
        for key in data:
            if key != "hub_config" and key not in SECTIONS:
                self.error(key, _("Unknown section: use systems, value_maps and flows."))
        for section, (identity, keys) in SECTIONS.items():
            items = data.get(section) or []
            if not isinstance(items, list):
                self.error(section, _("Give a list."))
                continue
            seen = set()
            for i, item in enumerate(items):
                path = f"{section}[{i}]"
                if not isinstance(item, dict):
                    self.error(path, _("Each item must be a mapping of keys to values."))
                    continue
                ident = item.get(identity)
                if not isinstance(ident, str) or not ident.strip():
                    self.error(path, _("“%(key)s” is required.") % {"key": identity})
                elif ident in seen:
                    self.error(
                        f"{path}.{identity}", _("“%(name)s” appears twice in this file.") % {"name": ident}
                    )
                seen.add(ident)
                if section != "flows":  # a flow's texts are checked by the designer
                    self.text_problems(path, item)
                for key in item:
                    if key == "secrets" and section == "systems":
                        self.error(
                            f"{path}.secrets",
                            _(
                                "Secrets are never read from a config file: set them in the console or the API."
                            ),
                        )
                    elif key == "value_maps" and section == "flows":
                        continue  # a version's embedded copies: the value_maps section is what is imported
                    elif key not in keys:
                        self.error(f"{path}.{key}", _("Unknown key."))
        return not self.report.errors

    def text_problems(self, path: str, value) -> None:
        """Control characters in any name, key or value of an item (none can be stored or shown safely)."""
        items = (
            value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        )
        for key, item in items:
            where = f"{path}.{key}" if isinstance(value, dict) else f"{path}[{key}]"
            texts = [t for t in (key, item) if isinstance(t, str)]
            problem = next((p for p in map(designer.invisible_problem, texts) if p), "")
            if problem:
                self.error(where, problem)
            else:
                self.text_problems(where, item)

    # objects

    def import_value_map(self, i: int, entry: dict) -> None:
        path = f"value_maps[{i}]"
        storable = not designer.unstorable_problem(entry["name"])  # (as for flows, below)
        value_map = ValueMap.objects.filter(name=entry["name"]).first() if storable else None
        before = value_map.as_definition() if value_map else None
        value_map = value_map or ValueMap(name=entry["name"])
        entries = entry.get("entries", value_map.entries)
        if not isinstance(entries, dict) or any(isinstance(v, (dict, list)) for v in entries.values()):
            self.error(f"{path}.entries", _("Give a mapping of source value to target value."))
            return
        for key in ("description", "default", "unmatched"):
            if key in entry:
                setattr(value_map, key, "" if entry[key] is None else str(entry[key]))
        value_map.entries = {str(k): "" if v is None else str(v) for k, v in entries.items()}
        try:
            value_map.full_clean()
        except ValidationError as exc:
            self.model_errors(path, exc)
            return
        after = value_map.as_definition()
        if after == before:
            self.report.changes.append(Change("value map", value_map.name, "unchanged"))
            return
        if not self.allowed(path, ValueMap, value_map if before else None):
            return
        value_map.save()
        self.report.changes.append(
            Change(
                "value map", value_map.name, "update" if before else "create", _dict_changes(before, after)
            )
        )

    def import_system(self, i: int, entry: dict) -> None:
        path = f"systems[{i}]"
        system = System.objects.filter(slug=entry["slug"]).first()
        before = system_entry(system) if system else None
        system = system or System(slug=entry["slug"])
        connector = entry.get("connector", system.connector)
        same = before is not None and before["connector"] == connector
        existing_secrets = system.secrets if same else {}
        params = entry.get("parameters", system.parameters if same else {})
        params, secrets, errors = validate_connector_config(connector, params, None, existing_secrets)
        for key, found in errors.items():
            if key == "secrets" and isinstance(found, dict):
                for name, messages in found.items():
                    for message in messages:
                        self.warn(
                            f"{path}.secrets.{name}",
                            _(
                                "%(message)s Set it on the system's page: secrets never travel in config files."
                            )
                            % {"message": message},
                        )
            elif isinstance(found, dict):
                for name, messages in found.items():
                    for message in messages:
                        self.error(f"{path}.{key}.{name}", message)
            else:
                for message in found if isinstance(found, list) else [found]:
                    self.error(path if key == "non_field_errors" else f"{path}.{key}", message)
        if any(k != "secrets" for k in errors):
            return
        for key in SYSTEM_KEYS:
            if key in entry and key not in ("slug", "owner", "connector", "parameters"):
                setattr(system, key, entry[key])
        if "owner" in entry:
            system.owner = self.owner(path, entry["owner"])
        system.connector = connector
        system.parameters = params
        if not same:
            system.secrets = secrets
        try:
            system.full_clean()
        except ValidationError as exc:
            self.model_errors(path, exc)
            return
        if system.webhook_enabled and system.webhook_signature_header and not system.webhook_secret_encrypted:
            self.warn(
                f"{path}.webhook_enabled",
                _("Set the webhook secret on the system's page: signed events are refused until then."),
            )
        after = system_entry(system)
        if after == before:
            self.report.changes.append(Change("system", system.name, "unchanged"))
            return
        if not self.allowed(path, System, system if before else None):
            return
        if system.webhook_enabled and not system.webhook_token:
            from flows.webhooks import new_token

            system.webhook_token = new_token()
        system.save()
        self.report.changes.append(
            Change("system", system.name, "update" if before else "create", _dict_changes(before, after))
        )

    def flow_order(self, flows: list[dict]) -> list[int]:
        """Indexes of the flows so that a flow comes after the one it runs after (when both are here)."""
        position = {entry["name"]: i for i, entry in enumerate(flows)}
        order, state = [], {}

        def visit(i: int) -> None:
            if state.get(i) == "done":
                return
            if state.get(i) == "visiting":
                self.error(f"flows[{i}].after_flow", _("These flows run after each other in a circle."))
                return
            state[i] = "visiting"
            after = flows[i].get("after_flow")
            if isinstance(after, str) and after in position:
                visit(position[after])
            state[i] = "done"
            order.append(i)

        for i in range(len(flows)):
            visit(i)
        return order

    def import_flow(self, i: int, entry: dict) -> None:
        path = f"flows[{i}]"
        # a name no database can store names no existing flow (PostgreSQL refuses even to compare it);
        # the designer's validation below says what is wrong with it
        storable = not designer.unstorable_problem(entry["name"])
        flow = Flow.objects.filter(name=entry["name"]).first() if storable else None
        before = flow_entry(flow) if flow else None
        data = {**(before or {}), **{k: v for k, v in entry.items() if k != "value_maps"}}
        if before is not None and data == before:
            self.report.changes.append(Change("flow", flow.name, "unchanged"))
            return
        if not self.allowed(path, Flow, flow):
            return
        if data.get("owner") and not get_user_model().objects.filter(username=data["owner"]).exists():
            self.owner(path, data["owner"])
        try:
            saved = designer.save_flow(
                data, flow=flow, author=self.user, comment=_("Imported from a config file")
            )
        except designer.DefinitionError as exc:
            for key, message in exc.errors.items():
                self.error(f"{path}.{_definition_path(key)}", message)
            return
        after = flow_entry(saved)
        if before is not None and after == before:
            self.report.changes.append(Change("flow", saved.name, "unchanged"))
            return
        changes = (
            designer.diff_definitions(before, after)
            if before
            else [{"what": key, "kind": "added", "old": None, "new": after[key]} for key in after]
        )
        self.report.changes.append(Change("flow", saved.name, "update" if before else "create", changes))

    def run(self) -> ImportReport:
        if not self.check_shape():
            return self.report
        for i, entry in enumerate(self.data.get("systems") or []):
            self.import_system(i, entry)
        for i, entry in enumerate(self.data.get("value_maps") or []):
            self.import_value_map(i, entry)
        flows = self.data.get("flows") or []
        for i in self.flow_order(flows):
            self.import_flow(i, flows[i])
        return self.report


def _definition_path(key: str) -> str:
    """A designer error key (``mappings.3.source``) as a document path (``mappings[3].source``)."""
    parts = key.split(".")
    out = parts[0]
    for part in parts[1:]:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def import_config(text: str, *, fmt: str | None = None, user=None, apply: bool = False) -> ImportReport:
    """Check a whole document and, when ``apply`` and nothing is wrong, apply it; otherwise nothing is
    kept. The report lists what would change (or changed), every error with its line, and warnings."""
    try:
        data, lines = parse(text, fmt)
    except ConfigError as exc:
        return ImportReport(errors=exc.problems)
    importer = _Importer(data, lines, user)
    with transaction.atomic():
        report = importer.run()
        report.applied = apply and report.ok
        if report.applied and report.counts()["unchanged"] < len(report.changes):
            counts = report.counts()
            audit.record(
                AuditAction.IMPORT,
                message=_("Config imported: %(create)s created, %(update)s updated, %(unchanged)s unchanged.")
                % counts,
                user=user,
            )
        else:
            transaction.set_rollback(True)
    report.errors.sort(key=lambda p: (p.line or 0, p.path))
    return report
