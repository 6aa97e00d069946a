"""The connectors' GDPR contract (find_subject / erase_subject / export_subject) over real HTTP, run
over the shop (Magento), the ERP (Odoo) and the CRM (HubSpot) stand-ins, and checked through each
system's own API and storage: after an erasure the person is gone (or kept only where the law says so),
a second erasure changes nothing, and a refusal is a failed result that says why."""

import itertools

import pytest

from flows.connectors.base import (
    ERASE_STRATEGIES,
    Capability,
    ConnectionSettings,
    SubjectRecord,
    is_masked,
    normalise_identifiers,
)
from flows.connectors.errors import RecordError
from flows.connectors.hubspot import HubSpotConnector
from flows.connectors.magento import MagentoConnector
from flows.connectors.odoo import OdooConnector
from sandbox.credentials import CrmCredentials, ErpCredentials, ShopCredentials
from sandbox.seed import dataset, shared_people, shared_person
from sandbox.testing import running, stored_mentions
from tests.sandbox.conftest import Odoo, crm_client, shop_client

pytestmark = pytest.mark.django_db

DATA = dataset(42)
SYSTEMS = ("shop", "erp", "crm")
_system_ids = itertools.count(9700)


@pytest.fixture(scope="module")
def sandboxes(tmp_path_factory):
    """The three systems on SQLite files, so that a test can read what their storage still holds."""
    data_dir = str(tmp_path_factory.mktemp("gdpr-sandbox"))
    with running(list(SYSTEMS), memory=False, data_dir=data_dir) as urls:
        yield data_dir, urls


def connector(system, url):
    if system == "shop":
        creds = ShopCredentials()
        return MagentoConnector(
            ConnectionSettings(
                system_id=next(_system_ids),
                name="shop",
                params={"base_url": url, "username": creds.username},
                secrets={"password": creds.password},
            )
        )
    if system == "erp":
        creds = ErpCredentials()
        return OdooConnector(
            ConnectionSettings(
                system_id=None,
                name="erp",
                params={"base_url": url, "database": creds.db, "login": creds.login},
                secrets={"password": creds.password},
            )
        )
    conn = HubSpotConnector(
        ConnectionSettings(
            system_id=None,
            name="crm",
            params={"base_url": url},
            secrets={"access_token": CrmCredentials().token},
        )
    )
    conn.sleep = lambda seconds: None
    return conn


# What each system holds of a shared person (a customer with orders, known to the CRM), by entity.
EXPECTED = {
    "shop": {"customers": "delete", "orders": "mask"},
    "erp": {"partners": "mask", "sale_orders": "exempt"},
    "crm": {"contacts": "vendor"},
}
ACTIONS = {"delete": "erased", "mask": "masked", "vendor": "erased", "exempt": "exempt"}


def orders_of(email):
    person = next(c for c in DATA.customers if c["email"] == email)
    return [o for o in DATA.orders if o["customer"] == person["index"]]


def default_strategy(conn, entity):
    return conn.subject_entity(entity).strategy


