"""Bad requests to the console forms (Django test client, logged in) and the JSON API (a write-enabled
token): malformed, truncated, deeply nested and oversized bodies, wrong types, missing, extra and
oversized fields. Each gets a 4xx naming the field or the problem — never a 500 — and writes nothing."""

import json
import tracemalloc

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.reliability.conftest import base_flow, snapshot
from tests.reliability.corpus import LONG, NUL, SQL, TEMPLATE, TRAVERSAL, cases

pytestmark = pytest.mark.django_db

REST = {
    "base_url": "http://127.0.0.1:9/api",
    "auth_type": "none",
    "entities": [{"key": "items", "path": "/items"}],
}
SYSTEM = {"name": "Main PIM", "slug": "main-pim", "role": "pim", "connector": "rest", "parameters": REST}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def P(body, status, where, fragment, id):
    return pytest.param(body, status, where, fragment, id=id)


def raw(text):
    """A body sent as it is (bytes or text), not JSON-encoded by the test."""
    return ("raw", text)


SYSTEMS_API = cases(
    "API: systems",
    [
        P(raw("{"), 400, "detail", "JSON parse error", "json-open-brace"),
        P(raw('{"name": "x", "slug": "y", "role": '), 400, "detail", "JSON parse error", "json-truncated"),
        P(raw(b'{"name": "\xff\xfe"}'), 400, "detail", "JSON parse error", "json-invalid-utf8"),
        P(raw("NaN"), 400, "", "", "json-nan-body"),
        P(raw(nested(10_000)), 400, "detail", "nested", "json-10000-levels"),
        P(raw(""), 400, "name", "required", "empty-body"),
        P([SYSTEM], 400, "non_field_errors", "dictionary", "list-body"),
        P({}, 400, "name", "required", "missing-everything"),
        P({**SYSTEM, "name": None}, 400, "name", "null", "name-null"),
        P({**SYSTEM, "name": ["a"]}, 400, "name", "valid string", "name-list"),
        P({**SYSTEM, "name": LONG}, 400, "name", "no more than", "name-100k"),
        P({**SYSTEM, "name": NUL}, 400, "name", "Null characters", "name-nul"),
        P({**SYSTEM, "slug": TRAVERSAL}, 400, "slug", "slug", "slug-traversal"),
        P({**SYSTEM, "slug": SQL}, 400, "slug", "slug", "slug-sql"),
        P({**SYSTEM, "role": "mainframe"}, 400, "role", "valid choice", "role-unknown"),
        P({**SYSTEM, "connector": "telnet"}, 400, "connector", "valid choice", "connector-unknown"),
        P({**SYSTEM, "parameters": "base_url=x"}, 400, "", "", "parameters-text"),
        P({**SYSTEM, "parameters": {**REST, "base_url": "file:///etc/passwd"}}, 400, "", "", "base-url-file"),
        P({**SYSTEM, "parameters": {**REST, "base_url": TEMPLATE}}, 400, "", "", "base-url-template"),
        P({**SYSTEM, "parameters": {**REST, "entities": "items"}}, 400, "", "", "entities-text"),
        P(
            {**SYSTEM, "parameters": {**REST, "entities": [{"key": "a", "path": "/a"}] * 5000}},
            400,
            "",
            "",
            "entities-5000",
        ),
        P({**SYSTEM, "timeout": "soon"}, 400, "timeout", "valid number", "timeout-text"),
        P({**SYSTEM, "timeout": 10**20}, 400, "timeout", "", "timeout-huge"),
        P({**SYSTEM, "timeout": -3}, 400, "timeout", "", "timeout-negative"),
        P({**SYSTEM, "enabled": "perhaps"}, 400, "enabled", "valid boolean", "enabled-text"),
        P({**SYSTEM, "secrets": "hunter2"}, 400, "secrets", "", "secrets-text"),
        P(
            {**SYSTEM, "record_url_template": "{{ settings.SECRET_KEY }}"},
            400,
            "record_url_template",
            "",
            "record-url-template",
        ),
    ],
)

