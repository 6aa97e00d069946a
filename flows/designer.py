"""The flow designer's one home: a flow's definition as JSON, its validation, saving with a version,
diff, rollback and clone.

The console forms, the API and ``manage.py hub`` all go through these functions: the same definition,
the same checks, the same error messages. A definition is the canonical JSON of a flow (systems by slug,
value maps embedded) — what a ``FlowVersion`` freezes and what config-as-code exports.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from decimal import Decimal

from croniter import croniter
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from flows.choices import (
    CRITICALITY_DEFAULTS,
    Criticality,
    FlowWriteMode,
    MatchStrategy,
    PauseKind,
    PersonalData,
    SyncMode,
    Trigger,
)
from flows.models import FieldMapping, Flow, FlowVersion, System, ValueMap

FILTER_OPS = ("equals", "not_equals", "in", "contains", "exists", "missing", "lt", "gt", "changed_since")
MAX_MAPPINGS = 500

# The definition keys that come straight from Flow columns.
SCALAR_FIELDS = (
    "name",
    "description",
    "tags",
    "source_entity",
    "target_entity",
    "trigger",
    "interval_minutes",
    "cron",
    "webhook_topic",
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
    "tests",
)

# Every key a definition may hold (``definition_of`` gives them all).
DEFINITION_KEYS = frozenset(
    (*SCALAR_FIELDS, "source_system", "target_system", "owner", "after_flow", "mappings", "value_maps")
)


class DefinitionError(ValueError):
    """A definition that cannot be saved; ``errors`` maps a field (``mappings.3.source``…) to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Validation:
    errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def add(self, key: str, message: str) -> None:
        self.errors.setdefault(key, str(message))


# --- definition ---------------------------------------------------------------------------------------


def definition_of(flow: Flow) -> dict:
    """The canonical definition of ``flow`` as stored now (mappings in order, value maps embedded)."""
    data = {name: copy.deepcopy(getattr(flow, name)) for name in SCALAR_FIELDS}
    data["source_system"] = flow.source_system.slug
    data["target_system"] = flow.target_system.slug
    data["owner"] = flow.owner.get_username() if flow.owner_id else None
    data["after_flow"] = flow.after_flow.name if flow.after_flow_id else None
    data["mappings"] = [m.as_definition() for m in flow.mappings.all()]
    names = value_maps_used(data["mappings"])
    data["value_maps"] = {
        vm.name: vm.as_definition() for vm in ValueMap.objects.filter(name__in=names).order_by("name")
    }
    return data


def value_maps_used(mappings: list[dict]) -> list[str]:
    names = []
    for mapping in mappings:
        for step in mapping.get("transforms") or []:
            if isinstance(step, dict) and step.get("op") == "value_map" and step.get("map"):
                names.append(str(step["map"]))
    return sorted(set(names))


# --- validation ---------------------------------------------------------------------------------------


def known_fields(system: System, entity: str) -> set[str] | None:
    """The field names known for ``entity`` of ``system`` (declared by its connector or discovered);
    None when nothing is known yet (then target fields cannot be checked)."""
    names: set[str] = set()
    for found in system.discovered or []:
        if found.get("key") == entity:
            names.update(f["name"] for f in found.get("fields", []))
    try:
        connector = system.get_connector()
    except Exception:
        connector = None
    if connector is not None:
        try:
            for declared in connector.entities():
                if declared.key == entity:
                    names.update(f.name for f in declared.fields)
        finally:
            connector.close()
    return names or None


def known_entities(system: System) -> set[str] | None:
    keys = {found.get("key") for found in system.discovered or []}
    try:
        connector = system.get_connector()
    except Exception:
        return keys or None
    try:
        keys.update(e.key for e in connector.entities())
    finally:
        connector.close()
    keys.discard(None)
    return keys or None


def _field_known(path_text: str, known: set[str]) -> bool:
    """Is the target path one the target knows? Filters and indexes are ignored: values.name[locale=fr].data
    is known when "values.name" (or a prefix of a known name) is."""
    import re

    plain = re.sub(r"\[[^\]]*\]", "", path_text).strip(".")
    parts = plain.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return True
    return any(k.startswith(plain + ".") for k in known)


