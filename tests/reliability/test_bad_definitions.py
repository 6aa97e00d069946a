"""Bad flow definitions through the designer's one home, ``designer.save_flow`` (the console form, the
API and config import all call it): every case is refused with a message on the field at fault, and
nothing is written — no flow, no mapping, no version."""

import pytest

from flows import designer
from tests.reliability.conftest import base_flow, snapshot
from tests.reliability.corpus import LONG, NUL, RTL, SQL, TEMPLATE, TEMPLATE_TAG, TRAVERSAL, cases

pytestmark = pytest.mark.django_db


def mapping(target="sku", source="sku", transforms=None, **extra):
    return {"mappings": [{"target": target, "source": source, "transforms": transforms or [], **extra}]}


def step(**step):
    return mapping(target="name", source="name", transforms=[step])


def P(change, key, fragment, id):
    return pytest.param(change, key, fragment, id=id)


PATHS = cases(
    "mapping paths",
    [
        P(mapping(target="a..b"), "mappings.0.target", "position", "target-empty-key"),
        P(mapping(target="items["), "mappings.0.target", "position", "target-open-bracket"),
        P(mapping(source="items[abc"), "mappings.0.source", "position", "source-unclosed-filter"),
        P(mapping(source="`unterminated"), "mappings.0.source", "position", "source-open-backtick"),
        P(mapping(source="a b"), "mappings.0.source", "position", "source-space"),
        P(mapping(source=TEMPLATE), "mappings.0.source", "position", "source-template-injection"),
        P(mapping(target=TEMPLATE_TAG), "mappings.0.target", "position", "target-template-tag"),
        P(mapping(source=SQL), "mappings.0.source", "position", "source-sql-injection"),
        P(mapping(target=SQL), "mappings.0.target", "position", "target-sql-injection"),
        P(mapping(source=TRAVERSAL), "mappings.0.source", "position", "source-path-traversal"),
        P(mapping(source=NUL), "mappings.0.source", "control character", "source-nul"),
        P(mapping(target=NUL), "mappings.0.target", "control character", "target-nul"),
        P(mapping(target=RTL), "mappings.0.target", "control character", "target-rtl-override"),
        P(mapping(source=LONG), "mappings.0.source", "At most", "source-100k-chars"),
        P(mapping(target=LONG), "mappings.0.target", "At most", "target-100k-chars"),
        P(mapping(source="items[*]][0]"), "mappings.0.source", "position", "source-stray-bracket"),
        P(mapping(source="items[locale=fr,]"), "mappings.0.source", "position", "source-empty-condition"),
        P(mapping(source='items[code="a]'), "mappings.0.source", "position", "source-open-quote"),
        P(mapping(target="items[*].sku"), "mappings.0.target", "reads many items", "target-projection"),
        P(mapping(target=""), "mappings.0.target", "Name the target", "target-empty"),
        P(mapping(target=42), "mappings.0.target", "Give text", "target-number"),
        P(mapping(source=["sku"]), "mappings.0.source", "Give text", "source-list"),
        P(mapping(source=""), "mappings.0.source", "Give a source path", "source-missing"),
        P({"source_key": "a..b"}, "source_key", "position", "source-key-bad-path"),
        P({"cursor_field": "`x", "sync_mode": "incremental"}, "cursor_field", "position", "cursor-bad-path"),
        P({"target_key": TEMPLATE}, "target_key", "position", "target-key-template"),
    ],
)

