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
from tests.factories import UserFactory, approved_activity_for

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
            "properties": {"firstname": "A-1", "zip": 12.5, "email": "ann@example.com"},
        },
    }


def test_a_test_passes_then_names_the_field_a_mapping_change_alters():
    data = definition(tests=[sent_test()])
    (outcome,) = flowtests.run_tests(data)
    assert outcome.passed, outcome
    # What is sent is compared, decimals as JSON numbers: 12.50 and 12.5 are the same on the wire…
    data["mappings"][1]["transforms"] = [{"op": "to_decimal", "places": 1}]
    assert flowtests.run_tests(data)[0].passed
    # …but a number sent as text is a change, and so is a changed name.
    data["mappings"][1]["transforms"] = []
    data["mappings"][0]["transforms"] = [{"op": "trim"}, {"op": "lower"}]
    (outcome,) = flowtests.run_tests(data)
    assert not outcome.passed
    assert outcome.differences == [
        {"field": "properties.firstname", "expected": "A-1", "actual": "a-1"},
        {"field": "properties.zip", "expected": 12.5, "actual": "12.5"},
    ]


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
    approved_activity_for(flow)  # it maps an e-mail: the GDPR register must cover it
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
    # Personal values become same-shape placeholders, in the source and in what is expected.
    assert flow.tests[0]["source"]["email"] == "Xxx@Xxxxxxx.xxx"
    assert flow.tests[0]["record"]["properties"]["email"] == "xxx@xxxxxxx.xxx"
    assert flow.tests[0]["source"]["sku"] == SOURCE["sku"]

    # A bad form says which field and keeps the flow as it was.
    bad = client.post(url, {"action": "add", "name": "typed", "source": "{nope", "expect": "send"})
    assert bad.status_code == 400
    errors = bad.context["form"].errors
    assert set(errors) == {"name", "source", "record"}

    # Pinned from a preview: the same, before it is stored.
    client.post(url, {"action": "pin", "source": json.dumps(SOURCE)})
    flow.refresh_from_db()
    pinned = flow.tests[1]
    assert pinned["name"] == "Sample" and pinned["expect"] == "send"
    assert pinned["source"] == {**SOURCE, "email": "Xxx@Xxxxxxx.xxx"}

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
    approved_activity_for(flow)
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
    approved_activity_for(other)
    detail = reverse("flows-api:flow-detail", args=[other.pk])
    refused = api.patch(detail, {"enabled": True}, format="json")
    assert refused.status_code == 400 and "enabled" in refused.json()
    assert api.patch(detail, {"enabled": True, "override": "agreed"}, format="json").status_code == 200
    report = api.get(reverse("flows-api:flow-tests", args=[other.pk])).json()
    assert report["passed"] is False
    differences = {d["field"]: (d["expected"], d["actual"]) for d in report["tests"][0]["differences"]}
    assert differences == {
        "properties.firstname": ("OLD", "A-1"),
        "properties.zip": (None, 12.5),
        "properties.email": (None, "xxx@xxxxxxx.xxx"),  # stored anonymised
    }


def test_tests_travel_with_the_exported_config(systems):
    from flows import configio

    designer.save_flow(definition(tests=[sent_test()]))
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    exported = configio.export_config(admin)
    (flow,) = [f for f in exported["flows"] if f["name"] == "Contacts"]
    assert flow["tests"] == Flow.objects.get(name="Contacts").tests
    assert flow["tests"][0]["source"]["email"] == "Xxx@Xxxxxxx.xxx"
    assert flow["tests"][0]["record"]["properties"]["firstname"] == "A-1"


def test_personal_values_under_selectors_are_replaced_everywhere_they_appear():
    data = definition()
    data["mappings"].append(
        {
            "target": "properties.lastname",
            "source": "attributes[code=nickname].value",
            "transforms": [],
            "personal": "name",
        }
    )
    source = {
        **SOURCE,
        "attributes": [{"code": "nickname", "value": "Bobby Tables"}, {"code": "colour", "value": "red"}],
        "note": "call Bobby Tables",
        "contact": {"mail": "Ann@Example.com"},
    }
    test = flowtests.pin(data, source, name="t")
    assert test["source"]["attributes"] == [
        {"code": "nickname", "value": "Xxxxx Xxxxxx"},
        {"code": "colour", "value": "red"},
    ]
    assert test["source"]["contact"] == {"mail": "Xxx@Xxxxxxx.xxx"}
    assert "Bobby" not in json.dumps(test) and "Ann@" not in json.dumps(test)
    assert test["expect"] == "send" and test["record"]["properties"]["lastname"] == "Xxxxx Xxxxxx"


def test_a_sample_whose_placeholders_would_change_the_outcome_is_not_pinned():
    data = definition(filters=[{"path": "email", "op": "contains", "value": "Ann"}])
    with pytest.raises(flowtests.MaskingChangesOutcome):
        flowtests.pin(data, SOURCE, name="t")


def test_pausing_is_never_refused_and_failing_tests_can_be_fixed_one_at_a_time(systems):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    stale = [
        {**sent_test("a"), "record": {"properties": {"firstname": "OLD"}}},
        {**sent_test("b"), "record": {"properties": {"firstname": "OLD"}}},
    ]
    flow = designer.save_flow(definition(tests=stale), author=admin)
    approved_activity_for(flow)
    flow = designer.save_flow(
        definition(tests=stale, enabled=True), flow=flow, author=admin, override="known"
    )
    client = Client()
    client.force_login(admin)
    url = reverse("flows:flow_tests", args=[flow.pk])
    client.post(url, {"action": "accept", "name": "a"})
    client.post(url, {"action": "delete", "name": "b"})
    flow.refresh_from_db()
    assert [t["name"] for t in flow.tests] == ["a"] and flowtests.run_tests(designer.definition_of(flow))[
        0
    ].passed
    # A test that newly fails still needs a reason.
    data = designer.definition_of(flow)
    data["mappings"][0]["transforms"] = [{"op": "lower"}]
    with pytest.raises(designer.DefinitionError):
        designer.save_flow(data, flow=flow, author=admin)

    # The flow's source system is gone from the hub's list of flows it follows: pausing still works.
    Flow.objects.filter(pk=flow.pk).update(source_entity="no-such-entity")
    client.post(reverse("flows:flow_toggle", args=[flow.pk]))
    flow.refresh_from_db()
    assert not flow.enabled
    assert flow.current_version.definition["enabled"] is False


def test_tests_sent_through_the_api_are_anonymised_too(systems):
    admin = UserFactory(roles=[INTEGRATION_ADMIN])
    api = APIClient()
    api.force_login(admin)
    created = api.post(reverse("flows-api:flow-list"), definition(tests=[sent_test()]), format="json")
    assert created.status_code == 201, created.json()
    flow = Flow.objects.get(pk=created.json()["id"])
    assert "Ann@Example.com" not in json.dumps(flow.tests)
    assert "ann@example.com" not in json.dumps(flow.current_version.definition)
    assert flowtests.run_tests(designer.definition_of(flow))[0].passed