def _idempotency_problem(target: System, data: dict) -> str:
    """A flow that could create a record twice after a crash is refused (see ``sync.reconcile_key``)."""
    from flows.connectors.base import Capability
    from flows.connectors.errors import ConnectorError
    from flows.sync import idempotency_problem

    try:
        entity = target.get_connector().entity((data.get("target_entity") or "").strip())
    except (ConnectorError, ValueError, KeyError):
        return ""  # an entity the connector cannot name here: the run checks again
    if data.get("write_mode") == FlowWriteMode.MIRROR and Capability.DELETE not in entity.capabilities:
        return _(
            "%(system)s cannot delete its %(entity)s: mirroring deletes needs that. Choose “upsert”."
        ) % {
            "system": target,
            "entity": entity.key,
        }
    return idempotency_problem(data, entity)


def validate_definition(data: dict, *, flow: Flow | None = None) -> Validation:
    """Every problem of a definition, keyed like the form fields; warnings that do not block saving."""
    from flows.engine.paths import PathError, parse_path
    from flows.engine.rules import validate_rule
    from flows.engine.transforms import validate_chain

    v = Validation()
    if not isinstance(data, dict):
        v.add("", _("Give a flow definition as an object."))
        return v
    if not _check_types(data, v):
        return v  # the checks below read these values as the types they should be
    name = (data.get("name") or "").strip()
    if not name:
        v.add("name", _("Give the flow a name."))
    elif Flow.objects.filter(name=name).exclude(pk=getattr(flow, "pk", None)).exists():
        v.add("name", _("Another flow already has this name."))

    systems = {}
    for side in ("source", "target"):
        slug = data.get(f"{side}_system")
        system = System.objects.filter(slug=slug).first() if slug else None
        if system is None:
            v.add(
                f"{side}_system",
                _("Choose an existing system.") if not slug else _("No system “%(s)s”.") % {"s": slug},
            )
            continue
        systems[side] = system
        entity = (data.get(f"{side}_entity") or "").strip()
        entities = known_entities(system)
        if not entity:
            v.add(f"{side}_entity", _("Choose the entity."))
        elif entities is not None and entity not in entities:
            v.add(
                f"{side}_entity",
                _("%(system)s has no entity “%(entity)s” (known: %(known)s).")
                % {"system": system, "entity": entity, "known": ", ".join(sorted(entities))},
            )

    trigger = data.get("trigger") or Trigger.MANUAL
    if trigger not in Trigger.values:
        v.add("trigger", _("Unknown trigger “%(t)s”.") % {"t": trigger})
    if trigger == Trigger.INTERVAL:
        minutes = data.get("interval_minutes")
        if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 10080:
            v.add("interval_minutes", _("Give a number of minutes from 1 to 10080."))
    if trigger == Trigger.CRON:
        cron = (data.get("cron") or "").strip()
        if not cron or not croniter.is_valid(cron):
            v.add(
                "cron",
                _("“%(c)s” is not a valid cron expression (five fields: minute hour day month weekday).")
                % {"c": cron[:100]},
            )
        elif not cron_fires(cron):
            v.add("cron", _("“%(c)s” never fires (e.g. the 31st of February).") % {"c": cron[:100]})
    if trigger == Trigger.WEBHOOK and "source" in systems and not systems["source"].webhook_enabled:
        v.add(
            "trigger",
            _("%(s)s does not receive webhooks: turn them on in the system first.")
            % {"s": systems["source"]},
        )
    if trigger == Trigger.AFTER_FLOW:
        after = data.get("after_flow")
        if not after or not Flow.objects.filter(name=after).exists():
            v.add("after_flow", _("Choose the flow this one follows."))
        elif flow is not None and after == flow.name:
            v.add("after_flow", _("A flow cannot follow itself."))

    for key, choices in (
        ("criticality", Criticality.values),
        ("sync_mode", SyncMode.values),
        ("match_strategy", MatchStrategy.values),
        ("write_mode", FlowWriteMode.values),
    ):
        if data.get(key) not in choices:
            v.add(key, _("Choose one of: %(c)s.") % {"c": ", ".join(choices)})
    if data.get("sync_mode") == SyncMode.INCREMENTAL and not (data.get("cursor_field") or "").strip():
        v.add(
            "cursor_field",
            _("Incremental runs need the source field that tells what changed (e.g. updated_at)."),
        )
    if data.get("match_strategy") == MatchStrategy.NATURAL_KEY:
        for key in ("source_key", "target_key"):
            if not (data.get(key) or "").strip():
                v.add(key, _("Matching by natural key needs the key field on both sides."))
    for key in ("cursor_field", "source_key", "target_key"):
        if data.get(key):
            try:
                parse_path(data[key])
            except PathError as exc:
                v.add(key, str(exc))
    if "target" in systems and "write_mode" not in v.errors and not v.errors.get("target_entity"):
        problem = _idempotency_problem(systems["target"], data)
        if problem:
            v.add("write_mode", problem)

    filters = data.get("filters") or []
    if not isinstance(filters, list):
        v.add("filters", _("Give a list of filters."))
        filters = []
    for index, rule in enumerate(filters, start=1):
        problem = _filter_problem(rule)
        if problem:
            v.add("filters", _("Filter %(n)s: %(p)s") % {"n": index, "p": problem})
            break

    rules = data.get("quality_rules") or []
    if not isinstance(rules, list):
        v.add("quality_rules", _("Give a list of rules."))
        rules = []
    for index, rule in enumerate(rules, start=1):
        problems = validate_rule(rule) if isinstance(rule, dict) else {"kind": _("not a rule object")}
        if problems:
            first = next(iter(problems.items()))
            v.add("quality_rules", _("Rule %(n)s, %(f)s: %(p)s") % {"n": index, "f": first[0], "p": first[1]})
            break

    from flows.flowtests import validate_tests

    for key, message in validate_tests(data.get("tests")).items():
        v.add(key, message)

    mappings = data.get("mappings") or []
    if not isinstance(mappings, list) or len(mappings) > MAX_MAPPINGS:
        v.add("mappings", _("Give at most %(n)s field mappings.") % {"n": MAX_MAPPINGS})
        mappings = []
    if not mappings:
        v.add("mappings", _("Map at least one target field."))
    target_known = (
        known_fields(systems["target"], data.get("target_entity", "")) if "target" in systems else None
    )
    source_known = (
        known_fields(systems["source"], data.get("source_entity", "")) if "source" in systems else None
    )
    targets = set()
    embedded = data.get("value_maps") or {}
    for index, mapping in enumerate(mappings):
        prefix = f"mappings.{index}"
        if not isinstance(mapping, dict):
            v.add(prefix, _("Not a mapping object."))
            continue
        target = (mapping.get("target") or "").strip()
        if not target:
            v.add(f"{prefix}.target", _("Name the target field."))
        else:
            try:
                parsed = parse_path(target)
            except PathError as exc:
                v.add(f"{prefix}.target", str(exc))
            else:
                if parsed.has_projection:
                    v.add(
                        f"{prefix}.target",
                        _("“[*]” reads many items: a target path names one place to write to."),
                    )
                if target in targets:
                    v.add(f"{prefix}.target", _("“%(t)s” is mapped twice.") % {"t": target})
                targets.add(target)
                if target_known is not None and not _field_known(target, target_known):
                    v.add(
                        f"{prefix}.target",
                        _(
                            "The target has no field “%(t)s”. Discover the target system to refresh its fields."
                        )
                        % {"t": target},
                    )
        source = (mapping.get("source") or "").strip()
        if source:
            try:
                parse_path(source)
            except PathError as exc:
                v.add(f"{prefix}.source", str(exc))
            else:
                if source_known is not None and not _field_known(source, source_known):
                    v.warnings.append(
                        _("The source may not have a field “%(s)s” (not seen by Discover).") % {"s": source}
                    )
        chain = mapping.get("transforms") or []
        if not isinstance(chain, list):
            v.add(f"{prefix}.transforms", _("Give a list of transform steps."))
            continue
        for step_index, problems in enumerate(validate_chain(chain), start=1):
            if problems:
                param, message = next(iter(problems.items()))
                op = chain[step_index - 1].get("op") if isinstance(chain[step_index - 1], dict) else "?"
                v.add(
                    f"{prefix}.transforms",
                    _("Step %(n)s (%(op)s), %(param)s: %(message)s")
                    % {"n": step_index, "op": op, "param": param, "message": message},
                )
                break
        if not source and not any(
            isinstance(s, dict) and s.get("op") in ("default", "concatenate", "first_non_empty")
            for s in chain
        ):
            v.add(
                f"{prefix}.source",
                _(
                    "Give a source path, or start with a transform that makes a value (default, concatenate…)."
                ),
            )
        if mapping.get("personal", "") not in PersonalData.values:
            v.add(f"{prefix}.personal", _("Unknown personal-data kind."))
    for name in value_maps_used(mappings):
        if name not in embedded and not ValueMap.objects.filter(name=name).exists():
            v.add("mappings", _("The value map “%(m)s” does not exist.") % {"m": name})

    if "source" in systems and "target" in systems:
        opposite = Flow.objects.filter(
            source_system=systems["target"],
            target_system=systems["source"],
            source_entity=data.get("target_entity"),
            target_entity=data.get("source_entity"),
        ).exclude(pk=getattr(flow, "pk", None))
        for other in opposite:
            v.warnings.append(
                _(
                    "“%(other)s” moves the same records the other way. The hub suppresses echoes (a record it "
                    "just wrote is not sent back unless it changed since), but check that both flows agree on "
                    "which system owns each field."
                )
                % {"other": other}
            )
    return v


