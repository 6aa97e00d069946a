"""Echo suppression: with flows both ways between the shop's customers and the CRM's contacts, a change
made in the shop goes to the CRM once and is not written back to the shop by the opposite flow."""

import pytest

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.models import RecordLink, RunStatus
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def systems():
    with running(["shop", "crm"]) as urls:
        yield {s.slug: s for s in ensure_demo_systems(urls=urls)}


def run_now(flow):
    run, _created = sync.request_run(flow)
    run.refresh_from_db()
    return run


def contacts_back_to_the_shop():
    """CRM contacts → shop customers: first and last names, matched by e-mail, update only."""
    data = blueprints.definition_for("customers", name="Names back to the shop")
    data.update(
        source_system="crm",
        source_entity="contacts",
        target_system="shop",
        target_entity="customers",
        sync_mode="full",
        cursor_field="",
        source_key="properties.email",
        target_key="email",
        write_mode="update",
        quality_rules=[],
        filters=[{"path": "properties.email", "op": "exists"}],
        mappings=[
            {"target": "email", "source": "properties.email", "transforms": [{"op": "lower"}], "personal": "email"},
            {"target": "firstname", "source": "properties.firstname", "transforms": [], "personal": "name"},
            {"target": "lastname", "source": "properties.lastname", "transforms": [], "personal": "name"},
        ],
    )  # fmt: skip
    return designer.save_flow(data)


def test_a_change_goes_one_way_and_does_not_echo_back(systems):
    there = blueprints.create_from_blueprint("customers")
    back = contacts_back_to_the_shop()
    first = run_now(there)
    assert first.status == RunStatus.SUCCEEDED
    assert first.expected == first.read == 500  # the shop said how many: the run had a progress bar
    # The values kept on a link hold personal data here: encrypted at rest, readable by the hub.
    link = RecordLink.objects.filter(flow=there).first()
    assert "@" in link.values["properties"]["email"] and "@" not in link.last_values
    # The first run back finds the shop already holding those names: nothing is written back.
    first_back = run_now(back)
    assert first_back.updated == 0 and first_back.unchanged > 0, first_back.counters()

    shop = systems["shop"].get_connector()
    try:
        customer = next(r for page in shop.read("customers", limit=5) for r in page.records)
        (result,) = shop.write("customers", [{**customer, "firstname": "Gwenaëlle"}], "update")
        assert result.ok, result.error
    finally:
        shop.close()
    assert run_now(there).updated == 1  # the shop's change reaches the CRM

    echo = run_now(back)
    assert echo.updated == 0, echo.counters()  # and is not written back to the shop
    assert echo.unchanged == first_back.unchanged