TRANSFORMS = cases(
    "transform parameters",
    [
        P(step(op="eval", code="__import__('os')"), "mappings.0.transforms", "eval", "unknown-op-eval"),
        P(step(op=TEMPLATE), "mappings.0.transforms", "Step 1", "op-template"),
        P(step(), "mappings.0.transforms", "Step 1", "op-missing"),
        P(
            mapping(target="name", source="name", transforms=["trim"]),
            "mappings.0.transforms",
            "Step 1",
            "step-not-object",
        ),
        P(
            mapping(target="name", source="name", transforms="trim | lower"),
            "mappings.0.transforms",
            "list",
            "chain-text",
        ),
        P(step(op="trim", extra=1), "mappings.0.transforms", "extra", "unknown-param"),
        P(step(op="truncate", length="ten"), "mappings.0.transforms", "length", "truncate-text-length"),
        P(step(op="truncate", length=0), "mappings.0.transforms", "length", "truncate-zero"),
        P(step(op="truncate", length=10**12), "mappings.0.transforms", "length", "truncate-huge"),
        P(step(op="truncate", length=True), "mappings.0.transforms", "length", "truncate-bool"),
        P(step(op="round", places=-1), "mappings.0.transforms", "places", "round-negative"),
        P(step(op="round", places=13), "mappings.0.transforms", "places", "round-too-many"),
        P(step(op="to_decimal", places="two"), "mappings.0.transforms", "places", "decimal-text-places"),
        P(
            step(op="to_decimal", rounding="sideways"),
            "mappings.0.transforms",
            "rounding",
            "decimal-bad-rounding",
        ),
        P(step(op="divide", divisor=0), "mappings.0.transforms", "divisor", "divide-by-zero"),
        P(step(op="divide", divisor="NaN"), "mappings.0.transforms", "divisor", "divide-nan"),
        P(
            step(op="multiply", factor="1e999999"),
            "mappings.0.transforms",
            "factor",
            "multiply-huge-exponent",
        ),
        P(step(op="multiply", factor=SQL), "mappings.0.transforms", "factor", "multiply-sql"),
        P(
            step(op="regex_extract", pattern="(unclosed"),
            "mappings.0.transforms",
            "pattern",
            "regex-unclosed",
        ),
        P(step(op="regex_extract", pattern="a" * 100_000), "mappings.0.transforms", "pattern", "regex-100k"),
        P(
            step(op="regex_extract", pattern="(a)", group=5),
            "mappings.0.transforms",
            "group",
            "regex-missing-group",
        ),
        P(step(op="replace", old=""), "mappings.0.transforms", "old", "replace-empty"),
        P(step(op="concatenate", format="{"), "mappings.0.transforms", "format", "concat-open-brace"),
        P(step(op="concatenate", format="{a..b}"), "mappings.0.transforms", "format", "concat-bad-path"),
        P(
            step(op="concatenate", format=TEMPLATE_TAG),
            "mappings.0.transforms",
            "format",
            "concat-template-tag",
        ),
        P(step(op="default"), "mappings.0.transforms", "value", "default-missing-value"),
        P(step(op="map", mapping=42), "mappings.0.transforms", "mapping", "map-number"),
        P(step(op="map", mapping={"a": {"nested": 1}}), "mappings.0.transforms", "mapping", "map-nested"),
        P(
            step(op="map", mapping={"a": "b"}, missing="explode"),
            "mappings.0.transforms",
            "missing",
            "map-bad-missing",
        ),
        P(step(op="value_map", map="no-such-map"), "mappings", "does not exist", "value-map-unknown"),
        P(step(op="value_map", map=TRAVERSAL), "mappings", "does not exist", "value-map-traversal"),
        P(step(op="format_date", format="%Q%"), "mappings.0.transforms", "format", "date-bad-format"),
        P(
            step(op="parse_date", format="%d/%m/%Y", timezone="Mars/Olympus"),
            "mappings.0.transforms",
            "timezone",
            "date-bad-zone",
        ),
        P(
            step(op="parse_date", timezone=TRAVERSAL),
            "mappings.0.transforms",
            "timezone",
            "date-zone-traversal",
        ),
        P(
            step(op="unit_convert", **{"from": "kg", "to": "cm"}),
            "mappings.0.transforms",
            "",
            "unit-mass-to-length",
        ),
        P(
            step(op="unit_convert", **{"from": "parsec", "to": "m"}),
            "mappings.0.transforms",
            "from",
            "unit-unknown",
        ),
        P(step(op="split", separator=""), "mappings.0.transforms", "separator", "split-empty"),
        P(
            step(op="split", separator=",", index="first"),
            "mappings.0.transforms",
            "index",
            "split-text-index",
        ),
        P(step(op="pick", path="a..b"), "mappings.0.transforms", "path", "pick-bad-path"),
        P(step(op="pick", path=TRAVERSAL), "mappings.0.transforms", "path", "pick-traversal"),
        P(step(op="first_non_empty", paths=[]), "mappings.0.transforms", "paths", "first-non-empty-none"),
        P(
            step(op="first_non_empty", paths=["a", "b["]),
            "mappings.0.transforms",
            "paths",
            "first-non-empty-bad-path",
        ),
        P(
            step(op="bool_map", true_values={"yes": 1}),
            "mappings.0.transforms",
            "true_values",
            "bool-map-object",
        ),
        P(
            step(op="slugify", allow_unicode="maybe"),
            "mappings.0.transforms",
            "allow_unicode",
            "slugify-bad-bool",
        ),
        P(
            step(op="truncate", length=5, ellipsis=LONG),
            "mappings.0.transforms",
            "ellipsis",
            "truncate-long-ellipsis",
        ),
        P(step(op="link_lookup"), "mappings.0.transforms", "system", "link-lookup-missing"),
        P(step(op="trim", **{NUL: 1}), "mappings", "control character", "param-name-nul"),
    ],
)

