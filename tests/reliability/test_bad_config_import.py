"""Bad config-as-code documents through ``configio.import_config`` (the console page, the API and
``manage.py hub import`` all call it): each is refused with an error naming where (path, line) and
why, and nothing is applied — all or nothing."""

import json

import pytest
import yaml

from flows import configio
from tests.reliability.conftest import base_flow, snapshot
from tests.reliability.corpus import LONG, NUL, RTL, SQL, TEMPLATE, TRAVERSAL, cases

pytestmark = pytest.mark.django_db

REST = {
    "base_url": "http://127.0.0.1:9/api",
    "auth_type": "none",
    "entities": [{"key": "items", "path": "/items"}],
}


def system(**overrides):
    return {"slug": "erp", "name": "ERP", "role": "erp", "connector": "rest", "parameters": REST, **overrides}


def flow(**overrides):
    data = base_flow(source_system="erp", target_system="erp")
    return {**data, **overrides}


def doc(systems=None, value_maps=None, flows=None, **top):
    out = {"hub_config": 1, "systems": systems or [], "value_maps": value_maps or [], "flows": flows or []}
    out.update(top)
    return json.dumps(out)


def nested(depth: int) -> str:
    return '{"hub_config": 1, "systems": ' + "[" * depth + "]" * depth + "}"


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8)
)


def P(text, path, fragment, id, fmt=None):
    return pytest.param(text, fmt, path, fragment, id=id)


SYNTAX = cases(
    "config import: syntax and shape",
    [
        P("{", "", "Not valid JSON", "json-truncated-brace"),
        P('{"hub_config": 1, "flows": [', "", "Not valid JSON", "json-truncated-list"),
        P('{"hub_config": 1,}', "", "Not valid JSON", "json-trailing-comma"),
        P("{'hub_config': 1}", "", "Not valid JSON", "json-single-quotes"),
        P('{"hub_config": 1} {"again": 2}', "", "Not valid JSON", "json-two-documents"),
        P("systems: [\n  - slug: a\n    name: [", "", "Not valid YAML", "yaml-unclosed"),
        P("systems:\n\t- slug: a\n", "", "Not valid YAML", "yaml-tab-indent"),
        P("a: b: c\n", "", "Not valid YAML", "yaml-mapping-in-scalar"),
        P("!!python/object/apply:os.system ['echo owned']", "", "Not valid YAML", "yaml-python-tag"),
        P("systems: !!binary aGVsbG8=\n", "systems", "Unsupported value", "yaml-binary"),
        P("systems: !!set {a, b}\n", "systems", "", "yaml-set"),
        P("", "", "must hold a mapping", "empty"),
        P("null", "", "must hold a mapping", "null", "json"),
        P("[]", "", "must hold a mapping", "list"),
        P('"just text"', "", "must hold a mapping", "string", "json"),
        P("42", "", "must hold a mapping", "number", "yaml"),
        P(doc(hub_config=2), "hub_config", "config format", "format-version-2"),
        P(doc(hub_config="1"), "hub_config", "config format", "format-version-text"),
        P(doc(scripts=["rm -rf /"]), "scripts", "Unknown section", "unknown-section"),
        P(doc(systems="erp"), "systems", "Give a list", "systems-text"),
        P(doc(flows={"name": "x"}), "flows", "Give a list", "flows-object"),
        P(doc(systems=[1]), "systems[0]", "mapping of keys", "system-number"),
        P(doc(systems=[{}]), "systems[0]", "required", "system-no-slug"),
        P(doc(value_maps=[{"name": "  "}]), "value_maps[0]", "required", "value-map-blank-name"),
        P(doc(flows=[{"name": 5}]), "flows[0]", "required", "flow-number-name"),
        P(doc(systems=[system(), system()]), "systems[1].slug", "twice", "system-twice"),
        P(
            doc(systems=[system(secrets={"token": "x"})]),
            "systems[0].secrets",
            "never read",
            "system-secrets",
        ),
        P(doc(systems=[system(exec="x")]), "systems[0].exec", "Unknown key", "system-extra-key"),
        P(doc(flows=[flow(script="x")]), "flows[0].script", "Unknown key", "flow-extra-key"),
        P("x" * (configio.MAX_BYTES + 1), "", "larger than 5 MB", "over-5-mb"),
        P(nested(10_000), "", "nested", "json-10000-levels", "json"),
        P("systems: " + "[" * 10_000 + "]" * 10_000, "", "nest", "yaml-10000-levels", "yaml"),
        P(nested(150), "", "nested", "json-150-levels", "json"),
        P(BILLION_LAUGHS, "", "too many values", "yaml-billion-laughs", "yaml"),
        P(doc(), "", "Unknown format", "format-xml", "xml"),
    ],
)