TEXT_KEYS = (
    "name",
    "description",
    "owner",
    "source_system",
    "source_entity",
    "target_system",
    "target_entity",
    "trigger",
    "cron",
    "webhook_topic",
    "after_flow",
    "criticality",
    "sync_mode",
    "cursor_field",
    "match_strategy",
    "source_key",
    "target_key",
    "write_mode",
    "purpose",
)
MAPPING_TEXT_KEYS = ("target", "source", "personal")
# Control characters (a NUL cannot even be stored by PostgreSQL), lone surrogates (not text) and the
# bidirectional overrides that make a text read otherwise than it is: never part of a name or a path.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# What no stored text may hold anywhere (PostgreSQL refuses both, in text and in JSON).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def invisible_problem(value: str, pattern: re.Pattern = _INVISIBLE) -> str:
    """Why ``value`` cannot be a name or a path (a control character, where); empty when it can."""
    found = pattern.search(value)
    if found is None:
        return ""
    return _("Remove the control character U+%(code)04X at position %(n)s (invisible, or not text).") % {
        "code": ord(found.group()),
        "n": found.start() + 1,
    }


def unstorable_problem(value, depth: int = 0) -> str:
    """The first text anywhere in ``value`` (keys too) that no database can store; empty when none."""
    if isinstance(value, str):
        return invisible_problem(value, _UNSTORABLE)
    if depth > 50:
        return ""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        problem = (isinstance(key, str) and invisible_problem(key, _UNSTORABLE)) or unstorable_problem(
            item, depth + 1
        )
        if problem:
            return problem
    return ""


