"""HubSpot CRM v3 against the ``crm`` stand-in."""

from sandbox.credentials import CrmCredentials
from sandbox.seed import shared_person
from tests.contract.vendors import DATA, VendorCase, register, set_attributes, update_each

register(
    VendorCase(
        key="hubspot",
        sandbox="crm",
        params=lambda url: {"base_url": url},
        secrets={"access_token": CrmCredentials().token},
        wrong_secrets={"access_token": "pat-not-the-token"},
        read_entity="contacts",
        key_path="properties.email",
        seeded=frozenset(DATA.customers[i]["email"] for i in DATA.crm_customers),
        set_page_size=set_attributes("list_page_size", "search_page_size"),
        change=update_each(lambda record, i: {"id": record["id"], "properties": {"city": f"Contract {i}"}}),
        write_entity="contacts",
        good_records=lambda n: [
            {
                "properties": {
                    "email": f"contract{i}@example.org",
                    "firstname": f"C{i}",
                    "lastname": "Contract",
                }
            }
            for i in range(n)
        ],
        bad_record={"properties": {"email": "contract-at-example.org", "firstname": "Bad"}},  # invalid email
        subject_email=shared_person(DATA, 0),
    )
)
