"""Config as code: export systems (never secrets), value maps and flows; import checks everything first,
names the line of each problem, and applies all or nothing; export → import → export is identical."""

import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import configio, designer
from flows.demo import DEMO_SYSTEMS, ensure_demo_systems
from flows.models import Flow, FlowVersion, System, ValueMap
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from tests.factories import UserFactory
from tests.flows.test_designer import catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def configured():
    ensure_demo_systems()
    ValueMap.objects.create(name="colours", entries={"R": "Red", "B": "Blue"}, unmatched="passthrough")
    designer.save_flow(catalog())
    with_map = catalog(name="Colours", enabled=False)
    with_map["mappings"] = [
        *with_map["mappings"],
        {
            "target": "attributes.color",
            "source": "values.color[locale=null].data",
            "transforms": [{"op": "value_map", "map": "colours"}],
            "personal": "",
        },
    ]
    designer.save_flow(with_map)
    designer.save_flow(catalog(name="After catalog", trigger="after_flow", after_flow="Catalog"))


def test_export_import_export_is_identical_and_changes_nothing(configured):
    for fmt in ("yaml", "json"):
        first = configio.dumps(configio.export_config(), fmt)
        versions, audits = FlowVersion.objects.count(), AuditEntry.objects.count()
        report = configio.import_config(first, fmt=fmt, apply=True)
        assert report.ok, report.errors
        assert {c.action for c in report.changes} == {"unchanged"} and len(report.changes) == len(
            DEMO_SYSTEMS
        ) + 1 + 3
        assert FlowVersion.objects.count() == versions and AuditEntry.objects.count() == audits
        assert configio.dumps(configio.export_config(), fmt) == first


def test_the_export_never_holds_a_secret(configured):
    text = configio.dumps(configio.export_config())
    for system in System.objects.all():
        for value in system.secrets.values():
            assert value not in text
    assert "secrets" not in text and "webhook_token" not in text


def test_a_fresh_hub_is_rebuilt_from_an_export(configured):
    exported = configio.dumps(configio.export_config())
    Flow.objects.all().delete()
    ValueMap.objects.all().delete()
    System.objects.all().delete()
    report = configio.import_config(exported, apply=True)
    assert report.ok, report.errors
    assert report.counts() == {"create": len(DEMO_SYSTEMS) + 4, "update": 0, "unchanged": 0}
    # Secrets do not travel: each system that needs one says so, with the line of its entry.
    needing = {w.path.split(".")[0] for w in report.warnings if ".secrets." in w.path}
    assert needing == {f"systems[{i}]" for i in range(len(DEMO_SYSTEMS))}
    assert all(w.line for w in report.warnings)
    assert configio.dumps(configio.export_config()) == exported
    assert Flow.objects.get(name="After catalog").after_flow == Flow.objects.get(name="Catalog")


def test_a_change_shows_its_diff_and_a_dry_run_keeps_nothing(configured):
    data = configio.export_config()
    data["flows"][0]["interval_minutes"] = 15
    data["value_maps"][0]["entries"]["G"] = "Green"
    data["value_maps"].append({"name": "sizes", "entries": {"S": "Small"}, "unmatched": "error"})
    text = configio.dumps(data)
    report = configio.import_config(text)
    assert report.ok and not report.applied
    changed = {(c.kind, c.name): c for c in report.changes if c.action != "unchanged"}
    assert set(changed) == {("flow", "After catalog"), ("value map", "colours"), ("value map", "sizes")}
    assert changed[("flow", "After catalog")].changes[0]["what"] == "interval_minutes"
    assert changed[("value map", "sizes")].action == "create"
    assert not ValueMap.objects.filter(name="sizes").exists()
    assert ValueMap.objects.get(name="colours").entries == {"R": "Red", "B": "Blue"}
    applied = configio.import_config(text, apply=True)
    assert applied.applied and Flow.objects.get(name="After catalog").interval_minutes == 15
    assert Flow.objects.get(name="After catalog").versions.count() == 2
    assert AuditEntry.objects.filter(action="import").count() == 1


def line_of(text: str, needle: str, after: str = "") -> int:
    start = line_of(text, after) if after else 0
    return next(i for i, line in enumerate(text.splitlines(), 1) if i > start and needle in line)


