"""The GDPR suppression list in the sync engine: a record that carries an erased person's e-mail is left
out by every flow — counted ``suppressed``, never written — and failed records keep the keyed hashes an
erasure finds them by."""

import pytest

from flows import blueprints, designer, sync
from flows.demo import ensure_demo_systems
from flows.lookup import lookup_key
from flows.models import FailedRecord, RecordLink, Run, RunStatus
from gdpr.models import SuppressedSubject
from gdpr.suppression import suppress
from sandbox.testing import running

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture(scope="module")
def sandbox():
    with running(["shop", "crm"]) as urls:
        yield urls


@pytest.fixture
def systems(sandbox):
    return {s.slug: s for s in ensure_demo_systems(urls=sandbox)}


def run_now(flow, **kwargs) -> Run:
    run, created = sync.request_run(flow, **kwargs)
    assert created
    run.refresh_from_db()
    return run


def shop_customers(system) -> list[dict]:
    connector = system.get_connector()
    try:
        return [r for page in connector.read("customers") for r in page.records]
    finally:
        connector.close()


def crm_contacts(system, emails) -> list[dict]:
    connector = system.get_connector()
    try:
        return connector.lookup("contacts", "email", list(emails))
    finally:
        connector.close()


def delete_contacts(system, records) -> None:
    connector = system.get_connector()
    try:
        results = connector.delete("contacts", [str(r["id"]) for r in records])
        assert all(r.ok for r in results), [r.error for r in results]
    finally:
        connector.close()


def test_a_suppressed_person_is_left_out_of_the_next_sync_and_counted(systems):
    flow = blueprints.create_from_blueprint("customers")
    customers = shop_customers(systems["shop"])
    first = run_now(flow, full=True)
    assert first.status == RunStatus.SUCCEEDED, first.message
    assert first.suppressed == 0

    person = customers[0]["email"]
    assert crm_contacts(systems["crm"], [person])  # the first run delivered them
    # The person is erased: gone from the CRM, their e-mail on the suppression list (in another case).
    delete_contacts(systems["crm"], crm_contacts(systems["crm"], [person]))
    assert suppress({"email": [person.upper()]}) == 1
    assert SuppressedSubject.objects.get().key == lookup_key(person)  # a keyed hash, not the address

    second = run_now(flow, full=True)
    assert second.status == RunStatus.SUCCEEDED, second.message
    assert second.suppressed == 1
    assert second.read == (
        second.filtered
        + second.unchanged
        + second.created
        + second.updated
        + second.failed
        + second.suppressed
    )
    assert crm_contacts(systems["crm"], [person]) == []  # not brought back
    assert SuppressedSubject.objects.get().hits == 1
    # Everybody else is still delivered (nothing else changed: unchanged).
    assert second.unchanged == first.created + first.updated - 1


def test_failed_records_keep_the_keyed_hashes_of_their_identifiers(systems):
    flow = blueprints.create_from_blueprint("customers")
    data = designer.definition_of(flow)
    # A rule nobody meets: every customer fails, their payloads encrypted in triage.
    data["quality_rules"] = [
        {"kind": "regex", "field": "properties.email", "params": {"pattern": "^nobody$"}}
    ]
    flow = designer.save_flow(data, flow=flow)
    run = run_now(flow, full=True)
    assert run.failed > 0
    email = shop_customers(systems["shop"])[0]["email"]
    found = FailedRecord.objects.filter(flow=flow, lookup_keys__contains=lookup_key(email))
    assert found.count() == 1
    assert found.get().payload["source"]["email"] == email


def set_subscribed(system, customer: dict, value: bool) -> None:
    connector = system.get_connector()
    try:
        record = {
            **customer,
            "extension_attributes": {**customer["extension_attributes"], "is_subscribed": value},
        }
        (result,) = connector.write("customers", [record], "update")
        assert result.ok, result.error
    finally:
        connector.close()


def test_a_consent_gated_flow_sends_only_consenting_persons_and_propagates_a_withdrawal(systems):
    from gdpr.models import ProcessingActivity

    flow = blueprints.create_from_blueprint("customers")
    activity = ProcessingActivity.objects.create(
        reference="T-1",
        name="Newsletter",
        legal_basis="consent",
        consent_field="extension_attributes.is_subscribed",
    )
    activity.flows.add(flow)
    customers = shop_customers(systems["shop"])
    yes, also_yes, no = customers[:3]
    set_subscribed(systems["shop"], yes, True)
    set_subscribed(systems["shop"], also_yes, True)

    first = run_now(flow, full=True)
    assert first.status == RunStatus.SUCCEEDED, first.message
    assert first.created + first.updated == 2
    assert first.filtered == len(customers) - 2
    assert crm_contacts(systems["crm"], [yes["email"]]) and crm_contacts(systems["crm"], [also_yes["email"]])
    assert first.read == first.filtered + first.created + first.updated

    # A withdrawal: the contact sent before is deleted from the target by the next run.
    set_subscribed(systems["shop"], yes, False)
    second = run_now(flow, full=True)
    assert second.deleted == 1, second.message
    assert crm_contacts(systems["crm"], [yes["email"]]) == []
    assert crm_contacts(systems["crm"], [also_yes["email"]])
    # Who never consented was never sent: no ID link for them.
    assert not RecordLink.objects.filter(flow=flow, source_id=str(no["id"])).exists()
    assert RecordLink.objects.filter(flow=flow).count() == 1