def cron_fires(cron: str) -> bool:
    """Whether a valid cron expression has a next time at all (``0 0 31 2 *`` has none)."""
    from croniter import CroniterBadDateError

    try:
        croniter(cron, timezone.now()).get_next()
    except (CroniterBadDateError, ValueError, OverflowError):
        return False
    return True


def _max_length(model, name: str) -> int | None:
    try:
        return model._meta.get_field(name).max_length
    except Exception:
        return None


def _check_types(data: dict, v: Validation) -> bool:
    """Each key holds the type it must (a config file or an API body can hold anything)."""
    for key, value in data.items():
        if problem := unstorable_problem(value):
            v.add(key, problem)
    for key in TEXT_KEYS:
        value = data.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            v.add(key, _("Give text, not %(type)s.") % {"type": type(value).__name__})
        elif problem := invisible_problem(value):
            v.add(key, problem)
        elif (limit := _max_length(Flow, key)) and len(value) > limit:
            v.add(key, _("At most %(n)s characters.") % {"n": limit})
    for key, top in (("interval_minutes", 10080), ("freshness_sla_minutes", 525600)):
        value = data.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top
        ):
            v.add(key, _("Give a whole number of minutes from 1 to %(n)s.") % {"n": top})
    if "enabled" in data and not isinstance(data["enabled"], bool):
        v.add("enabled", _("Give true or false."))
    tags = data.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        v.add("tags", _("Give a list of words."))
    mappings = data.get("mappings")
    if isinstance(mappings, list):
        for index, mapping in enumerate(mappings):
            if not isinstance(mapping, dict):
                v.add(f"mappings.{index}", _("Not a mapping object."))
                continue
            for key in MAPPING_TEXT_KEYS:
                value = mapping.get(key)
                if value is not None and not isinstance(value, str):
                    v.add(
                        f"mappings.{index}.{key}",
                        _("Give text, not %(type)s.") % {"type": type(value).__name__},
                    )
                elif value and (problem := invisible_problem(value)):
                    v.add(f"mappings.{index}.{key}", problem)
                elif value and len(value) > _max_length(FieldMapping, key):
                    v.add(
                        f"mappings.{index}.{key}",
                        _("At most %(n)s characters.") % {"n": _max_length(FieldMapping, key)},
                    )
            unknown = set(mapping) - {"target", "source", "transforms", "personal"}
            if unknown:
                v.add(f"mappings.{index}", _("Unknown keys: %(k)s.") % {"k": ", ".join(sorted(unknown))})
    return not v.errors


