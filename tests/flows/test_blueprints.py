"""One-click templates for the classic flows: each validates, maps live sandbox records without a
mapping error or a rule failure, and is created as a disabled flow at version 1."""

import re
from decimal import Decimal

import pytest

from flows import blueprints, designer
from flows.demo import ensure_demo_systems
from flows.engine.paths import parse_path
from flows.models import Flow, ValueMap
from sandbox.testing import running
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

KEYS = [b["key"] for b in blueprints.BLUEPRINTS]

# The target fields each template promises to fill on every record it sends.
PROMISED = {
    "catalog": [
        "sku",
        "name",
        "price",
        "status",
        "type_id",
        "visibility",
        "attribute_set_id",
        "weight",
    ],
    "stock": ["sku", "source_code", "quantity", "status"],
    "orders": ["client_order_ref", "partner_email", "date_order", "amount_total"],
    "customers": [
        "properties.email",
        "properties.firstname",
        "properties.lastname",
        "properties.phone",
        "properties.address",
        "properties.city",
        "properties.zip",
        "properties.country",
    ],
    "consent": ["email", "extension_attributes.is_subscribed"],
}


@pytest.fixture(scope="module")
def sandbox():
    with running(["pim", "shop", "erp", "crm"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def get(record, path):
    return parse_path(path).get(record)


def sent(items):
    """The previewed records the flow would send (not filtered out)."""
    return [item for item in items if not item.filtered_out]


def test_the_templates_are_the_five_classic_flows():
    assert KEYS == ["catalog", "stock", "orders", "customers", "consent"]
    for blueprint in blueprints.BLUEPRINTS:
        assert str(blueprint["title"]) and str(blueprint["summary"]).endswith(".")
        definition = blueprints.definition_for(blueprint["key"])
        assert definition["enabled"] is False and definition["name"] == str(blueprint["title"])
        assert set(PROMISED[blueprint["key"]]) <= {m["target"] for m in definition["mappings"]}
        if any(m["personal"] for m in definition["mappings"]):
            assert definition["purpose"], blueprint["key"]
    assert "webhook" in str(blueprints.ORDERS["summary"])


@pytest.mark.parametrize("key", KEYS)
def test_each_template_validates_and_maps_live_records(systems, key):
    definition = blueprints.definition_for(key)
    validation = designer.validate_definition(definition)
    assert validation.errors == {}
    items = designer.preview(definition, limit=5)
    assert len(items) == 5
    for item in items:
        assert item.filtered_out or item.errors == [], (item.source, item.errors)
    if key == "consent":  # only opt-outs are sent: look further for some
        items = designer.preview(definition, limit=60)
    mapped = sent(items)
    assert mapped, key
    for item in mapped:
        assert item.errors == [], (item.source, item.errors)
        for target in PROMISED[key]:
            assert get(item.mapped, target) is not None, (target, item.source)


def test_catalog_maps_the_pim_product(systems):
    items = sent(designer.preview(blueprints.definition_for("catalog"), limit=5))
    for item in items:
        source, mapped = item.source, item.mapped
        assert mapped["sku"] == source["identifier"]
        assert mapped["name"] == get(source, "values.name[locale=fr_FR].data")
        assert mapped["price"] == Decimal(get(source, "values.price[0].data[currency=EUR].amount"))
        assert mapped["weight"] == Decimal(get(source, "values.weight[0].data.amount")).quantize(
            Decimal("0.001")
        )
        assert (mapped["status"], mapped["type_id"], mapped["visibility"], mapped["attribute_set_id"]) == (
            1,
            "simple",
            4,
            4,
        )


def test_stock_maps_the_erp_quant_to_its_shop_source(systems):
    items = sent(designer.preview(blueprints.definition_for("stock"), limit=5))
    assert len(items) == 5
    sources = blueprints.LOCATION_MAP_DEFINITION["entries"]
    for item in items:
        source, mapped = item.source, item.mapped
        assert mapped["sku"] == source["sku"] and mapped["quantity"] == source["quantity"]
        assert mapped["source_code"] == sources[source["location"]]
        assert mapped["status"] == (1 if source["quantity"] > 0 else 0)


def test_stock_status_follows_the_quantity():
    from flows.engine.transforms import TransformContext, apply_chain, clean_chain

    chain = clean_chain(blueprints.STOCK["definition"]["mappings"][3]["transforms"])
    cases = {0.0: 0, "0": 0, "0.000": 0, None: 0, -3.0: 0, 0.25: 1, 1.0: 1, 10: 1, 250.0: 1, "90": 1}
    assert {q: apply_chain(q, chain, TransformContext()) for q in cases} == cases


def test_orders_and_customers_agree_with_what_the_targets_hold(systems):
    """The seeded ERP holds the shop's orders, the CRM most of its customers: their values match."""
    orders = sent(designer.preview(blueprints.definition_for("orders"), limit=5))
    for item in orders:
        assert item.mapped["client_order_ref"] == item.source["increment_id"]
        assert item.mapped["partner_email"] == item.source["customer_email"].lower()
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item.mapped["date_order"])
        assert item.current is not None
        unchanged = {c["target"] for c in item.changes if not c["changed"]}
        assert {"client_order_ref", "partner_email", "date_order", "amount_total"} <= unchanged
    customers = designer.preview(blueprints.definition_for("customers"), limit=5)
    known = [item for item in customers if item.current is not None]
    assert known
    for item in known:
        changed = [c["target"] for c in item.changes if c["changed"]]
        assert changed == [], (item.mapped, item.current)


def test_consent_sends_only_opt_outs_as_unsubscriptions(systems):
    items = designer.preview(blueprints.definition_for("consent"), limit=60)
    for item in items:
        optout = item.source["properties"].get("hs_email_optout")
        assert bool(item.filtered_out) is (optout != "true")
        if not item.filtered_out:
            assert item.mapped == {
                "email": item.source["properties"]["email"].lower(),
                "extension_attributes": {"is_subscribed": False},
            }
            assert item.current is not None  # every CRM contact has a shop account


def test_create_from_blueprint_twice_and_demo_flows_once(systems):
    from integration_hub.roles import INTEGRATION_ADMIN

    admin = UserFactory(username="ada", roles=[INTEGRATION_ADMIN])
    first = blueprints.create_from_blueprint("stock", author=admin)
    second = blueprints.create_from_blueprint("stock", author=admin)
    assert (first.name, second.name) == ("Stock: ERP → shop", "Stock: ERP → shop 2")
    for flow in (first, second):
        assert flow.current_version.number == 1 and flow.versions.count() == 1
        assert flow.enabled is False and flow.owner == admin
        assert flow.current_version.comment == "From the template “Stock: ERP → shop”"
    assert ValueMap.objects.get(name=blueprints.LOCATION_MAP).entries == {
        "LIL/Stock": "lille",
        "LYO/Stock": "lyon",
        "PAR/Stock": "paris",
    }
    version = first.current_version.definition
    assert blueprints.LOCATION_MAP in version["value_maps"] and "value_maps" not in {
        k for k, v in version.items() if v is None
    }
    named = blueprints.create_from_blueprint("catalog", name="My catalog")
    assert named.name == "My catalog" and named.mappings.count() == 8

    created = blueprints.ensure_demo_flows(owner=admin)
    assert [f.name for f in created] == [
        "Catalog: PIM → shop",
        "Orders: shop → ERP",
        "Customers: shop → CRM",
        "Marketing consent: CRM → shop",
    ]
    assert blueprints.ensure_demo_flows(owner=admin) == []
    assert Flow.objects.count() == 7
    assert all(b["ready"] and b["missing"] == [] for b in blueprints.available_blueprints())


def test_missing_systems_are_named_and_nothing_is_saved(sandbox):
    ensure_demo_systems(urls={"shop": sandbox["shop"], "crm": sandbox["crm"]})
    from flows.models import System

    System.objects.filter(slug__in=["pim", "erp"]).delete()
    ready = {b["key"]: (b["ready"], b["missing"]) for b in blueprints.available_blueprints()}
    assert ready == {
        "catalog": (False, ["pim"]),
        "stock": (False, ["erp"]),
        "orders": (False, ["erp"]),
        "customers": (True, []),
        "consent": (True, []),
    }
    with pytest.raises(designer.DefinitionError) as caught:
        blueprints.create_from_blueprint("stock")
    assert "source_system" in caught.value.errors and "erp" in caught.value.errors["source_system"]
    with pytest.raises(designer.DefinitionError) as caught:
        blueprints.create_from_blueprint("orders")
    assert "target_system" in caught.value.errors
    assert not Flow.objects.exists() and not ValueMap.objects.exists()
    assert [f.name for f in blueprints.ensure_demo_flows()] == [
        "Customers: shop → CRM",
        "Marketing consent: CRM → shop",
    ]
    with pytest.raises(designer.DefinitionError) as caught:
        blueprints.create_from_blueprint("planets")
    assert "blueprint" in caught.value.errors


def test_the_templates_page_creates_a_paused_flow_for_admins_only(systems):
    from django.test import Client
    from django.urls import reverse

    from integration_hub.roles import INTEGRATION_ADMIN, VIEWER

    admin = Client()
    admin.force_login(UserFactory(roles=[INTEGRATION_ADMIN]))
    url = reverse("flows:flow_templates")
    page = admin.get(url).content.decode()
    assert page.count('class="card h-100 blueprint"') == len(KEYS)
    response = admin.post(url, {"key": "stock"})
    flow = Flow.objects.get(name=str(blueprints.STOCK["title"]))
    assert response["Location"] == flow.get_absolute_url()
    assert not flow.enabled and flow.current_version.number == 1
    assert admin.post(url, {"key": "nope"})["Location"] == url
    assert Flow.objects.count() == 1

    viewer = Client()
    viewer.force_login(UserFactory(roles=[VIEWER]))
    assert viewer.get(url).status_code == 403
    assert viewer.post(url, {"key": "catalog"}).status_code == 403
    assert Flow.objects.count() == 1


def test_a_template_needs_systems_the_author_may_see(systems):
    from guardian.shortcuts import assign_perm

    from integration_hub.roles import VIEWER

    author = UserFactory(roles=[VIEWER])
    assign_perm("flows.add_flow", author)
    # Someone who may see only the PIM and the shop is offered only the catalog template.
    stranger = UserFactory()
    assign_perm("flows.add_flow", stranger)
    assign_perm("flows.view_system", stranger, systems["pim"])
    assign_perm("flows.view_system", stranger, systems["shop"])
    ready = {b["key"]: b["ready"] for b in blueprints.available_blueprints(stranger)}
    assert ready == {"catalog": True, "stock": False, "orders": False, "customers": False, "consent": False}
    with pytest.raises(designer.DefinitionError) as refused:
        blueprints.create_from_blueprint("stock", author=stranger)
    assert "source_system" in refused.value.errors
    # The stock template would create a shared value map: that needs the right to add value maps.
    with pytest.raises(designer.DefinitionError) as refused:
        blueprints.create_from_blueprint("stock", author=author)
    assert "value_maps" in refused.value.errors
    assert not Flow.objects.exists() and not ValueMap.objects.exists()
