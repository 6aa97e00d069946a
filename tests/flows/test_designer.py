"""The flow designer: definitions saved with versions, validation that names the field, diff and
rollback, live preview against the sandbox, and the same rules through the console and the API."""

import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from flows import designer
from flows.demo import ensure_demo_systems
from flows.engine.mapping import CompiledFlow
from flows.models import Flow, FlowVersion, ValueMap
from integration_hub.roles import DPO, INTEGRATION_ADMIN, VIEWER
from sandbox.testing import running
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def sandbox():
    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    created = {s.slug: s for s in ensure_demo_systems(urls=sandbox)}
    return created


def catalog(**overrides) -> dict:
    """PIM products → shop products, the classic catalog flow."""
    data = {
        "name": "Catalog",
        "source_system": "pim",
        "source_entity": "products",
        "target_system": "shop",
        "target_entity": "products",
        "trigger": "interval",
        "interval_minutes": 60,
        "criticality": "high",
        "sync_mode": "full",
        "match_strategy": "natural_key",
        "source_key": "identifier",
        "target_key": "sku",
        "write_mode": "upsert",
        "enabled": False,
        "filters": [{"path": "enabled", "op": "equals", "value": True}],
        "quality_rules": [{"kind": "range", "field": "price", "params": {"min": 0}}],
        "mappings": [
            {"target": "sku", "source": "identifier", "transforms": [], "personal": ""},
            {
                "target": "name",
                "source": "values.name[locale=en_US].data",
                "transforms": [{"op": "trim"}],
                "personal": "",
            },
            {
                "target": "price",
                "source": "values.price[locale=null].data[currency=EUR].amount",
                "transforms": [{"op": "to_decimal", "places": 2}],
                "personal": "",
            },
            {
                "target": "status",
                "source": "enabled",
                "transforms": [{"op": "map", "mapping": {"true": "1", "false": "2"}}, {"op": "to_int"}],
                "personal": "",
            },
            {
                "target": "type_id",
                "source": "",
                "transforms": [{"op": "default", "value": "simple"}],
                "personal": "",
            },
        ],
    }
    data.update(overrides)
    return data


def test_save_versions_diff_and_rollback(systems):
    admin = UserFactory(username="ada", roles=[INTEGRATION_ADMIN])
    flow = designer.save_flow(catalog(), author=admin, comment="first")
    assert flow.current_version.number == 1 and flow.mappings.count() == 5
    assert designer.save_flow(catalog(), flow=flow, author=admin) == flow
    assert flow.versions.count() == 1  # nothing changed: no new version
    changed = catalog(interval_minutes=15)
    changed["mappings"][1]["transforms"] = [{"op": "trim"}, {"op": "upper"}]
    designer.save_flow(changed, flow=flow, author=admin, comment="faster, louder")
    v1, v2 = flow.versions.order_by("number")
    changes = {c["what"]: c for c in designer.diff_definitions(v1.definition, v2.definition)}
    assert changes["interval_minutes"]["old"] == 60 and changes["interval_minutes"]["new"] == 15
    assert changes["mapping name"]["kind"] == "changed"
    designer.rollback(flow, v1, author=admin)
    flow.refresh_from_db()
    assert flow.current_version.number == 3 and flow.interval_minutes == 60
    assert designer.definition_of(flow) == v1.definition
    assert flow.current_version.comment == "Rollback to version 1"


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (
            {"mappings": [{"target": "name", "source": "values.name[locale=en_US.data", "transforms": []}]},
            "mappings.0.source",
            "expected",
        ),
        (
            {"mappings": [{"target": "name", "source": "identifier", "transforms": [{"op": "frobnicate"}]}]},
            "mappings.0.transforms",
            "frobnicate",
        ),
        (
            {
                "mappings": [
                    {
                        "target": "price",
                        "source": "identifier",
                        "transforms": [{"op": "to_decimal", "places": "two"}],
                    }
                ]
            },
            "mappings.0.transforms",
            "places",
        ),
        (
            {"mappings": [{"target": "colour_of_the_sky", "source": "identifier", "transforms": []}]},
            "mappings.0.target",
            "has no field",
        ),
        ({"trigger": "cron", "cron": "every tuesday"}, "cron", "not a valid cron"),
        ({"source_entity": "planets"}, "source_entity", "no entity"),
        ({"match_strategy": "natural_key", "source_key": ""}, "source_key", "natural key"),
        (
            {"quality_rules": [{"kind": "range", "field": "price", "params": {"min": 5, "max": 1}}]},
            "quality_rules",
            "max",
        ),
        ({"filters": [{"path": "family", "op": "sounds_like", "value": "x"}]}, "filters", "op"),
    ],
)
def test_bad_definitions_name_the_field_and_save_nothing(systems, change, key, message):
    with pytest.raises(designer.DefinitionError) as caught:
        designer.save_flow(catalog(**change))
    assert key in caught.value.errors, caught.value.errors
    assert message in caught.value.errors[key]
    assert not Flow.objects.exists() and not FlowVersion.objects.exists()