@pytest.mark.parametrize("system", SYSTEMS)
def test_find_erase_post_check_and_erase_again(sandboxes, system):
    data_dir, urls = sandboxes
    url = urls[system]
    conn = connector(system, url)
    email = shared_person(DATA, 0)
    person = shared_people(DATA)[0]

    found = conn.find_subject({"email": [email.upper()], "phone": []})
    assert {r.entity for r in found} == set(EXPECTED[system])
    assert all(isinstance(r, SubjectRecord) and r.id and r.label for r in found)
    assert len({(r.entity, r.id) for r in found}) == len(found)  # each record once
    for record in found:
        # labels go on pages: no personal value in them
        assert email.lower() not in record.label.lower() and person["lastname"] not in record.label
    orders = [r for r in found if r.entity in ("orders", "sale_orders")]
    assert len(orders) == (len(orders_of(email)) if system != "crm" else 0)
    if system == "shop":
        assert {r.label for r in orders} == {f"order #{o['increment_id']}" for o in orders_of(email)}

    # export: the record as the system holds it
    for record in found:
        exported = conn.export_subject(record.entity, record.id)
        id_field = conn.entity(record.entity).id_field
        assert str(exported[id_field]) == record.id
    (account,) = [r for r in found if r.entity not in ("orders", "sale_orders")]
    assert email in str(conn.export_subject(account.entity, account.id))

    # erase everything with each entity's default strategy
    for record in found:
        strategy = default_strategy(conn, record.entity)
        assert strategy == EXPECTED[system][record.entity]
        result = conn.erase_subject(record.entity, record.id, strategy=strategy)
        assert result.ok, result.error
        assert (result.action, result.target_id) == (ACTIONS[strategy], record.id)

    # post-check: only what the law keeps is still found
    remaining = conn.find_subject({"email": [email]})
    assert all(default_strategy(conn, r.entity) == "exempt" for r in remaining)
    assert remaining == []  # orders kept (Art. 17(3)(b)) no longer name the person

    # …and through the system's own API and storage
    held = stored_mentions(data_dir, system, email)
    if system == "shop":
        client = shop_client(url)
        search = client.get(
            "customers/search",
            params={
                "searchCriteria[filterGroups][0][filters][0][field]": "email",
                "searchCriteria[filterGroups][0][filters][0][value]": email,
                "searchCriteria[filterGroups][0][filters][0][conditionType]": "eq",
            },
        ).json()
        assert search["total_count"] == 0
        assert client.get(f"customers/{account.id}").status_code == 404
        # the orders are kept (Art. 17(3)(b)), no longer point to the deleted account nor name the person
        kept = [client.get(f"orders/{r.id}").json() for r in orders]
        assert kept and all("customer_id" not in o and o["customer_email"] != email for o in kept)
        assert all(person["lastname"] not in str(o) for o in kept)
        assert held == []
    elif system == "erp":
        odoo = Odoo(url)
        assert odoo.execute("res.partner", "search", [["email", "=ilike", email]]) == []
        (partner,) = odoo.execute("res.partner", "read", [int(account.id)])
        assert partner["name"] == "Anonymised"
        for name in ("email", "phone", "mobile", "street", "street2", "city", "zip", "country_id"):
            assert partner[name] is False, name
        assert person["lastname"] not in str(partner) and person["phone"] not in str(partner)
        # the sale orders stay and point to the anonymised partner
        (order,) = odoo.execute("sale.order", "read", [int(orders[0].id)], fields=["partner_id"])
        assert order["partner_id"] == [int(account.id), "Anonymised"]
        assert held == []
    else:
        client = crm_client(url)
        assert client.get(f"/crm/v3/objects/contacts/{account.id}").status_code == 404
        archived = client.get(f"/crm/v3/objects/contacts/{account.id}", params={"archived": "true"})
        assert archived.status_code == 404  # gone for good, not archived
        assert held == []

    # erasing again changes nothing
    for record in found:
        strategy = default_strategy(conn, record.entity)
        again = conn.erase_subject(record.entity, record.id, strategy=strategy)
        assert again.ok and again.action == ("exempt" if strategy == "exempt" else "unchanged")


def test_shop_orders_can_be_masked_instead_of_kept_whole(sandboxes):
    data_dir, urls = sandboxes
    conn = connector("shop", urls["shop"])
    email = shared_person(DATA, 1)
    found = conn.find_subject({"email": email})
    orders = [r for r in found if r.entity == "orders"]
    assert orders and "mask" in conn.subject_entity("orders").allowed()
    for record in found:
        strategy = "mask" if record.entity == "orders" else "delete"
        result = conn.erase_subject(record.entity, record.id, strategy=strategy)
        assert result.ok and result.action == ACTIONS[strategy]
    assert conn.find_subject({"email": email}) == []
    assert stored_mentions(data_dir, "shop", email) == []  # the store holds no record with the e-mail
    client = shop_client(urls["shop"])
    for record in orders:
        order = client.get(f"orders/{record.id}").json()
        assert order["customer_email"] == "anonymised@example.invalid"
        assert order["billing_address"]["street"] == ["Anonymised"]
        assert order["billing_address"]["lastname"] == "Anonymised"
        # what the law needs is untouched
        assert order["grand_total"] == record.data["grand_total"] and order["items"] == record.data["items"]
    again = conn.erase_subject("orders", orders[0].id, strategy="mask")
    assert again.ok and again.action == "unchanged"