CRON = cases(
    "cron fields",
    [
        P({"trigger": "cron", "cron": ""}, "cron", "not a valid cron", "cron-empty"),
        P({"trigger": "cron", "cron": "every tuesday"}, "cron", "not a valid cron", "cron-words"),
        P({"trigger": "cron", "cron": "* * * *"}, "cron", "not a valid cron", "cron-four-fields"),
        P({"trigger": "cron", "cron": "61 * * * *"}, "cron", "not a valid cron", "cron-minute-61"),
        P({"trigger": "cron", "cron": "* 25 * * *"}, "cron", "not a valid cron", "cron-hour-25"),
        P({"trigger": "cron", "cron": "* * 32 * *"}, "cron", "not a valid cron", "cron-day-32"),
        P({"trigger": "cron", "cron": "* * * 13 *"}, "cron", "not a valid cron", "cron-month-13"),
        P({"trigger": "cron", "cron": "* * * * 8"}, "cron", "not a valid cron", "cron-weekday-8"),
        P({"trigger": "cron", "cron": "*/0 * * * *"}, "cron", "not a valid cron", "cron-step-zero"),
        P({"trigger": "cron", "cron": "-1 * * * *"}, "cron", "not a valid cron", "cron-negative"),
        P({"trigger": "cron", "cron": "* * * * * * * *"}, "cron", "not a valid cron", "cron-eight-fields"),
        P({"trigger": "cron", "cron": "* * * * *; rm -rf /"}, "cron", "not a valid cron", "cron-shell"),
        P({"trigger": "cron", "cron": SQL}, "cron", "not a valid cron", "cron-sql"),
        P({"trigger": "cron", "cron": TEMPLATE}, "cron", "not a valid cron", "cron-template"),
        P({"trigger": "cron", "cron": "* * * * *\x00"}, "cron", "control character", "cron-nul"),
        P({"trigger": "cron", "cron": "\u202e* * * * *"}, "cron", "control character", "cron-rtl"),
        P({"trigger": "cron", "cron": "* " * 50_000}, "cron", "At most", "cron-100k"),
        P({"trigger": "cron", "cron": 5}, "cron", "Give text", "cron-number"),
        P({"trigger": "cron", "cron": ["*", "*", "*", "*", "*"]}, "cron", "Give text", "cron-list"),
        P({"trigger": "cron", "cron": "@reboot"}, "cron", "not a valid cron", "cron-reboot"),
        P({"trigger": "cron", "cron": "0 0 31 2 *"}, "cron", "never fires", "cron-february-31"),
        P({"trigger": "cron", "cron": "* * * * MON-XYZ"}, "cron", "not a valid cron", "cron-bad-name"),
    ],
)