def test_a_bad_object_anywhere_names_its_line_and_nothing_is_applied(configured):
    data = configio.export_config()
    data["value_maps"].append({"name": "sizes", "entries": {"S": "Small"}, "unmatched": "error"})
    data["flows"][2]["mappings"][1]["source"] = "values.name[locale=en_US"
    data["flows"][2]["mappings"][2]["transforms"] = [{"op": "no_such_transform"}]
    data["flows"][1]["cron"] = "not a cron"
    data["flows"][1]["trigger"] = "cron"
    data["systems"][0]["timeout"] = -3
    text = configio.dumps(data)
    report = configio.import_config(text, apply=True)
    assert not report.applied
    by_path = {p.path: p for p in report.errors}
    assert set(by_path) >= {
        "flows[2].mappings[1].source",
        "flows[2].mappings[2].transforms",
        "flows[1].cron",
        "systems[0].timeout",
    }
    assert by_path["flows[1].cron"].line == line_of(text, "cron: not a cron")
    assert by_path["flows[2].mappings[1].source"].line == line_of(
        text, "source: values.name[locale=en_US", after="name: Colours"
    )
    assert not ValueMap.objects.filter(name="sizes").exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("systems:\n  - slug: a\n    name: [unclosed\n", 4, "Not valid YAML"),
        ('{"systems": [\n  {"slug": "a",}\n]}', 2, "Not valid JSON"),
        ("systems:\n  - slug: shop\n    secrets:\n      password: x\n", 3, "Secrets are never read"),
        ("flows:\n  - name: A\n    colour: red\n", 3, "Unknown key"),
        ("value_maps:\n  - name: a\n  - name: a\n", 3, "appears twice"),
        ("flowz: []\n", 1, "Unknown section"),
        ("- just\n- a list\n", None, "must hold a mapping"),
    ],
)
def test_malformed_files_get_a_line_precise_error(db, text, line, message):
    report = configio.import_config(text, apply=True)
    assert not report.applied and len(report.errors) >= 1
    assert message in report.errors[0].message and report.errors[0].line == line


def test_import_obeys_permissions(configured):
    viewer = UserFactory(roles=[VIEWER])
    data = configio.export_config()
    data["value_maps"][0]["default"] = "?"
    report = configio.import_config(configio.dumps(data), user=viewer, apply=True)
    assert not report.applied and report.errors[0].path == "value_maps[0]"
    assert "may not change" in report.errors[0].message


def test_manage_py_hub_export_and_import(configured, tmp_path):
    out = io.StringIO()
    call_command("hub", "export", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert [f["name"] for f in data["flows"]] == ["After catalog", "Catalog", "Colours"]
    data["flows"][1]["description"] = "From git"
    path = tmp_path / "hub.json"
    path.write_text(json.dumps(data))
    out = io.StringIO()
    call_command("hub", "import", str(path), "--dry-run", stdout=out)
    assert "flow Catalog: update" in out.getvalue() and Flow.objects.get(name="Catalog").description == ""
    call_command("hub", "import", str(path), stdout=io.StringIO())
    assert Flow.objects.get(name="Catalog").description == "From git"
    data["flows"][1]["cron"] = "61 * * * *"
    data["flows"][1]["trigger"] = "cron"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(CommandError, match=r"line \d+: flows\[1\]\.cron"):
        call_command("hub", "import", str(path), stdout=io.StringIO())


def test_api_export_and_import(configured):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    api = APIClient()
    api.force_authenticate(admin)
    exported = api.get(reverse("flows-api:flow-export"), {"as": "yaml"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("application/yaml")
    text = exported.content.decode()
    assert yaml.safe_load(text)["hub_config"] == 1
    dry = api.post(reverse("flows-api:flow-import"), {"content": text, "format": "yaml"}, format="json")
    assert dry.status_code == 200 and dry.json()["applied"] is False
    assert dry.json()["counts"] == {"create": 0, "update": 0, "unchanged": len(DEMO_SYSTEMS) + 4}
    bad = api.post(
        reverse("flows-api:flow-import"),
        {"content": text.replace("interval_minutes: 60", "interval_minutes: soon", 1), "apply": True},
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["errors"][0]["line"] > 1
    viewer = APIClient()
    viewer.force_authenticate(UserFactory(roles=[VIEWER]))
    refused = viewer.post(reverse("flows-api:flow-import"), {"content": text, "apply": True}, format="json")
    assert refused.status_code == 403


def test_console_import_previews_then_applies(configured):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    page = admin.get(reverse("flows:config"))
    assert page.status_code == 200 and "Export" in page.content.decode()
    download = admin.get(reverse("flows:config_export"), {"as": "json"})
    assert download["Content-Disposition"].endswith('.json"')
    data = json.loads(download.content)
    data["flows"][0]["description"] = "changed in a file"
    text = json.dumps(data)
    preview = admin.post(reverse("flows:config"), {"content": text})
    body = preview.content.decode()
    assert preview.status_code == 200 and "After catalog" in body and "changed in a file" in body
    assert Flow.objects.get(name="After catalog").description == ""
    applied = admin.post(reverse("flows:config"), {"content": text, "apply": "1"})
    assert (
        applied.status_code == 302
        and Flow.objects.get(name="After catalog").description == "changed in a file"
    )
    bad = admin.post(reverse("flows:config"), {"content": "flows:\n  - name: [\n"})
    assert bad.status_code == 400 and "line 3" in bad.content.decode().lower()
