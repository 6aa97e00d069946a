"""Flow tests: pinned samples with what the flow must make of them. They name the field that changed,
block enabling a flow that fails them unless a reason is given (audited), and are managed on the
flow's Tests tab and through the API, each change a new version."""

import json

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import designer, flowtests
from flows.demo import ensure_demo_systems
from flows.models import Flow
from integration_hub.models import AuditEntry
from integration_hub.roles import INTEGRATION_ADMIN, VIEWER
from sandbox.testing import running
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SOURCE = {"sku": " A-1 ", "price": "12.5", "email": "Ann@Example.com", "state": "active"}


@pytest.fixture(scope="module")
def sandbox():
    with running(["erp", "crm"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def definition(**overrides) -> dict:
    """ERP partners → CRM contacts, with a filter, a rule and a personal field."""
    data = {
        "name": "Contacts",
        "source_system": "erp",
        "source_entity": "partners",
        "target_system": "crm",
        "target_entity": "contacts",
        "trigger": "manual",
        "criticality": "normal",
        "sync_mode": "full",
        "match_strategy": "natural_key",
        "source_key": "email",
        "target_key": "properties.email",
        "write_mode": "upsert",
        "enabled": False,
        "filters": [{"path": "state", "op": "not_equals", "value": "archived"}],
        "quality_rules": [{"kind": "required", "field": "properties.firstname"}],
        "mappings": [
            {
                "target": "properties.firstname",
                "source": "sku",
                "transforms": [{"op": "trim"}],
                "personal": "",
            },
            {
                "target": "properties.zip",
                "source": "price",
                "transforms": [{"op": "to_decimal", "places": 2}],
                "personal": "",
            },
            {
                "target": "properties.email",
                "source": "email",
                "transforms": [{"op": "lower"}],
                "personal": "email",
            },
        ],
        "tests": [],
    }
    data.update(overrides)
    return data


def sent_test(name="A-1 sent"):
    return {
        "name": name,
        "source": SOURCE,
        "expect": "send",
        "record": {
            "properties": {"firstname": "A-1", "zip": "12.50", "email": "ann@example.com"},
        },
    }


def test_a_test_passes_then_names_the_field_a_mapping_change_alters():
    data = definition(tests=[sent_test()])
    (outcome,) = flowtests.run_tests(data)
    assert outcome.passed, outcome
    data["mappings"][1]["transforms"] = [{"op": "to_decimal", "places": 1}]
    (outcome,) = flowtests.run_tests(data)
    assert not outcome.passed
    assert outcome.differences == [{"field": "properties.zip", "expected": "12.50", "actual": "12.5"}]


def test_reject_and_skip_are_checked_too():
    tests = [
        {"name": "no sku", "source": {**SOURCE, "sku": ""}, "expect": "reject"},
        {"name": "archived", "source": {**SOURCE, "state": "archived"}, "expect": "skip"},
        {"name": "wrongly skipped", "source": SOURCE, "expect": "skip"},
    ]
    outcomes = {o.name: o for o in flowtests.run_tests(definition(tests=tests))}
    assert outcomes["no sku"].passed and "properties.firstname" in outcomes["no sku"].message
    assert outcomes["archived"].passed
    assert not outcomes["wrongly skipped"].passed and outcomes["wrongly skipped"].got == "send"


def test_bad_tests_are_refused_by_field():
    bad = [
        {"name": "x", "source": {}, "expect": "send"},
        {"name": "x", "source": [], "expect": "maybe"},
        {"name": "y", "source": {}, "expect": "send", "record": {}, "script": "rm"},
    ]
    errors = flowtests.validate_tests(bad)
    assert set(errors) == {"tests.0.record", "tests.1.name", "tests.1.source", "tests.1.expect", "tests.2"}


def test_enabling_with_a_failing_test_needs_a_reason_which_is_audited(systems):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    failing = {**sent_test("stale"), "record": {"properties": {"firstname": "OLD"}}}
    flow = designer.save_flow(definition(tests=[failing]), author=admin)
    with pytest.raises(designer.DefinitionError) as refused:
        designer.save_flow({**designer.definition_of(flow), "enabled": True}, flow=flow, author=admin)
    assert "stale" in refused.value.errors["enabled"]
    flow.refresh_from_db()
    assert not flow.enabled and flow.current_version.number == 1

    designer.save_flow(
        {**designer.definition_of(flow), "enabled": True},
        flow=flow,
        author=admin,
        override="hotfix, ticket 42",
    )
    flow.refresh_from_db()
    assert flow.enabled
    assert "hotfix, ticket 42" in flow.current_version.comment
    entry = AuditEntry.objects.filter(object_id=str(flow.pk), message__contains="ticket 42").get()
    assert entry.user == admin


def test_the_tests_tab_adds_pins_accepts_and_deletes_each_as_a_version(systems):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    flow = designer.save_flow(definition(), author=admin)
    client = Client()
    client.force_login(admin)
    url = reverse("flows:flow_tests", args=[flow.pk])
    assert "No test yet" in client.get(url).content.decode()

    # Typed by hand, expecting what the flow does now.
    response = client.post(
        url, {"action": "add", "name": "typed", "source": json.dumps(SOURCE), "expect": "current"}
    )
    assert response.status_code == 302
    flow.refresh_from_db()
    assert flow.tests[0]["record"]["properties"]["email"] == "ann@example.com"  # typed: not masked

    # A bad form says which field and keeps the flow as it was.
    bad = client.post(url, {"action": "add", "name": "typed", "source": "{nope", "expect": "send"})
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert set(errors) == {"name", "source", "record"}

    # Pinned from a preview: the personal source field is masked before it is stored.
    client.post(url, {"action": "pin", "source": json.dumps(SOURCE)})
    flow.refresh_from_db()
    pinned = flow.tests[1]
    assert pinned["name"] == "Sample" and pinned["expect"] == "send"
    assert pinned["source"]["email"] != SOURCE["email"] and pinned["source"]["sku"] == SOURCE["sku"]

    # The mapping changes: the page shows the failing field; accepting pins the new output.
    data = designer.definition_of(flow)
    data["mappings"][0]["transforms"] = [{"op": "trim"}, {"op": "lower"}]
    designer.save_flow(data, flow=flow, author=admin)
    page = client.get(url).content.decode()
    assert "2 failing" in page and "properties.firstname" in page
    client.post(url, {"action": "accept", "name": "typed"})
    flow.refresh_from_db()
    assert flow.tests[0]["record"]["properties"]["firstname"] == "a-1"
    client.post(url, {"action": "delete", "name": "Sample"})
    flow.refresh_from_db()
    assert [t["name"] for t in flow.tests] == ["typed"]
    comments = list(flow.versions.values_list("comment", flat=True))
    assert any("typed" in c and "added" in c for c in comments)
    assert any("Sample" in c and "deleted" in c for c in comments)
    assert flow.current_version.definition["tests"] == flow.tests


def test_viewers_see_the_tests_but_cannot_change_them(systems):
    flow = designer.save_flow(definition(tests=[sent_test()]))
    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    url = reverse("flows:flow_tests", args=[flow.pk])
    page = viewer.get(url)
    assert page.status_code == 200 and "A-1 sent" in page.content.decode()
    assert "add-test" not in page.content.decode()
    assert viewer.post(url, {"action": "delete", "name": "A-1 sent"}).status_code == 403
    flow.refresh_from_db()
    assert len(flow.tests) == 1


def test_console_toggle_and_api_take_an_override_reason(systems):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    failing = {**sent_test("stale"), "record": {"properties": {"firstname": "OLD"}}}
    flow = designer.save_flow(definition(tests=[failing]), author=admin)
    client = Client()
    client.force_login(admin)
    page = client.get(flow.get_absolute_url()).content.decode()
    assert 'id="failing-tests"' in page and 'id="enable-override"' in page
    toggle = reverse("flows:flow_toggle", args=[flow.pk])
    client.post(toggle)
    flow.refresh_from_db()
    assert not flow.enabled
    client.post(toggle, {"override": "known difference"})
    flow.refresh_from_db()
    assert flow.enabled

    api = APIClient()
    api.force_login(admin)
    other = designer.save_flow(definition(name="Other", tests=[failing]), author=admin)
    detail = reverse("flows-api:flow-detail", args=[other.pk])
    refused = api.patch(detail, {"enabled": True}, format="json")
    assert refused.status_code == 400 and "enabled" in refused.json()
    assert api.patch(detail, {"enabled": True, "override": "agreed"}, format="json").status_code == 200
    report = api.get(reverse("flows-api:flow-tests", args=[other.pk])).json()
    assert report["passed"] is False
    differences = {d["field"]: (d["expected"], d["actual"]) for d in report["tests"][0]["differences"]}
    assert differences == {
        "properties.firstname": ("OLD", "A-1"),
        "properties.zip": (None, "12.50"),
        "properties.email": (None, "ann@example.com"),
    }


def test_tests_travel_with_the_exported_config(systems):
    from flows import configio

    designer.save_flow(definition(tests=[sent_test()]))
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    exported = configio.export_config(admin)
    (flow,) = [f for f in exported["flows"] if f["name"] == "Contacts"]
    assert flow["tests"] == [sent_test()]
    assert Flow.objects.get(name="Contacts").tests == [sent_test()]