def test_preview_maps_live_records_and_compares_with_the_target(systems, sandbox):
    items = designer.preview(catalog(), limit=3)
    assert len(items) == 3
    first = items[0]
    assert first.mapped["sku"] == first.source["identifier"]
    assert str(first.mapped["price"]).count(".") == 1 and first.mapped["type_id"] == "simple"
    assert first.current is None and all(c["changed"] for c in first.changes)  # the shop has no product yet
    # Put one product in the shop: the preview shows what it holds and what would change.
    shop = systems["shop"].get_connector()
    shop.write(
        "products",
        [
            {
                "sku": first.mapped["sku"],
                "name": "Old name",
                "price": 1,
                "attribute_set_id": 4,
                "type_id": "simple",
                "status": 1,
                "visibility": 4,
            }
        ],
    )
    shop.close()
    again = designer.preview(catalog(), limit=3)[0]
    name = next(c for c in again.changes if c["target"] == "name")
    sku = next(c for c in again.changes if c["target"] == "sku")
    assert again.current is not None and name["old"] == "Old name" and name["changed"] and not sku["changed"]


def test_compiled_flow_filters_value_maps_and_rules():
    definition = {
        "filters": [
            {"path": "active", "op": "equals", "value": True},
            {"path": "stock", "op": "gt", "value": 0},
        ],
        "mappings": [
            {"target": "colour", "source": "colour", "transforms": [{"op": "value_map", "map": "colours"}]},
            {"target": "price", "source": "price", "transforms": [{"op": "to_decimal", "places": 2}]},
        ],
        "quality_rules": [{"kind": "range", "field": "price", "params": {"min": 0}}],
        "value_maps": {"colours": {"entries": {"R": "Red"}, "unmatched": "error", "default": ""}},
    }
    compiled = CompiledFlow(definition)
    assert compiled.map({"active": False, "stock": 5}).filtered_out
    assert "stock" in compiled.map({"active": True, "stock": 0}).filtered_out
    ok = compiled.map({"active": True, "stock": 2, "colour": "R", "price": "9.5"})
    assert ok.ok and ok.record == {"colour": "Red", "price": __import__("decimal").Decimal("9.50")}
    unknown = compiled.map({"active": True, "stock": 2, "colour": "Z", "price": "1"})
    assert [e.target for e in unknown.errors] == ["colour"] and "not in the value map" in unknown.errors[
        0
    ].message
    negative = compiled.map({"active": True, "stock": 2, "colour": "R", "price": "-3"})
    assert [f.field for f in negative.rule_failures] == ["price"]


# --- the console -------------------------------------------------------------------------------------