FLOWS_API = cases(
    "API: flows",
    [
        P(raw("{"), 400, "detail", "JSON parse error", "json-open-brace"),
        P(raw('{"name": "F", "mappings": [{"target": '), 400, "detail", "JSON parse error", "json-truncated"),
        P(raw(b'{"name": "F\xc3"}'), 400, "detail", "JSON parse error", "json-invalid-utf8"),
        P(raw(nested(10_000)), 400, "detail", "nested", "json-10000-levels"),
        P(raw('{"name": ' * 5000 + "1" + "}" * 5000), 400, "detail", "", "json-5000-objects-deep"),
        P(["F"], 400, "detail", "JSON object", "list-body"),
        P("F", 400, "detail", "JSON object", "string-body"),
        P({}, 400, "name", "name", "missing-everything"),
        P(base_flow(enabeld=True), 400, "enabeld", "Unknown key", "extra-key-typo"),
        P(base_flow(script="rm -rf /"), 400, "script", "Unknown key", "extra-key-script"),
        P(base_flow(name=LONG), 400, "name", "At most", "name-100k"),
        P(base_flow(name=NUL), 400, "name", "control character", "name-nul"),
        P(base_flow(trigger="cron", cron="99 * * * *"), 400, "cron", "not a valid cron", "cron-invalid"),
        P(base_flow(trigger="cron", cron=SQL), 400, "cron", "not a valid cron", "cron-sql"),
        P(
            base_flow(mappings=[{"target": TRAVERSAL, "source": "sku"}]),
            400,
            "mappings.0.target",
            "position",
            "target-traversal",
        ),
        P(
            base_flow(mappings=[{"target": "sku", "source": "sku", "transforms": [{"op": "eval"}]}]),
            400,
            "mappings.0.transforms",
            "eval",
            "transform-eval",
        ),
        P(
            base_flow(interval_minutes="5", trigger="interval"),
            400,
            "interval_minutes",
            "minutes",
            "interval-text",
        ),
        P(
            base_flow(mappings=[{"target": f"f{i}", "source": "sku"} for i in range(501)]),
            400,
            "mappings",
            "at most",
            "mappings-501",
        ),
    ],
)

IMPORT_API = cases(
    "API: config import",
    [
        P({}, 400, "content", "content", "content-missing"),
        P({"content": ["systems"]}, 400, "content", "string", "content-list"),
        P({"content": "{}", "format": "xml"}, 400, "format", "yaml or json", "format-xml"),
        P({"content": "{", "format": "json"}, 400, "errors", "Not valid JSON", "content-truncated"),
        P({"content": nested(10_000), "format": "json"}, 400, "errors", "nested", "content-10000-levels"),
        P(
            {"content": "hub_config: 1\nsystems: [{slug: '../x'}]"},
            400,
            "errors",
            "",
            "content-slug-traversal",
        ),
        P(raw(nested(10_000)), 400, "detail", "nested", "body-10000-levels"),
    ],
)


def send(api, method, url, body):
    if isinstance(body, tuple) and body[0] == "raw":
        return getattr(api, method)(url, data=body[1], content_type="application/json")
    return getattr(api, method)(url, data=json.dumps(body), content_type="application/json")


def check(response, status, where, fragment):
    assert response.status_code == status, response.content[:500]
    body = response.json()
    text = json.dumps(body.get(where, body) if isinstance(body, dict) and where else body, ensure_ascii=False)
    assert fragment.lower() in text.lower(), body
    assert len(response.content) < 20_000, "the error echoes a huge input"


@pytest.mark.parametrize("body,status,where,fragment", SYSTEMS_API)
def test_bad_system_bodies(api, body, status, where, fragment):
    before = snapshot()
    check(send(api, "post", reverse("flows-api:system-list"), body), status, where, fragment)
    assert snapshot() == before


@pytest.mark.parametrize("body,status,where,fragment", FLOWS_API)
def test_bad_flow_bodies(api, systems, body, status, where, fragment):
    before = snapshot()
    check(send(api, "post", reverse("flows-api:flow-list"), body), status, where, fragment)
    assert snapshot() == before