@pytest.mark.parametrize("system", SYSTEMS)
def test_a_refused_erasure_is_a_failed_result_that_says_why(sandboxes, system):
    _, urls = sandboxes
    conn = connector(system, urls[system])
    email = shared_person(DATA, 2)
    if system == "shop":
        (customer,) = [r for r in conn.find_subject({"email": email}) if r.entity == "customers"]
        result = conn.erase_subject("customers", customer.id, strategy="vendor")
        assert "not a way" in result.error.message and "delete" in result.error.message
        assert conn.fetch("customers", [customer.id])  # untouched
    elif system == "erp":
        # Odoo refuses to unlink a partner its sale orders point to: that is why the default is a mask
        (partner,) = [r for r in conn.find_subject({"email": email}) if r.entity == "partners"]
        result = conn.erase_subject("partners", partner.id, strategy="delete")
        assert "another model requires the record being deleted" in result.error.message
        assert conn.fetch("partners", [partner.id])[0]["email"] == email
    else:
        result = conn.erase_subject("contacts", "", strategy="vendor")
        assert "HubSpot refused the GDPR deletion (HTTP 400)" in result.error.message
    assert not result.ok and isinstance(result.error, RecordError)
    unknown = conn.erase_subject("no_such_entity", "1", strategy="delete")
    assert not unknown.ok and "no_such_entity" in unknown.error.message
    manual = conn.erase_subject(conn.subject_entities[0].entity, "1", strategy="manual")
    assert not manual.ok and manual.error.reason == "manual"


@pytest.mark.parametrize("system", SYSTEMS)
def test_nothing_found_is_an_empty_list_and_declarations_hold(sandboxes, system):
    _, urls = sandboxes
    conn = connector(system, urls[system])
    assert conn.find_subject({"email": ["nobody@example.invalid"]}) == []
    assert conn.find_subject({}) == []
    assert {
        Capability.SUBJECT_LOOKUP,
        Capability.SUBJECT_ERASE,
        Capability.SUBJECT_EXPORT,
    } <= conn.capabilities
    for declared in conn.subject_entities:
        assert "email" in declared.identifiers
        assert set(declared.allowed()) <= set(ERASE_STRATEGIES)
        if declared.strategy == "mask":
            assert declared.mask and declared.exemption
        if declared.strategy == "exempt":
            assert str(declared.exemption).startswith("Art. 17(3)")


def test_the_shared_person_is_in_every_system(sandboxes):
    _, urls = sandboxes
    email = shared_person(DATA, 3)
    for system in SYSTEMS:
        conn = connector(system, urls[system])
        assert conn.find_subject({"email": [email]}), system
    shop = shop_client(urls["shop"])
    orders = shop.get(
        "orders",
        params={
            "searchCriteria[filterGroups][0][filters][0][field]": "customer_email",
            "searchCriteria[filterGroups][0][filters][0][value]": email,
        },
    ).json()
    assert orders["total_count"] >= 1


def test_identifiers_are_normalised_and_masks_compare_empty_values_alike():
    assert normalise_identifiers(
        {"Email": " a@example.org ", "phone": ["", None], "customer_id": [7, "7"]}
    ) == {
        "email": ["a@example.org"],
        "customer_id": ["7"],
    }
    record = {"name": "Anonymised", "email": False, "address": {"street": []}}
    assert is_masked(record, {"name": "Anonymised", "email": "", "address.street": None})
    assert not is_masked(record, {"name": "Anonymised", "phone": "0000"})
    assert not is_masked({"count": 0}, {"count": None})  # 0 is a value, not "empty"
    assert is_masked({"count": 0}, {"count": 0})