def form_post(data: dict) -> dict:
    """The designer form's POST for a definition."""
    post = {k: v for k, v in data.items() if k not in ("mappings", "filters", "quality_rules", "tags")}
    post = {k: ("on" if v is True else "" if v is False else v) for k, v in post.items() if v is not None}
    from flows.engine.chain_text import format_arguments, format_chain

    rows = {"m": data.get("mappings", []), "f": data.get("filters", []), "r": data.get("quality_rules", [])}
    for prefix, items in rows.items():
        post[f"{prefix}-TOTAL_FORMS"] = str(len(items) + 1)
        post[f"{prefix}-INITIAL_FORMS"] = "0"
        for i, item in enumerate(items):
            if prefix == "m":
                post.update(
                    {
                        f"m-{i}-target": item["target"],
                        f"m-{i}-source": item.get("source", ""),
                        f"m-{i}-transforms": format_chain(item.get("transforms", [])),
                        f"m-{i}-personal": item.get("personal", ""),
                    }
                )
            elif prefix == "f":
                post.update(
                    {
                        f"f-{i}-path": item["path"],
                        f"f-{i}-op": item["op"],
                        f"f-{i}-value": json.dumps(item.get("value"))
                        if not isinstance(item.get("value"), str)
                        else item["value"],
                    }
                )
            else:
                post.update(
                    {
                        f"r-{i}-kind": item["kind"],
                        f"r-{i}-field": item["field"],
                        f"r-{i}-params": format_arguments(item.get("params", {})),
                    }
                )
    return post


def test_designer_page_offers_pickers_and_saves_a_version(systems):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    page = admin.get(
        reverse("flows:flow_add"),
        {
            "source_system": "pim",
            "source_entity": "products",
            "target_system": "shop",
            "target_entity": "products",
        },
    )
    html = page.content.decode()
    assert (
        '<option value="values.name">' in html or 'value="values"' in html
    )  # source fields from the connector
    assert '<option value="sku">' in html and '<option value="products">' in html
    response = admin.post(reverse("flows:flow_add"), {**form_post(catalog()), "comment": "made in the form"})
    assert response.status_code == 302, response.context and [
        f.errors for f in response.context["mappings"].forms
    ]
    flow = Flow.objects.get()
    assert flow.current_version.comment == "made in the form"
    assert flow.mappings.get(target="status").transforms == [
        {"op": "map", "mapping": {"true": "1", "false": "2"}},
        {"op": "to_int"},
    ]
    assert flow.filters == [{"path": "enabled", "op": "equals", "value": True}]


def test_designer_form_errors_land_on_the_row(systems):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    bad = catalog()
    bad["mappings"][2] = {
        "target": "price",
        "source": "identifier",
        "transforms": [{"op": "to_decimal", "places": "many"}],
    }
    response = admin.post(reverse("flows:flow_add"), form_post(bad))
    assert response.status_code == 400
    row = response.context["mappings"].forms[2]
    assert "places" in str(row.errors["transforms"])
    syntax = admin.post(reverse("flows:flow_add"), {**form_post(catalog()), "m-1-transforms": "trim |"})
    assert syntax.status_code == 400 and "expected a transform name" in str(
        syntax.context["mappings"].forms[1].errors
    )
    assert not Flow.objects.exists()


def test_try_a_transform_inline(systems):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    url = reverse("flows:flow_try_transform")
    ok = admin.post(
        url, {"row": "m-0", "m-0-transforms": "trim | upper", "try-m-0": "  chair "}
    ).content.decode()
    assert "CHAIR" in ok
    bad = admin.post(url, {"row": "m-0", "m-0-transforms": "to_int", "try-m-0": "12,5"}).content.decode()
    assert "not a whole number" in bad


def test_versions_page_diffs_and_restores(systems):
    admin_user = UserFactory(roles=[INTEGRATION_ADMIN])
    flow = designer.save_flow(catalog(), author=admin_user)
    designer.save_flow(catalog(interval_minutes=5), flow=flow, author=admin_user)
    admin = Client()
    admin.force_login(admin_user)
    page = admin.get(reverse("flows:flow_versions", args=[flow.pk]), {"a": 1, "b": 2}).content.decode()
    assert "interval_minutes" in page and "diff-old" in page
    assert admin.post(reverse("flows:flow_versions", args=[flow.pk]), {"version": 1}).status_code == 302
    flow.refresh_from_db()
    assert flow.interval_minutes == 60 and flow.current_version.number == 3
    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(reverse("flows:flow_versions", args=[flow.pk])).status_code == 200
    assert viewer.post(reverse("flows:flow_versions", args=[flow.pk]), {"version": 2}).status_code == 403


