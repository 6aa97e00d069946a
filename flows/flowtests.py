"""Flow tests: sample records pinned with what the flow must make of them — unit tests for a mapping.

A test is part of the flow's definition (so it is versioned, diffed and exported with it)::

    {"name": "red chair", "source": {...}, "expect": "send", "record": {...}}

``expect`` is ``send`` (the mapped record must equal ``record``), ``reject`` (a mapping error or a
data-quality rule must stop it) or ``skip`` (a filter must leave it out). Optional ``links`` pins the
hub ID links the record needs (``{"erp:partners:42": "17"}``) so tests never depend on live data.

Tests run on every save; a failing test blocks enabling the flow unless someone who may change it
gives a reason, which is audited (``designer.save_flow``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from flows.connectors.errors import RecordError

EXPECTS = ("send", "reject", "skip")
MAX_TESTS = 100
# Transforms that read the clock see this moment in tests, so a pinned output never goes stale.
TEST_NOW = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Outcome:
    name: str
    passed: bool
    expect: str
    got: str  # send, reject or skip: what the flow did
    message: str = ""
    differences: list[dict] = field(default_factory=list)  # {"field", "expected", "actual"}
    actual: dict | None = None


def validate_tests(tests) -> dict[str, str]:
    """Problems of a ``tests`` list, keyed like the designer's errors (``tests.2.record``)."""
    errors: dict[str, str] = {}
    if tests is None:
        return errors
    if not isinstance(tests, list) or len(tests) > MAX_TESTS:
        return {"tests": _("Give a list of at most %(n)s tests.") % {"n": MAX_TESTS}}
    names = set()
    for index, test in enumerate(tests):
        prefix = f"tests.{index}"
        if not isinstance(test, dict):
            errors[prefix] = _("Not a test object.")
            continue
        name = test.get("name")
        if not isinstance(name, str) or not name.strip():
            errors[f"{prefix}.name"] = _("Name the test.")
        elif name.strip() in names:
            errors[f"{prefix}.name"] = _("Another test has this name.")
        else:
            names.add(name.strip())
        if not isinstance(test.get("source"), dict):
            errors[f"{prefix}.source"] = _("Give the source record as an object.")
        expect = test.get("expect", "send")
        if expect not in EXPECTS:
            errors[f"{prefix}.expect"] = _("Use send, reject or skip.")
        elif expect == "send" and not isinstance(test.get("record"), dict):
            errors[f"{prefix}.record"] = _("Give the expected target record as an object.")
        links = test.get("links", {})
        if not isinstance(links, dict):
            errors[f"{prefix}.links"] = _(
                "Give the ID links as an object of “system:entity:id” to target id."
            )
        unknown = set(test) - {"name", "source", "expect", "record", "links"}
        if unknown:
            errors[prefix] = _("Unknown keys: %(k)s.") % {"k": ", ".join(sorted(unknown))}
    return errors


def _compiled(definition: dict, links: dict):
    from flows.engine.mapping import CompiledFlow

    def lookup(system, entity, source_id):
        key = f"{system}:{entity}:{source_id}"
        if key not in links:
            raise RecordError(_("No ID link is pinned in this test for %(k)s.") % {"k": key})
        return links[key]

    return CompiledFlow(definition, link_lookup=lookup, now=TEST_NOW)


def _value_maps(definition: dict) -> dict:
    from flows.designer import value_maps_used
    from flows.models import ValueMap

    embedded = definition.get("value_maps")
    if embedded is not None:
        return embedded
    names = value_maps_used(definition.get("mappings") or [])
    return {vm.name: vm.as_definition() for vm in ValueMap.objects.filter(name__in=names)}


def _what(result) -> str:
    if result.filtered_out:
        return "skip"
    return "send" if result.ok else "reject"


def _reason(result) -> str:
    if result.filtered_out:
        return result.filtered_out
    problems = [f"{e.target}: {e.message}" for e in result.errors]
    problems += [f"{f.field}: {f.message}" for f in result.rule_failures]
    return "; ".join(problems)


def run_tests(definition: dict) -> list[Outcome]:
    """Run every test of ``definition`` (its value maps embedded, or the stored ones)."""
    tests = definition.get("tests") or []
    if validate_tests(tests):
        return []
    base = {**definition, "value_maps": _value_maps(definition)}
    outcomes = []
    for test in tests:
        compiled = _compiled(base, test.get("links") or {})
        result = compiled.map(copy.deepcopy(test["source"]), check_rules=True)
        got = _what(result)
        expect = test.get("expect", "send")
        actual = as_json(result.record)
        outcome = Outcome(name=test["name"], passed=got == expect, expect=expect, got=got, actual=actual)
        if got != "send":
            outcome.message = _reason(result)
        if expect == "send" and got == "send":
            expected, actual = flatten(test["record"]), flatten(outcome.actual)
            for key in sorted(set(expected) | set(actual)):
                a, b = expected.get(key, _ABSENT), actual.get(key, _ABSENT)
                if a != b:
                    outcome.differences.append(
                        {
                            "field": key,
                            "expected": None if a is _ABSENT else a,
                            "actual": None if b is _ABSENT else b,
                        }
                    )
            outcome.passed = not outcome.differences
        outcomes.append(outcome)
    return outcomes


_ABSENT = object()


def as_json(record):
    """``record`` exactly as a run sends it (``wire``), as JSON: what a test pins and compares."""
    from flows.engine.mapping import wire

    return json.loads(json.dumps(wire(record), cls=DjangoJSONEncoder))


