"""Mirror with an incremental read: a record the source archives (Odoo's ``active = False``) has its
linked target record deleted by the next run, without a whole read."""

import pytest

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.models import RecordLink, RunStatus
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def systems():
    with running(["erp", "crm"]) as urls:
        yield {s.slug: s for s in ensure_demo_systems(urls=urls)}


def run_now(flow):
    run, _created = sync.request_run(flow)
    run.refresh_from_db()
    return run


def test_an_archived_source_record_is_deleted_in_the_target(systems):
    data = blueprints.definition_for("customers", name="ERP contacts to the CRM, mirrored")
    data.update(
        source_system="erp",
        source_entity="partners",
        target_system="crm",
        target_entity="contacts",
        sync_mode="incremental",
        cursor_field="write_date",
        source_key="email",
        target_key="properties.email",
        write_mode="mirror",
        filters=[{"path": "email", "op": "exists"}],
        quality_rules=[],
        mappings=[
            {"target": "properties.email", "source": "email", "transforms": [{"op": "lower"}], "personal": "email"},
            {"target": "properties.firstname", "source": "name", "transforms": [], "personal": "name"},
        ],
    )  # fmt: skip
    flow = designer.save_flow(data)
    first = run_now(flow)
    assert first.status == RunStatus.SUCCEEDED, first.message
    link = RecordLink.objects.filter(flow=flow).first()
    erp = systems["erp"].get_connector()
    try:
        (partner,) = erp.fetch("partners", [link.source_id])
        assert erp.write("partners", [{"id": partner["id"], "active": False}], "update")[0].ok
    finally:
        erp.close()

    second = run_now(flow)
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert second.deleted == 1 and second.read < 5  # an incremental read, not a whole one
    assert not RecordLink.objects.filter(pk=link.pk).exists()
    crm = systems["crm"].get_connector()
    try:
        assert crm.lookup("contacts", "properties.email", [partner["email"].lower()]) == []
    finally:
        crm.close()