FIELDS = cases(
    "flow fields",
    [
        P({"name": ""}, "name", "name", "name-empty"),
        P({"name": "   "}, "name", "name", "name-blank"),
        P({"name": LONG}, "name", "At most", "name-100k"),
        P({"name": NUL}, "name", "control character", "name-nul"),
        P({"name": RTL}, "name", "control character", "name-rtl"),
        P({"name": 12}, "name", "Give text", "name-number"),
        P({"name": None, "source_system": None}, "name", "name", "name-null"),
        P({"description": {"a": 1}}, "description", "Give text", "description-object"),
        P({"source_system": SQL}, "source_system", "No system", "source-system-sql"),
        P({"target_system": TRAVERSAL}, "target_system", "No system", "target-system-traversal"),
        P({"source_system": ""}, "source_system", "Choose", "source-system-empty"),
        P({"source_entity": "planets"}, "source_entity", "no entity", "source-entity-unknown"),
        P({"target_entity": TEMPLATE}, "target_entity", "no entity", "target-entity-template"),
        P({"trigger": "sometimes"}, "trigger", "Unknown trigger", "trigger-unknown"),
        P({"trigger": "interval", "interval_minutes": 0}, "interval_minutes", "minutes", "interval-zero"),
        P(
            {"trigger": "interval", "interval_minutes": -5},
            "interval_minutes",
            "minutes",
            "interval-negative",
        ),
        P(
            {"trigger": "interval", "interval_minutes": 10**30},
            "interval_minutes",
            "minutes",
            "interval-huge",
        ),
        P({"trigger": "interval", "interval_minutes": "60"}, "interval_minutes", "minutes", "interval-text"),
        P({"trigger": "interval", "interval_minutes": 1.5}, "interval_minutes", "minutes", "interval-float"),
        P({"trigger": "interval", "interval_minutes": True}, "interval_minutes", "minutes", "interval-bool"),
        P({"freshness_sla_minutes": -1}, "freshness_sla_minutes", "minutes", "sla-negative"),
        P(
            {"trigger": "after_flow", "after_flow": "nobody"},
            "after_flow",
            "Choose the flow",
            "after-unknown",
        ),
        P({"criticality": "urgent"}, "criticality", "Choose one of", "criticality-unknown"),
        P({"sync_mode": None}, "sync_mode", "Choose one of", "sync-mode-null"),
        P(
            {"sync_mode": "incremental", "cursor_field": ""},
            "cursor_field",
            "Incremental",
            "incremental-no-cursor",
        ),
        P({"match_strategy": "telepathy"}, "match_strategy", "Choose one of", "match-unknown"),
        P({"write_mode": "overwrite_everything"}, "write_mode", "Choose one of", "write-mode-unknown"),
        P({"enabled": "yes"}, "enabled", "true or false", "enabled-text"),
        P({"tags": "a,b"}, "tags", "list of words", "tags-text"),
        P({"tags": [1, 2]}, "tags", "list of words", "tags-numbers"),
        P({"filters": {"path": "x"}}, "filters", "list of filters", "filters-object"),
        P({"filters": ["x"]}, "filters", "not a filter", "filter-text"),
        P({"filters": [{"path": "family", "op": "sounds_like", "value": 1}]}, "filters", "op", "filter-op"),
        P(
            {"filters": [{"path": "a..b", "op": "equals", "value": 1}]},
            "filters",
            "position",
            "filter-bad-path",
        ),
        P(
            {"filters": [{"path": "a", "op": "in", "value": "x"}]},
            "filters",
            "list of values",
            "filter-in-text",
        ),
        P({"filters": [{"path": "a", "op": "equals"}]}, "filters", "value", "filter-no-value"),
        P({"quality_rules": "required"}, "quality_rules", "list of rules", "rules-text"),
        P({"quality_rules": [42]}, "quality_rules", "not a rule", "rule-number"),
        P(
            {"quality_rules": [{"kind": "range", "field": "price", "params": {"min": 5, "max": 1}}]},
            "quality_rules",
            "max",
            "rule-range-reversed",
        ),
        P(
            {"quality_rules": [{"kind": "regex", "field": "sku", "params": {"pattern": "(("}}]},
            "quality_rules",
            "pattern",
            "rule-bad-regex",
        ),
        P(
            {"quality_rules": [{"kind": "sql", "field": "sku", "params": {"query": SQL}}]},
            "quality_rules",
            "Rule 1",
            "rule-unknown-kind",
        ),
        P({"mappings": []}, "mappings", "at least one", "mappings-empty"),
        P({"mappings": "sku=sku"}, "mappings", "", "mappings-text"),
        P({"mappings": [[]]}, "mappings.0", "Not a mapping", "mapping-list"),
        P(
            {"mappings": [{"target": "sku", "source": "sku", "formula": "=1+1"}]},
            "mappings.0",
            "Unknown keys",
            "mapping-extra-key",
        ),
        P({"mappings": [{"target": "sku", "source": "sku"}] * 501}, "mappings", "at most", "mappings-501"),
        P(
            {"mappings": [{"target": "sku", "source": "sku"}, {"target": "sku", "source": "name"}]},
            "mappings.1.target",
            "twice",
            "mapping-target-twice",
        ),
        P(mapping(personal="secret"), "mappings.0.personal", "personal", "mapping-personal-unknown"),
        P({"tests": "run them"}, "tests", "", "tests-text"),
        P({"tests": [{"name": "t", "source": "not a record"}]}, "tests", "", "tests-bad-sample"),
    ],
)