OBJECTS = cases(
    "config import: objects",
    [
        P(doc(systems=[system(connector="telnet")]), "systems[0]", "connector", "system-unknown-connector"),
        P(doc(systems=[system(parameters="base_url=x")]), "systems[0]", "", "system-parameters-text"),
        P(
            doc(systems=[system(parameters={**REST, "base_url": "file:///etc/passwd"})]),
            "systems[0].parameters",
            "",
            "system-file-url",
        ),
        P(
            doc(systems=[system(parameters={**REST, "base_url": TEMPLATE})]),
            "systems[0].parameters",
            "",
            "system-template-url",
        ),
        P(
            doc(systems=[system(parameters={**REST, "entities": "items"})]),
            "systems[0].parameters",
            "",
            "system-entities-text",
        ),
        P(doc(systems=[system(role="overlord")]), "systems[0].role", "", "system-role"),
        P(doc(systems=[system(slug=TRAVERSAL)]), "systems[0].slug", "", "system-slug-traversal"),
        P(doc(systems=[system(slug=SQL)]), "systems[0].slug", "", "system-slug-sql"),
        P(doc(systems=[system(name=LONG)]), "systems[0].name", "at most", "system-name-100k"),
        P(doc(systems=[system(name=NUL)]), "systems[0].name", "control character", "system-name-nul"),
        P(doc(systems=[system(timeout="ten")]), "systems[0].timeout", "", "system-timeout-text"),
        P(doc(systems=[system(timeout=-1)]), "systems[0].timeout", "", "system-timeout-negative"),
        P(doc(systems=[system(enabled="maybe")]), "systems[0].enabled", "", "system-enabled-text"),
        P(
            doc(
                systems=[
                    system(
                        connector="files",
                        parameters={"location": "local", "folder": TRAVERSAL, "entities": []},
                    )
                ]
            ),
            "systems[0].parameters",
            "..",
            "files-folder-traversal",
        ),
        P(
            doc(
                systems=[
                    system(
                        connector="files", parameters={"location": "local", "folder": "/etc", "entities": []}
                    )
                ]
            ),
            "systems[0].parameters",
            "relative path",
            "files-folder-absolute",
        ),
        P(
            doc(
                systems=[
                    system(
                        connector="files",
                        parameters={
                            "location": "local",
                            "folder": "inbox",
                            "entities": [{"key": "p", "pattern": "../../etc/passwd", "format": "csv"}],
                        },
                    )
                ]
            ),
            "systems[0].parameters",
            "plain file name",
            "files-pattern-traversal",
        ),
        P(
            doc(value_maps=[{"name": "m", "entries": [["a", "b"]]}]),
            "value_maps[0].entries",
            "mapping of source",
            "value-map-entries-list",
        ),
        P(
            doc(value_maps=[{"name": "m", "entries": {"a": {"b": 1}}}]),
            "value_maps[0].entries",
            "mapping of source",
            "value-map-entries-nested",
        ),
        P(
            doc(value_maps=[{"name": "m", "entries": "a,b"}]),
            "value_maps[0].entries",
            "mapping of source",
            "value-map-entries-text",
        ),
        P(
            doc(value_maps=[{"name": "m", "entries": {}, "unmatched": "explode"}]),
            "value_maps[0].unmatched",
            "",
            "value-map-unmatched",
        ),
        P(doc(value_maps=[{"name": LONG, "entries": {}}]), "value_maps[0].name", "", "value-map-name-100k"),
        P(
            doc(value_maps=[{"name": NUL, "entries": {}}]),
            "value_maps[0].name",
            "control character",
            "value-map-name-nul",
        ),
        P(
            doc(value_maps=[{"name": RTL, "entries": {}}]),
            "value_maps[0].name",
            "control character",
            "value-map-name-rtl",
        ),
        P(
            doc(value_maps=[{"name": "m", "entries": {"a\x00": "b"}}]),
            "value_maps[0].entries",
            "control character",
            "value-map-key-nul",
        ),
        P(doc(systems=[system()], flows=[flow(name=NUL)]), "flows[0]", "control character", "flow-name-nul"),
        P(
            doc(systems=[system()], flows=[flow(trigger="cron", cron="61 * * * *")]),
            "flows[0].cron",
            "not a valid cron",
            "flow-bad-cron",
        ),
        P(
            doc(systems=[system()], flows=[flow(trigger="cron", cron=SQL)]),
            "flows[0].cron",
            "not a valid cron",
            "flow-cron-sql",
        ),
        P(
            doc(systems=[system()], flows=[flow(mappings=[{"target": "sku", "source": TRAVERSAL}])]),
            "flows[0].mappings[0].source",
            "position",
            "flow-source-traversal",
        ),
        P(
            doc(systems=[system()], flows=[flow(mappings=[{"target": TEMPLATE, "source": "sku"}])]),
            "flows[0].mappings[0].target",
            "position",
            "flow-target-template",
        ),
        P(
            doc(flows=[flow(source_system="nowhere")]),
            "flows[0].source_system",
            "No system",
            "flow-unknown-system",
        ),
        P(
            doc(
                systems=[system()],
                flows=[
                    flow(name="A", trigger="after_flow", after_flow="B"),
                    flow(name="B", trigger="after_flow", after_flow="A"),
                ],
            ),
            "flows[",
            "circle",
            "flows-in-a-circle",
        ),
        P(
            doc(systems=[system()], flows=[flow(interval_minutes=float("nan"), trigger="interval")]),
            "flows[0].interval_minutes",
            "minutes",
            "flow-interval-nan",
            "json",
        ),
        P(
            doc(systems=[system()], flows=[flow(mappings=[{"target": "sku"}] * 501)]),
            "flows[0].mappings",
            "at most",
            "flow-501-mappings",
        ),
        P(doc(systems=[system(name="\ud800")]), "systems[0].name", "", "system-name-lone-surrogate"),
    ],
)