def _filter_problem(rule) -> str:
    from flows.engine.paths import PathError, parse_path

    if not isinstance(rule, dict):
        return _("not a filter object")
    if rule.get("op") not in FILTER_OPS:
        return _("“op” must be one of %(ops)s") % {"ops": ", ".join(FILTER_OPS)}
    try:
        parse_path(str(rule.get("path") or ""))
    except PathError as exc:
        return str(exc)
    if not rule.get("path"):
        return _("name the source field (“path”)")
    if rule["op"] == "in" and not isinstance(rule.get("value"), list):
        return _("“in” needs a list of values")
    if rule["op"] not in ("exists", "missing") and "value" not in rule:
        return _("give the “value” to compare with")
    return ""


# --- saving -------------------------------------------------------------------------------------------


def defaults_for(criticality: str) -> dict:
    """The proposed frequency and freshness SLA for a criticality (the form pre-fills them)."""
    proposal = CRITICALITY_DEFAULTS.get(criticality, CRITICALITY_DEFAULTS["normal"])
    return {"interval_minutes": proposal["interval"], "freshness_sla_minutes": proposal["sla"]}


def failing_tests(data: dict) -> list:
    """The flow tests of a definition that fail (value maps embedded, or the stored ones)."""
    from flows.flowtests import failing, run_tests

    return failing(run_tests(data))


@transaction.atomic
def save_flow(
    data: dict, *, flow: Flow | None = None, author=None, comment: str = "", override: str = ""
) -> Flow:
    """Validate ``data`` and write it to ``flow`` (a new one when None), then freeze a new version when
    the definition changed. Raises ``DefinitionError`` with every problem; nothing is saved then.

    An enabled flow must pass its flow tests; ``override`` (a reason, audited) enables it anyway. A flow
    that maps personal data must also be covered by the GDPR register (``flows.privacy``): no override.
    """
    if flow is not None and flow.pk and "tests" not in data:
        data = {**data, "tests": copy.deepcopy(flow.tests)}  # the designer form does not carry them
    validation = validate_definition(data, flow=flow)
    if validation.errors:
        raise DefinitionError(validation.errors)
    if data.get("tests"):
        from flows.flowtests import anonymise_tests

        tests, problems = anonymise_tests(data)
        if problems:
            raise DefinitionError(problems)
        data = {**data, "tests": tests}
    failed = failing_tests(data) if data.get("enabled") else []
    if failed and flow is not None and flow.pk and flow.enabled:
        # Already enabled (its failing tests were overridden then): only a test that newly fails needs
        # a reason, so the failing tests can be fixed one at a time.
        known = {o.name for o in failing_tests(definition_of(flow))}
        failed = [o for o in failed if o.name not in known]
    override = (override or "").strip()
    if failed and not override:
        raise DefinitionError(
            {
                "enabled": ngettext(
                    "The flow test %(names)s fails: pause the flow, fix the mapping or the test, or give a "
                    "reason to enable it anyway.",
                    "The flow tests %(names)s fail: pause the flow, fix the mapping or the tests, or give a "
                    "reason to enable it anyway.",
                    len(failed),
                )
                % {"names": ", ".join(f"“{o.name}”" for o in failed)}
            }
        )
    from flows import privacy

    problem = privacy.enable_problem(data, flow)
    if problem:
        raise DefinitionError({"enabled": problem})
    flow = flow or Flow()
    was_enabled = bool(flow.pk and flow.enabled)
    for name in SCALAR_FIELDS:
        if name in data:
            setattr(flow, name, copy.deepcopy(data[name]))
    _note_pause(flow, was_enabled)
    flow.name = flow.name.strip()
    flow.source_system = System.objects.get(slug=data["source_system"])
    flow.target_system = System.objects.get(slug=data["target_system"])
    flow.after_flow = (
        Flow.objects.filter(name=data.get("after_flow")).first() if data.get("after_flow") else None
    )
    if "owner" in data:
        from django.contrib.auth import get_user_model

        flow.owner = (
            get_user_model().objects.filter(username=data["owner"]).first() if data["owner"] else None
        )
    flow.save()
    flow.mappings.all().delete()
    FieldMapping.objects.bulk_create(
        FieldMapping(
            flow=flow,
            position=index,
            target=m["target"].strip(),
            source=(m.get("source") or "").strip(),
            transforms=m.get("transforms") or [],
            personal=m.get("personal") or "",
        )
        for index, m in enumerate(data.get("mappings") or [])
    )
    if failed:
        reason = _("Enabled with failing flow tests (%(names)s): %(reason)s") % {
            "names": ", ".join(o.name for o in failed),
            "reason": override,
        }
        comment = f"{comment} — {reason}" if comment else reason
        from integration_hub import audit
        from integration_hub.models import AuditAction

        audit.record(AuditAction.UPDATE, flow, message=reason[:4000], user=author)
    freeze(flow, author=author, comment=comment[:500])
    return flow