@pytest.mark.parametrize("body,status,where,fragment", IMPORT_API)
def test_bad_import_bodies(api, systems, body, status, where, fragment):
    before = snapshot()
    check(send(api, "post", reverse("flows-api:flow-import"), body), status, where, fragment)
    assert snapshot() == before


def test_read_only_fields_sent_to_the_api_are_not_written(api):
    """Extra fields a client may not set (the health, the webhook address, the id) are ignored."""
    body = {**SYSTEM, "id": 999, "health_status": "up", "webhook_token": "chosen", "secret_names": ["x"]}
    response = send(api, "post", reverse("flows-api:system-list"), body)
    assert response.status_code == 201, response.content
    from flows.models import System

    system = System.objects.get()
    assert system.pk != 999 and system.webhook_token != "chosen" and system.health_status != "up"


@pytest.mark.parametrize("megabytes", [10])
def test_a_10_mb_body_is_refused_without_holding_many_copies(api, systems, megabytes):
    before = snapshot()
    body = json.dumps(base_flow(description="x" * (megabytes * 1_000_000)))
    tracemalloc.start()
    try:
        response = api.post(reverse("flows-api:flow-list"), data=body, content_type="application/json")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code in (400, 413), response.content[:300]
    assert peak < 12 * megabytes * 1_000_000, f"peak {peak / 1e6:.0f} MB for a {megabytes} MB body"
    assert snapshot() == before


cases("API: systems", [pytest.param(id="10-mb-flow-body")])


# --- console forms ------------------------------------------------------------------------------------

SYSTEM_FORM = {
    "name": "Main shop",
    "slug": "main-shop",
    "role": "ecommerce",
    "criticality": "high",
    "connector": "rest",
    "timeout": "30",
    "param_base_url": "http://127.0.0.1:9/api",
    "param_auth_type": "none",
    "param_entities": '[{"key": "items", "path": "/items"}]',
}

SYSTEM_FORMS = cases(
    "console forms: system",
    [
        P({"name": ""}, 400, "name", "required", "name-missing"),
        P({"name": NUL}, 400, "name", "Null characters", "name-nul"),
        P({"name": LONG}, 400, "name", "at most", "name-100k"),
        P({"slug": TRAVERSAL}, 400, "slug", "slug", "slug-traversal"),
        P({"slug": SQL}, 400, "slug", "slug", "slug-sql"),
        P({"role": "mainframe"}, 400, "role", "valid choice", "role-unknown"),
        P({"connector": "telnet"}, 400, "connector", "valid choice", "connector-unknown"),
        P({"timeout": "soon"}, 400, "timeout", "Enter a number", "timeout-text"),
        P({"param_base_url": "file:///etc/passwd"}, 400, "base_url", "", "base-url-file"),
        P({"param_base_url": TEMPLATE}, 400, "base_url", "", "base-url-template"),
        P({"param_entities": "[{"}, 400, "entities", "", "entities-broken-json"),
        P({"param_entities": nested(10_000)}, 400, "entities", "", "entities-10000-levels"),
        P({"param_entities": '"items"'}, 400, "entities", "", "entities-string"),
    ],
)


@pytest.mark.parametrize("change,status,field,fragment", SYSTEM_FORMS)
def test_bad_system_forms(console, change, status, field, fragment):
    before = snapshot()
    response = console.post(reverse("flows:system_add"), {**SYSTEM_FORM, **change})
    assert response.status_code == status
    errors = response.context["form"].errors
    found = [k for k in errors if field in k]
    assert found, errors
    assert fragment.lower() in str(errors[found[0]]).lower(), errors
    assert snapshot() == before