@pytest.mark.parametrize("text,fmt,path,fragment", SYNTAX + OBJECTS)
def test_a_bad_document_is_refused_with_where_and_why_and_nothing_applied(admin, text, fmt, path, fragment):
    before = snapshot()
    report = configio.import_config(text, fmt=fmt, user=admin, apply=True)
    assert not report.ok and not report.applied
    matching = [p for p in report.errors if p.path.startswith(path)]
    assert matching, [str(p) for p in report.errors]
    assert any(fragment.lower() in p.message.lower() for p in matching), [str(p) for p in report.errors]
    assert all(len(p.message) < 2000 for p in report.errors), "an error message echoes a huge input"
    assert snapshot() == before


def test_a_good_system_is_not_applied_when_a_later_flow_is_bad(admin):
    """All or nothing: the first items are fine, the last is not; none is kept."""
    before = snapshot()
    text = doc(
        systems=[system()],
        value_maps=[{"name": "m", "entries": {"a": "b"}}],
        flows=[flow(cron=SQL, trigger="cron")],
    )
    report = configio.import_config(text, user=admin, apply=True)
    assert [c.action for c in report.changes] == ["create", "create"] and not report.applied
    assert snapshot() == before


def test_the_documents_spoiled_here_import_when_unspoiled(admin):
    report = configio.import_config(
        doc(systems=[system()], value_maps=[{"name": "m", "entries": {"a": "b"}}], flows=[flow()]),
        user=admin,
        apply=True,
    )
    assert report.ok and report.applied, [str(p) for p in report.errors]
    assert yaml.safe_load(configio.dumps(configio.export_config(), "yaml"))["flows"][0]["name"] == "Items"