def flatten(record: dict, prefix: str = "") -> dict:
    """Nested objects as dotted keys (lists stay whole), so a difference names the exact field."""
    out = {}
    for key, value in record.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def failing(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.passed]


class MaskingChangesOutcome(ValueError):
    """Replacing the personal values of a sample changes what the flow does with it."""


def _leaf_strings(value) -> set[str]:
    if isinstance(value, str):
        return {value} if value.strip() else set()
    if isinstance(value, dict):
        return set().union(*(_leaf_strings(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(_leaf_strings(v) for v in value)) if value else set()
    return set()


def fake_text(text: str) -> str:
    """A stand-in of the same shape: letters become x/X, digits 0 — "Ann@Ex.com" → "Xxx@Xx.xxx"."""
    return "".join(
        ("X" if ch.isupper() else "x") if ch.isalpha() else "0" if ch.isdigit() else ch for ch in text
    )


def _replace(value, fakes: dict[str, str]):
    if isinstance(value, str):
        if value in fakes:
            return fakes[value]
        for text in sorted(fakes, key=len, reverse=True):  # inside free text too ("call Bobby")
            if len(text) >= 3 and text in value:
                value = value.replace(text, fakes[text])
        return value
    if isinstance(value, dict):
        return {key: _replace(item, fakes) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, fakes) for item in value]
    return value


def personal_fakes(definition: dict, source: dict) -> dict[str, str]:
    """Every text a personal mapping reads from ``source`` (under selectors and objects too) → its fake."""
    from flows.engine.paths import parse_path

    found: set[str] = set()
    for mapping in definition.get("mappings") or []:
        if mapping.get("personal") and mapping.get("source"):
            found |= _leaf_strings(parse_path(mapping["source"]).get(source))
    return {text: fake_text(text) for text in found}


def _outcome(definition: dict, source: dict, links: dict):
    base = {**definition, "value_maps": _value_maps(definition)}
    return _compiled(base, links).map(copy.deepcopy(source), check_rules=True)


def anonymise(definition: dict, source: dict, *, links: dict | None = None) -> dict:
    """``source`` with the values its personal mappings read replaced by same-shape fakes, wherever
    they appear in it. ``MaskingChangesOutcome`` when the flow would then treat it differently."""
    fakes = personal_fakes(definition, source)
    if not fakes:
        return copy.deepcopy(source)
    sample = _replace(copy.deepcopy(source), fakes)
    real, fake = _outcome(definition, source, links or {}), _outcome(definition, sample, links or {})
    if _what(real) != _what(fake):
        raise MaskingChangesOutcome(
            _(
                "With its personal values replaced by placeholders, the flow would %(fake)s this record "
                "instead of %(real)s it: pin another record, or type a test with made-up values."
            )
            % {"fake": _what(fake), "real": _what(real)}
        )
    return sample


def pin(definition: dict, source: dict, *, name: str, links: dict | None = None) -> dict:
    """A test from a sample record, expecting what the flow makes of it now. Personal values are replaced
    by same-shape fakes first (``anonymise``), so a flow's definition never holds anyone's data."""
    sample = anonymise(definition, source, links=links)
    result = _outcome(definition, sample, links or {})
    test = {"name": name, "source": sample, "expect": _what(result)}
    if test["expect"] == "send":
        test["record"] = as_json(result.record)
    if links:
        test["links"] = links
    return test


def anonymise_expected(definition: dict, source: dict, expected: dict, links: dict | None = None) -> dict:
    """A typed expected record whose personal fields hold what the real source gives, rewritten to what
    the anonymised source gives (a personal field expected otherwise is left to fail, as it would)."""
    from flows.engine.paths import parse_path

    sample = anonymise(definition, source, links=links)
    real = as_json(_outcome(definition, source, links or {}).record)
    fake = as_json(_outcome(definition, sample, links or {}).record)
    out = copy.deepcopy(expected)
    for mapping in definition.get("mappings") or []:
        if not mapping.get("personal"):
            continue
        path = parse_path(mapping["target"])
        if path.get(out, _ABSENT) == path.get(real, _ABSENT) is not _ABSENT:
            path.set(out, path.get(fake))
    return out


def anonymise_tests(definition: dict) -> tuple[list[dict], dict[str, str]]:
    """Every test of ``definition`` with its personal values replaced (idempotent: placeholders stay as
    they are), and the problems keyed like the designer's errors. ``save_flow`` applies it, so no flow
    version, export or API answer holds a person's data, however the test arrived."""
    tests, errors = [], {}
    for index, test in enumerate(definition.get("tests") or []):
        links = test.get("links") or {}
        try:
            clean = {**test, "source": anonymise(definition, test["source"], links=links)}
            if test.get("expect", "send") == "send":
                clean["record"] = anonymise_expected(definition, test["source"], test["record"], links)
        except MaskingChangesOutcome as exc:
            errors[f"tests.{index}.source"] = str(exc)
            clean = test
        tests.append(clean)
    return tests, errors


def unique_name(tests: list[dict], base: str) -> str:
    names = {t.get("name") for t in tests}
    name, n = base, 2
    while name in names:
        name, n = f"{base} ({n})", n + 1
    return name


def accept(definition: dict, test: dict) -> dict:
    """``test`` expecting what the flow does with its sample now (after a deliberate mapping change)."""
    outcome = run_tests({**definition, "tests": [test]})[0]
    accepted = {k: v for k, v in test.items() if k != "record"}
    accepted["expect"] = outcome.got
    if outcome.got == "send":
        accepted["record"] = outcome.actual
    return accepted


def parse_object(text: str) -> dict | None:
    """A JSON object typed or posted as text; None when it is not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