@pytest.mark.parametrize("change,key,fragment", PATHS + TRANSFORMS + CRON + FIELDS)
def test_a_bad_definition_names_the_field_and_writes_nothing(systems, change, key, fragment):
    before = snapshot()
    with pytest.raises(designer.DefinitionError) as caught:
        designer.save_flow(base_flow(**change))
    errors = caught.value.errors
    found = [k for k in errors if k == key or k.startswith(f"{key}.")]
    assert found, errors
    assert fragment.lower() in errors[found[0]].lower(), errors
    assert all(len(m) < 2000 for m in errors.values()), "an error message echoes a huge input"
    assert snapshot() == before


def test_the_base_definition_saves(systems):
    """The corpus spoils a definition that is good: without the spoiling, it saves."""
    flow = designer.save_flow(base_flow())
    assert flow.mappings.count() == 2 and flow.versions.count() == 1


INERT = cases(
    "hostile strings kept inert",
    [
        pytest.param(TEMPLATE, id="concatenate-django-template"),
        pytest.param("{0.__class__.__mro__}", id="concatenate-format-attribute-attack"),
        pytest.param("{__class__}{__init__.__globals__}", id="concatenate-dunder-paths"),
        pytest.param(SQL, id="concatenate-sql"),
    ],
)


@pytest.mark.parametrize("text", INERT)
def test_hostile_text_in_a_transform_stays_text(systems, settings, text):
    """A template, a format-string attack or SQL in a transform parameter is saved as text and gives
    text: nothing is rendered, evaluated or looked up (no secret, no Python object leaks out)."""
    from flows.engine.mapping import CompiledFlow

    data = base_flow(
        mappings=[
            {"target": "sku", "source": "sku", "transforms": [], "personal": ""},
            {"target": "label", "source": "", "transforms": [{"op": "concatenate", "format": text}]},
            {"target": "name", "source": "name", "transforms": [{"op": "default", "value": text}]},
        ]
    )
    flow = designer.save_flow(data)
    mapped = CompiledFlow(designer.definition_of(flow)).map({"sku": "A1", "name": None, "0": {"x": 1}})
    assert mapped.ok, mapped.errors
    out = repr(mapped.record)
    assert settings.SECRET_KEY not in out and "class '" not in out and "<" not in out
    assert mapped.record["name"] == text
