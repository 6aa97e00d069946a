"""Akeneo PIM (REST API v1) against the ``pim`` stand-in."""

from sandbox.credentials import PimCredentials
from tests.contract.vendors import DATA, VendorCase, patch_constant, register, update_each

CREDS = PimCredentials()


def renamed(record: dict, i: int) -> dict:
    name = [{"locale": "en_US", "scope": None, "data": f"Contract renamed {i}"}]
    return {"identifier": record["identifier"], "values": {"name": name}}


register(
    VendorCase(
        key="akeneo",
        sandbox="pim",
        params=lambda url: {"base_url": url, "client_id": CREDS.client_id, "username": CREDS.username},
        secrets={"client_secret": CREDS.secret, "password": CREDS.password},
        wrong_secrets={"client_secret": "not-the-secret"},
        read_entity="products",
        key_path="identifier",
        seeded=frozenset(p["sku"] for p in DATA.products),
        set_page_size=patch_constant("flows.connectors.akeneo.PAGE_SIZE"),
        change=update_each(renamed),
        # The connector sends the bound one second early (Akeneo compares whole seconds, and a record
        # of the bound's second may be newer than the one that set it): records stamped at the bound
        # are read again (see test_akeneo_connector.test_search_filter_is_sent_in_akeneos_format).
        since_inclusive=True,
        write_entity="products",
        good_records=lambda n: [
            {
                "identifier": f"CONTRACT-{i}",
                "family": "chairs",
                "categories": ["master_chairs"],
                "enabled": True,
            }
            for i in range(n)
        ],
        # Akeneo validates the currency of a price: a per-line 422 in the collection PATCH
        bad_record={
            "identifier": "CONTRACT-BAD",
            "values": {
                "price": [{"locale": None, "scope": None, "data": [{"amount": "10", "currency": "XXX"}]}]
            },
        },
        subject_email=None,  # a PIM keeps products, not persons
    )
)