VALUE_MAP_FORMS = cases(
    "console forms: value map",
    [
        P({"entries_csv": 'S,Small\nM,"Medium\n'}, 400, "entries_csv", "Line", "csv-unclosed-quote"),
        P({"entries_csv": 'a,"b"c\n'}, 400, "entries_csv", "Line 1", "csv-text-after-quote"),
        P({"entries_csv": "a,b,c\n"}, 400, "entries_csv", "3 columns", "csv-three-columns"),
        P({"entries_csv": "source,target\nonly\n"}, 400, "entries_csv", "1 columns", "csv-one-column"),
        P({"entries_csv": "a;b\nc;d\n"}, 400, "entries_csv", "1 columns", "csv-semicolons"),
        P({"entries_csv": "a,1\na,2\n"}, 400, "entries_csv", "twice", "csv-duplicate-key"),
        P({"entries_csv": "a\x00,b\n"}, 400, "entries_csv", "Null characters", "csv-nul"),
        P({"entries_csv": "a,b\u202e\n"}, 400, "entries_csv", "control character", "csv-rtl"),
        P(
            {"entries_csv": "".join(f"k{i},v\n" for i in range(20_001))},
            400,
            "entries_csv",
            "More than",
            "csv-20001-rows",
        ),
        P({"name": ""}, 400, "name", "required", "name-missing"),
        P({"name": NUL}, 400, "name", "Null characters", "name-nul"),
        P({"name": "colours\u202e"}, 400, "name", "control character", "name-rtl"),
        P({"name": LONG}, 400, "name", "at most", "name-100k"),
        P({"unmatched": "explode"}, 400, "unmatched", "valid choice", "unmatched-unknown"),
        P({"csv_file": b"a,\xff\xfe\n"}, 400, "csv_file", "not UTF-8", "file-invalid-utf8"),
        P({"csv_file": b"a,b\n" * 1_300_000}, 400, "csv_file", "larger than 5 MB", "file-over-5-mb"),
        P({"csv_file": b'a,"b\n'}, 400, "csv_file", "Line", "file-broken-quote"),
    ],
)


@pytest.mark.parametrize("change,status,field,fragment", VALUE_MAP_FORMS)
def test_bad_value_map_forms(console, change, status, field, fragment):
    before = snapshot()
    data = {"name": "colours", "unmatched": "error", "entries_csv": "R,Red\n", **change}
    if "csv_file" in data:
        data["csv_file"] = SimpleUploadedFile("map.csv", data["csv_file"], content_type="text/csv")
    response = console.post(reverse("flows:valuemap_add"), data)
    assert response.status_code == status
    errors = response.context["form"].errors
    assert field in errors, errors
    assert fragment.lower() in str(errors[field]).lower(), errors
    assert snapshot() == before


CONFIG_FORMS = cases(
    "console forms: config import",
    [
        P({"file": b"systems: [\xff]"}, 400, "file", "not UTF-8", "upload-invalid-utf8"),
        P({"file": b"#" * 5_000_001}, 400, "file", "larger than 5 MB", "upload-over-5-mb"),
        P({"content": "{"}, 400, "", "Not valid JSON", "paste-truncated-json"),
        P({"content": nested(10_000)}, 400, "", "nested", "paste-10000-levels"),
    ],
)


@pytest.mark.parametrize("data,status,field,fragment", CONFIG_FORMS)
def test_bad_config_documents_in_the_console(console, data, status, field, fragment):
    before = snapshot()
    if "file" in data:
        data = {"file": SimpleUploadedFile("hub.yaml", data["file"], content_type="application/yaml")}
    response = console.post(reverse("flows:config"), data)
    assert response.status_code == status
    if field:
        errors = response.context["form"].errors
        assert fragment.lower() in str(errors[field]).lower(), errors
    else:
        assert fragment in response.content.decode()
    assert snapshot() == before


def test_template_text_in_names_is_shown_as_text(console, settings):
    """A value map named like a Django template is stored and shown as typed, never rendered."""
    response = console.post(
        reverse("flows:valuemap_add"),
        {"name": TEMPLATE, "unmatched": "error", "entries_csv": "a,{% debug %}\n"},
    )
    assert response.status_code == 302
    from flows.models import ValueMap

    page = console.get(ValueMap.objects.get().get_absolute_url()).content.decode()
    assert "{{ settings.SECRET_KEY }}" in page and "{% debug %}" in page
    assert settings.SECRET_KEY not in page
