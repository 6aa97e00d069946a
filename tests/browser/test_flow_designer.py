"""A business admin designs a flow in Chromium from scratch: pickers fed by the systems' schemas, a
transform chain tried inline, a value map, a live preview of sandbox records, save, edit, a diff of the
two versions and a rollback."""

import json

import pytest
from playwright.sync_api import expect

from flows.demo import ensure_demo_systems
from flows.models import Flow, ValueMap
from sandbox.testing import running
from tests.browser.support import outside_loop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, databases="__all__")]


@pytest.fixture(scope="module")
def sandbox():
    with running(["pim", "shop"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return outside_loop(lambda: {s.slug: s for s in ensure_demo_systems(urls=sandbox)})


def fill_row(page, index: int, target: str, source: str, transforms: str):
    page.fill(f"#id_m-{index}-target", target)
    page.fill(f"#id_m-{index}-source", source)
    page.fill(f"#id_m-{index}-transforms", transforms)


def test_design_preview_save_edit_diff_and_roll_back_a_flow(admin_page, systems, watch):
    page = admin_page

    # A value map, typed as CSV on its own form.
    page.goto("/value-maps/add/")
    page.fill("#id_name", "pim-status-to-shop")
    page.fill("#id_entries_csv", "true,1\nfalse,2")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("h1")).to_contain_text("pim-status-to-shop")

    page.goto("/flows/add/")
    page.fill("#id_name", "Catalog (designed)")
    # Choosing a system redraws the form with its entities and fields as pickers.
    page.select_option("#id_source_system", "pim")
    expect(page.locator('#source_entity-choices option[value="products"]')).to_have_count(1)
    page.fill("#id_source_entity", "products")
    page.locator("#id_source_entity").dispatch_event("change")
    expect(page.locator('#source-fields option[value="identifier"]')).to_have_count(1)
    page.select_option("#id_target_system", "shop")
    expect(page.locator('#target_entity-choices option[value="products"]')).to_have_count(1)
    page.fill("#id_target_entity", "products")
    page.locator("#id_target_entity").dispatch_event("change")
    expect(page.locator('#target-fields option[value="sku"]')).to_have_count(1)
    assert page.input_value("#id_name") == "Catalog (designed)"  # kept across the redraws

    page.select_option("#id_trigger", "manual")
    page.select_option("#id_match_strategy", "natural_key")
    page.fill("#id_source_key", "identifier")
    page.fill("#id_target_key", "sku")

    fill_row(page, 0, "sku", "identifier", "trim")
    page.get_by_role("button", name="Add a field").click()
    fill_row(page, 1, "name", "values.name[locale=en_US].data", "trim | upper")
    page.get_by_role("button", name="Add a field").click()
    fill_row(page, 2, "status", "enabled", "value_map(pim-status-to-shop) | to_int")

    # Try the chain of row 1 on a typed value.
    row = page.locator("#m-rows tr").nth(1)
    row.locator('input[name="try-m-1"]').fill("  red chair ")
    row.get_by_role("button", name="Try").click()
    expect(row.locator(".try-output")).to_contain_text("RED CHAIR")

    # Preview five live PIM products, mapped; nothing is written.
    page.locator("#preview-flow").click()
    items = page.locator("#preview .preview-item")
    expect(items).to_have_count(5)
    first = items.first
    mapped = json.loads(first.locator("pre").nth(1).text_content())
    source = json.loads(first.locator("pre").nth(0).text_content())
    assert mapped["sku"] == source["identifier"].strip()
    assert mapped["status"] == (1 if source["enabled"] else 2)
    assert mapped["name"] == mapped["name"].upper()
    assert outside_loop(Flow.objects.count) == 0

    page.locator("#save-flow").click()
    expect(page.locator("h1")).to_contain_text("Catalog (designed)")
    flow = outside_loop(Flow.objects.get, name="Catalog (designed)")
    assert outside_loop(lambda: flow.current_version.number) == 1

    # Edit: the name becomes lower case.
    page.goto(f"/flows/{flow.pk}/edit/")
    page.fill("#id_m-1-transforms", "trim | lower")
    page.fill("#id_comment", "names in lower case")
    page.locator("#save-flow").click()
    expect(page.locator("h1")).to_contain_text("Catalog (designed)")

    # The diff of v1 → v2 names the changed transform; restoring v1 makes v3.
    page.goto(f"/flows/{flow.pk}/versions/")
    expect(page.locator("#v2")).to_contain_text("names in lower case")
    page.select_option("#diff-a", "1")
    page.select_option("#diff-b", "2")
    page.get_by_role("button", name="Show the changes").click()
    changes = page.locator("main")
    expect(changes).to_contain_text("upper")
    expect(changes).to_contain_text("lower")
    page.locator("#v1").get_by_role("button", name="Restore").click()
    expect(page.locator("#v3")).to_be_visible()
    definition = outside_loop(lambda: Flow.objects.get(pk=flow.pk).current_version.definition)
    assert definition["mappings"][1]["transforms"] == [{"op": "trim"}, {"op": "upper"}]
    assert definition["value_maps"]["pim-status-to-shop"]["entries"] == {"true": "1", "false": "2"}
    assert outside_loop(ValueMap.objects.count) == 1
    assert watch.errors == [] and watch.blocked == []