def _note_pause(flow: Flow, was_enabled: bool) -> None:
    """Enabling clears why the flow was paused; pausing it in the designer is a person's pause."""
    if flow.enabled:
        flow.pause_kind, flow.pause_reason, flow.paused_at = "", "", None
    elif was_enabled:
        flow.pause_kind, flow.pause_reason, flow.paused_at = PauseKind.PERSON, "", timezone.now()


PAUSE_FIELDS = ["enabled", "pause_kind", "pause_reason", "paused_at", "updated"]


@transaction.atomic
def pause_flow(flow: Flow, *, author=None, kind: str = PauseKind.PERSON, reason: str = "") -> Flow:
    """Pause at once, whatever the rest of the definition: never refused (an emergency brake).

    ``kind`` says who paused it (a person, the failure policy, a system's maintenance) and ``reason``
    why, shown on the flow's page; only what maintenance paused is resumed when it ends.
    """
    flow.enabled = False
    flow.pause_kind, flow.pause_reason, flow.paused_at = kind, reason[:500], timezone.now()
    flow.save(update_fields=PAUSE_FIELDS)  # audited and published like any change
    freeze(flow, author=author, comment=(reason or _("Paused"))[:500])
    return flow


def freeze(flow: Flow, *, author=None, comment: str = "") -> FlowVersion | None:
    """A new version when the definition differs from the current one; None when nothing changed."""
    definition = definition_of(flow)
    current = flow.current_version
    if current is not None and current.definition == definition:
        return None
    number = (flow.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    version = FlowVersion.objects.create(
        flow=flow, number=number, definition=definition, author=author, comment=comment
    )
    Flow.objects.filter(pk=flow.pk).update(current_version=version)
    flow.current_version = version
    return version


@transaction.atomic
def rollback(flow: Flow, version: FlowVersion, *, author=None) -> Flow:
    """Make ``version``'s definition current again — as a new version, so history only grows."""
    data = copy.deepcopy(version.definition)
    data["name"] = flow.name  # a rename is not undone by a rollback of the mapping
    return save_flow(
        data, flow=flow, author=author, comment=_("Rollback to version %(n)s") % {"n": version.number}
    )


@transaction.atomic
def clone_flow(flow: Flow, *, author=None) -> Flow:
    data = definition_of(flow)
    base = _("%(name)s (copy)") % {"name": flow.name}
    name, n = base, 2
    while Flow.objects.filter(name=name).exists():
        name, n = f"{base} {n}", n + 1
    data.update(name=name, enabled=False)
    return save_flow(data, author=author, comment=_("Cloned from %(name)s") % {"name": flow.name})


# --- diff ---------------------------------------------------------------------------------------------


def diff_definitions(old: dict, new: dict) -> list[dict]:
    """Readable changes between two definitions: settings by name, mappings by target field."""
    changes = []
    for key in sorted(set(old) | set(new)):
        if key in ("mappings", "value_maps"):
            continue
        if old.get(key) != new.get(key):
            changes.append({"what": key, "kind": "changed", "old": old.get(key), "new": new.get(key)})
    old_maps = {m["target"]: m for m in old.get("mappings", [])}
    new_maps = {m["target"]: m for m in new.get("mappings", [])}
    for target in sorted(set(old_maps) | set(new_maps)):
        a, b = old_maps.get(target), new_maps.get(target)
        if a == b:
            continue
        kind = "added" if a is None else "removed" if b is None else "changed"
        changes.append({"what": f"mapping {target}", "kind": kind, "old": a, "new": b})
    for name in sorted(set(old.get("value_maps", {})) | set(new.get("value_maps", {}))):
        a, b = old.get("value_maps", {}).get(name), new.get("value_maps", {}).get(name)
        if a != b:
            kind = "added" if a is None else "removed" if b is None else "changed"
            changes.append({"what": f"value map {name}", "kind": kind, "old": a, "new": b})
    return changes


# --- preview ------------------------------------------------------------------------------------------


def same_value(old, new) -> bool:
    """Whether the target's value equals the mapped one: numbers compare by value, so the target's
    float 12.3 is the mapped decimal 12.30; a boolean only equals a boolean; objects and lists compare
    item by item."""
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    numeric = (int, float, Decimal)
    if isinstance(old, numeric) and isinstance(new, numeric):
        try:
            return Decimal(str(old)) == Decimal(str(new))
        except ArithmeticError:
            return False
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(same_value(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(same_value(a, b) for a, b in zip(old, new, strict=True))
    return old == new


@dataclass
class PreviewItem:
    source: dict
    mapped: dict
    current: dict | None
    changes: list[dict]
    errors: list[dict]
    filtered_out: str = ""
    match_note: str = ""


def preview(data: dict, *, limit: int = 5, mask=None) -> list[PreviewItem]:
    """Read ``limit`` live records of the source and show what the flow would send — nothing is written.

    For each: the source record, the mapped target record, what the target holds now for it (when the
    match strategy can find it), the field-level changes and every mapping or rule failure. ``mask``
    (value → shown value) hides personal data from users who may not see it.
    """
    from flows.engine.mapping import CompiledFlow
    from flows.engine.paths import parse_path

    validation = validate_definition(data)
    blocking = {k: v for k, v in validation.errors.items() if k != "name"}
    if blocking:
        raise DefinitionError(blocking)
    source = System.objects.get(slug=data["source_system"])
    target = System.objects.get(slug=data["target_system"])
    definition = dict(data)
    definition["value_maps"] = {
        **{
            vm.name: vm.as_definition()
            for vm in ValueMap.objects.filter(name__in=value_maps_used(data.get("mappings") or []))
        },
        **(data.get("value_maps") or {}),
    }
    compiled = CompiledFlow(definition)
    reader = source.get_connector()
    try:
        records = []
        for page in reader.read(data["source_entity"], limit=limit):
            records.extend(page.records)
            if len(records) >= limit:
                break
    finally:
        reader.close()
    records = records[:limit]
    currents: dict[str, dict] = {}
    note = ""
    natural = data.get("match_strategy") == MatchStrategy.NATURAL_KEY
    if natural and records:
        source_key, target_key = parse_path(data["source_key"]), parse_path(data["target_key"])
        keys = [str(k) for k in (source_key.get(r) for r in records) if k not in (None, "")]
        writer = target.get_connector()
        try:
            for found in writer.lookup(data["target_entity"], data["target_key"], keys) if keys else []:
                currents[str(target_key.get(found))] = found
        except Exception as exc:  # the preview still shows the mapping when the target cannot be asked
            note = _("The target could not be searched: %(e)s") % {"e": exc}
        finally:
            writer.close()
    elif not natural:
        note = _(
            "Records are matched through the hub's ID links: the target record is known once the flow has run."
        )
    items = []
    show = mask or (lambda path, value: value)
    for record in records:
        result = compiled.map(record, check_rules=True)
        current = None
        if natural:
            current = currents.get(str(parse_path(data["source_key"]).get(record)))
        changes = []
        if not result.filtered_out:
            for mapping in compiled.mappings:
                new = mapping.target.get(result.record)
                old = mapping.target.get(current) if current is not None else None
                changes.append(
                    {
                        "target": mapping.target_text,
                        "old": show(mapping.target_text, old),
                        "new": show(mapping.target_text, new),
                        "changed": current is None or not same_value(old, new),
                        "personal": mapping.personal,
                    }
                )
        errors = [{"field": e.target, "message": e.message} for e in result.errors]
        errors += [{"field": f.field, "message": f.message, "rule": f.kind} for f in result.rule_failures]
        items.append(
            PreviewItem(
                source=record,
                mapped=result.record,
                current=current,
                changes=changes,
                errors=errors,
                filtered_out=result.filtered_out,
                match_note=note if current is None else "",
            )
        )
    return items