def test_preview_masks_personal_data_for_those_who_may_not_see_it(sandbox):
    with running("shop") as shop_url:
        ensure_demo_systems(urls={"pim": sandbox["pim"], "shop": shop_url})
        customers = {
            "name": "Customers to CRM",
            "source_system": "shop",
            "source_entity": "customers",
            "target_system": "shop",
            "target_entity": "customers",
            "trigger": "manual",
            "criticality": "normal",
            "sync_mode": "full",
            "match_strategy": "links",
            "write_mode": "upsert",
            "mappings": [
                {"target": "email", "source": "email", "transforms": [{"op": "lower"}], "personal": "email"},
                {"target": "firstname", "source": "firstname", "transforms": [], "personal": "name"},
            ],
        }
        flow = designer.save_flow(customers)
        admin = Client()
        admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
        masked = admin.post(reverse("flows:flow_preview", args=[flow.pk])).content.decode()
        dpo = Client()
        dpo.force_login(UserFactory(roles=[DPO, INTEGRATION_ADMIN]))
        clear = dpo.post(reverse("flows:flow_preview", args=[flow.pk])).content.decode()
    assert "Personal data is masked" in masked and "***@" in masked
    assert "Personal data is masked" not in clear and "***@" not in clear and "@example" in clear


def test_value_maps_in_the_console_with_csv(systems):
    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    response = admin.post(
        reverse("flows:valuemap_add"),
        {"name": "colours", "unmatched": "error", "entries_csv": "source,target\nR,Red\nB,Blue\n"},
    )
    assert response.status_code == 302
    assert ValueMap.objects.get().entries == {"R": "Red", "B": "Blue"}
    bad = admin.post(
        reverse("flows:valuemap_add"),
        {"name": "sizes", "unmatched": "error", "entries_csv": 'S,Small\nM,"Medium\n'},
    )
    assert bad.status_code == 400 and "Line" in str(bad.context["form"].errors["entries_csv"])
    export = admin.get(reverse("flows:valuemap_export", args=[ValueMap.objects.get().pk])).content.decode()
    assert export.splitlines() == ["source,target", "B,Blue", "R,Red"]


# --- the API -----------------------------------------------------------------------------------------


def test_api_uses_the_same_validation_and_versions(systems):
    api = APIClient()
    api.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    created = api.post(reverse("flows-api:flow-list"), catalog(), format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert created.json()["version"] == 1 and created.json()["definition"]["mappings"][0]["target"] == "sku"
    bad = api.patch(
        reverse("flows-api:flow-detail", args=[pk]), {"cron": "nope", "trigger": "cron"}, format="json"
    )
    assert bad.status_code == 400 and "cron" in bad.json()
    patched = api.patch(
        reverse("flows-api:flow-detail", args=[pk]), {"interval_minutes": 30, "comment": "api"}, format="json"
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    versions = api.get(reverse("flows-api:flow-versions", args=[pk])).json()
    assert [v["number"] for v in versions] == [2, 1] and versions[0]["comment"] == "api"
    rolled = api.post(reverse("flows-api:flow-rollback", args=[pk]), {"version": 1}, format="json")
    assert rolled.status_code == 200 and rolled.json()["version"] == 3
    preview = api.post(reverse("flows-api:flow-preview", args=[pk]))
    assert preview.status_code == 200 and len(preview.json()["items"]) == 5
    clone = api.post(reverse("flows-api:flow-clone", args=[pk]))
    assert (
        clone.status_code == 201
        and clone.json()["name"] == "Catalog (copy)"
        and clone.json()["enabled"] is False
    )


def test_preview_compares_values_by_type():
    assert designer.same_value(12.3, Decimal("12.30"))
    assert not designer.same_value(True, 1) and not designer.same_value(0, False)
    assert designer.same_value({"a": [1.0, {"b": True}]}, {"a": [Decimal("1"), {"b": True}]})
    assert not designer.same_value({"a": [1, 2]}, {"a": [1]})
